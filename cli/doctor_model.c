/*
 * cli/doctor_model.c - does a checkpoint fit? From config.json and the
 * safetensors headers only: the weights are mmap'd by the reader's header
 * check, never read or uploaded.
 *
 *   weights  = tensor bytes of the safetensors files (matrices keep their
 *              dtype when loaded; the few 1-D norms grow to f32, noise)
 *   KV/token = 2 (K and V) * n_layers * n_kv_heads * head_dim * sizeof(kv type),
 *              counting full-attention layers only (Qwen3-Next's Gated DeltaNet
 *              layers keep a fixed-size f32 state per sequence instead:
 *              state = n_linear * (nv*dk*dv + C*(Kc-1)) * 4 bytes, a fixed cost)
 *   KV(N)    = ceil(N / block_size) * block_size * KV/token   (whole blocks,
 *              as sc_model_load allocates them for one sequence)
 *   fits     = weights + state + KV(N) <= budget
 * The largest N that fits is a whole number of blocks, capped at the
 * model's max_position_embeddings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strixcore/hf_cache.h"
#include "doctor.h"
#include "strixcore/model_config.h"
#include "strixcore/safetensors.h"

/* MODEL -> checkpoint directory. Today a local directory only; this is the
 * one place to teach it ORG/NAME (the Hugging Face cache). */
char *sc__doctor_resolve_model(const char *arg, char *err, size_t err_len) {
    struct stat st;
    char *dir;
    if (stat(arg, &st) != 0 && sc_hf_is_repo_id(arg)) {
        /* ORG/NAME[@REV]: the Hugging Face cache's snapshot; the doctor never downloads */
        char repo[256], rev[256], snap[4096], e[1024] = "";
        if (sc_hf_repo_parse(arg, repo, sizeof(repo), rev, sizeof(rev)) != SC_OK ||
            sc_hf_snapshot_dir(repo, rev, snap, sizeof(snap), e, sizeof(e)) != SC_OK) {
            snprintf(err, err_len, "%s; fetch it with `strixcore pull %s`",
                     e[0] ? e : "not in the Hugging Face cache", arg);
            return NULL;
        }
        dir = strdup(snap);
        if (!dir)
            snprintf(err, err_len, "out of memory");
        return dir;
    }
    if (stat(arg, &st) != 0) {
        snprintf(err, err_len, "%s: no such directory (MODEL is a checkpoint directory with config.json)", arg);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s: not a directory (MODEL is a checkpoint directory with config.json)", arg);
        return NULL;
    }
    dir = strdup(arg);
    if (!dir)
        snprintf(err, err_len, "out of memory");
    return dir;
}

int sc__doctor_model(sc_dr_model *m, uint64_t budget, const char *budget_source, char *err, size_t err_len) {
    sc_model_config cfg;
    sc_safetensors_t *st = NULL;
    char e[1024] = "";
    uint64_t block_bytes;
    int rc;

    rc = sc_model_config_load(m->dir, &cfg, e, sizeof(e));
    if (rc < 0) {
        snprintf(err, err_len, "%s: %s", m->dir, e[0] ? e : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    rc = sc_safetensors_open(m->dir, &st, e, sizeof(e));
    if (rc < 0) {
        snprintf(err, err_len, "%s: %s", m->dir, e[0] ? e : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    m->weights_bytes = sc_safetensors_total_bytes(st);
    sc_safetensors_close(st);

    snprintf(m->arch, sizeof(m->arch), "%s", cfg.arch_name);
    m->n_layers = cfg.n_layers;
    m->n_kv_heads = cfg.n_kv_heads;
    m->head_dim = cfg.head_dim;
    m->max_position_embeddings = cfg.max_position_embeddings;
    if (m->block_size <= 0)
        m->block_size = 16;
    /* the engine's default (sc_model_opts.max_model_len 0) */
    if (m->max_model_len <= 0)
        m->max_model_len = cfg.max_position_embeddings > 0 && cfg.max_position_embeddings < 4096
                               ? cfg.max_position_embeddings
                               : 4096;
    const uint64_t attn_layers = (uint64_t)(cfg.n_layers - cfg.n_linear_layers);
    m->kv_bytes_per_token = 2ull * attn_layers * (uint64_t)cfg.n_kv_heads * (uint64_t)cfg.head_dim *
                            (uint64_t)sc_type_size(m->kv_type);
    if (cfg.arch == SC_ARCH_QWEN3_NEXT && cfg.n_linear_layers > 0) {
        const uint64_t nk = (uint64_t)cfg.linear_n_key_heads, nv = (uint64_t)cfg.linear_n_value_heads;
        const uint64_t dk = (uint64_t)cfg.linear_key_head_dim, dv = (uint64_t)cfg.linear_value_head_dim;
        const uint64_t conv = (2 * nk * dk + nv * dv) * (uint64_t)(cfg.linear_conv_kernel - 1);
        m->state_bytes = (uint64_t)cfg.n_linear_layers * (nv * dk * dv + conv) * sizeof(float);
    }
    /* the fixed costs: weights and one sequence's recurrent state */
    const uint64_t fixed = m->weights_bytes + m->state_bytes;
    block_bytes = m->kv_bytes_per_token * (uint64_t)m->block_size;
    m->kv_bytes = (uint64_t)((m->max_model_len + m->block_size - 1) / m->block_size) * block_bytes;
    m->budget = budget;
    m->budget_source = budget_source;
    m->fits = budget > 0 && fixed <= budget && m->kv_bytes <= budget - fixed;
    if (budget > fixed && block_bytes > 0) {
        uint64_t blocks = (budget - fixed) / block_bytes;
        uint64_t cap = (uint64_t)INT32_MAX / (uint64_t)m->block_size;
        m->max_fit = (int64_t)((blocks < cap ? blocks : cap) * (uint64_t)m->block_size);
        /* no point going past what the model was trained for */
        if (cfg.max_position_embeddings > 0 && m->max_fit > cfg.max_position_embeddings)
            m->max_fit = cfg.max_position_embeddings;
    } else {
        m->max_fit = 0;
    }
    return SC_CLI_OK;
}
