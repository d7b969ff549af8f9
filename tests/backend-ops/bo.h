/*
 * tests/backend-ops/bo.h - shared declarations of the backend-ops tool.
 *
 * backend-ops checks every op x dtype x shape on every device of a registry
 * against the scalar CPU reference (sc__cpu_ref_compute), the way ggml's
 * test-backend-ops does. The pieces:
 *
 *   data.c          fixed-seed RNG and leaf tensors with their host data
 *   cases.c         the case list and name formatting
 *   cases_basic.c   elementwise (sigmoid too), rms_norm, rope, softmax
 *   cases_select.c  top_k, argmax, cpy, get_rows
 *   cases_matmul.c  mul_mat, mul_mat_id
 *   cases_attn.c    kv_write, attention
 *   cases_recurrent.c  ssm_conv, gated_delta_net (state written in place)
 *   runner.c        reference run, device run with guard bytes
 *   compare.c       the error metrics
 *   cases_perf.c    perf-only cases: the target models' decode/prefill shapes
 *   perf.c          perf mode: time R independent copies of a case's nodes
 *   main.c          command line: test | coverage | list | perf
 *
 * A case is a recipe: `build` creates the leaves (with their data) and the
 * op nodes in a fresh context and returns the output node. The runner calls
 * it twice, once for the reference and once for the device, and the same
 * seed gives both the same data.
 */
#ifndef BO_H
#define BO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strixcore/strixcore.h"

/* max_err value meaning "every element must be equal" (integer outputs,
 * pure data movement). Otherwise max_err bounds the normalised mean squared
 * error sum((a-b)^2) / sum(b^2) against the reference b. */
#define BO_EXACT (-1.0)

#define BO_MAX_LEAVES 16
#define BO_MAX_WRITTEN 4   /* leaves a case's ops write in place (bo_mark_written) */

/* A weight dtype: dense, or group-quantized with its layout parameters. */
typedef struct bo_wtype {
    int32_t type;      /* SC_TYPE_F32, F16, BF16 or QG */
    uint32_t bits;     /* QG: 2, 3, 4 or 8 */
    uint32_t group;    /* QG: columns per group; 0 means one group per row (K) */
    bool gidx;         /* QG: random act-order g_idx */
    bool bf16;         /* QG: SC_QUANT_BF16_ROUND (compressed-tensors rounding) */
} bo_wtype;

static inline bo_wtype bo_dense(int32_t type) { return (bo_wtype){.type = type}; }
static inline bo_wtype bo_qg(uint32_t bits, uint32_t group, bool gidx, bool bf16) {
    return (bo_wtype){.type = SC_TYPE_QG, .bits = bits, .group = group, .gidx = gidx, .bf16 = bf16};
}

/* Per-op parameters. Shapes list ne[0] first, as in strixcore.h. */
typedef struct bo_p_eltwise {  /* ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID */
    int64_t a[4], b[4];        /* a: every op's shape (SWIGLU: gate and up); b: ADD/MUL's broadcast operand */
    float s;                   /* SCALE factor; SIGMOID: inputs in [-s, s] (0: [-8, 8]) */
} bo_p_eltwise;

typedef struct bo_p_norm {     /* RMS_NORM */
    int64_t ne[4];
    bool has_w;
    float eps;
} bo_p_norm;

typedef struct bo_p_rope {     /* ROPE: x [hd, n_heads, n_tokens] */
    int64_t hd, n_heads, n_tokens;
    int n_rot;
    float base;
    int32_t max_pos;           /* positions drawn from 0..max_pos (0: 0, 1, 2, ...) */
} bo_p_rope;

typedef struct bo_p_rows {     /* SOFTMAX, TOP_K, ARGMAX: x [n, rows] */
    int64_t n, rows;
    int k;                     /* TOP_K */
    float scale;               /* SOFTMAX */
    float amp, offset;         /* values in offset + [-amp, amp] */
    int ties;                  /* > 0: values drawn from this many levels only */
    int masked;                /* SOFTMAX: > 0: every masked-th value is -inf (an attention mask) */
} bo_p_rows;

typedef struct bo_p_cpy {      /* CPY: src of `ne` viewed by `layout` -> dst type */
    int64_t ne[4];
    int32_t src, dst;
    int layout;                /* 0 contiguous, 1 transpose (0<->1), 2 swap (1<->2), 3 every other row */
    float amp;                 /* float sources: values in [-amp, amp] */
} bo_p_cpy;

typedef struct bo_p_get_rows { /* GET_ROWS: table [D, V], ids [n] */
    bo_wtype w;
    int64_t D, V, n;
} bo_p_get_rows;

typedef struct bo_p_mm {       /* MUL_MAT: w [K, N, B2, B3], x [K, M, b2, b3] */
    bo_wtype w;
    int64_t K, N, M, B2, B3, b2, b3;
} bo_p_mm;

typedef struct bo_p_mmid {     /* MUL_MAT_ID: w [K, N, E], x [K, X, T], ids [n_used, T] */
    bo_wtype w;
    int64_t K, N, E, n_used, X, T;
} bo_p_mmid;

typedef struct bo_p_paged {    /* KV_WRITE, ATTENTION: paged KV cache */
    int64_t hd, n_kv, n_heads, block;
    int32_t cache;             /* cache dtype */
    int n_seqs;                /* 1 or 2 */
    int use_seq;               /* 0: seq tensor NULL (single sequence) */
    int64_t ctx[2];            /* positions each sequence reaches (exclusive) */
    int64_t new_tok[2];        /* tokens per sequence in this batch: pos ctx-new .. ctx-1 */
    int with_write;            /* ATTENTION: 1 = kv_write k and v in the same graph */
} bo_p_paged;

#define BO_MAX_RUNS 8
typedef struct bo_p_recur {    /* SSM_CONV, GATED_DELTA_NET: a batch of runs over state slots */
    /* SSM_CONV: x [Cg, G, T] viewed out of a projection [G * (Cg + Cz), T]
     * (Cz 0: x contiguous), w [Kc, C], state [C, Kc-1, n_slots] */
    int64_t Cg, G, Cz, Kc;
    bool x_tail;               /* SSM_CONV: x is the last Cg of each group (an offset view), not the first */
    /* GATED_DELTA_NET: qkv [nk*(2dk + r*dv), T], ba [2nv, T] (ba_pad > 0: a
     * view of [2nv + ba_pad, T]), state [dv, dk, nv, n_slots] */
    int64_t dk, dv, nk, nv, ba_pad;
    float eps;
    bool conv_in;              /* GATED_DELTA_NET: qkv is the output of an SSM_CONV (Kc, Cz) as in the model */
    int n_slots, n_runs;
    int32_t slot[BO_MAX_RUNS]; /* run i: tokens of slot[i] at pos[i] .. pos[i] + len[i] - 1 */
    int32_t pos[BO_MAX_RUNS];
    int64_t len[BO_MAX_RUNS];
} bo_p_recur;

/* How an operand is laid out in memory (bo_leaf_view). Backends must honour
 * any row strides the builders accept, not only contiguous tensors. */
typedef enum bo_view {
    BO_CONTIG = 0, /* a contiguous leaf */
    BO_PERM,       /* a leaf [ne0, ne2, ne1, ne3] read through a permute of dims
                      1 and 2: rows contiguous, nb[1] > nb[2] */
    BO_SLICE,      /* columns 1..ne0 of a leaf [ne0 + 3, ne1, ne2, ne3]: padded
                      rows and a start one element past the usual alignment,
                      as a slice of a fused QKV projection has */
} bo_view;

typedef struct bo_case bo_case;
typedef struct bo_env bo_env;
typedef sc_tensor *(*bo_build_fn)(bo_env *env, const bo_case *c);

struct bo_case {
    char name[200];
    int32_t op;                /* the op under test (list, -o filter) */
    bo_build_fn build;
    double max_err;            /* nmse bound, or BO_EXACT */
    double written_err;        /* bound for the leaves the case writes in place
                                  (bo_mark_written; BO_EXACT allowed), compared
                                  after compute as the output is; 0: none */
    bo_view view[2];           /* layout of the main input and of the second
                                  operand or weight; each builder says which */
    union {
        bo_p_eltwise elt;
        bo_p_norm norm;
        bo_p_rope rope;
        bo_p_rows rows;
        bo_p_cpy cpy;
        bo_p_get_rows gr;
        bo_p_mm mm;
        bo_p_mmid mmid;
        bo_p_paged pg;
        bo_p_recur rec;
    } p;
    bool perf_only;            /* measured by `perf` only: test, coverage and
                                  list skip it (shapes too big for the reference) */
};

/* ---- the case list (cases.c) ------------------------------------------- */
typedef struct bo_list {
    bo_case *v;
    int n, cap;
    bool oom;
} bo_list;

/* Append a zeroed case; its name is filled later by bo_case_name. Returns
 * NULL (and sets l->oom) when memory runs out. */
bo_case *bo_list_add(bo_list *l, int32_t op, bo_build_fn build, double max_err);
void bo_case_name(bo_case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set c->view and append ",n0=perm" etc. to the name for non-contiguous ones. */
void bo_case_views(bo_case *c, bo_view v0, const char *n0, bo_view v1, const char *n1);
const char *bo_wtype_name(const bo_wtype *w, char *buf, size_t len);
int bo_cases_all(bo_list *l);   /* SC_OK or SC_ENOMEM */
void bo_list_free(bo_list *l);

void bo_cases_basic(bo_list *l);
void bo_cases_select(bo_list *l);
void bo_cases_matmul(bo_list *l);
/* cases_matmul.c's MUL_MAT_ID builder (c->p.mmid, x laid out by c->view[0]; ids:
 * n_used distinct experts per token, as a router's top-k picks); perf cases use it too */
sc_tensor *bo_build_mul_mat_id(bo_env *e, const bo_case *c);
void bo_cases_attn(bo_list *l);
void bo_cases_recurrent(bo_list *l); /* cases_recurrent.c: ssm_conv, gated_delta_net */
/* cases_recurrent.c's builders (c->p.rec); perf cases use them too */
sc_tensor *bo_build_ssm_conv(bo_env *e, const bo_case *c);
sc_tensor *bo_build_gated_delta_net(bo_env *e, const bo_case *c);
/* The inputs of a paged KV cache (cases_attn.c; the fused chains use them too):
 * a block table [max blocks per sequence, n_seqs] over a shuffled pool with 3
 * spare blocks, and the new tokens' positions and sequence ids (sequences
 * round-robin; sequence s gets ctx[s] - new_tok[s] .. ctx[s] - 1); seq is NULL
 * unless p->use_seq. false (e->err set) when out of memory. */
typedef struct bo_paged {
    sc_tensor *bt, *pos, *seq;
    int64_t n_tokens, n_blocks;
} bo_paged;
bool bo_make_paged(bo_env *e, const bo_p_paged *p, bo_paged *out);
/* Graphs shaped like the chains the Vulkan fusers take (vk_fuse_*.c): the
 * whole chain is one case, compared at its last node. */
void bo_cases_fuse_rows(bo_list *l);  /* cases_fuse_rows.c: norm+rope(+kv_write), MoE routing */
void bo_cases_fuse_gemv(bo_list *l);  /* cases_fuse_gemv.c: GEMV + swiglu / residual add, MoE experts */
/* Model-sized shapes for `perf` (cases_perf.c), named perf_*, perf_only set. */
void bo_cases_perf(bo_list *l);

/* ---- leaves with data (data.c) ----------------------------------------- */
typedef struct bo_leaf {
    sc_tensor *t;
    void *data;                /* sc_tensor_nbytes(t) bytes, the leaf's initial contents */
    size_t size;
} bo_leaf;

struct bo_env {
    sc_ctx_t *ctx;
    uint64_t rng;
    bool shapes_only;          /* coverage/list: build the graph, generate no data */
    int err;                   /* first failure making test data: SC_ENOMEM, SC_ERANGE (over
                                  BO_MAX_LEAVES), SC_EINVAL (a case-table bug) */
    bo_leaf leaves[BO_MAX_LEAVES];
    int n_leaves;
    sc_tensor *written[BO_MAX_WRITTEN]; /* leaves the ops write in place (bo_mark_written) */
    int n_written;
};

int bo_env_init(bo_env *e, const char *seed_name, bool shapes_only);
void bo_env_free(bo_env *e);
const bo_leaf *bo_env_leaf(const bo_env *e, const sc_tensor *t);

uint64_t bo_rand(bo_env *e);
float bo_uniform(bo_env *e, float lo, float hi);
int64_t bo_randint(bo_env *e, int64_t n);           /* 0 .. n-1 */
void bo_shuffle_i32(bo_env *e, int32_t *v, int64_t n);

/* Leaf of `type` (F32/F16/BF16) with values uniform in [lo, hi). */
sc_tensor *bo_leaf_uniform(bo_env *e, sc_type type, int ndims, const int64_t *ne, float lo, float hi);
/* An f32/f16/bf16 operand [ne] uniform in [lo, hi), laid out as `view`
 * says; the leaf is recorded, the view (if any) returned. */
sc_tensor *bo_leaf_view(bo_env *e, sc_type type, const int64_t ne[4], bo_view view, float lo, float hi);
/* Leaves with given contents (copied); `v` has nelements values. */
sc_tensor *bo_leaf_f32(bo_env *e, int ndims, const int64_t *ne, const float *v);
sc_tensor *bo_leaf_i32(bo_env *e, int ndims, const int64_t *ne, const int32_t *v);
/* Declare that the case's ops write leaf `t` in place (a recurrent state, a
 * cache): the runner gives it guard bytes like the output's and compares its
 * contents after compute against the reference's, within c->written_err. */
void bo_mark_written(bo_env *e, sc_tensor *t);
/* A weight [K, N, n2, n3] with random contents (QG: n3 == 1, BO_CONTIG). */
sc_tensor *bo_leaf_weight(bo_env *e, const bo_wtype *w, int64_t K, int64_t N, int64_t n2, int64_t n3, bo_view view);

/* ---- running and comparing (runner.c, compare.c) ----------------------- */
typedef enum bo_status { BO_PASS = 0, BO_FAIL, BO_UNSUPPORTED } bo_status;

typedef struct bo_result {
    bo_status status;
    double err;                /* nmse, or the number of unequal elements for BO_EXACT */
    double err_written;        /* the same for the leaves written in place: the worst of them */
    char msg[256];             /* why it failed, or what is unsupported */
    int n_variants;            /* --variants: tuning variants run besides the default */
} bo_result;

/* test --variants: also run every tuning variant of every tunable node (runner.c) */
extern bool bo_variants;

void bo_run_case(const bo_case *c, sc_device_t *dev, bo_result *r);
/* Build c with shapes only and count, per op, the nodes of that op its graph
 * has (counts[op] += 1 if present). Returns SC_OK or the build error. */
int bo_case_ops(const bo_case *c, int counts[SC_OP_COUNT], char *msg, size_t msg_len);

/* The pieces of runner.c that perf.c shares: a case built in a fresh
 * context, its graph, and its leaves on a device. */
typedef struct bo_built {
    bo_env env;
    sc_graph_t *g;
    sc_tensor *out;            /* the node the case returned */
    sc_tensor *root;           /* the memory compared: out, or the leaf it views */
} bo_built;

int bo_build(const bo_case *c, bool shapes_only, bo_built *b, char *msg, size_t len);
void bo_built_free(bo_built *b);
/* The first node of g the device refuses, or NULL. */
const sc_tensor *bo_unsupported_node(sc_device_t *dev, const sc_graph_t *g);
/* Put every leaf of b->g except the n_skip of `skip` in one new buffer of
 * dev and upload its test data. On failure *what says which step failed. */
int bo_leaves_to_device(sc_device_t *dev, const bo_built *b, const sc_tensor *const *skip, int n_skip,
                        sc_buffer_t **buf, const char **what);

/* ---- perf mode (perf.c) ------------------------------------------------ */
typedef struct bo_perf_opts {
    int max_reps;              /* timed runs at most (after one warm-up) */
    double min_ms;             /* stop once this much time has passed */
} bo_perf_opts;

typedef struct bo_perf_result {
    bo_status status;          /* BO_PASS: measured */
    double us;                 /* best time per copy, microseconds */
    double bytes;              /* per copy: what the case's nodes must move */
    double flops;              /* per copy: MUL_MAT, MUL_MAT_ID, ATTENTION; 0 for others */
    int copies, reps;
    char msg[256];             /* why it failed, or what is unsupported */
} bo_perf_result;

void bo_perf_case(const bo_case *c, sc_device_t *dev, const bo_perf_opts *o, bo_perf_result *r);

/* Compare `nbytes` of output of `type` against the reference. */
void bo_compare(int32_t type, size_t nbytes, const void *ref, const void *got, double max_err, bo_result *r);

#endif
