/*
 * core/src/ops.c - graph builders: one function per op, each validating its
 * operands' shapes and dtypes so that backends can trust a node they receive.
 * The semantics of every op are in strixcore.h and docs/ops.md.
 */
#include <string.h>

#include "internal.h"

#define CHECK_SRC(ctx, x)                                                          \
    do {                                                                           \
        if (!(x)) {                                                                \
            sc__ctx_fail(ctx, SC_EINVAL, "%s: operand '%s' is NULL", __func__, #x); \
            return NULL;                                                           \
        }                                                                          \
    } while (0)

#define REQUIRE(ctx, cond, ...)                      \
    do {                                             \
        if (!(cond)) {                               \
            sc__ctx_fail(ctx, SC_EINVAL, __VA_ARGS__); \
            return NULL;                             \
        }                                            \
    } while (0)

static void set_param_f32(sc_tensor *t, int i, float v) {
    union { int32_t i; float f; } u;
    u.f = v;
    t->op_params[i] = u.i;
}

static sc_tensor *new_node(sc_ctx_t *ctx, sc_op op, sc_type type, const int64_t ne[SC_MAX_DIMS]) {
    sc_tensor *t = sc__ctx_new(ctx, type, SC_MAX_DIMS, ne);
    if (t) t->op = op;
    return t;
}

static bool is_float_weight(int32_t type) {
    return type == SC_TYPE_F32 || type == SC_TYPE_F16 || type == SC_TYPE_BF16 || type == SC_TYPE_QG;
}

static bool rows_contiguous(const sc_tensor *t) {
    return t->type == SC_TYPE_QG || t->nb[0] == sc_type_size(t->type);
}

/* The root tensor whose memory a (possibly chained) view refers to. */
static sc_tensor *view_root(sc_tensor *a, size_t *offs) {
    /* a view's view_src is always a root (views of views are flattened here) */
    *offs = a->view_src ? a->view_offs : 0;
    return a->view_src ? a->view_src : a;
}

static sc_tensor *make_view(sc_ctx_t *ctx, sc_op op, sc_tensor *a, int ndims, const int64_t *ne,
                            const size_t *nb, size_t offset) {
    sc_tensor *t = sc__ctx_new(ctx, a->type, ndims, ne);
    if (!t) return NULL;
    t->op = op;
    t->src[0] = a;
    if (nb) {
        for (int d = 0; d < SC_MAX_DIMS; d++) t->nb[d] = d < ndims ? nb[d] : t->nb[SC_MAX_DIMS - 1];
        /* trailing unit dims get a stride past the data so nbytes stays exact */
        for (int d = ndims; d < SC_MAX_DIMS; d++) t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
    }
    if (a->type == SC_TYPE_QG) t->quant = a->quant;
    size_t base = 0;
    sc_tensor *root = view_root(a, &base);
    t->view_src = root;
    t->view_offs = base + offset;
    if (t->view_offs + sc_tensor_nbytes(t) > sc_tensor_nbytes(root)) {
        sc__ctx_fail(ctx, SC_ERANGE, "view of '%s' (offset %zu, %zu bytes) exceeds its %zu bytes", root->name,
                     t->view_offs, sc_tensor_nbytes(t), sc_tensor_nbytes(root));
        return NULL;
    }
    if (root->data) {
        t->buffer = root->buffer;
        t->data = (char *)root->data + t->view_offs;
    }
    return t;
}

sc_tensor *sc_view(sc_ctx_t *ctx, sc_tensor *a, int ndims, const int64_t *ne, const size_t *nb, size_t offset) {
    CHECK_SRC(ctx, a);
    REQUIRE(ctx, ne && nb && ndims >= 1 && ndims <= SC_MAX_DIMS, "sc_view: bad shape arguments");
    REQUIRE(ctx, a->type != SC_TYPE_QG, "sc_view: views of quantized tensors are not supported");
    return make_view(ctx, SC_OP_VIEW, a, ndims, ne, nb, offset);
}

sc_tensor *sc_reshape(sc_ctx_t *ctx, sc_tensor *a, int ndims, const int64_t *ne) {
    CHECK_SRC(ctx, a);
    REQUIRE(ctx, ne && ndims >= 1 && ndims <= SC_MAX_DIMS, "sc_reshape: bad shape arguments");
    REQUIRE(ctx, sc_tensor_is_contiguous(a) && a->type != SC_TYPE_QG, "sc_reshape: '%s' is not contiguous",
            a->name);
    int64_t n = 1;
    for (int d = 0; d < ndims; d++) n *= ne[d];
    REQUIRE(ctx, n == sc_tensor_nelements(a), "sc_reshape: %lld elements into %lld",
            (long long)sc_tensor_nelements(a), (long long)n);
    return make_view(ctx, SC_OP_VIEW, a, ndims, ne, NULL, 0);
}

/* axN says where source dim N goes (ggml_permute's convention). */
sc_tensor *sc_permute(sc_ctx_t *ctx, sc_tensor *a, int ax0, int ax1, int ax2, int ax3) {
    CHECK_SRC(ctx, a);
    int ax[4] = {ax0, ax1, ax2, ax3}, seen = 0;
    for (int i = 0; i < 4; i++) {
        REQUIRE(ctx, ax[i] >= 0 && ax[i] < 4 && !(seen & (1 << ax[i])), "sc_permute: axes must permute 0..3");
        seen |= 1 << ax[i];
    }
    REQUIRE(ctx, a->type != SC_TYPE_QG, "sc_permute: quantized tensors cannot be permuted");
    int64_t ne[4];
    size_t nb[4];
    for (int i = 0; i < 4; i++) {
        ne[ax[i]] = a->ne[i];
        nb[ax[i]] = a->nb[i];
    }
    sc_tensor *t = make_view(ctx, SC_OP_VIEW, a, 4, ne, NULL, 0);
    if (t) memcpy(t->nb, nb, sizeof nb);
    return t;
}

sc_tensor *sc_get_rows(sc_ctx_t *ctx, sc_tensor *table, sc_tensor *ids) {
    CHECK_SRC(ctx, table);
    CHECK_SRC(ctx, ids);
    REQUIRE(ctx, is_float_weight(table->type), "get_rows: table dtype %s", sc_type_name(table->type));
    REQUIRE(ctx, ids->type == SC_TYPE_I32 && sc_tensor_ndims(ids) == 1, "get_rows: ids must be i32 [n]");
    REQUIRE(ctx, table->ne[2] == 1 && table->ne[3] == 1, "get_rows: table must be 2-D [D, V]");
    REQUIRE(ctx, rows_contiguous(table), "get_rows: table rows must be contiguous");
    int64_t ne[4] = {table->ne[0], ids->ne[0], 1, 1};
    sc_tensor *t = new_node(ctx, SC_OP_GET_ROWS, SC_TYPE_F32, ne);
    if (t) { t->src[0] = table; t->src[1] = ids; }
    return t;
}

sc_tensor *sc_rms_norm(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *w, float eps) {
    CHECK_SRC(ctx, x);
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x), "rms_norm: x must be f32 with contiguous rows");
    if (w) REQUIRE(ctx, w->type == SC_TYPE_F32 && w->ne[0] == x->ne[0] && sc_tensor_nelements(w) == w->ne[0],
                   "rms_norm: w must be f32 [%lld]", (long long)x->ne[0]);
    REQUIRE(ctx, eps >= 0.0f, "rms_norm: eps must be >= 0");
    sc_tensor *t = new_node(ctx, SC_OP_RMS_NORM, SC_TYPE_F32, x->ne);
    if (!t) return NULL;
    t->src[0] = x;
    t->src[1] = w;
    set_param_f32(t, 0, eps);
    return t;
}

sc_tensor *sc_mul_mat(sc_ctx_t *ctx, sc_tensor *w, sc_tensor *x) {
    CHECK_SRC(ctx, w);
    CHECK_SRC(ctx, x);
    REQUIRE(ctx, is_float_weight(w->type), "mul_mat: weight dtype %s", sc_type_name(w->type));
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x), "mul_mat: x must be f32 with contiguous rows");
    REQUIRE(ctx, rows_contiguous(w), "mul_mat: weight rows must be contiguous");
    REQUIRE(ctx, w->ne[0] == x->ne[0], "mul_mat: K mismatch (w %lld, x %lld)", (long long)w->ne[0],
            (long long)x->ne[0]);
    REQUIRE(ctx, x->ne[2] % w->ne[2] == 0 && x->ne[3] % w->ne[3] == 0, "mul_mat: batch dims do not broadcast");
    int64_t ne[4] = {w->ne[1], x->ne[1], x->ne[2], x->ne[3]};
    sc_tensor *t = new_node(ctx, SC_OP_MUL_MAT, SC_TYPE_F32, ne);
    if (t) { t->src[0] = w; t->src[1] = x; }
    return t;
}

sc_tensor *sc_mul_mat_id(sc_ctx_t *ctx, sc_tensor *w, sc_tensor *x, sc_tensor *ids) {
    CHECK_SRC(ctx, w);
    CHECK_SRC(ctx, x);
    CHECK_SRC(ctx, ids);
    REQUIRE(ctx, is_float_weight(w->type) && w->ne[3] == 1, "mul_mat_id: weight must be [K, N, E]");
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x) && x->ne[3] == 1, "mul_mat_id: x must be f32 [K, X, T]");
    REQUIRE(ctx, ids->type == SC_TYPE_I32 && ids->ne[2] == 1 && ids->ne[3] == 1, "mul_mat_id: ids must be i32 [n_used, T]");
    REQUIRE(ctx, w->ne[0] == x->ne[0], "mul_mat_id: K mismatch");
    REQUIRE(ctx, x->ne[1] == 1 || x->ne[1] == ids->ne[0], "mul_mat_id: x->ne[1] must be 1 or n_used");
    REQUIRE(ctx, x->ne[2] == ids->ne[1], "mul_mat_id: token count mismatch");
    int64_t ne[4] = {w->ne[1], ids->ne[0], ids->ne[1], 1};
    sc_tensor *t = new_node(ctx, SC_OP_MUL_MAT_ID, SC_TYPE_F32, ne);
    if (t) { t->src[0] = w; t->src[1] = x; t->src[2] = ids; }
    return t;
}

static sc_tensor *binary(sc_ctx_t *ctx, sc_op op, sc_tensor *a, sc_tensor *b) {
    REQUIRE(ctx, a->type == SC_TYPE_F32 && b->type == SC_TYPE_F32, "%s: operands must be f32", sc_op_name(op));
    REQUIRE(ctx, rows_contiguous(a) && rows_contiguous(b), "%s: operand rows must be contiguous", sc_op_name(op));
    for (int d = 0; d < SC_MAX_DIMS; d++)
        REQUIRE(ctx, a->ne[d] % b->ne[d] == 0, "%s: dim %d of b (%lld) does not broadcast to %lld", sc_op_name(op),
                d, (long long)b->ne[d], (long long)a->ne[d]);
    sc_tensor *t = new_node(ctx, op, SC_TYPE_F32, a->ne);
    if (t) { t->src[0] = a; t->src[1] = b; }
    return t;
}

sc_tensor *sc_add(sc_ctx_t *ctx, sc_tensor *a, sc_tensor *b) {
    CHECK_SRC(ctx, a);
    CHECK_SRC(ctx, b);
    return binary(ctx, SC_OP_ADD, a, b);
}

sc_tensor *sc_mul(sc_ctx_t *ctx, sc_tensor *a, sc_tensor *b) {
    CHECK_SRC(ctx, a);
    CHECK_SRC(ctx, b);
    return binary(ctx, SC_OP_MUL, a, b);
}

static sc_tensor *unary(sc_ctx_t *ctx, sc_op op, sc_tensor *a) {
    REQUIRE(ctx, a->type == SC_TYPE_F32 && rows_contiguous(a), "%s: operand must be f32 with contiguous rows",
            sc_op_name(op));
    sc_tensor *t = new_node(ctx, op, SC_TYPE_F32, a->ne);
    if (t) t->src[0] = a;
    return t;
}

sc_tensor *sc_scale(sc_ctx_t *ctx, sc_tensor *a, float s) {
    CHECK_SRC(ctx, a);
    sc_tensor *t = unary(ctx, SC_OP_SCALE, a);
    if (t) set_param_f32(t, 0, s);
    return t;
}

sc_tensor *sc_silu(sc_ctx_t *ctx, sc_tensor *a) {
    CHECK_SRC(ctx, a);
    return unary(ctx, SC_OP_SILU, a);
}

sc_tensor *sc_swiglu(sc_ctx_t *ctx, sc_tensor *gate, sc_tensor *up) {
    CHECK_SRC(ctx, gate);
    CHECK_SRC(ctx, up);
    REQUIRE(ctx, sc_tensor_same_shape(gate, up), "swiglu: gate and up shapes differ");
    sc_tensor *t = unary(ctx, SC_OP_SWIGLU, gate);
    if (!t) return NULL;
    REQUIRE(ctx, up->type == SC_TYPE_F32 && rows_contiguous(up), "swiglu: up must be f32 with contiguous rows");
    t->src[1] = up;
    return t;
}

sc_tensor *sc_rope(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *pos, int n_rot, float base) {
    CHECK_SRC(ctx, x);
    CHECK_SRC(ctx, pos);
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x) && x->ne[3] == 1,
            "rope: x must be f32 [head_dim, n_heads, n_tokens]");
    REQUIRE(ctx, pos->type == SC_TYPE_I32 && pos->ne[0] == x->ne[2] && sc_tensor_ndims(pos) == 1,
            "rope: pos must be i32 [n_tokens=%lld]", (long long)x->ne[2]);
    REQUIRE(ctx, n_rot > 0 && n_rot % 2 == 0 && n_rot <= x->ne[0], "rope: n_rot=%d must be even and <= head_dim",
            n_rot);
    REQUIRE(ctx, base > 0.0f, "rope: base must be > 0");
    sc_tensor *t = new_node(ctx, SC_OP_ROPE, SC_TYPE_F32, x->ne);
    if (!t) return NULL;
    t->src[0] = x;
    t->src[1] = pos;
    t->op_params[0] = n_rot;
    set_param_f32(t, 1, base);
    return t;
}

sc_tensor *sc_softmax(sc_ctx_t *ctx, sc_tensor *x, float scale) {
    CHECK_SRC(ctx, x);
    sc_tensor *t = unary(ctx, SC_OP_SOFTMAX, x);
    if (t) set_param_f32(t, 0, scale);
    return t;
}

sc_tensor *sc_top_k(sc_ctx_t *ctx, sc_tensor *x, int k) {
    CHECK_SRC(ctx, x);
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x), "top_k: x must be f32");
    REQUIRE(ctx, k >= 1 && k <= x->ne[0], "top_k: k=%d out of 1..%lld", k, (long long)x->ne[0]);
    int64_t ne[4] = {k, x->ne[1], x->ne[2], x->ne[3]};
    sc_tensor *t = new_node(ctx, SC_OP_TOP_K, SC_TYPE_I32, ne);
    if (!t) return NULL;
    t->src[0] = x;
    t->op_params[0] = k;
    return t;
}

sc_tensor *sc_argmax(sc_ctx_t *ctx, sc_tensor *x) {
    CHECK_SRC(ctx, x);
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x), "argmax: x must be f32");
    int64_t ne[4] = {x->ne[1], x->ne[2], x->ne[3], 1};
    sc_tensor *t = new_node(ctx, SC_OP_ARGMAX, SC_TYPE_I32, ne);
    if (t) t->src[0] = x;
    return t;
}

static bool is_cache_type(int32_t type) {
    return type == SC_TYPE_F32 || type == SC_TYPE_F16 || type == SC_TYPE_BF16;
}

/* Shared checks of the paged-KV operands: cache [hd, n_kv, block, n_blocks],
 * block_table i32 [max_blocks, n_seqs], pos i32 [n_tokens], seq i32 [n_tokens]. */
static bool check_paged(sc_ctx_t *ctx, const char *what, const sc_tensor *cache, const sc_tensor *bt,
                        const sc_tensor *pos, const sc_tensor *seq, int64_t n_tokens) {
    if (!is_cache_type(cache->type) || !sc_tensor_is_contiguous(cache)) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: cache must be contiguous f32/f16/bf16", what);
        return false;
    }
    if (bt->type != SC_TYPE_I32 || bt->ne[2] != 1 || bt->ne[3] != 1 || !sc_tensor_is_contiguous(bt)) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: block_table must be contiguous i32 [max_blocks, n_seqs]", what);
        return false;
    }
    if (pos->type != SC_TYPE_I32 || sc_tensor_ndims(pos) != 1 || pos->ne[0] != n_tokens) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: pos must be i32 [%lld]", what, (long long)n_tokens);
        return false;
    }
    if (seq && (seq->type != SC_TYPE_I32 || sc_tensor_ndims(seq) != 1 || seq->ne[0] != n_tokens)) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: seq must be i32 [%lld]", what, (long long)n_tokens);
        return false;
    }
    return true;
}

sc_tensor *sc_kv_write(sc_ctx_t *ctx, sc_tensor *cache, sc_tensor *src, sc_tensor *block_table, sc_tensor *pos,
                       sc_tensor *seq) {
    CHECK_SRC(ctx, cache);
    CHECK_SRC(ctx, src);
    CHECK_SRC(ctx, block_table);
    CHECK_SRC(ctx, pos);
    REQUIRE(ctx, src->type == SC_TYPE_F32 && rows_contiguous(src) && src->ne[3] == 1,
            "kv_write: src must be f32 [head_dim, n_kv_heads, n_tokens]");
    REQUIRE(ctx, src->ne[0] == cache->ne[0] && src->ne[1] == cache->ne[1],
            "kv_write: src [%lld, %lld] does not match cache [%lld, %lld]", (long long)src->ne[0],
            (long long)src->ne[1], (long long)cache->ne[0], (long long)cache->ne[1]);
    if (!check_paged(ctx, "kv_write", cache, block_table, pos, seq, src->ne[2])) return NULL;
    sc_tensor *t = make_view(ctx, SC_OP_KV_WRITE, cache, 4, cache->ne, cache->nb, 0);
    if (!t) return NULL;
    t->src[1] = src;
    t->src[2] = block_table;
    t->src[3] = pos;
    t->src[4] = seq;
    return t;
}

sc_tensor *sc_attention(sc_ctx_t *ctx, sc_tensor *q, sc_tensor *k_cache, sc_tensor *v_cache,
                        sc_tensor *block_table, sc_tensor *pos, sc_tensor *seq, float scale) {
    CHECK_SRC(ctx, q);
    CHECK_SRC(ctx, k_cache);
    CHECK_SRC(ctx, v_cache);
    CHECK_SRC(ctx, block_table);
    CHECK_SRC(ctx, pos);
    REQUIRE(ctx, q->type == SC_TYPE_F32 && rows_contiguous(q) && q->ne[3] == 1,
            "attention: q must be f32 [head_dim, n_heads, n_tokens]");
    REQUIRE(ctx, sc_tensor_same_shape(k_cache, v_cache) && k_cache->type == v_cache->type,
            "attention: k and v caches differ in shape or dtype");
    REQUIRE(ctx, q->ne[0] == k_cache->ne[0], "attention: head_dim of q (%lld) and cache (%lld) differ",
            (long long)q->ne[0], (long long)k_cache->ne[0]);
    REQUIRE(ctx, q->ne[1] % k_cache->ne[1] == 0, "attention: n_heads %lld not a multiple of n_kv_heads %lld",
            (long long)q->ne[1], (long long)k_cache->ne[1]);
    if (!check_paged(ctx, "attention", k_cache, block_table, pos, seq, q->ne[2])) return NULL;
    sc_tensor *t = new_node(ctx, SC_OP_ATTENTION, SC_TYPE_F32, q->ne);
    if (!t) return NULL;
    t->src[0] = q;
    t->src[1] = k_cache;
    t->src[2] = v_cache;
    t->src[3] = block_table;
    t->src[4] = pos;
    t->src[5] = seq;
    set_param_f32(t, 0, scale);
    return t;
}

sc_tensor *sc_cpy(sc_ctx_t *ctx, sc_tensor *a, sc_type type) {
    CHECK_SRC(ctx, a);
    REQUIRE(ctx, a->type != SC_TYPE_QG && type != SC_TYPE_QG, "cpy: quantized tensors cannot be copied by value");
    REQUIRE(ctx, (int)type >= 0 && type < SC_TYPE_COUNT, "cpy: unknown dtype %d", (int)type);
    bool a_int = a->type == SC_TYPE_I32 || a->type == SC_TYPE_I8;
    bool t_int = type == SC_TYPE_I32 || type == SC_TYPE_I8;
    REQUIRE(ctx, a_int == t_int, "cpy: %s to %s is not a supported conversion", sc_type_name(a->type),
            sc_type_name(type));
    sc_tensor *t = new_node(ctx, SC_OP_CPY, type, a->ne);
    if (t) t->src[0] = a;
    return t;
}

sc_tensor *sc_sigmoid(sc_ctx_t *ctx, sc_tensor *a) {
    CHECK_SRC(ctx, a);
    return unary(ctx, SC_OP_SIGMOID, a);
}

/* Shared checks of the recurrent ops' state, seq and pos operands. */
static bool check_recurrent(sc_ctx_t *ctx, const char *what, const sc_tensor *state, const sc_tensor *seq,
                            const sc_tensor *pos, int64_t n_tokens) {
    if (state->type != SC_TYPE_F32 || !sc_tensor_is_contiguous(state)) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: state must be contiguous f32", what);
        return false;
    }
    if (seq->type != SC_TYPE_I32 || sc_tensor_ndims(seq) != 1 || seq->ne[0] != n_tokens ||
        pos->type != SC_TYPE_I32 || sc_tensor_ndims(pos) != 1 || pos->ne[0] != n_tokens) {
        sc__ctx_fail(ctx, SC_EINVAL, "%s: seq and pos must be i32 [%lld]", what, (long long)n_tokens);
        return false;
    }
    return true;
}

sc_tensor *sc_ssm_conv(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *w, sc_tensor *state, sc_tensor *seq, sc_tensor *pos) {
    CHECK_SRC(ctx, x);
    CHECK_SRC(ctx, w);
    CHECK_SRC(ctx, state);
    CHECK_SRC(ctx, seq);
    CHECK_SRC(ctx, pos);
    REQUIRE(ctx, x->type == SC_TYPE_F32 && rows_contiguous(x) && x->ne[3] == 1, "ssm_conv: x must be f32 [Cg, G, T]");
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2];
    REQUIRE(ctx, w->type == SC_TYPE_F32 && sc_tensor_is_contiguous(w) && w->ne[1] == C && w->ne[2] == 1 &&
                     w->ne[3] == 1 && w->ne[0] >= 2 && w->ne[0] <= 16,
            "ssm_conv: w must be contiguous f32 [Kc, %lld] with 2 <= Kc <= 16", (long long)C);
    REQUIRE(ctx, state->ne[0] == C && state->ne[1] == w->ne[0] - 1 && state->ne[3] == 1,
            "ssm_conv: state must be f32 [%lld, %lld, n_slots]", (long long)C, (long long)(w->ne[0] - 1));
    if (!check_recurrent(ctx, "ssm_conv", state, seq, pos, T)) return NULL;
    const int64_t ne[4] = {C, T, 1, 1};
    sc_tensor *t = new_node(ctx, SC_OP_SSM_CONV, SC_TYPE_F32, ne);
    if (!t) return NULL;
    t->src[0] = x;
    t->src[1] = w;
    t->src[2] = state;
    t->src[3] = seq;
    t->src[4] = pos;
    return t;
}

sc_tensor *sc_gated_delta_net(sc_ctx_t *ctx, sc_tensor *qkv, sc_tensor *ba, sc_tensor *ad, sc_tensor *state,
                              sc_tensor *seq, sc_tensor *pos, int nk, float eps) {
    CHECK_SRC(ctx, qkv);
    CHECK_SRC(ctx, ba);
    CHECK_SRC(ctx, ad);
    CHECK_SRC(ctx, state);
    CHECK_SRC(ctx, seq);
    CHECK_SRC(ctx, pos);
    const int64_t dv = state->ne[0], dk = state->ne[1], nv = state->ne[2], T = qkv->ne[1];
    REQUIRE(ctx, nk >= 1 && nv % nk == 0, "gated_delta_net: nk=%d must divide nv=%lld", nk, (long long)nv);
    const int64_t r = nv / nk;
    REQUIRE(ctx, dk >= 1 && dk <= 256 && dv >= 1 && dv <= 256, "gated_delta_net: dk, dv must be in 1..256");
    REQUIRE(ctx, qkv->type == SC_TYPE_F32 && rows_contiguous(qkv) && qkv->ne[0] == nk * (2 * dk + r * dv) &&
                     qkv->ne[2] == 1 && qkv->ne[3] == 1,
            "gated_delta_net: qkv must be f32 [%lld, T]", (long long)(nk * (2 * dk + r * dv)));
    REQUIRE(ctx, ba->type == SC_TYPE_F32 && rows_contiguous(ba) && ba->ne[0] == 2 * nv && ba->ne[1] == T &&
                     ba->ne[2] == 1 && ba->ne[3] == 1,
            "gated_delta_net: ba must be f32 [%lld, %lld]", (long long)(2 * nv), (long long)T);
    REQUIRE(ctx, ad->type == SC_TYPE_F32 && sc_tensor_is_contiguous(ad) && ad->ne[0] == nv && ad->ne[1] == 2 &&
                     ad->ne[2] == 1 && ad->ne[3] == 1,
            "gated_delta_net: ad must be f32 [%lld, 2]", (long long)nv);
    REQUIRE(ctx, eps >= 0.0f, "gated_delta_net: eps must be >= 0");
    if (!check_recurrent(ctx, "gated_delta_net", state, seq, pos, T)) return NULL;
    const int64_t ne[4] = {dv, nv, T, 1};
    sc_tensor *t = new_node(ctx, SC_OP_GATED_DELTA_NET, SC_TYPE_F32, ne);
    if (!t) return NULL;
    t->src[0] = qkv;
    t->src[1] = ba;
    t->src[2] = ad;
    t->src[3] = state;
    t->src[4] = seq;
    t->src[5] = pos;
    t->op_params[0] = nk;
    set_param_f32(t, 1, eps);
    return t;
}
