/*
 * core/src/model_synth.c - models with random weights and the exact shapes of
 * real ones, for benchmarks and tests without a checkpoint.
 *
 * Weights are uniform with standard deviation 1/sqrt(fan_in) (fan_in = the
 * K of each matrix, D for the embedding), norms 1 +- 0.1: activations keep
 * unit scale through any depth and logits spread by about 1. Every tensor
 * draws from its own stream (seed, tensor index), so values do not depend
 * on chunking and a seed reproduces a model.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "internal.h"
#include "model_internal.h"
#include "strixcore/model_synth.h"

#define FILL_BLOCK ((size_t)1 << 16) /* elements per random stream */
#define FILL_CHUNK_BLOCKS 16          /* blocks per upload when the buffer is not host-visible */
#define FILL_MAX_THREADS 32

typedef struct synth_shape {
    const char *name;
    sc_arch arch;
    int64_t V, D, L, H, Hkv, hd, I, E, k, Im;
    bool tied, norm_topk;
    int64_t sparse_step;
    int64_t mlp_only_below; /* layers 0..n-1 are dense (mlp_only_layers) */
    double theta;
    int64_t max_pos;
} synth_shape;

static const synth_shape shapes[] = {
    /* name            arch             V       D     L   H   Hkv hd   I      E    k  Im   tied   norm  step dense theta  max_pos */
    {"qwen3-0.6b",     SC_ARCH_QWEN3,     151936, 1024, 28, 16, 8, 128, 3072,  0,   0, 0,   true,  false, 1, 0, 1e6, 40960},
    {"qwen3-14b",      SC_ARCH_QWEN3,     151936, 5120, 40, 40, 8, 128, 17408, 0,   0, 0,   false, false, 1, 0, 1e6, 40960},
    {"qwen3-30b-a3b",  SC_ARCH_QWEN3_MOE, 151936, 2048, 48, 32, 4, 128, 6144,  128, 8, 768, false, true,  1, 0, 1e6, 40960},
    /* tests: GQA 2:1, head_dim 32 != D/H = 16 */
    {"tiny",           SC_ARCH_QWEN3,     512,    64,   2,  4,  2, 32,  128,   0,   0, 0,   false, false, 1, 0, 1e6, 4096},
    /* tests: 3 layers, layer 0 dense (mlp_only_layers = [0]), 8 experts, top-2 renormalised */
    {"tiny-moe",       SC_ARCH_QWEN3_MOE, 512,    64,   3,  4,  2, 32,  96,    8,   2, 32,  false, true,  1, 1, 1e6, 4096},
    /* Qwen3-Next: Gated DeltaNet layers, 3 of every 4 (next_shapes below) */
    {"qwen3-next-80b-a3b", SC_ARCH_QWEN3_NEXT, 151936, 2048, 48, 16, 2, 256, 5120, 512, 10, 512, false, true, 1, 0, 1e7, 262144},
    {"tiny-next",      SC_ARCH_QWEN3_NEXT, 512,   64,   4,  4,  2, 32,  96,    8,   2, 32,  false, true,  1, 0, 1e7, 4096},
};

/* The Qwen3-Next part of a shape (config.json's linear_* keys). */
typedef struct synth_next {
    const char *name;
    int64_t full_every, nk, nv, dk, dv, Kc, Is;
    double partial_rotary;
} synth_next;

static const synth_next next_shapes[] = {
    /* name                every nk  nv  dk   dv   Kc Is   partial */
    {"qwen3-next-80b-a3b", 4,    16, 32, 128, 128, 4, 512, 0.25},
    {"tiny-next",          4,    2,  4,  16,  16,  4, 48,  0.25},
};

static int synth_config(const char *name, sc_model_config *c, char *err, size_t err_len) {
    const synth_shape *s = NULL;
    for (size_t i = 0; i < SC_ARRAY_LEN(shapes); i++)
        if (strcmp(shapes[i].name, name) == 0) s = &shapes[i];
    if (!s) {
        sc__model_errf(err, err_len, "unknown synthetic model '%s' (known: qwen3-0.6b, qwen3-14b, qwen3-30b-a3b, "
                       "tiny, tiny-moe, qwen3-next-80b-a3b, tiny-next)", name);
        return SC_ENOENT;
    }
    memset(c, 0, sizeof *c);
    c->arch = s->arch;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", s->arch == SC_ARCH_QWEN3       ? "Qwen3ForCausalLM"
                                                      : s->arch == SC_ARCH_QWEN3_MOE ? "Qwen3MoeForCausalLM"
                                                                                     : "Qwen3NextForCausalLM");
    c->vocab_size = s->V;
    c->hidden_size = s->D;
    c->intermediate_size = s->I;
    c->n_layers = s->L;
    c->n_heads = s->H;
    c->n_kv_heads = s->Hkv;
    c->head_dim = s->hd;
    c->rms_norm_eps = 1e-6;
    c->rope_theta = s->theta;
    c->partial_rotary_factor = 1.0;
    c->max_position_embeddings = s->max_pos;
    c->tie_word_embeddings = s->tied;
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "bfloat16");
    c->n_experts = s->E;
    c->n_experts_used = s->k;
    c->moe_intermediate_size = s->Im;
    c->norm_topk_prob = s->norm_topk;
    c->decoder_sparse_step = s->sparse_step;
    for (int64_t L = 0; L < s->mlp_only_below && L < SC_MAX_LAYERS; L++) c->mlp_only[L] = true;
    c->bos_token_id = s->V > 151643 ? 151643 : 1;
    c->eos_token_id = s->V > 151645 ? 151645 : 2;
    for (size_t i = 0; i < SC_ARRAY_LEN(next_shapes); i++) {
        const synth_next *x = &next_shapes[i];
        if (strcmp(x->name, name) != 0) continue;
        for (int64_t L = 0; L < c->n_layers && L < SC_MAX_LAYERS; L++) {
            c->linear_layer[L] = (L + 1) % x->full_every != 0;
            c->n_linear_layers += c->linear_layer[L];
        }
        c->linear_n_key_heads = x->nk;
        c->linear_n_value_heads = x->nv;
        c->linear_key_head_dim = x->dk;
        c->linear_value_head_dim = x->dv;
        c->linear_conv_kernel = x->Kc;
        c->shared_expert_intermediate_size = x->Is;
        c->partial_rotary_factor = x->partial_rotary;
    }
    return SC_OK;
}

/* splitmix64 */
static uint64_t mix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One tensor's values: block b (FILL_BLOCK elements) draws from its own
 * stream (seed, tensor, block), so values depend on nothing else. */
typedef struct fill_job {
    uint8_t *dst;          /* element 0 of the range being written */
    size_t first_block, n_blocks, n; /* blocks [first, first + n_blocks), n elements in the tensor */
    sc_type type;
    float base, k;         /* value = base + k * int32 */
    uint64_t stream;
    int n_threads, id;
} fill_job;

static void fill_block(const fill_job *j, size_t b) {
    uint64_t state = j->stream ^ (0xA0761D6478BD642Full * (b + 1));
    const size_t i0 = b * FILL_BLOCK, m = SC_MIN(FILL_BLOCK, j->n - i0);
    const size_t es = sc_type_size(j->type);
    uint8_t *dst = j->dst + (i0 - j->first_block * FILL_BLOCK) * es;
    /* hot loop: two values per 64 random bits */
    for (size_t i = 0; i < m; i += 2) {
        uint64_t r = mix(&state);
        float v[2] = {j->base + j->k * (float)(int32_t)(uint32_t)r, j->base + j->k * (float)(int32_t)(uint32_t)(r >> 32)};
        for (size_t q = 0; q < 2 && i + q < m; q++) {
            if (j->type == SC_TYPE_F32) {
                memcpy(dst + 4 * (i + q), &v[q], 4);
            } else {
                uint16_t h;
                if (j->type == SC_TYPE_BF16) { /* truncate: random values need no rounding */
                    uint32_t u;
                    memcpy(&u, &v[q], sizeof u);
                    h = (uint16_t)(u >> 16);
                } else {
                    h = sc_f32_to_f16(v[q]);
                }
                memcpy(dst + 2 * (i + q), &h, 2);
            }
        }
    }
}

static void *fill_worker(void *p) {
    const fill_job *j = p;
    for (size_t b = (size_t)j->id; b < j->n_blocks; b += (size_t)j->n_threads) fill_block(j, j->first_block + b);
    return NULL;
}

/* Run job over n_threads threads (the caller is one of them). */
static void fill_parallel(const fill_job *job, int n_threads) {
    pthread_t th[FILL_MAX_THREADS];
    fill_job jobs[FILL_MAX_THREADS];
    int started = 0;
    n_threads = n_threads < 1 ? 1 : n_threads > FILL_MAX_THREADS ? FILL_MAX_THREADS : n_threads;
    for (int i = 0; i < n_threads; i++) {
        jobs[i] = *job;
        jobs[i].n_threads = n_threads;
        jobs[i].id = i;
    }
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&th[i], NULL, fill_worker, &jobs[i]) != 0) break;
        started = i;
    }
    for (int i = started + 1; i < n_threads; i++) fill_worker(&jobs[i]); /* threads that did not start */
    fill_worker(&jobs[0]);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
}

static int fill(sc_tensor *t, const sc_wspec *s, uint64_t seed, uint64_t index, void *tmp, int n_threads,
                uint64_t *done, uint64_t total, const sc_model_opts *o) {
    const size_t es = sc_type_size(t->type), n = (size_t)sc_tensor_nelements(t);
    const bool norm = s->kind == SC_W_NORM;
    /* uniform on [-a, a] has standard deviation a / sqrt(3) */
    const float a = norm ? 0.1f : (float)(sqrt(3.0) / sqrt((double)s->ne[0]));
    fill_job job = {.n = n, .type = (sc_type)t->type, .base = norm ? 1.0f : 0.0f, .k = a / 2147483648.0f,
                    .stream = seed ^ (0xD1B54A32D192ED03ull * (index + 1))};
    const size_t n_blocks = (n + FILL_BLOCK - 1) / FILL_BLOCK;
    uint8_t *host = sc_buffer_host_ptr(t->buffer);
    if (host) {
        /* host-visible memory (CPU, unified-memory GPUs): write in place, in parallel */
        job.dst = host + ((uint8_t *)t->data - (uint8_t *)t->buffer->base);
        job.n_blocks = n_blocks;
        fill_parallel(&job, (int)SC_MIN((size_t)n_threads, n_blocks));
        *done += n * es;
        if (o->progress && total) o->progress((double)*done / (double)total, o->progress_user);
        return SC_OK;
    }
    for (size_t b0 = 0; b0 < n_blocks; b0 += FILL_CHUNK_BLOCKS) {
        job.dst = tmp;
        job.first_block = b0;
        job.n_blocks = SC_MIN((size_t)FILL_CHUNK_BLOCKS, n_blocks - b0);
        fill_parallel(&job, (int)SC_MIN((size_t)n_threads, job.n_blocks));
        const size_t i0 = b0 * FILL_BLOCK, m = SC_MIN(job.n_blocks * FILL_BLOCK, n - i0);
        int rc = sc_tensor_set(t, tmp, i0 * es, m * es);
        if (rc != SC_OK) return rc;
        *done += m * es;
        if (o->progress && total) o->progress((double)*done / (double)total, o->progress_user);
    }
    return SC_OK;
}

/* ---- quantized weights ----------------------------------------------------
 * A quantized synthetic model stores each decoder Linear as a QG tensor with
 * the format's conventions; codes are uniform random, scales f16 chosen so
 * that W = s * (code - zero) has about the dense fill's spread, 1/sqrt(K). */
#define QSYNTH_GROUP 128u

typedef struct qsynth_fmt {
    const char *name;
    uint32_t bits;
    bool random_zeros; /* asymmetric (AWQ): zero points uniform in the code range */
    bool bf16;         /* compressed-tensors: scales and weights rounded to bf16 */
} qsynth_fmt;

static const qsynth_fmt qsynth_fmts[] = {
    {"gptq-int4", 4, false, false},
    {"gptq-int8", 8, false, false},
    {"awq-int4", 4, true, false},
    {"ct-w4a16", 4, false, true},
};

/* Is spec s a Linear a quantized checkpoint stores quantized? Decoder
 * projections and experts are; embeddings, lm_head and the router are not. */
static bool qsynth_quantized(const sc_wspec *s) {
    if (s->kind == SC_W_EXPERTS) return true;
    return s->kind == SC_W_MAT && s->group > 0 && strstr(s->name, ".mlp.gate.weight") == NULL &&
           strstr(s->name, ".shared_expert_gate.") == NULL && strstr(s->name, ".in_proj_ba.") == NULL;
}

/* Describe every weight (QG for quantized specs, bf16 matrices, f32 norms)
 * and let the shared allocator place them, one buffer per group. */
static int qsynth_alloc(sc_model_t *m, const sc_wspec *specs, int n, const qsynth_fmt *f) {
    sc_type *types = calloc((size_t)n + 1, sizeof *types);
    sc_wquant *quant = calloc((size_t)n + 1, sizeof *quant);
    int rc = SC_ENOMEM;
    if (types && quant) {
        for (int i = 0; i < n; i++) {
            types[i] = specs[i].kind == SC_W_NORM ? SC_TYPE_F32 : SC_TYPE_BF16;
            if (!qsynth_quantized(&specs[i])) continue;
            quant[i].d.quantized = 1;
            quant[i].d.bits = f->bits;
            quant[i].d.group_size = QSYNTH_GROUP;
            quant[i].d.quant_flags = f->bf16 ? SC_QUANT_BF16_ROUND : 0;
        }
        rc = sc__model_alloc_weights(m, specs, n, types, quant);
    }
    free(types);
    free(quant); /* module lists stay NULL: nothing to free per entry */
    return rc;
}

static float qsynth_unit(uint64_t *state) { return (float)(mix(state) >> 40) / 16777216.0f; } /* [0, 1) */

/* Fill one QG tensor, slab by slab through host memory `slab` (nb[2] bytes). */
static int qsynth_fill(sc_tensor *t, const qsynth_fmt *f, uint64_t seed, uint64_t index, uint8_t *slab) {
    const sc_quant_info *q = &t->quant;
    const int64_t K = t->ne[0], N = t->ne[1], G = q->n_groups;
    const uint32_t zmax = (1u << f->bits) - 1u, zsym = 1u << (f->bits - 1);
    /* (code - zero) of a uniform code has standard deviation ~2^bits / sqrt(12) */
    const float code_sd = (float)(1u << f->bits) / sqrtf(12.0f), target = 1.0f / sqrtf((float)K);
    const uint64_t used_bytes = ((uint64_t)K * f->bits + 7u) / 8u;
    for (int64_t e = 0; e < t->ne[2]; e++) {
        uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (index + 1)) ^ (0x9E3779B97F4A7C15ull * (uint64_t)(e + 1));
        memset(slab, 0, t->nb[2]);
        for (int64_t r = 0; r < N; r++) { /* random codes; the row's padding bits stay zero */
            uint8_t *row = slab + (uint64_t)r * q->row_bytes;
            for (uint64_t b = 0; b < used_bytes; b += 8) {
                const uint64_t v = mix(&state);
                memcpy(row + b, &v, used_bytes - b < 8 ? (size_t)(used_bytes - b) : 8);
            }
            if ((K * f->bits) % 8) row[used_bytes - 1] &= (uint8_t)((1u << ((K * f->bits) % 8)) - 1u);
        }
        for (int64_t i = 0; i < N * G; i++) {
            float sc = target / code_sd * (0.75f + 0.5f * qsynth_unit(&state));
            if (f->bf16) sc = sc_bf16_to_f32(sc_f32_to_bf16(sc));
            const uint16_t h = sc_f32_to_f16(sc);
            memcpy(slab + q->scales_offset + (uint64_t)i * 2u, &h, 2);
            slab[q->zeros_offset + (uint64_t)i] =
                (uint8_t)(f->random_zeros ? (uint32_t)(mix(&state) % (zmax + 1u)) : zsym);
        }
        int rc = sc_tensor_set(t, slab, (size_t)e * t->nb[2], t->nb[2]);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

static int synth_build(const char *name, const qsynth_fmt *qf, const sc_model_opts *opts, sc_model_t **out,
                       char *err, size_t err_len);

int sc_model_synthetic_quant(const char *name, const char *weights, const sc_model_opts *opts, sc_model_t **out,
                             char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!out) return SC_EINVAL;
    *out = NULL;
    if (!weights || !weights[0]) return sc_model_synthetic(name, opts, out, err, err_len);
    const qsynth_fmt *qf = NULL;
    for (size_t i = 0; i < SC_ARRAY_LEN(qsynth_fmts); i++)
        if (strcmp(qsynth_fmts[i].name, weights) == 0) qf = &qsynth_fmts[i];
    if (!qf) {
        sc__model_errf(err, err_len, "unknown synthetic weights '%s' (known: gptq-int4, gptq-int8, awq-int4, "
                       "ct-w4a16)", weights);
        return SC_EINVAL;
    }
    return synth_build(name, qf, opts, out, err, err_len);
}

int sc_model_synthetic(const char *name, const sc_model_opts *opts, sc_model_t **out, char *err, size_t err_len) {
    return synth_build(name, NULL, opts, out, err, err_len);
}

/* qf: quantized Linear layers in that format, or NULL for dense weights of
 * opts->weight_type. */
static int synth_build(const char *name, const qsynth_fmt *qf, const sc_model_opts *opts, sc_model_t **out,
                       char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!out) return SC_EINVAL;
    *out = NULL;
    if (!name) return SC_EINVAL;
    sc_model_opts o;
    memset(&o, 0, sizeof o);
    if (opts) memcpy(&o, opts, opts->struct_size == 0 || opts->struct_size > sizeof o ? sizeof o : opts->struct_size);
    sc_type wt = qf ? SC_TYPE_BF16 : o.weight_type;
    if (wt != SC_TYPE_F32 && wt != SC_TYPE_F16 && wt != SC_TYPE_BF16) {
        sc__model_errf(err, err_len, "synthetic weights must be f32, f16 or bf16 (got %s)", sc_type_name(wt));
        return SC_EINVAL;
    }
    sc_model_config cfg;
    int rc = synth_config(name, &cfg, err, err_len);
    if (rc != SC_OK) return rc;
    sc_model_t *m = NULL;
    rc = sc__model_create(&cfg, opts, &m, err, err_len);
    if (rc != SC_OK) return rc;

    sc_wspec *specs = NULL;
    sc_type *types = NULL;
    void *tmp = NULL;
    int n = 0;
    rc = sc__model_weight_specs(m, &specs, &n);
    if (rc == SC_OK) {
        types = malloc((size_t)n * sizeof *types);
        tmp = malloc(FILL_CHUNK_BLOCKS * FILL_BLOCK * sizeof(float));
        if (!types || !tmp) rc = SC_ENOMEM;
    }
    for (int i = 0; i < n && rc == SC_OK; i++) types[i] = specs[i].kind == SC_W_NORM ? SC_TYPE_F32 : wt;
    if (rc == SC_OK) rc = qf ? qsynth_alloc(m, specs, n, qf) : sc__model_alloc_weights(m, specs, n, types, NULL);
    if (rc == SC_OK) rc = sc__model_init_constants(m);
    if (rc != SC_OK) sc__model_errf(err, err_len, "cannot allocate synthetic %s: %s", name, sc_strerror(rc));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int n_threads = cores < 1 ? 1 : cores > FILL_MAX_THREADS ? FILL_MAX_THREADS : (int)cores;
    uint64_t total = 0, done = 0;
    for (int i = 0; i < n && rc == SC_OK; i++) total += sc_tensor_nbytes(*specs[i].slot);
    uint8_t *slab = NULL;
    if (qf && rc == SC_OK) { /* host staging for the largest QG slab */
        size_t most = 0;
        for (int i = 0; i < n; i++)
            if ((*specs[i].slot)->type == SC_TYPE_QG) most = SC_MAX(most, (*specs[i].slot)->nb[2]);
        if (most && !(slab = malloc(most))) rc = SC_ENOMEM;
    }
    for (int i = 0; i < n && rc == SC_OK; i++) {
        sc_tensor *t = *specs[i].slot;
        if (t->type == SC_TYPE_QG) {
            rc = qsynth_fill(t, qf, o.seed, (uint64_t)i, slab);
            done += sc_tensor_nbytes(t);
            if (rc == SC_OK && o.progress && total) o.progress((double)done / (double)total, o.progress_user);
        } else {
            rc = fill(t, &specs[i], o.seed, (uint64_t)i, tmp, n_threads, &done, total, &o);
        }
        if (rc != SC_OK) sc__model_errf(err, err_len, "writing %s: %s", specs[i].name, sc_strerror(rc));
    }
    free(slab);
    free(specs);
    free(types);
    free(tmp);
    if (rc == SC_OK) rc = sc__model_finish(m, opts, err, err_len);
    if (rc != SC_OK) {
        sc_model_free(m);
        return rc;
    }
    *out = m;
    return SC_OK;
}
