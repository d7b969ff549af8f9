/*
 * core/src/safetensors.c - validated, zero-copy reader for safetensors
 * checkpoints: one file, or the shards named by model.safetensors.index.json.
 *
 * File layout: u64 LE header length N | N bytes of JSON | data region.
 * The JSON maps tensor name -> {"dtype", "shape", "data_offsets": [b, e]}
 * (offsets relative to the data region) plus an optional "__metadata__"
 * object of strings.
 *
 * Each file is mmap'd whole (read-only, MAP_PRIVATE) and its fd closed at
 * once, so a 40-shard model holds no descriptors. Nothing is exposed until
 * every header entry has been checked, because the loaders downstream trust
 * `data` and `nbytes` blindly: an offset past the end would be a SIGBUS (or
 * a read of another tensor) deep inside a GEMM.
 *
 * Deliberately NOT rejected (the reference reader does reject them): holes
 * between tensors and trailing bytes after the last one. Neither can make a
 * tensor read outside its own range, and some converters leave padding.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "strixcore/safetensors.h"

/* The reference implementation refuses headers over 100 MB; a header that
 * big is either hostile or broken, and parsing it would cost seconds. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* model.safetensors.index.json of the largest public models is ~2 MB. */
#define ST_MAX_INDEX ((size_t)64 << 20)

typedef struct st_file {
    char *path;
    void *map;
    size_t map_len;
} st_file;

struct sc_safetensors {
    st_file *files;
    int n_files;
    sc_st_tensor *tensors;   /* shard order, then data-offset order in a shard */
    int n_tensors, cap_tensors;
    int32_t *slots;          /* open-addressing hash of names: tensor index + 1, 0 = empty */
    uint32_t slot_mask;
    uint64_t total_bytes;
};

/* ------------------------------------------------------------------------ */
/* dtypes                                                                    */
/* ------------------------------------------------------------------------ */
static const struct {
    const char *name;
    size_t size;
} g_dtypes[SC_ST_DTYPE_COUNT] = {
    [SC_ST_F64] = {"F64", 8},         [SC_ST_F32] = {"F32", 4},         [SC_ST_F16] = {"F16", 2},
    [SC_ST_BF16] = {"BF16", 2},       [SC_ST_I64] = {"I64", 8},         [SC_ST_I32] = {"I32", 4},
    [SC_ST_I16] = {"I16", 2},         [SC_ST_I8] = {"I8", 1},           [SC_ST_U8] = {"U8", 1},
    [SC_ST_BOOL] = {"BOOL", 1},       [SC_ST_F8_E4M3] = {"F8_E4M3", 1}, [SC_ST_F8_E5M2] = {"F8_E5M2", 1},
    [SC_ST_U16] = {"U16", 2},         [SC_ST_U32] = {"U32", 4},         [SC_ST_U64] = {"U64", 8},
};

const char *sc_st_dtype_name(sc_st_dtype dt) {
    if ((unsigned)dt >= SC_ST_DTYPE_COUNT) return "unknown";
    return g_dtypes[dt].name;
}

size_t sc_st_dtype_size(sc_st_dtype dt) {
    if ((unsigned)dt >= SC_ST_DTYPE_COUNT) return 0;
    return g_dtypes[dt].size;
}

static int dtype_parse(const char *s, sc_st_dtype *out) {
    for (int i = 0; i < SC_ST_DTYPE_COUNT; i++) {
        if (strcmp(s, g_dtypes[i].name) == 0) {
            *out = (sc_st_dtype)i;
            return SC_OK;
        }
    }
    return SC_ENOTSUP;
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */
static int errno_code(int e) { return e == ENOENT || e == ENOTDIR ? SC_ENOENT : e == ENOMEM ? SC_ENOMEM : SC_EIO; }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* FNV-1a: cheap and good enough for dotted tensor names. */
static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* jansson reports a duplicate key without naming it when the key is longer
 * than 20 bytes (every real tensor name), but its position points just past
 * the key's closing quote: walk back to the opening quote. */
static void duplicate_key_name(const char *text, size_t len, int pos, char *out, size_t out_len) {
    out[0] = '\0';
    if (pos < 2 || (size_t)pos > len || text[pos - 1] != '"') return;
    int end = pos - 1, i = end - 1;
    for (; i >= 0; i--) {
        if (text[i] != '"') continue;
        int bs = 0;
        for (int j = i - 1; j >= 0 && text[j] == '\\'; j--) bs++;
        if (bs % 2 == 0) break; /* an unescaped quote opens the key */
    }
    if (i < 0) return;
    size_t n = (size_t)(end - i - 1);
    if (n >= out_len) n = out_len - 1;
    memcpy(out, text + i + 1, n);
    out[n] = '\0';
}

/* Turn a jansson parse error into "path: what: line L column C: text". */
static int json_parse_error(const char *path, const char *what, const char *text, size_t len, const json_error_t *je,
                            char *err, size_t err_len) {
    if (json_error_code(je) == json_error_duplicate_key) {
        char key[256];
        duplicate_key_name(text, len, je->position, key, sizeof(key));
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: duplicate key \"%s\" (line %d column %d)", path, what, key,
                        je->line, je->column);
    }
    return sc__errf(err, err_len, SC_EFORMAT, "%s: %s is not valid JSON: line %d column %d: %s", path, what, je->line,
                    je->column, je->text);
}

/* ------------------------------------------------------------------------ */
/* the tensor table and its name hash                                        */
/* ------------------------------------------------------------------------ */
static int tensors_reserve(sc_safetensors_t *st, int extra) {
    if (extra > INT32_MAX / 2 - st->n_tensors) return SC_EOVERFLOW;
    int need = st->n_tensors + extra;
    if (need <= st->cap_tensors) return SC_OK;
    int cap = st->cap_tensors ? st->cap_tensors : 64;
    while (cap < need) cap *= 2;
    sc_st_tensor *t = realloc(st->tensors, (size_t)cap * sizeof(*t));
    if (!t) return SC_ENOMEM;
    st->tensors = t;
    st->cap_tensors = cap;
    return SC_OK;
}

/* Build the hash over every tensor. On a name seen twice (only possible
 * across shards: one header cannot repeat a key) dup_a and dup_b get the two
 * indices and SC_EFORMAT is returned. */
static int build_hash(sc_safetensors_t *st, int *dup_a, int *dup_b) {
    uint32_t cap = 16;
    while (cap < (uint32_t)st->n_tensors * 2u) cap *= 2;
    free(st->slots);
    st->slots = calloc(cap, sizeof(*st->slots));
    if (!st->slots) return SC_ENOMEM;
    st->slot_mask = cap - 1;
    for (int i = 0; i < st->n_tensors; i++) {
        uint32_t h = name_hash(st->tensors[i].name) & st->slot_mask;
        while (st->slots[h]) {
            int j = st->slots[h] - 1;
            if (strcmp(st->tensors[j].name, st->tensors[i].name) == 0) {
                *dup_a = j;
                *dup_b = i;
                return SC_EFORMAT;
            }
            h = (h + 1) & st->slot_mask;
        }
        st->slots[h] = i + 1;
    }
    return SC_OK;
}

const sc_st_tensor *sc_safetensors_find(const sc_safetensors_t *st, const char *name) {
    if (!st || !name || !st->slots) return NULL;
    uint32_t h = name_hash(name) & st->slot_mask;
    while (st->slots[h]) {
        const sc_st_tensor *t = &st->tensors[st->slots[h] - 1];
        if (strcmp(t->name, name) == 0) return t;
        h = (h + 1) & st->slot_mask;
    }
    return NULL;
}

int sc_safetensors_count(const sc_safetensors_t *st) { return st ? st->n_tensors : 0; }

const sc_st_tensor *sc_safetensors_at(const sc_safetensors_t *st, int i) {
    if (!st || i < 0 || i >= st->n_tensors) return NULL;
    return &st->tensors[i];
}

uint64_t sc_safetensors_total_bytes(const sc_safetensors_t *st) { return st ? st->total_bytes : 0; }

/* Drop this process's pages of [data, data + nbytes) from one of st's maps
 * (whole pages inside the range only, so neighbours sharing an edge page
 * keep it). The mapping is read-only and file-backed: a later read faults
 * the bytes back in from the page cache, so this only lowers RSS. Ranges
 * outside every map are ignored (never madvise memory we do not own). */
void sc__safetensors_release(const sc_safetensors_t *st, const void *data, size_t nbytes) {
    if (!st || !data || !nbytes) return;
    const uintptr_t b = (uintptr_t)data, e = b + nbytes;
    for (int i = 0; i < st->n_files; i++) {
        const uintptr_t mb = (uintptr_t)st->files[i].map, me = mb + st->files[i].map_len;
        if (!st->files[i].map || b < mb || e > me) continue;
        const long ps = sysconf(_SC_PAGESIZE);
        const uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
        const uintptr_t lo = (b + page - 1) & ~(page - 1), hi = (e == me ? me + page - 1 : e) & ~(page - 1);
        if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
}

void sc_safetensors_close(sc_safetensors_t *st) {
    if (!st) return;
    for (int i = 0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].map_len);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->tensors);
    free(st->slots);
    free(st);
}

/* ------------------------------------------------------------------------ */
/* one file                                                                  */
/* ------------------------------------------------------------------------ */
typedef struct st_range {
    uint64_t begin, end;
    const char *name; /* qsort has no user pointer, so the tie-break key rides along */
    int idx;          /* into st->tensors */
} st_range;

static int range_cmp(const void *pa, const void *pb) {
    const st_range *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int metadata_check(const char *path, json_t *meta, char *err, size_t err_len) {
    const char *k;
    json_t *v;
    if (!json_is_object(meta))
        return sc__errf(err, err_len, SC_EFORMAT, "%s: __metadata__: must be an object of strings", path);
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return sc__errf(err, err_len, SC_EFORMAT, "%s: __metadata__: value of \"%s\" is not a string", path, k);
    }
    return SC_OK;
}

/* Validate one header entry and fill t (name and file are set by the caller).
 * data_len: size of the data region. */
static int parse_entry(const char *path, const char *name, json_t *v, uint64_t data_len, sc_st_tensor *t,
                       uint64_t *begin, uint64_t *end, char *err, size_t err_len) {
    if (!json_is_object(v))
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: entry is not an object", path, name);

    json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd))
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: \"dtype\" missing or not a string", path, name);
    if (dtype_parse(json_string_value(jd), &t->dtype) != SC_OK)
        return sc__errf(err, err_len, SC_ENOTSUP, "%s: %s: unknown dtype \"%s\"", path, name, json_string_value(jd));

    json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js))
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: \"shape\" missing or not a list", path, name);
    if (json_array_size(js) > SC_ST_MAX_DIMS)
        return sc__errf(err, err_len, SC_ENOTSUP, "%s: %s: %zu dims (at most %d supported)", path, name,
                        json_array_size(js), SC_ST_MAX_DIMS);
    t->ndims = (int)json_array_size(js);
    uint64_t nel = 1;
    bool overflow = false;
    for (int d = 0; d < t->ndims; d++) {
        json_t *e = json_array_get(js, (size_t)d);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: shape[%d] is not a non-negative integer", path, name,
                            d);
        t->shape[d] = json_integer_value(e);
        overflow |= __builtin_mul_overflow(nel, (uint64_t)t->shape[d], &nel);
    }
    for (int d = t->ndims; d < SC_ST_MAX_DIMS; d++) t->shape[d] = 0;

    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)) || json_integer_value(json_array_get(jo, 0)) < 0 ||
        json_integer_value(json_array_get(jo, 1)) < 0)
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: \"data_offsets\" must be [begin, end] (non-negative integers)",
                        path, name);
    *begin = (uint64_t)json_integer_value(json_array_get(jo, 0));
    *end = (uint64_t)json_integer_value(json_array_get(jo, 1));
    if (*begin > *end)
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: data_offsets begin %llu > end %llu", path, name,
                        (unsigned long long)*begin, (unsigned long long)*end);

    uint64_t nbytes;
    overflow |= __builtin_mul_overflow(nel, (uint64_t)g_dtypes[t->dtype].size, &nbytes);
    if (overflow || nbytes > SIZE_MAX)
        return sc__errf(err, err_len, SC_EOVERFLOW, "%s: %s: shape x dtype size overflows", path, name);
    if (nbytes != *end - *begin)
        return sc__errf(err, err_len, SC_EFORMAT, "%s: %s: shape and dtype %s give %llu bytes but data_offsets span %llu",
                        path, name, g_dtypes[t->dtype].name, (unsigned long long)nbytes,
                        (unsigned long long)(*end - *begin));
    if (*end > data_len)
        return sc__errf(err, err_len, SC_ETRUNC,
                        "%s: %s: data ends at %llu but the data region has %llu bytes (truncated file?)", path, name,
                        (unsigned long long)*end, (unsigned long long)data_len);
    t->nbytes = (size_t)nbytes;
    return SC_OK;
}

/* Map `path`, validate its header and append its tensors to st (sorted by
 * data offset). On error st keeps only what it had before. */
static int load_file(sc_safetensors_t *st, const char *path, char *err, size_t err_len) {
    st_file f = {0};
    struct stat sb;
    json_t *root = NULL;
    st_range *ranges = NULL;
    int rc, n0 = st->n_tensors;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sc__errf(err, err_len, errno_code(errno), "%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        rc = sc__errf(err, err_len, SC_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return sc__errf(err, err_len, SC_EFORMAT, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return sc__errf(err, err_len, SC_ETRUNC, "%s: %lld bytes, shorter than the 8-byte header length (truncated?)",
                        path, (long long)sb.st_size);
    }
    f.map_len = (size_t)sb.st_size;
    f.map = mmap(NULL, f.map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (f.map == MAP_FAILED) return sc__errf(err, err_len, errno_code(map_errno), "%s: mmap: %s", path, strerror(map_errno));

    const uint8_t *base = f.map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | base[i];
    if (hlen > ST_MAX_HEADER) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "%s: header length %llu exceeds the %llu-byte limit", path,
                      (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > f.map_len - 8) {
        rc = sc__errf(err, err_len, SC_ETRUNC, "%s: header length %llu but only %zu bytes follow (truncated file?)",
                      path, (unsigned long long)hlen, f.map_len - 8);
        goto fail;
    }
    const char *htext = (const char *)base + 8;
    const uint8_t *data = base + 8 + hlen;
    uint64_t data_len = f.map_len - 8 - hlen;

    json_error_t je;
    root = json_loadb(htext, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rc = json_parse_error(path, "header", htext, (size_t)hlen, &je, err, err_len);
        goto fail;
    }
    if (!json_is_object(root)) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "%s: header is not a JSON object", path);
        goto fail;
    }

    size_t n_entries = json_object_size(root);
    if ((rc = tensors_reserve(st, (int)SC_MIN(n_entries, (size_t)INT32_MAX))) != SC_OK) {
        rc = sc__errf(err, err_len, rc, "%s: %s for %zu tensors", path, sc_strerror(rc), n_entries);
        goto fail;
    }
    ranges = malloc((n_entries ? n_entries : 1) * sizeof(*ranges));
    f.path = strdup(path);
    if (!ranges || !f.path) {
        rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
        goto fail;
    }

    const char *key;
    json_t *val;
    int n_ranges = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = metadata_check(path, val, err, err_len)) != SC_OK) goto fail;
            continue;
        }
        sc_st_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof(*t));
        uint64_t b = 0, e = 0;
        if ((rc = parse_entry(path, key, val, data_len, t, &b, &e, err, err_len)) != SC_OK) goto fail;
        t->name = strdup(key);
        if (!t->name) {
            rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        t->data = data + b;
        t->file = f.path;
        ranges[n_ranges++] = (st_range){b, e, t->name, st->n_tensors};
        st->n_tensors++;
    }

    /* Overlap check: sort by begin; every non-empty range must start at or
     * after the furthest end seen so far. Empty tensors overlap nothing. */
    qsort(ranges, (size_t)n_ranges, sizeof(*ranges), range_cmp);
    uint64_t max_end = 0;
    int max_idx = -1;
    for (int i = 0; i < n_ranges; i++) {
        if (ranges[i].begin == ranges[i].end) continue;
        if (max_idx >= 0 && ranges[i].begin < max_end) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: %s: data [%llu, %llu) overlaps tensor %s (ends at %llu)", path,
                          st->tensors[ranges[i].idx].name, (unsigned long long)ranges[i].begin,
                          (unsigned long long)ranges[i].end, st->tensors[max_idx].name, (unsigned long long)max_end);
            goto fail;
        }
        max_end = ranges[i].end;
        max_idx = ranges[i].idx;
    }

    /* Reorder this file's tensors by data offset, so iterating the model
     * reads each shard front to back. */
    sc_st_tensor *sorted = malloc((size_t)(n_ranges ? n_ranges : 1) * sizeof(*sorted));
    st_file *files = realloc(st->files, (size_t)(st->n_files + 1) * sizeof(*files));
    if (files) st->files = files;
    if (!sorted || !files) {
        free(sorted);
        rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < n_ranges; i++) sorted[i] = st->tensors[ranges[i].idx];
    if (n_ranges) memcpy(st->tensors + n0, sorted, (size_t)n_ranges * sizeof(*sorted));
    free(sorted);
    for (int i = n0; i < st->n_tensors; i++) st->total_bytes += st->tensors[i].nbytes;

    st->files[st->n_files++] = f;
    free(ranges);
    json_decref(root);
    return SC_OK;

fail:
    for (int i = n0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
    st->n_tensors = n0;
    free(ranges);
    free(f.path);
    json_decref(root);
    munmap(f.map, f.map_len);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* sharded index                                                             */
/* ------------------------------------------------------------------------ */
static int read_small_file(const char *path, size_t max, char **out, size_t *out_len, char *err, size_t err_len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return sc__errf(err, err_len, errno_code(errno), "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = SC_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= max) {
                rc = sc__errf(err, err_len, SC_ERANGE, "%s: larger than %zu bytes", path, max);
                break;
            }
            cap = cap ? SC_MIN(cap * 2, max) : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp)) rc = sc__errf(err, err_len, SC_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(fp);
    if (rc != SC_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return SC_OK;
}

/* Shard names are joined to the index's directory: refuse anything that
 * could leave it (absolute paths, ".." components). */
static bool shard_name_ok(const char *s) {
    if (!*s || *s == '/') return false;
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        if (!q) break;
        p = q + 1;
    }
    return true;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int load_index(sc_safetensors_t *st, const char *path, char *err, size_t err_len) {
    char *text = NULL, *dir = NULL, *shard_path = NULL;
    const char **shards = NULL;
    size_t len = 0, n_shards = 0;
    json_t *root = NULL;
    json_error_t je;
    int rc;

    if ((rc = read_small_file(path, ST_MAX_INDEX, &text, &len, err, err_len)) != SC_OK) return rc;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rc = json_parse_error(path, "index", text, len, &je, err, err_len);
        goto done;
    }
    json_t *wm = json_object_get(root, "weight_map");
    json_t *md = json_object_get(root, "metadata");
    if (!json_is_object(root) || !json_is_object(wm) || json_object_size(wm) == 0) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "%s: expected an object with a non-empty \"weight_map\" object", path);
        goto done;
    }
    if (md && !json_is_object(md) && !json_is_null(md)) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "%s: \"metadata\" is not an object", path);
        goto done;
    }

    /* Distinct shard names, sorted so model-00001-of-N is mapped first. */
    shards = malloc(json_object_size(wm) * sizeof(*shards));
    if (!shards) {
        rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val)) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: %s: shard name is not a string", path, key);
            goto done;
        }
        const char *s = json_string_value(val);
        if (!shard_name_ok(s)) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: %s: shard name \"%s\" must be a relative path without \"..\"",
                          path, key, s);
            goto done;
        }
        size_t i = 0;
        while (i < n_shards && strcmp(shards[i], s) != 0) i++;
        if (i == n_shards) shards[n_shards++] = s;
    }
    qsort(shards, n_shards, sizeof(*shards), str_cmp);

    const char *slash = strrchr(path, '/');
    dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (!dir) {
        rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < n_shards; i++) {
        free(shard_path);
        shard_path = join_path(dir, shards[i]);
        if (!shard_path) {
            rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        if ((rc = load_file(st, shard_path, err, err_len)) != SC_OK) {
            if (rc == SC_ENOENT) /* say who asked for the missing shard */
                sc__errf(err, err_len, rc, "%s: shard \"%s\" listed in %s does not exist", shard_path, shards[i], path);
            goto done;
        }
    }

    int a = -1, b = -1;
    if ((rc = build_hash(st, &a, &b)) != SC_OK) {
        if (rc == SC_EFORMAT)
            sc__errf(err, err_len, rc, "%s: %s: tensor is in two shards: %s and %s", path, st->tensors[b].name,
                     st->tensors[a].file, st->tensors[b].file);
        else
            sc__errf(err, err_len, rc, "%s: out of memory", path);
        goto done;
    }
    json_object_foreach(wm, key, val) {
        const sc_st_tensor *t = sc_safetensors_find(st, key);
        const char *want = json_string_value(val);
        if (!t) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: %s: listed in shard \"%s\" but not found in it", path, key,
                          want);
            goto done;
        }
        const char *got = t->file + strlen(dir) + 1; /* every shard path is join_path(dir, name) */
        if (strcmp(got, want) != 0) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: %s: listed in shard \"%s\" but found in \"%s\"", path, key, want,
                          got);
            goto done;
        }
    }
    rc = SC_OK;

done:
    free(shard_path);
    free(dir);
    free(shards);
    json_decref(root);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* open                                                                      */
/* ------------------------------------------------------------------------ */
int sc_safetensors_open(const char *path, sc_safetensors_t **out, char *err, size_t err_len) {
    char *owned = NULL;
    struct stat sb;
    int rc;

    if (out) *out = NULL;
    if (err && err_len) err[0] = '\0';
    if (!path || !out) return sc__errf(err, err_len, SC_EINVAL, "safetensors: NULL argument");
    if (stat(path, &sb) != 0) return sc__errf(err, err_len, errno_code(errno), "%s: %s", path, strerror(errno));

    /* A directory: prefer the index (a sharded model may also ship a stale
     * single file, never the other way round). */
    if (S_ISDIR(sb.st_mode)) {
        static const char *const names[] = {"model.safetensors.index.json", "model.safetensors"};
        for (size_t i = 0; i < SC_ARRAY_LEN(names) && !owned; i++) {
            char *p = join_path(path, names[i]);
            if (!p) return sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
            if (access(p, F_OK) == 0)
                owned = p;
            else
                free(p);
        }
        if (!owned)
            return sc__errf(err, err_len, SC_ENOENT, "%s: no model.safetensors.index.json or model.safetensors in it",
                            path);
        path = owned;
    }

    sc_safetensors_t *st = calloc(1, sizeof(*st));
    if (!st) {
        free(owned);
        return sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
    }
    if (ends_with(path, ".json")) {
        rc = load_index(st, path, err, err_len);
    } else {
        int a = -1, b = -1;
        rc = load_file(st, path, err, err_len);
        if (rc == SC_OK && (rc = build_hash(st, &a, &b)) != SC_OK) /* one header has unique keys: ENOMEM only */
            sc__errf(err, err_len, rc, "%s: %s", path, sc_strerror(rc));
    }
    free(owned);
    if (rc != SC_OK) {
        sc_safetensors_close(st);
        return rc;
    }
    if (err && err_len) err[0] = '\0';
    *out = st;
    return SC_OK;
}
