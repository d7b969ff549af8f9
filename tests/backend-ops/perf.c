/*
 * tests/backend-ops/perf.c - how fast a device runs one case.
 *
 * The case is built once, as the device run of `test` builds it (runner.c:
 * same seed, same data, leaves in a buffer of the device). Then one graph
 * holds R independent copies of the case's nodes: every copy reads the same
 * small leaves but its own copy of each large one (>= 256 KiB: weights,
 * caches; so no copy finds them in a GPU's L2, as no decode step does) and
 * of each leaf the case writes in place (a recurrent state), and
 * writes its own output, all marked outputs, so nothing orders
 * one copy after another and no copy's memory is reused by the next; a
 * backend runs them back to back, and a small op's launch overhead is spread
 * over R of them the way a model's many layers spread it. One sc_sched_compute
 * warms up (plan, pipelines, first touches), then the graph runs until
 * min_ms have passed or max_reps runs are done; the best run / R is the time
 * per op.
 *
 * R: enough copies that one run moves >= 64 MiB or does >= 2 GFLOP (what
 * comes first), 1..256, and the copies' own memory (outputs,
 * intermediates and large leaves) at most 1 GiB. If a run with R > 1 fails (out of device
 * memory, a buffer past a device limit), R is halved and the graph rebuilt;
 * the error at R = 1 is the one reported.
 *
 * Bytes per op, the traffic a kernel cannot avoid, counted once per tensor:
 *  - every input the case's nodes read from outside the case (leaves and
 *    views of leaves) at its full size, plus the output;
 *  - MUL_MAT_ID weights: only the experts the ids select, (distinct experts)
 *    x (bytes of the stack / E);
 *  - ATTENTION caches: the positions the queries reach, sum over sequences
 *    of (max pos + 1) x bytes per position (nb[2]), for K and for V;
 *  - KV_WRITE: the rows written, n_tokens x nb[2], and no output (it is a
 *    view of the cache).
 *  - leaves the case writes in place (bo_mark_written: the SSM_CONV and
 *    GATED_DELTA_NET states): twice, read and written back. Each copy gets
 *    its own, whatever its size, as each layer of a model has its own state.
 * Chains (the fuse_* cases) count their external inputs and their last
 * node's output, not intermediates: the minimum a fused kernel moves. Small
 * operands that every copy rereads come from cache on the second copy, so
 * for ops of a few KiB GB/s says more about launch overhead than memory.
 *
 * FLOP per op: MUL_MAT and MUL_MAT_ID 2 x K x (output elements); ATTENTION
 * 4 x head_dim x heads x (positions each query attends, pos + 1): q.k and
 * p.v. Other ops report none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bo.h"

#define PERF_TARGET_BYTES (64.0 * 1024 * 1024)
#define PERF_TARGET_FLOPS 2e9
#define PERF_MAX_COPIES 256
#define PERF_MAX_COPY_BYTES (1024.0 * 1024 * 1024)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- what one copy moves and computes ---------------------------------- */

static bool is_written(const bo_built *b, const sc_tensor *t) {
    for (int i = 0; i < b->env.n_written; i++)
        if (b->env.written[i] == t) return true;
    return false;
}

/* A leaf, or a view (of a view ...) of one: data the case does not compute. */
static bool is_external(const sc_tensor *t) {
    while (t->op == SC_OP_VIEW && t->view_src) t = t->view_src;
    return t->op == SC_OP_NONE;
}

static const int32_t *i32_data(const bo_built *b, const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_I32) return NULL;
    const bo_leaf *leaf = bo_env_leaf(&b->env, t);
    return leaf && leaf->size >= sc_tensor_nbytes(t) ? leaf->data : NULL;
}

/* ATTENTION node n: positions of the cache its queries reach (per sequence,
 * the highest position + 1), or -1 when the ids have no host data. */
static int64_t attn_positions(const bo_built *b, const sc_tensor *n) {
    const int32_t *pos = i32_data(b, n->src[4]), *seq = i32_data(b, n->src[5]);
    if (!pos || (n->src[5] && !seq)) return -1;
    int64_t n_seqs = n->src[3] ? n->src[3]->ne[1] : 1, n_tok = n->src[4]->ne[0], total = 0;
    for (int64_t s = 0; s < n_seqs; s++) {
        int64_t hi = 0;
        for (int64_t t = 0; t < n_tok; t++)
            if ((seq ? seq[t] : 0) == s && pos[t] + 1 > hi) hi = pos[t] + 1;
        total += hi;
    }
    return total;
}

/* ATTENTION node n: sum over query tokens of the positions each attends. */
static double attn_pairs(const bo_built *b, const sc_tensor *n) {
    const int32_t *pos = i32_data(b, n->src[4]);
    double pairs = 0;
    for (int64_t t = 0; pos && t < n->src[4]->ne[0]; t++) pairs += (double)pos[t] + 1;
    return pairs; /* 0 without host data: no GFLOP/s rather than a wrong one */
}

/* MUL_MAT_ID node n: distinct experts its ids select, or E without data. */
static int64_t mmid_experts(const bo_built *b, const sc_tensor *n) {
    int64_t E = n->src[0]->ne[2];
    const int32_t *ids = i32_data(b, n->src[2]);
    bool *used = calloc((size_t)E, sizeof *used);
    if (!ids || !used) {
        free(used);
        return E;
    }
    int64_t distinct = 0, count = sc_tensor_nelements(n->src[2]);
    for (int64_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= E || used[ids[i]]) continue;
        used[ids[i]] = true;
        distinct++;
    }
    free(used);
    return distinct;
}

typedef struct counted {
    const sc_tensor *t[4 * SC_MAX_SRC * 16];
    int n;
} counted;

/* Add `bytes` for t unless t was counted already. */
static void count_once(counted *seen, double *total, const sc_tensor *t, double bytes) {
    for (int i = 0; i < seen->n; i++)
        if (seen->t[i] == t) return;
    if (seen->n < (int)(sizeof seen->t / sizeof seen->t[0])) seen->t[seen->n++] = t;
    *total += bytes;
}

static void cost(const bo_built *b, double *bytes, double *flops) {
    counted seen = {.n = 0};
    *bytes = *flops = 0;
    for (int i = 0; i < b->g->n_nodes; i++) {
        const sc_tensor *n = b->g->nodes[i];
        if (n->op == SC_OP_VIEW) continue;
        for (int k = 0; k < SC_MAX_SRC; k++) {
            const sc_tensor *s = n->src[k];
            if (!s) continue;
            if (n->op == SC_OP_MUL_MAT_ID && k == 0) {
                double per_expert = (double)sc_tensor_nbytes(s) / (double)s->ne[2];
                count_once(&seen, bytes, s, per_expert * (double)mmid_experts(b, n));
            } else if (n->op == SC_OP_ATTENTION && (k == 1 || k == 2)) {
                int64_t reach = attn_positions(b, n);
                count_once(&seen, bytes, s, reach < 0 ? (double)sc_tensor_nbytes(s) : (double)reach * (double)s->nb[2]);
            } else if (n->op == SC_OP_KV_WRITE && k == 0) {
                count_once(&seen, bytes, s, (double)n->src[1]->ne[2] * (double)s->nb[2]);
            } else if (is_external(s)) {
                count_once(&seen, bytes, s, (double)sc_tensor_nbytes(s) * (is_written(b, s) ? 2.0 : 1.0));
            }
        }
        if (n->op == SC_OP_MUL_MAT || n->op == SC_OP_MUL_MAT_ID)
            *flops += 2.0 * (double)n->src[0]->ne[0] * (double)sc_tensor_nelements(n);
        else if (n->op == SC_OP_ATTENTION)
            *flops += 4.0 * (double)n->ne[0] * (double)n->ne[1] * attn_pairs(b, n);
    }
    if (!b->out->view_src) *bytes += (double)sc_tensor_nbytes(b->out);
}

/* Leaves of at least this size (weights, caches) get a copy per graph copy,
 * so every copy reads them from memory: shared, they would sit in a GPU's
 * L2 after the first copy and the figure would be a cache's bandwidth, not
 * what a decode step (every weight read once) sees. */
#define PERF_OWN_LEAF_BYTES (256.0 * 1024)

static bool own_leaf(const bo_built *b, const sc_tensor *t) {
    return t->op == SC_OP_NONE && !t->view_src &&
           ((double)sc_tensor_nbytes(t) >= PERF_OWN_LEAF_BYTES || is_written(b, t));
}

/* Bytes of the memory each copy gets for itself: its nodes that are not
 * views, and its own copies of the large leaves. */
static double copy_bytes(const bo_built *b) {
    double total = 0;
    for (int i = 0; i < b->g->n_nodes; i++)
        if (!b->g->nodes[i]->view_src) total += (double)sc_tensor_nbytes(b->g->nodes[i]);
    for (int i = 0; i < b->g->n_leafs; i++)
        if (own_leaf(b, b->g->leafs[i])) total += (double)sc_tensor_nbytes(b->g->leafs[i]);
    return total;
}

static int pick_copies(double bytes, double flops, double own) {
    double r = bytes > 0 ? PERF_TARGET_BYTES / bytes : PERF_MAX_COPIES;
    if (flops > 0 && PERF_TARGET_FLOPS / flops < r) r = PERF_TARGET_FLOPS / flops;
    if (own > 0 && PERF_MAX_COPY_BYTES / own < r) r = PERF_MAX_COPY_BYTES / own;
    if (r > PERF_MAX_COPIES) r = PERF_MAX_COPIES;
    int n = (int)r;
    if (n < r) n++; /* round up: at least the target, unless a cap says otherwise */
    if (own > 0 && n > 1 && (double)n * own > PERF_MAX_COPY_BYTES) n--;
    return n < 1 ? 1 : n > PERF_MAX_COPIES ? PERF_MAX_COPIES : n;
}

/* ---- the graph of copies ----------------------------------------------- */

/* R copies of b's nodes in a new context *cctx, sources remapped to the
 * copy's own nodes; small leaves shared, large ones (own_leaf) copied per
 * copy into *lbuf on dev with the case's data; every copy's output expanded
 * into *g. */
static int make_copies(const bo_built *b, sc_device_t *dev, int R, sc_ctx_t **cctx, sc_graph_t **g,
                       sc_buffer_t **lbuf) {
    int n = b->g->n_nodes, nl = b->g->n_leafs;
    *lbuf = NULL;
    *cctx = sc_ctx_create((size_t)R * (size_t)(n + nl) + 1);
    *g = sc_graph_create(R * (n + nl) + nl + 1);
    sc_tensor **map = malloc((size_t)n * sizeof *map);
    sc_tensor **lmap = malloc(((size_t)nl + 1) * sizeof *lmap);
    sc_tensor **clones = malloc(((size_t)R * (size_t)nl + 1) * sizeof *clones);
    const sc_tensor **clone_of = malloc(((size_t)R * (size_t)nl + 1) * sizeof *clone_of);
    int n_clones = 0;
    if (!*cctx || !*g || !map || !lmap || !clones || !clone_of) {
        free(map);
        free(lmap);
        free(clones);
        free(clone_of);
        return SC_ENOMEM;
    }
    int rc = SC_OK;
    for (int r = 0; r < R && rc == SC_OK; r++) {
        sc_tensor *out = NULL;
        for (int l = 0; l < nl && rc == SC_OK; l++) {
            const sc_tensor *o = b->g->leafs[l];
            lmap[l] = (sc_tensor *)o; /* copy 0 reads the case's own leaves */
            if (r == 0 || !own_leaf(b, o)) continue;
            sc_tensor *t = sc_new_tensor_1d(*cctx, SC_TYPE_F32, 1);
            if (!t) {
                rc = sc_ctx_error(*cctx) != SC_OK ? sc_ctx_error(*cctx) : SC_ENOMEM;
                break;
            }
            *t = *o;
            t->buffer = NULL;
            t->data = NULL;
            t->extra = NULL;
            lmap[l] = t;
            clones[n_clones] = t;
            clone_of[n_clones++] = o;
        }
        if (rc != SC_OK) break;
        for (int i = 0; i < n; i++) {
            const sc_tensor *o = b->g->nodes[i];
            sc_tensor *t = sc_new_tensor_1d(*cctx, SC_TYPE_F32, 1);
            if (!t) {
                rc = sc_ctx_error(*cctx) != SC_OK ? sc_ctx_error(*cctx) : SC_ENOMEM;
                break;
            }
            *t = *o;
            t->flags &= ~(uint32_t)SC_TENSOR_OUTPUT;
            t->buffer = NULL;
            t->data = NULL;
            t->extra = NULL;
            /* sources and the viewed tensor: this copy's node where the
             * original is a node (nodes come after their sources) */
            for (int j = 0; j < i; j++) {
                for (int k = 0; k < SC_MAX_SRC; k++)
                    if (t->src[k] == b->g->nodes[j]) t->src[k] = map[j];
                if (t->view_src == b->g->nodes[j]) t->view_src = map[j];
            }
            for (int l = 0; l < nl; l++) {
                for (int k = 0; k < SC_MAX_SRC; k++)
                    if (t->src[k] == b->g->leafs[l]) t->src[k] = lmap[l];
                if (t->view_src == b->g->leafs[l]) t->view_src = lmap[l];
            }
            snprintf(t->name, sizeof t->name, "perf%d:%.40s", r, o->name);
            map[i] = t;
            if (o == b->out) out = t;
        }
        if (rc == SC_OK) rc = out ? sc_graph_expand(*g, out) : SC_ESTATE;
    }
    /* the copies' own large leaves, with the case's data */
    if (rc == SC_OK && n_clones > 0) rc = sc_alloc_tensors(dev, clones, n_clones, lbuf);
    for (int i = 0; i < n_clones && rc == SC_OK; i++) {
        const bo_leaf *leaf = bo_env_leaf(&b->env, clone_of[i]);
        rc = leaf ? sc_tensor_set(clones[i], leaf->data, 0, leaf->size) : SC_ESTATE;
    }
    free(map);
    free(lmap);
    free(clones);
    free(clone_of);
    return rc;
}

/* One graph of R copies: plan, warm up, time. Returns SC_OK or the first
 * error, with *what naming the step. */
static int time_copies(const bo_built *b, sc_device_t *dev, int R, const bo_perf_opts *o, bo_perf_result *r,
                       const char **what) {
    sc_ctx_t *cctx = NULL;
    sc_graph_t *g = NULL;
    sc_sched_t *sched = NULL;
    sc_buffer_t *lbuf = NULL;
    int rc = make_copies(b, dev, R, &cctx, &g, &lbuf);
    if (rc != SC_OK) {
        *what = "building the copies";
        goto done;
    }
    if ((rc = sc_sched_create(&dev, 1, &sched)) != SC_OK) {
        *what = "creating a scheduler";
        goto done;
    }
    if ((rc = sc_sched_compute(sched, g)) != SC_OK) { /* warm-up */
        *what = "compute";
        goto done;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        sc_device_t *where = sc_sched_node_device(sched, g->nodes[i]);
        if (where != dev) {
            snprintf(r->msg, sizeof r->msg, "%s ran on %s, not on the device measured",
                     sc_op_name(g->nodes[i]->op), where ? sc_device_name(where) : "(nothing)");
            rc = SC_ESTATE;
            *what = NULL;
            goto done;
        }
    }
    double best = -1, t_end = now_s() + o->min_ms * 1e-3;
    int reps = 0;
    do {
        double t0 = now_s();
        if ((rc = sc_sched_compute(sched, g)) != SC_OK) {
            *what = "compute";
            goto done;
        }
        double dt = now_s() - t0;
        if (best < 0 || dt < best) best = dt;
        reps++;
    } while (reps < o->max_reps && now_s() < t_end);
    r->us = best * 1e6 / R;
    r->copies = R;
    r->reps = reps;
done:
    sc_sched_destroy(sched);
    sc_graph_destroy(g);
    sc_ctx_destroy(cctx);
    sc_buffer_destroy(lbuf);
    return rc;
}

void bo_perf_case(const bo_case *c, sc_device_t *dev, const bo_perf_opts *o, bo_perf_result *r) {
    memset(r, 0, sizeof *r);
    bo_built b;
    sc_buffer_t *lbuf = NULL;
    int rc = bo_build(c, false, &b, r->msg, sizeof r->msg);
    if (rc != SC_OK) {
        r->status = BO_FAIL;
        goto done;
    }
    const sc_tensor *refused = bo_unsupported_node(dev, b.g);
    if (refused) {
        r->status = BO_UNSUPPORTED;
        snprintf(r->msg, sizeof r->msg, "%s %s", sc_op_name(refused->op), sc_type_name(refused->type));
        goto done;
    }
    const char *what = NULL;
    /* every leaf, the output's root too (kv_write writes into its cache) */
    if ((rc = bo_leaves_to_device(dev, &b, NULL, 0, &lbuf, &what)) != SC_OK) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s: %s", what, sc_strerror(rc));
        goto done;
    }
    cost(&b, &r->bytes, &r->flops);
    int R = pick_copies(r->bytes, r->flops, copy_bytes(&b));
    for (;;) {
        r->msg[0] = '\0';
        what = NULL;
        rc = time_copies(&b, dev, R, o, r, &what);
        if (rc == SC_OK || R == 1 || !what) break;
        R /= 2; /* out of memory or past a device limit, most likely */
    }
    if (rc != SC_OK) {
        r->status = BO_FAIL;
        if (what) snprintf(r->msg, sizeof r->msg, "%s: %s", what, sc_strerror(rc));
    }
done:
    sc_buffer_destroy(lbuf);
    bo_built_free(&b);
}
