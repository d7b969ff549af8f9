/*
 * tools/synth_ckpt.c - write a synthetic Hugging Face-style checkpoint with
 * the exact shapes and configs of a known model, in a quantized or bf16
 * format, for load-time and memory measurements without downloading one.
 *
 *   synth_ckpt [--seed N] --shape qwen3-14b|qwen3-0.6b|qwen3-30b-a3b
 *              --format gptq-int4|gptq-int8|awq-int4|ct-w4a16|bf16 OUT_DIR
 *
 * Writes OUT_DIR/config.json (with quantization_config as the real tools
 * write it), model-0000i-of-0000n.safetensors shards and
 * model.safetensors.index.json. Tensor layouts follow
 * shared/specs/formats.md sections 1-3: GPTQ v1 symmetric (qzeros words
 * 0x77777777 / 0x7F7F7F7F, trivial g_idx), AWQ GEMM (zero 8), compressed-
 * tensors pack-quantized symmetric W4A16 (bf16 scales). Embeddings, norms,
 * the MoE router and lm_head stay bf16. Content is xorshift noise with
 * plausible magnitudes (small positive scales, norms near 1). Shards are
 * generated and written one at a time, so memory stays around one shard.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strixcore/safetensors.h"

typedef struct shape {
    const char *name;
    int64_t V, D, L, H, Hkv, hd, I, E, k, Im;
    int tied, norm_topk;
    double theta;
    int64_t max_pos;
} shape;

static const shape shapes[] = {
    {"qwen3-0.6b", 151936, 1024, 28, 16, 8, 128, 3072, 0, 0, 0, 1, 0, 1e6, 40960},
    {"qwen3-14b", 151936, 5120, 40, 40, 8, 128, 17408, 0, 0, 0, 0, 0, 1e6, 40960},
    {"qwen3-30b-a3b", 151936, 2048, 48, 32, 4, 128, 6144, 128, 8, 768, 0, 1, 1e6, 40960},
};

enum fmt { F_GPTQ4, F_GPTQ8, F_AWQ4, F_CT4, F_BF16 };
static const char *fmt_names[] = {"gptq-int4", "gptq-int8", "awq-int4", "ct-w4a16", "bf16"};

#define GS 128
#define SHARD_TARGET ((uint64_t)2 << 30) /* bytes per shard, about */

/* ---- random ------------------------------------------------------------- */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static void fill_random(void *p, size_t n) {
    uint8_t *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t r = rnd();
        memcpy(b + i, &r, 8);
    }
    uint64_t r = rnd();
    for (; i < n; i++, r >>= 8) b[i] = (uint8_t)r;
}
/* 16-bit values: (random & keep) | set, from 4 per draw */
static void fill_u16(void *p, size_t n, uint16_t keep, uint16_t set) {
    uint16_t *h = p;
    for (size_t i = 0; i < n; i += 4) {
        uint64_t r = rnd();
        for (size_t j = 0; j < 4 && i + j < n; j++, r >>= 16) h[i + j] = (uint16_t)(((uint16_t)r & keep) | set);
    }
}
static void fill_u32(void *p, size_t n, uint32_t v) {
    uint32_t *w = p;
    for (size_t i = 0; i < n; i++) w[i] = v;
}

/* ---- one shard being built ------------------------------------------------ */
typedef struct pending {
    char *name;
    sc_st_dtype dt;
    int nd;
    int64_t shape[3];
    void *data;
    size_t nbytes;
} pending;

static pending *pend;
static int n_pend, cap_pend;
static uint64_t pend_bytes;

/* index entries: name -> shard number */
static char **idx_name;
static int *idx_shard;
static int n_idx, cap_idx;
static int n_shards;
static uint64_t total_bytes;
static const char *out_dir;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "synth_ckpt: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void *add(const char *name, sc_st_dtype dt, int nd, int64_t a, int64_t b, int64_t c) {
    if (n_pend == cap_pend) {
        cap_pend = cap_pend ? 2 * cap_pend : 256;
        pend = realloc(pend, (size_t)cap_pend * sizeof *pend);
        if (!pend) exit(1);
    }
    pending *p = &pend[n_pend++];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->dt = dt;
    p->nd = nd;
    p->shape[0] = a;
    p->shape[1] = b;
    p->shape[2] = c;
    size_t n = sc_st_dtype_size(dt);
    for (int d = 0; d < nd; d++) n *= (size_t)p->shape[d];
    p->nbytes = n;
    p->data = xmalloc(n);
    pend_bytes += n;
    return p->data;
}

static void tmp_path(char *buf, size_t len, int i) { snprintf(buf, len, "%s/model-%05d.safetensors.tmp", out_dir, i + 1); }

static void flush_shard(void) {
    if (!n_pend) return;
    sc_st_write_tensor *ts = xmalloc((size_t)n_pend * sizeof *ts);
    for (int i = 0; i < n_pend; i++) {
        ts[i] = (sc_st_write_tensor){pend[i].name, pend[i].dt, pend[i].nd, pend[i].shape, pend[i].data,
                                     pend[i].nbytes};
    }
    char path[4096];
    tmp_path(path, sizeof path, n_shards);
    int rc = sc_safetensors_write(path, ts, n_pend, "{\"format\":\"pt\"}");
    if (rc != SC_OK) {
        fprintf(stderr, "synth_ckpt: writing %s: %s\n", path, sc_strerror(rc));
        exit(1);
    }
    for (int i = 0; i < n_pend; i++) {
        if (n_idx == cap_idx) {
            cap_idx = cap_idx ? 2 * cap_idx : 1024;
            idx_name = realloc(idx_name, (size_t)cap_idx * sizeof *idx_name);
            idx_shard = realloc(idx_shard, (size_t)cap_idx * sizeof *idx_shard);
            if (!idx_name || !idx_shard) exit(1);
        }
        idx_name[n_idx] = pend[i].name;
        idx_shard[n_idx++] = n_shards;
        free(pend[i].data);
        total_bytes += pend[i].nbytes;
    }
    free(ts);
    fprintf(stderr, "synth_ckpt: shard %d: %d tensors, %.1f MiB\n", n_shards + 1, n_pend,
            (double)pend_bytes / (1024.0 * 1024.0));
    n_shards++;
    n_pend = 0;
    pend_bytes = 0;
}

/* ---- tensors ------------------------------------------------------------ */
/* bf16 with |x| in [2^-7, 2^-6): weights of a dense matrix or embedding */
static void bf16_weight(const char *name, int64_t rows, int64_t cols) {
    fill_u16(add(name, SC_ST_BF16, 2, rows, cols, 0), (size_t)(rows * cols), 0x807F, 0x3C00);
}
/* bf16 in [1, 2): norm weights */
static void bf16_norm(const char *name, int64_t n) { fill_u16(add(name, SC_ST_BF16, 1, n, 0, 0), (size_t)n, 0x000F, 0x3F80); }

/* One Linear of in_features K, out_features N, module name m. */
static void linear(enum fmt f, const char *m, int64_t K, int64_t N) {
    char name[512];
    const int64_t G = K / GS;
    switch (f) {
    case F_GPTQ4:
    case F_GPTQ8: {
        const int b = f == F_GPTQ4 ? 4 : 8;
        snprintf(name, sizeof name, "%s.qweight", m);
        fill_random(add(name, SC_ST_I32, 2, K * b / 32, N, 0), (size_t)(K * b / 32 * N) * 4u);
        snprintf(name, sizeof name, "%s.qzeros", m);
        fill_u32(add(name, SC_ST_I32, 2, G, N * b / 32, 0), (size_t)(G * N * b / 32), b == 4 ? 0x77777777u : 0x7F7F7F7Fu);
        snprintf(name, sizeof name, "%s.scales", m);
        fill_u16(add(name, SC_ST_F16, 2, G, N, 0), (size_t)(G * N), 0x03FF, 0x1C00); /* f16 [2^-8, 2^-7) */
        snprintf(name, sizeof name, "%s.g_idx", m);
        int32_t *gi = add(name, SC_ST_I32, 1, K, 0, 0);
        for (int64_t k = 0; k < K; k++) gi[k] = (int32_t)(k / GS);
        break;
    }
    case F_AWQ4:
        snprintf(name, sizeof name, "%s.qweight", m);
        fill_random(add(name, SC_ST_I32, 2, K, N / 8, 0), (size_t)(K * N / 8) * 4u);
        snprintf(name, sizeof name, "%s.qzeros", m);
        fill_u32(add(name, SC_ST_I32, 2, G, N / 8, 0), (size_t)(G * N / 8), 0x88888888u);
        snprintf(name, sizeof name, "%s.scales", m);
        fill_u16(add(name, SC_ST_F16, 2, G, N, 0), (size_t)(G * N), 0x03FF, 0x1C00);
        break;
    case F_CT4: {
        snprintf(name, sizeof name, "%s.weight_packed", m);
        fill_random(add(name, SC_ST_I32, 2, N, K / 8, 0), (size_t)(N * K / 8) * 4u);
        snprintf(name, sizeof name, "%s.weight_scale", m);
        fill_u16(add(name, SC_ST_BF16, 2, N, G, 0), (size_t)(N * G), 0x007F, 0x3B80); /* bf16 [2^-8, 2^-7) */
        snprintf(name, sizeof name, "%s.weight_shape", m);
        int64_t *ws = add(name, SC_ST_I64, 1, 2, 0, 0);
        ws[0] = N;
        ws[1] = K;
        break;
    }
    case F_BF16:
        snprintf(name, sizeof name, "%s.weight", m);
        bf16_weight(name, N, K);
        break;
    }
}

/* ---- config ------------------------------------------------------------- */
static const char *quant_config(enum fmt f) {
    switch (f) {
    case F_GPTQ4:
        return "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"sym\": true, \"desc_act\": false, "
               "\"checkpoint_format\": \"gptq\", \"pack_dtype\": \"int32\"}";
    case F_GPTQ8:
        return "{\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": 128, \"sym\": true, \"desc_act\": false, "
               "\"checkpoint_format\": \"gptq\", \"pack_dtype\": \"int32\"}";
    case F_AWQ4:
        return "{\"quant_method\": \"awq\", \"zero_point\": true, \"group_size\": 128, \"bits\": 4, "
               "\"version\": \"gemm\", \"modules_to_not_convert\": null}";
    case F_CT4:
        return "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", "
               "\"quantization_status\": \"compressed\", \"version\": \"0.12.2\", "
               "\"global_compression_ratio\": null, \"kv_cache_scheme\": null, \"sparsity_config\": {}, "
               "\"transform_config\": {}, \"ignore\": [\"lm_head\", \"re:.*mlp.gate$\"], "
               "\"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"format\": \"pack-quantized\", "
               "\"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": true, \"strategy\": \"group\", "
               "\"group_size\": 128, \"block_structure\": null, \"dynamic\": false, \"actorder\": null, "
               "\"observer\": \"minmax\", \"observer_kwargs\": {}}, \"input_activations\": null, "
               "\"output_activations\": null}}}";
    case F_BF16:
        return NULL;
    }
    return NULL;
}

static int write_text(const char *file, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, file);
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "synth_ckpt: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int write_config(const shape *s, enum fmt f) {
    char buf[8192];
    size_t o = 0;
    const int moe = s->E > 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n"
                          "  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n"
                          "  \"bos_token_id\": 151643,\n  \"eos_token_id\": 151645,\n  \"head_dim\": %lld,\n"
                          "  \"hidden_act\": \"silu\",\n  \"hidden_size\": %lld,\n  \"initializer_range\": 0.02,\n"
                          "  \"intermediate_size\": %lld,\n  \"max_position_embeddings\": %lld,\n"
                          "  \"max_window_layers\": %lld,\n  \"num_attention_heads\": %lld,\n"
                          "  \"num_hidden_layers\": %lld,\n  \"num_key_value_heads\": %lld,\n"
                          "  \"rms_norm_eps\": 1e-06,\n  \"rope_scaling\": null,\n  \"rope_theta\": %.1f,\n"
                          "  \"sliding_window\": null,\n  \"tie_word_embeddings\": %s,\n"
                          "  \"torch_dtype\": \"bfloat16\",\n  \"transformers_version\": \"4.51.0\",\n"
                          "  \"use_cache\": true,\n  \"use_sliding_window\": false,\n  \"vocab_size\": %lld",
                          moe ? "Qwen3MoeForCausalLM" : "Qwen3ForCausalLM", moe ? "qwen3_moe" : "qwen3",
                          (long long)s->hd, (long long)s->D, (long long)s->I, (long long)s->max_pos, (long long)s->L,
                          (long long)s->H, (long long)s->L, (long long)s->Hkv, s->theta, s->tied ? "true" : "false",
                          (long long)s->V);
    if (moe)
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              ",\n  \"decoder_sparse_step\": 1,\n  \"mlp_only_layers\": [],\n"
                              "  \"moe_intermediate_size\": %lld,\n  \"norm_topk_prob\": %s,\n"
                              "  \"num_experts\": %lld,\n  \"num_experts_per_tok\": %lld,\n"
                              "  \"output_router_logits\": false,\n  \"router_aux_loss_coef\": 0.001",
                              (long long)s->Im, s->norm_topk ? "true" : "false", (long long)s->E, (long long)s->k);
    const char *q = quant_config(f);
    if (q) o += (size_t)snprintf(buf + o, sizeof buf - o, ",\n  \"quantization_config\": %s", q);
    snprintf(buf + o, sizeof buf - o, "\n}\n");
    return write_text("config.json", buf);
}

static int write_index(void) {
    char path[4096], final[4096];
    for (int i = 0; i < n_shards; i++) {
        tmp_path(path, sizeof path, i);
        snprintf(final, sizeof final, "%s/model-%05d-of-%05d.safetensors", out_dir, i + 1, n_shards);
        if (rename(path, final) != 0) {
            fprintf(stderr, "synth_ckpt: rename %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", out_dir);
    FILE *fp = fopen(path, "w");
    if (!fp) return 1;
    fprintf(fp, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
            (unsigned long long)total_bytes);
    for (int i = 0; i < n_idx; i++)
        fprintf(fp, "    \"%s\": \"model-%05d-of-%05d.safetensors\"%s\n", idx_name[i], idx_shard[i] + 1, n_shards,
                i + 1 < n_idx ? "," : "");
    fprintf(fp, "  }\n}\n");
    return fclose(fp) != 0;
}

static int usage(void) {
    fprintf(stderr, "usage: synth_ckpt [--seed N] --shape qwen3-14b|qwen3-0.6b|qwen3-30b-a3b\n"
                    "                  --format gptq-int4|gptq-int8|awq-int4|ct-w4a16|bf16 OUT_DIR\n");
    return 2;
}

int main(int argc, char **argv) {
    const shape *s = NULL;
    int f = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            i++;
            for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++)
                if (!strcmp(shapes[j].name, argv[i])) s = &shapes[j];
            if (!s) return usage();
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            i++;
            for (int j = 0; j < (int)(sizeof fmt_names / sizeof fmt_names[0]); j++)
                if (!strcmp(fmt_names[j], argv[i])) f = j;
            if (f < 0) return usage();
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            rng_state = strtoull(argv[++i], NULL, 0) * 0x9E3779B97F4A7C15ull | 1u;
        } else if (argv[i][0] != '-' && !out_dir) {
            out_dir = argv[i];
        } else {
            return usage();
        }
    }
    if (!s || f < 0 || !out_dir) return usage();
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "synth_ckpt: mkdir %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    if (write_config(s, (enum fmt)f)) return 1;

    const int64_t D = s->D, qd = s->H * s->hd, kvd = s->Hkv * s->hd;
    char m[256], name[320];
    bf16_weight("model.embed_tokens.weight", s->V, D);
    flush_shard();
    for (int64_t L = 0; L < s->L; L++) {
        snprintf(name, sizeof name, "model.layers.%lld.input_layernorm.weight", (long long)L);
        bf16_norm(name, D);
        snprintf(name, sizeof name, "model.layers.%lld.post_attention_layernorm.weight", (long long)L);
        bf16_norm(name, D);
        snprintf(name, sizeof name, "model.layers.%lld.self_attn.q_norm.weight", (long long)L);
        bf16_norm(name, s->hd);
        snprintf(name, sizeof name, "model.layers.%lld.self_attn.k_norm.weight", (long long)L);
        bf16_norm(name, s->hd);
        static const char *attn[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
        for (int p = 0; p < 4; p++) {
            snprintf(m, sizeof m, "model.layers.%lld.self_attn.%s", (long long)L, attn[p]);
            linear((enum fmt)f, m, p == 3 ? qd : D, p == 0 ? qd : p == 3 ? D : kvd);
        }
        if (s->E > 0) {
            snprintf(name, sizeof name, "model.layers.%lld.mlp.gate.weight", (long long)L);
            bf16_weight(name, s->E, D);
            for (int64_t e = 0; e < s->E; e++) {
                snprintf(m, sizeof m, "model.layers.%lld.mlp.experts.%lld.gate_proj", (long long)L, (long long)e);
                linear((enum fmt)f, m, D, s->Im);
                snprintf(m, sizeof m, "model.layers.%lld.mlp.experts.%lld.up_proj", (long long)L, (long long)e);
                linear((enum fmt)f, m, D, s->Im);
                snprintf(m, sizeof m, "model.layers.%lld.mlp.experts.%lld.down_proj", (long long)L, (long long)e);
                linear((enum fmt)f, m, s->Im, D);
            }
        } else {
            snprintf(m, sizeof m, "model.layers.%lld.mlp.gate_proj", (long long)L);
            linear((enum fmt)f, m, D, s->I);
            snprintf(m, sizeof m, "model.layers.%lld.mlp.up_proj", (long long)L);
            linear((enum fmt)f, m, D, s->I);
            snprintf(m, sizeof m, "model.layers.%lld.mlp.down_proj", (long long)L);
            linear((enum fmt)f, m, s->I, D);
        }
        if (pend_bytes >= SHARD_TARGET) flush_shard();
    }
    bf16_norm("model.norm.weight", D);
    flush_shard();
    if (!s->tied) {
        bf16_weight("lm_head.weight", s->V, D);
        flush_shard();
    }
    if (write_index()) return 1;
    printf("%s: %s %s, %d shards, %llu bytes of tensor data\n", out_dir, s->name, fmt_names[f], n_shards,
           (unsigned long long)total_bytes);
    return 0;
}
