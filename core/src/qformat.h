/*
 * core/src/qformat.h - the core's side of format plugins: finding a
 * checkpoint's quantization config, picking the plugin that claims it, and
 * the checkpoint reader handed to that plugin.
 */
#ifndef STRIXCORE_QFORMAT_H
#define STRIXCORE_QFORMAT_H

#include "internal.h"
#include "strixcore/safetensors.h"

typedef struct sc_qformat {
    const sc_plugin_entry *pe;   /* the format plugin (owned by a registry) */
    void *handle;                /* from its open */
    sc_ckpt_reader reader;       /* over st */
    const sc_safetensors_t *st;
    /* tensors the plugin found during the current linear_convert */
#define SC_QF_TOUCHED_MAX 16
    const sc_st_tensor *touched[SC_QF_TOUCHED_MAX];
    int n_touched;
    bool converting;
} sc_qformat;

/* The checkpoint's quantization config as JSON text (free()), or *json = NULL
 * when it has none. Looks at config.json's "quantization_config", then
 * quantize_config.json (quant_method "gptq" when absent), then
 * quant_config.json (quant_method "awq" when absent). */
int sc__quant_config_json(const char *dir, char **json, char *err, size_t err_len);

/* Pick the plugin of reg that claims quant_json and open the checkpoint st
 * with it. Unknown quant_method: SC_ENOTSUP naming the supported ones. */
int sc__qformat_open(const sc_registry_t *reg, const char *quant_json, const sc_safetensors_t *st, sc_qformat **out,
                     char *err, size_t err_len);
int sc__qformat_info(sc_qformat *f, const char *module, sc_linear_desc *d, char *err, size_t err_len);
/* layout: a QG tensor; one matrix of it (ne[2] = 1) is written to dst. */
int sc__qformat_convert(sc_qformat *f, const char *module, void *dst, size_t dst_size, const sc_tensor *layout,
                        char *err, size_t err_len);
void sc__qformat_close(sc_qformat *f);

#endif
