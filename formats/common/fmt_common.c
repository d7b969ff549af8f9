/* formats/common/fmt_common.c - see fmt_common.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include "fmt_common.h"

const sc_host_api *fc_host;

int fc_errf(char *err, size_t err_len, int code, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

int fc_get(const sc_ckpt_reader *r, const char *module, const char *suffix, sc_ckpt_tensor *t) {
    char name[512];
    snprintf(name, sizeof name, "%s.%s", module, suffix);
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    return r->find(r->ctx, name, t) == SC_OK ? SC_OK : SC_ENOENT;
}

static void shape_str(char *buf, size_t len, int nd, const int64_t *s) {
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < nd && o < len; d++) o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? ", " : "", (long long)s[d]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

int fc_expect(const sc_ckpt_tensor *t, const char *module, const char *what, const char *dtype, int ndims,
              const int64_t *shape, char *err, size_t err_len) {
    if (dtype && strcmp(t->dtype, dtype) != 0)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: %s dtype %s, expected %s", module, what, t->dtype, dtype);
    bool ok = t->ndims == ndims;
    for (int d = 0; ok && d < ndims; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char got[96], want[96];
        shape_str(got, sizeof got, t->ndims, t->shape);
        shape_str(want, sizeof want, ndims, shape);
        return fc_errf(err, err_len, SC_EFORMAT, "%s: %s shape %s does not match %s", module, what, got, want);
    }
    uint64_t n = 1;
    for (int d = 0; d < ndims; d++) n *= (uint64_t)shape[d];
    size_t es = !strcmp(t->dtype, "F16") || !strcmp(t->dtype, "BF16") ? 2 : !strcmp(t->dtype, "I64") ? 8 : 4;
    if (!t->data || t->nbytes != n * es)
        return fc_errf(err, err_len, SC_ETRUNC, "%s: %s has %zu bytes, expected %llu", module, what, t->nbytes,
                       (unsigned long long)(n * es));
    return SC_OK;
}

int fc_check_layout(const sc_tensor *l, size_t dst_size, const char *module, int64_t K, int64_t N, uint32_t bits,
                    uint32_t group_size, int has_gidx, char *err, size_t err_len) {
    if (!l || l->type != SC_TYPE_QG || l->ne[0] != K || l->ne[1] != N || l->quant.bits != bits ||
        l->quant.group_size != group_size || !(l->quant.flags & SC_QUANT_HAS_GIDX) != !has_gidx ||
        dst_size < l->nb[2] || l->nb[1] != l->quant.row_bytes)
        return fc_errf(err, err_len, SC_EINVAL, "%s: the QG layout passed to linear_convert does not match linear_info",
                       module);
    return SC_OK;
}

int64_t fc_json_int(const json_t *o, const char *key, const char *alt, int64_t dflt) {
    const json_t *v = json_object_get(o, key);
    if (!v && alt) v = json_object_get(o, alt);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

const char *fc_json_str(const json_t *o, const char *key, const char *alt) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) && alt) v = json_object_get(o, alt);
    return json_string_value(v);
}

int fc_re_match(const char *pattern, const char *subject) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    if (!re) return -1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, PCRE2_ANCHORED, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

int fc_scale_f16(const void *data, uint64_t i, const char *dtype, uint16_t *out) {
    uint16_t h;
    float f;
    if (!strcmp(dtype, "F16")) {
        memcpy(out, (const char *)data + i * 2u, 2);
        return SC_OK;
    }
    if (!strcmp(dtype, "BF16")) {
        memcpy(&h, (const char *)data + i * 2u, 2);
        f = fc_host->bf16_to_f32(h);
    } else if (!strcmp(dtype, "F32")) {
        memcpy(&f, (const char *)data + i * 4u, 4);
    } else {
        return SC_EFORMAT;
    }
    *out = fc_host->f32_to_f16(f);
    return fc_host->f16_to_f32(*out) == f ? SC_OK : SC_ERANGE;
}

int fc_probe(const sc_host_api *host, sc_plugin_desc *desc, const char *name, const char *description) {
    fc_host = host;
    desc->abi_major = SC_ABI_MAJOR;
    if (desc->abi_minor < 1) { /* the format table needs minor 1: unusable with an older core */
        desc->score = 0;
    } else {
        desc->abi_minor = 1;
        desc->score = 1;
    }
    desc->kind = SC_PLUGIN_FORMAT;
    snprintf(desc->name, sizeof desc->name, "%s", name);
    snprintf(desc->version, sizeof desc->version, "0.1.0");
    snprintf(desc->description, sizeof desc->description, "%s", description);
    if (!desc->score) snprintf(desc->reason, sizeof desc->reason, "the core does not speak ABI minor 1");
    return SC_OK;
}

int fc_init(const sc_host_api *host, uint32_t abi_minor, const sc_plugin_iface **iface, void **ctx,
            const sc_format_iface *fmt, sc_plugin_iface *storage) {
    fc_host = host;
    if (abi_minor < 1) return SC_EABI;
    memset(storage, 0, sizeof *storage);
    storage->struct_size = sizeof *storage;
    storage->kind = SC_PLUGIN_FORMAT;
    storage->format = fmt;
    *iface = storage;
    *ctx = NULL;
    return SC_OK;
}
