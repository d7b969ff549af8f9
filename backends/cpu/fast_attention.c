/*
 * backends/cpu/fast_attention.c - threaded SIMD paged attention (semantics:
 * ref_attention.c; kv_write uses the reference, it only moves a few rows).
 *
 * One task per (token, kv head): the `group` query heads that share a kv
 * head (GQA) are processed together, so every K and V row is loaded once per
 * task instead of once per query head. Per task, in per-thread scratch:
 *   scores [group, ctx]   q.k * scale, then exp(. - max) in place
 *   acc    [group, D]     sum_j p_j v_j, f32
 * Tasks are handed out dynamically, which balances causal prefill (later
 * tokens see longer contexts). When there are too few (token, kv head) pairs
 * to feed the threads (decode), each group is split into sub-groups of query
 * heads, trading repeated K/V reads for parallelism. With an f32 cache, the
 * rows of a block are taken four at a time (dot4_f32 per query head,
 * axpy4_f32 per accumulator): decode contexts are short and D small, so the
 * per-row calls and reductions, not the arithmetic, set the cost.
 */
#include <stdatomic.h>

#include "cpu_impl.h"

typedef struct attn_ctx {
    const sc_cpu_kernels *kr;
    sc_tensor *node;
    int64_t n_sub, per_sub; /* sub-groups per kv head, query heads per sub-group */
    atomic_int err;
} attn_ctx;

static float dot_kv(const sc_cpu_kernels *kr, int32_t type, const void *row, const float *q, int64_t D) {
    switch (type) {
    case SC_TYPE_F16: return kr->dot_f16(row, q, D);
    case SC_TYPE_BF16: return kr->dot_bf16(row, q, D);
    default: return kr->dot_f32(row, q, D);
    }
}

static void axpy_kv(const sc_cpu_kernels *kr, int32_t type, float a, const void *row, float *y, int64_t D) {
    switch (type) {
    case SC_TYPE_F16: kr->axpy_f16(a, row, y, D); break;
    case SC_TYPE_BF16: kr->axpy_bf16(a, row, y, D); break;
    default: kr->axpy_f32(a, row, y, D); break;
    }
}

static void attn_task(void *vctx, int64_t task) {
    attn_ctx *c = vctx;
    const sc_cpu_kernels *kr = c->kr;
    sc_tensor *node = c->node;
    const sc_tensor *q = node->src[0], *kc = node->src[1], *vc = node->src[2], *bt = node->src[3];
    const int64_t D = q->ne[0], H = q->ne[1];
    const int64_t Hkv = kc->ne[1], BS = kc->ne[2], NB = kc->ne[3];
    const int64_t group = H / Hkv;
    const float scale = sc_op_param_f32(node, 0);
    const int64_t t = task / (Hkv * c->n_sub), kvh = task / c->n_sub % Hkv;
    const int64_t h0 = kvh * group + task % c->n_sub * c->per_sub; /* first query head of this task */
    const int64_t h1 = h0 + c->per_sub < (kvh + 1) * group ? h0 + c->per_sub : (kvh + 1) * group;
    if (h0 >= h1) return;
    const int64_t ng = h1 - h0; /* query heads handled here */
    const int64_t s = sc__cpu_seq_of(node->src[5], t), p = sc__cpu_load_i32(node->src[4], t, 0);
    const int64_t ctx = p + 1;

    float *score = sc__cpu_scratch(0, (size_t)(ng * ctx) * sizeof(float));   /* [ng, ctx] */
    float *acc = sc__cpu_scratch(1, (size_t)(ng * (D + 1)) * sizeof(float)); /* [ng, D], sums [ng] */
    if (!score || !acc) {
        atomic_store(&c->err, SC_ENOMEM);
        return;
    }
    float *sum = acc + ng * D;

    /* rows j, j+1, .. of a block are ldk (ldv) floats apart (f32 caches) */
    const bool k4 = kc->type == SC_TYPE_F32 && kc->nb[2] % sizeof(float) == 0;
    const bool v4 = vc->type == SC_TYPE_F32 && vc->nb[2] % sizeof(float) == 0;
    const int64_t ldk = (int64_t)(kc->nb[2] / sizeof(float)), ldv = (int64_t)(vc->nb[2] / sizeof(float));

    /* scores: walk the sequence block by block, one table lookup per block */
    for (int64_t b = 0; b * BS < ctx; b++) {
        int64_t blk = 0;
        sc__cpu_kv_block(bt, s, b * BS, BS, NB, &blk); /* validated by the caller */
        const int64_t j1 = (b + 1) * BS < ctx ? (b + 1) * BS : ctx;
        int64_t j = b * BS;
        for (; k4 && j + 4 <= j1; j += 4) { /* hot loop: four K rows, `group` queries */
            const float *k_rows = sc__cpu_row(kc, kvh, j - b * BS, blk);
            for (int64_t g = 0; g < ng; g++) {
                float d[4];
                kr->dot4_f32(k_rows, ldk, sc__cpu_row(q, h0 + g, t, 0), D, d);
                for (int i = 0; i < 4; i++) score[g * ctx + j + i] = d[i] * scale;
            }
        }
        for (; j < j1; j++) { /* one K row, `group` queries */
            const void *kr_row = sc__cpu_row(kc, kvh, j - b * BS, blk);
            for (int64_t g = 0; g < ng; g++) {
                const float *qg = sc__cpu_row(q, h0 + g, t, 0);
                score[g * ctx + j] = dot_kv(kr, kc->type, kr_row, qg, D) * scale;
            }
        }
    }
    /* softmax numerators in place; sum -1 marks a head whose scores are all
     * -inf (zero output, as the reference); NaN propagates like it does there */
    for (int64_t g = 0; g < ng; g++) {
        float *sg = score + g * ctx;
        const float m = kr->max_scaled(sg, 1.0f, ctx);
        sum[g] = m == -INFINITY ? -1.0f : kr->exp_sum(sg, 1.0f, m, sg, ctx);
    }
    memset(acc, 0, (size_t)(ng * D) * sizeof(float));
    for (int64_t b = 0; b * BS < ctx; b++) {
        int64_t blk = 0;
        sc__cpu_kv_block(bt, s, b * BS, BS, NB, &blk);
        const int64_t j1 = (b + 1) * BS < ctx ? (b + 1) * BS : ctx;
        int64_t j = b * BS;
        for (; v4 && j + 4 <= j1; j += 4) { /* hot loop: four V rows, `group` accumulators */
            const float *v_rows = sc__cpu_row(vc, kvh, j - b * BS, blk);
            for (int64_t g = 0; g < ng; g++)
                if (!(sum[g] < 0.0f)) kr->axpy4_f32(score + g * ctx + j, v_rows, ldv, acc + g * D, D);
        }
        for (; j < j1; j++) { /* one V row, `group` accumulators */
            const void *v_row = sc__cpu_row(vc, kvh, j - b * BS, blk);
            for (int64_t g = 0; g < ng; g++)
                if (!(sum[g] < 0.0f)) axpy_kv(kr, vc->type, score[g * ctx + j], v_row, acc + g * D, D);
        }
    }
    for (int64_t g = 0; g < ng; g++) {
        float *y = sc__cpu_row(node, h0 + g, t, 0); /* [D] */
        if (!(sum[g] < 0.0f)) kr->scale(acc + g * D, 1.0f / sum[g], y, D);
        else memset(y, 0, (size_t)D * sizeof(float));
    }
}

int sc__cpu_fast_attention(sc_tensor *node) {
    int64_t max_ctx = 0;
    int rc = sc__cpu_attn_validate(node, &max_ctx);
    if (rc != SC_OK) return rc;
    attn_ctx c = {.kr = sc__cpu_kernels(), .node = node};
    atomic_init(&c.err, SC_OK);
    const int64_t T = node->src[0]->ne[2], Hkv = node->src[1]->ne[1], D = node->src[0]->ne[0];
    const int64_t group = node->src[0]->ne[1] / Hkv;
    const double cost = 4.0 * (double)D * (double)max_ctx * (double)group;
    const int64_t want = 2 * (int64_t)sc__cpu_n_threads();
    const bool parallel = sc__cpu_n_tasks(T * Hkv * group, cost / (double)group) > 1; /* worth the pool? */
    c.n_sub = 1;
    if (T * Hkv < want && parallel) {
        c.n_sub = (want + T * Hkv - 1) / (T * Hkv);
        if (c.n_sub > group) c.n_sub = group;
    }
    c.per_sub = (group + c.n_sub - 1) / c.n_sub;
    const int64_t n_tasks = T * Hkv * c.n_sub;
    if (!parallel) {
        for (int64_t i = 0; i < n_tasks; i++) attn_task(&c, i);
    } else {
        sc__cpu_parallel_for(n_tasks, attn_task, &c);
    }
    return atomic_load(&c.err);
}
