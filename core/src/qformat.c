/*
 * core/src/qformat.c - glue between a checkpoint and its format plugin.
 *
 * The plugin links nothing from the core, so it reads the checkpoint through
 * sc_ckpt_reader, a table over the already-open safetensors files (tensor
 * data stays in the mmap; nothing is copied here). The quantization config
 * is handed over as JSON text so that the plugin owns its interpretation.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qformat.h"

#define CONFIG_MAX_BYTES ((size_t)16 << 20)

static int reader_find(void *ctx, const char *name, sc_ckpt_tensor *out) {
    sc_qformat *f = ctx;
    const sc_st_tensor *t = sc_safetensors_find(f->st, name);
    if (!t || !out) return SC_ENOENT;
    /* while converting: remember what was read, to drop its pages after */
    if (f->converting && f->n_touched < SC_QF_TOUCHED_MAX) f->touched[f->n_touched++] = t;
    size_t n = out->struct_size && out->struct_size < sizeof *out ? out->struct_size : sizeof *out;
    sc_ckpt_tensor r;
    memset(&r, 0, sizeof r);
    r.struct_size = n;
    r.name = t->name;
    r.dtype = sc_st_dtype_name(t->dtype);
    r.ndims = t->ndims;
    for (int d = 0; d < t->ndims && d < 8; d++) r.shape[d] = t->shape[d];
    r.data = t->data;
    r.nbytes = t->nbytes;
    memcpy(out, &r, n); /* never past the caller's struct_size */
    return SC_OK;
}

/* JSON of `file` in dir; *out = NULL when the file does not exist. */
static int load_json(const char *dir, const char *file, json_t **out, char *err, size_t err_len) {
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) return SC_OK;
    fclose(fp);
    int rc = sc__read_file(path, CONFIG_MAX_BYTES, &text, &len, err, err_len);
    if (rc != SC_OK) return rc;
    json_error_t je;
    *out = json_loadb(text, len, 0, &je);
    free(text);
    if (!*out) return sc__errf(err, err_len, SC_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    return SC_OK;
}

static int dump(json_t *obj, char **json, char *err, size_t err_len) {
    *json = json_dumps(obj, JSON_COMPACT);
    return *json ? SC_OK : sc__errf(err, err_len, SC_ENOMEM, "cannot serialise the quantization config");
}

int sc__quant_config_json(const char *dir, char **json, char *err, size_t err_len) {
    static const struct { const char *file, *method; } side[] = {
        {"quantize_config.json", "gptq"}, /* AutoGPTQ / GPTQModel */
        {"quant_config.json", "awq"},     /* old AutoAWQ: zero_point, q_group_size, w_bit, version */
    };
    json_t *root = NULL;
    *json = NULL;
    int rc = load_json(dir, "config.json", &root, err, err_len);
    if (rc != SC_OK) return rc;
    json_t *q = root ? json_object_get(root, "quantization_config") : NULL;
    if (q && json_is_object(q)) {
        rc = dump(q, json, err, err_len);
        json_decref(root);
        return rc;
    }
    json_decref(root);
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        rc = load_json(dir, side[i].file, &root, err, err_len);
        if (rc != SC_OK) return rc;
        if (!root) continue;
        if (!json_is_object(root)) {
            json_decref(root);
            return sc__errf(err, err_len, SC_EFORMAT, "%s/%s: not a JSON object", dir, side[i].file);
        }
        if (!json_is_string(json_object_get(root, "quant_method")))
            json_object_set_new(root, "quant_method", json_string(side[i].method));
        rc = dump(root, json, err, err_len);
        json_decref(root);
        return rc;
    }
    return SC_OK;
}

/* quant_method of the config, for messages. */
static void method_of(const char *quant_json, char *buf, size_t len) {
    json_t *q = json_loads(quant_json, 0, NULL);
    const char *m = q ? json_string_value(json_object_get(q, "quant_method")) : NULL;
    snprintf(buf, len, "%s", m ? m : "(none)");
    json_decref(q);
}

int sc__qformat_open(const sc_registry_t *reg, const char *quant_json, const sc_safetensors_t *st, sc_qformat **out,
                     char *err, size_t err_len) {
    char methods[256], method[64];
    *out = NULL;
    const sc_plugin_entry *pe = sc__registry_format_for(reg, quant_json, methods, sizeof methods);
    if (!pe) {
        method_of(quant_json, method, sizeof method);
        return sc__errf(err, err_len, SC_ENOTSUP, "quant_method \"%s\" is not supported (supported: %s)", method,
                        methods[0] ? methods : "none: no format plugin is loaded");
    }
    sc_qformat *f = calloc(1, sizeof *f);
    if (!f) return SC_ENOMEM;
    f->pe = pe;
    f->st = st;
    f->reader.struct_size = sizeof f->reader;
    f->reader.ctx = f; /* the reader only ever reads through f->st */
    f->reader.find = reader_find;
    char perr[512] = "";
    int rc = pe->format->open(pe->ctx, quant_json, &f->reader, &f->handle, perr, sizeof perr);
    if (rc != SC_OK) {
        perr[sizeof perr - 1] = '\0';
        free(f);
        return sc__errf(err, err_len, rc < 0 ? rc : SC_EPLUGIN, "%s: %s", pe->rec.desc.name,
                        perr[0] ? perr : sc_strerror(rc));
    }
    sc_log(SC_LOG_INFO, "model", "quantized checkpoint: format plugin %s", pe->rec.desc.name);
    *out = f;
    return SC_OK;
}

int sc__qformat_info(sc_qformat *f, const char *module, sc_linear_desc *d, char *err, size_t err_len) {
    char perr[512] = "";
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    int rc = f->pe->format->linear_info(f->handle, module, d, perr, sizeof perr);
    if (rc != SC_OK) {
        perr[sizeof perr - 1] = '\0';
        return sc__errf(err, err_len, rc < 0 ? rc : SC_EPLUGIN, "%s", perr[0] ? perr : module);
    }
    return SC_OK;
}

int sc__qformat_convert(sc_qformat *f, const char *module, void *dst, size_t dst_size, const sc_tensor *layout,
                        char *err, size_t err_len) {
    char perr[512] = "";
    f->converting = true;
    f->n_touched = 0;
    int rc = f->pe->format->linear_convert(f->handle, module, dst, dst_size, layout, perr, sizeof perr);
    f->converting = false;
    /* The module's packed tensors were read once and are not needed again:
     * drop their pages so the mapped checkpoint does not stay resident next
     * to the converted copy (peak RSS ~ 1x the checkpoint instead of 2x). A
     * tensor read again later (a plugin that shares one) faults back in. */
    for (int i = 0; i < f->n_touched; i++) sc__safetensors_release(f->st, f->touched[i]->data, f->touched[i]->nbytes);
    f->n_touched = 0;
    if (rc != SC_OK) {
        perr[sizeof perr - 1] = '\0';
        return sc__errf(err, err_len, rc < 0 ? rc : SC_EPLUGIN, "%s", perr[0] ? perr : module);
    }
    return SC_OK;
}

void sc__qformat_close(sc_qformat *f) {
    if (!f) return;
    if (f->handle) f->pe->format->close(f->handle);
    free(f);
}
