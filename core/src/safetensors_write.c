/*
 * core/src/safetensors_write.c - write a safetensors file (synthetic
 * checkpoints, test fixtures).
 *
 * The layout follows the reference writer (huggingface/safetensors
 * `prepare`), so its files load in Python too:
 *   - tensors are laid out by dtype size, largest first, then by name, with
 *     no gaps: every tensor then starts at a multiple of its own element size
 *     (the reference reader rejects gaps, so padding is not an option);
 *   - the header is padded with spaces to a multiple of 8 bytes, so the data
 *     region starts 8-byte aligned in the file and in an mmap of it;
 *   - "__metadata__" (if any) comes first in the header.
 * The file is written to PATH.tmp.XXXXXX and renamed, so a failed or
 * interrupted write never leaves a half file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "strixcore/safetensors.h"

static int write_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return SC_EIO;
        p += n;
        len -= (size_t)n;
    }
    return SC_OK;
}

typedef struct {
    const sc_st_write_tensor *t;
} order_ent;

static int order_cmp(const void *pa, const void *pb) {
    const sc_st_write_tensor *a = ((const order_ent *)pa)->t, *b = ((const order_ent *)pb)->t;
    size_t sa = sc_st_dtype_size(a->dtype), sb = sc_st_dtype_size(b->dtype);
    if (sa != sb) return sa > sb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Reject what the reader would reject, so the writer cannot make a file
 * that strixcore itself refuses to open. */
static int check_tensor(const sc_st_write_tensor *t, int i) {
    if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: tensor %d: missing or reserved name", i);
        return SC_EINVAL;
    }
    if ((unsigned)t->dtype >= SC_ST_DTYPE_COUNT || t->ndims < 0 || t->ndims > SC_ST_MAX_DIMS ||
        (t->ndims > 0 && !t->shape)) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: %s: bad dtype or dims", t->name);
        return SC_EINVAL;
    }
    uint64_t n = sc_st_dtype_size(t->dtype);
    for (int d = 0; d < t->ndims; d++) {
        if (t->shape[d] < 0 || __builtin_mul_overflow(n, (uint64_t)t->shape[d], &n)) {
            sc_log(SC_LOG_ERROR, "safetensors", "write: %s: bad shape", t->name);
            return SC_EINVAL;
        }
    }
    if (n != t->nbytes) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: %s: nbytes %zu does not match shape (%llu)", t->name, t->nbytes,
               (unsigned long long)n);
        return SC_EINVAL;
    }
    if (t->nbytes && !t->data) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: %s: NULL data", t->name);
        return SC_EINVAL;
    }
    return SC_OK;
}

static int build_header(int n, const order_ent *order, const char *metadata_json,
                        char **out) {
    json_t *root = json_object();
    int rc = SC_ENOMEM;
    if (!root) return SC_ENOMEM;

    if (metadata_json) {
        json_error_t je;
        json_t *md = json_loads(metadata_json, JSON_REJECT_DUPLICATES, &je);
        const char *k;
        json_t *v;
        if (!json_is_object(md)) {
            sc_log(SC_LOG_ERROR, "safetensors", "write: metadata is not a JSON object: %s", md ? "" : je.text);
            json_decref(md);
            json_decref(root);
            return SC_EINVAL;
        }
        json_object_foreach(md, k, v) {
            if (!json_is_string(v)) {
                sc_log(SC_LOG_ERROR, "safetensors", "write: metadata value of \"%s\" is not a string", k);
                json_decref(md);
                json_decref(root);
                return SC_EINVAL;
            }
        }
        if (json_object_set_new(root, "__metadata__", md) != 0) goto out;
    }

    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const sc_st_write_tensor *t = order[i].t;
        if (json_object_get(root, t->name)) {
            sc_log(SC_LOG_ERROR, "safetensors", "write: duplicate tensor name \"%s\"", t->name);
            rc = SC_EINVAL;
            goto out;
        }
        json_t *shape = json_array(), *offs = json_array(), *ent = json_object();
        if (!shape || !offs || !ent) {
            json_decref(shape), json_decref(offs), json_decref(ent);
            goto out;
        }
        for (int d = 0; d < t->ndims; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes)));
        off += t->nbytes;
        if (json_object_set_new(ent, "dtype", json_string(sc_st_dtype_name(t->dtype))) != 0 ||
            json_object_set_new(ent, "shape", shape) != 0 || json_object_set_new(ent, "data_offsets", offs) != 0 ||
            json_object_set_new(root, t->name, ent) != 0) {
            json_decref(ent);
            goto out;
        }
    }
    *out = json_dumps(root, JSON_COMPACT);
    rc = *out ? SC_OK : SC_ENOMEM;
out:
    json_decref(root);
    return rc;
}

int sc_safetensors_write(const char *path, const sc_st_write_tensor *ts, int n, const char *metadata_json) {
    order_ent *order = NULL;
    char *header = NULL, *tmp = NULL;
    int fd = -1, rc;

    if (!path || n < 0 || (n > 0 && !ts)) return SC_EINVAL;
    for (int i = 0; i < n; i++)
        if ((rc = check_tensor(&ts[i], i)) != SC_OK) return rc;

    order = malloc((size_t)(n ? n : 1) * sizeof(*order));
    if (!order) return SC_ENOMEM;
    for (int i = 0; i < n; i++) order[i].t = &ts[i];
    qsort(order, (size_t)n, sizeof(*order), order_cmp);
    if ((rc = build_header(n, order, metadata_json, &header)) != SC_OK) goto out;

    size_t hlen = strlen(header), padded = SC_ALIGN_UP(hlen, 8);
    char *h2 = realloc(header, padded + 1);
    if (!h2) {
        rc = SC_ENOMEM;
        goto out;
    }
    header = h2;
    memset(header + hlen, ' ', padded - hlen);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));

    size_t plen = strlen(path);
    tmp = malloc(plen + 16);
    if (!tmp) {
        rc = SC_ENOMEM;
        goto out;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: %s: %s", tmp, strerror(errno));
        rc = SC_EIO;
        goto out;
    }
    rc = write_all(fd, len8, 8);
    if (rc == SC_OK) rc = write_all(fd, header, padded);
    for (int i = 0; i < n && rc == SC_OK; i++)
        if (order[i].t->nbytes) rc = write_all(fd, order[i].t->data, order[i].t->nbytes);
    if (rc == SC_OK && fchmod(fd, 0644) != 0) rc = SC_EIO; /* mkstemp makes 0600 */
    if (close(fd) != 0 && rc == SC_OK) rc = SC_EIO;
    fd = -1;
    if (rc == SC_OK && rename(tmp, path) != 0) rc = SC_EIO;
    if (rc != SC_OK) {
        sc_log(SC_LOG_ERROR, "safetensors", "write: %s: %s", path, strerror(errno));
        unlink(tmp);
    }

out:
    if (fd >= 0) close(fd);
    free(tmp);
    free(header);
    free(order);
    return rc;
}
