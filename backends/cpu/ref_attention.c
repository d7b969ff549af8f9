/*
 * backends/cpu/ref_attention.c - reference paged KV write and attention.
 *
 * cache       [head_dim, n_kv_heads, block_size, n_blocks] f32/f16/bf16
 * block_table i32 [max_blocks, n_seqs]: block of (position p, sequence s) is
 *             block_table[p / block_size, s], its row p % block_size
 * pos, seq    i32 [n_tokens] (seq NULL: every token is in sequence 0)
 *
 * kv_write:  src f32 [head_dim, n_kv_heads, n_tokens]; token t goes to the
 *            slot of (pos[t], seq[t]), rounded to the cache dtype (RNE). The
 *            node is a view of the cache: it writes into node->data (which is
 *            the cache's memory; if it is not, the cache is copied first).
 * attention: q f32 [head_dim, n_heads, n_tokens] -> f32 of the same shape.
 *            Query t, head h reads kv head h / (n_heads / n_kv_heads) at
 *            positions 0..pos[t] of sequence seq[t]:
 *              s_j = scale * (q . k_j),  p_j = softmax_j(s),  out = sum_j p_j v_j
 *            accumulated in f32 with the max subtracted before exp.
 * Any sequence, position or block id out of range -> SC_ERANGE, found before
 * anything is written.
 */
#include <stdlib.h>

#include "cpu_impl.h"

static int check_paged(const sc_tensor *cache, const sc_tensor *bt, const sc_tensor *pos, const sc_tensor *seq,
                       int64_t T) {
    if (!cache || !sc__cpu_is_float(cache->type) || !sc__cpu_rows_ok(cache, cache->type)) return SC_EINVAL;
    if (!sc__cpu_rows_ok(bt, SC_TYPE_I32) || bt->ne[2] != 1 || bt->ne[3] != 1) return SC_EINVAL;
    if (!sc__cpu_rows_ok(pos, SC_TYPE_I32) || pos->ne[0] != T || pos->ne[1] != 1 || pos->ne[2] != 1 ||
        pos->ne[3] != 1)
        return SC_EINVAL;
    if (seq && (!sc__cpu_rows_ok(seq, SC_TYPE_I32) || !sc__cpu_same_shape(seq, pos))) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_kv_write(const sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1];
    if (!sc__cpu_rows_ok(src, SC_TYPE_F32) || src->ne[3] != 1) return SC_EINVAL;
    int rc = check_paged(cache, node->src[2], node->src[3], node->src[4], src->ne[2]);
    if (rc != SC_OK) return rc;
    if (src->ne[0] != cache->ne[0] || src->ne[1] != cache->ne[1]) return SC_EINVAL;
    if (!sc__cpu_rows_ok(node, cache->type) || !sc__cpu_same_shape(node, cache)) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_attention(const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    if (!sc__cpu_rows_ok(q, SC_TYPE_F32) || q->ne[3] != 1) return SC_EINVAL;
    int rc = check_paged(k, node->src[3], node->src[4], node->src[5], q->ne[2]);
    if (rc != SC_OK) return rc;
    if (!v || !sc__cpu_is_float(v->type) || !sc__cpu_rows_ok(v, v->type) || !sc__cpu_same_shape(k, v))
        return SC_EINVAL;
    if (q->ne[0] != k->ne[0] || q->ne[1] % k->ne[1] != 0) return SC_EINVAL;
    if (!sc__cpu_rows_ok(node, SC_TYPE_F32) || !sc__cpu_same_shape(node, q)) return SC_EINVAL;
    return SC_OK;
}

/* Check every (token, position <= pos[t]) the attention will read; report
 * the longest context (max pos + 1). Shared with the fast path. */
int sc__cpu_attn_validate(const sc_tensor *node, int64_t *max_ctx) {
    const sc_tensor *k = node->src[1], *bt = node->src[3], *pos = node->src[4], *seq = node->src[5];
    const int64_t BS = k->ne[2], NB = k->ne[3];
    int64_t longest = 0, blk = 0;
    for (int64_t t = 0; t < pos->ne[0]; t++) {
        const int64_t s = sc__cpu_seq_of(seq, t), p = sc__cpu_load_i32(pos, t, 0);
        if (p < 0) return SC_ERANGE;
        for (int64_t b = 0; b <= p / BS; b++) /* one lookup per block covers its rows */
            if (sc__cpu_kv_block(bt, s, b * BS, BS, NB, &blk) != SC_OK) return SC_ERANGE;
        if (p + 1 > longest) longest = p + 1;
    }
    *max_ctx = longest;
    return SC_OK;
}

int sc__cpu_ref_kv_write(sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1], *bt = node->src[2];
    const sc_tensor *pos = node->src[3], *seq = node->src[4];
    const int64_t D = cache->ne[0], Hkv = cache->ne[1], BS = cache->ne[2], NB = cache->ne[3];
    const int64_t T = src->ne[2];
    int64_t blk = 0;
    for (int64_t t = 0; t < T; t++)
        if (sc__cpu_kv_block(bt, sc__cpu_seq_of(seq, t), sc__cpu_load_i32(pos, t, 0), BS, NB, &blk) != SC_OK)
            return SC_ERANGE;

    if (node->data != cache->data) { /* not in place: start from the cache's contents */
        const size_t row = (size_t)D * sc__cpu_type_size(cache->type);
        for (int64_t i3 = 0; i3 < NB; i3++)
            for (int64_t i2 = 0; i2 < BS; i2++)
                for (int64_t i1 = 0; i1 < Hkv; i1++)
                    memmove(sc__cpu_row(node, i1, i2, i3), sc__cpu_row(cache, i1, i2, i3), row);
    }
    for (int64_t t = 0; t < T; t++) {
        const int64_t p = sc__cpu_load_i32(pos, t, 0);
        sc__cpu_kv_block(bt, sc__cpu_seq_of(seq, t), p, BS, NB, &blk);
        for (int64_t h = 0; h < Hkv; h++) {
            const float *x = sc__cpu_row(src, h, t, 0);      /* [D] */
            void *dst = sc__cpu_row(node, h, p % BS, blk); /* [D] of the cache dtype */
            for (int64_t i = 0; i < D; i++) sc__cpu_store_f(dst, node->type, i, x[i]);
        }
    }
    return SC_OK;
}

int sc__cpu_ref_attention(sc_tensor *node) {
    const sc_tensor *q = node->src[0], *kc = node->src[1], *vc = node->src[2], *bt = node->src[3];
    const sc_tensor *pos = node->src[4], *seq = node->src[5];
    const int64_t D = q->ne[0], H = q->ne[1], T = q->ne[2];
    const int64_t Hkv = kc->ne[1], BS = kc->ne[2], NB = kc->ne[3];
    const int64_t group = H / Hkv; /* query heads per kv head (GQA) */
    const float scale = sc_op_param_f32(node, 0);

    int64_t max_ctx = 0;
    int rc = sc__cpu_attn_validate(node, &max_ctx);
    if (rc != SC_OK) return rc;
    float *score = malloc((size_t)(max_ctx > 0 ? max_ctx : 1) * sizeof(float)); /* [ctx] */
    float *acc = malloc((size_t)D * sizeof(float));                              /* [D] */
    if (!score || !acc) {
        free(score);
        free(acc);
        return SC_ENOMEM;
    }
    for (int64_t t = 0; t < T; t++) {
        const int64_t s = sc__cpu_seq_of(seq, t), p = sc__cpu_load_i32(pos, t, 0);
        for (int64_t h = 0; h < H; h++) {
            const int64_t kvh = h / group;
            const float *qr = sc__cpu_row(q, h, t, 0); /* [D] */
            float m = -INFINITY;
            for (int64_t j = 0; j <= p; j++) {
                int64_t blk = 0;
                sc__cpu_kv_block(bt, s, j, BS, NB, &blk); /* validated above */
                const void *kr = sc__cpu_row(kc, kvh, j % BS, blk);
                float d = 0.0f;
                for (int64_t i = 0; i < D; i++) d += qr[i] * sc__cpu_load_f(kr, kc->type, i);
                score[j] = d * scale;
                m = fmaxf(m, score[j]);
            }
            float *y = sc__cpu_row(node, h, t, 0);
            if (m == -INFINITY) { /* every score -inf: no weight anywhere */
                for (int64_t i = 0; i < D; i++) y[i] = 0.0f;
                continue;
            }
            float sum = 0.0f;
            for (int64_t j = 0; j <= p; j++) {
                score[j] = expf(score[j] - m);
                sum += score[j];
            }
            for (int64_t i = 0; i < D; i++) acc[i] = 0.0f;
            for (int64_t j = 0; j <= p; j++) {
                int64_t blk = 0;
                sc__cpu_kv_block(bt, s, j, BS, NB, &blk);
                const void *vr = sc__cpu_row(vc, kvh, j % BS, blk);
                for (int64_t i = 0; i < D; i++) acc[i] += score[j] * sc__cpu_load_f(vr, vc->type, i);
            }
            for (int64_t i = 0; i < D; i++) y[i] = acc[i] / sum;
        }
    }
    free(score);
    free(acc);
    return SC_OK;
}
