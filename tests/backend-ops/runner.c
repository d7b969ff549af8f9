/*
 * tests/backend-ops/runner.c - one case on one device, against the reference.
 *
 * Reference: the case is built in a fresh context; every leaf and node gets
 * plain host memory (views point into their root) and each node is computed
 * in graph order by sc__cpu_ref_compute, the scalar oracle.
 *
 * Device under test: the case is built again (same seed, same data). If the
 * device refuses any node it is "not supported". Otherwise the leaves go to
 * a buffer of the device, and the output goes to a buffer of its own:
 *
 *     [ guard 0xA5.. | output, pre-filled 0xFF.. | guard 0xA5.. ]
 *
 * 0xFF bytes read as NaN in every float type and -1 as i32, so an element
 * the kernel never writes fails the NaN check or the comparison. A scheduler
 * of that one device computes the graph; it keeps the preallocated output
 * where it is and allocates intermediates itself. Any changed guard byte is
 * an out-of-bounds write. When the output is a view of a leaf (kv_write
 * returns a view of its cache), the whole cache is the output.
 *
 * Leaves written in place (bo_mark_written: the recurrent ops' states) get
 * the same treatment besides the output: each in a guarded buffer of its
 * own, holding its initial test data, and after compute its guards are
 * checked and its contents compared against the reference's leaf, which the
 * reference run updated the same way, within the case's written_err. The
 * case passes only when the output and every written leaf pass.
 *
 * Variants (`test --variants`, bo_variants): after the default run, every
 * node the device calls tunable (sc_device_tune_query: a tuning key and its
 * variants) is run again under each of its other variants, one node and
 * one variant at a time (sc_device_tune_set, then back to the default), on
 * a fresh build of the case, against the same reference and bound. A
 * variant the tuner could pick must be as correct as the default.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bo.h"
#include "cpu.h"

#define GUARD_BYTES 256   /* >= 64, and a multiple of any alignment we expect */
#define GUARD_FILL 0xA5
#define OUTPUT_FILL 0xFF
#define GRAPH_SIZE 64     /* nodes (and leaves) of the largest case graph */

/* A case built in a fresh context (bo_built, bo.h). */
typedef bo_built built;

void bo_built_free(bo_built *b) {
    sc_graph_destroy(b->g);
    bo_env_free(&b->env);
}

static void built_free(built *b) { bo_built_free(b); }

int bo_build(const bo_case *c, bool shapes_only, bo_built *b, char *msg, size_t len) {
    memset(b, 0, sizeof *b);
    int rc = bo_env_init(&b->env, c->name, shapes_only);
    if (rc != SC_OK) {
        snprintf(msg, len, "cannot create a context: %s", sc_strerror(rc));
        return rc;
    }
    b->out = c->build(&b->env, c);
    if ((rc = sc_ctx_error(b->env.ctx)) != SC_OK) {
        snprintf(msg, len, "build: %s", sc_ctx_error_msg(b->env.ctx));
        return rc;
    }
    if ((rc = b->env.err) != SC_OK) {
        snprintf(msg, len, "test data: %s", sc_strerror(rc));
        return rc;
    }
    if (!b->out) {
        snprintf(msg, len, "build returned no output");
        return SC_EINVAL;
    }
    b->g = sc_graph_create(GRAPH_SIZE);
    if (!b->g) {
        snprintf(msg, len, "cannot create a graph");
        return SC_ENOMEM;
    }
    if ((rc = sc_graph_expand(b->g, b->out)) != SC_OK) {
        snprintf(msg, len, "graph: %s", sc_strerror(rc));
        return rc;
    }
    b->root = b->out->view_src ? b->out->view_src : b->out;
    if (b->root != b->out && b->root->op != SC_OP_NONE) {
        snprintf(msg, len, "the output views a node; the runner compares only nodes or views of leaves");
        return SC_ENOTSUP;
    }
    if (b->env.n_written > 0 && c->written_err == 0.0) {
        snprintf(msg, len, "the case writes leaves in place but states no bound for them (written_err)");
        return SC_EINVAL;
    }
    for (int i = 0; i < b->env.n_written; i++) {
        const sc_tensor *t = b->env.written[i];
        bool in_graph = false;
        for (int j = 0; j < b->g->n_leafs; j++) in_graph |= b->g->leafs[j] == t;
        if (!in_graph || t == b->root) {
            snprintf(msg, len, "written leaf %d is %s", i, in_graph ? "the output's root" : "not in the graph");
            return SC_EINVAL;
        }
    }
    return SC_OK;
}

int bo_case_ops(const bo_case *c, int counts[SC_OP_COUNT], char *msg, size_t msg_len) {
    built b;
    int rc = bo_build(c, true, &b, msg, msg_len);
    if (rc == SC_OK) {
        bool seen[SC_OP_COUNT] = {false};
        seen[SC_OP_NONE] = b.g->n_leafs > 0;
        for (int i = 0; i < b.g->n_nodes; i++)
            if (b.g->nodes[i]->op >= 0 && b.g->nodes[i]->op < SC_OP_COUNT) seen[b.g->nodes[i]->op] = true;
        for (int op = 0; op < SC_OP_COUNT; op++) counts[op] += seen[op];
    }
    built_free(&b);
    return rc;
}

/* ---- reference --------------------------------------------------------- */

/* What the reference computed: the root's bytes and the written leaves'
 * (in the order of env.written), malloc'd. */
typedef struct ref_data {
    void *out;
    size_t out_size;
    void *w[BO_MAX_WRITTEN];
    size_t w_size[BO_MAX_WRITTEN];
    int n_w;
} ref_data;

static void ref_free(ref_data *r) {
    free(r->out);
    for (int i = 0; i < r->n_w; i++) free(r->w[i]);
    memset(r, 0, sizeof *r);
}

/* A malloc'd copy of t's bytes (t->data), or NULL. */
static void *dup_bytes(const sc_tensor *t, size_t *size) {
    *size = sc_tensor_nbytes(t);
    void *p = malloc(*size ? *size : 1);
    if (p) memcpy(p, t->data, *size);
    return p;
}

/* Compute the case with the scalar reference into *ref. */
static int run_reference(const bo_case *c, ref_data *ref, char *msg, size_t len) {
    built b;
    void **mem = NULL;
    int n_mem = 0;
    int rc = bo_build(c, false, &b, msg, len);
    if (rc != SC_OK) goto done;
    mem = calloc((size_t)(b.g->n_leafs + b.g->n_nodes) + 1, sizeof *mem);
    if (!mem) {
        rc = SC_ENOMEM;
        snprintf(msg, len, "out of memory");
        goto done;
    }
    for (int i = 0; i < b.g->n_leafs; i++) {
        sc_tensor *t = b.g->leafs[i];
        const bo_leaf *leaf = bo_env_leaf(&b.env, t);
        size_t size = sc_tensor_nbytes(t);
        if (!leaf || leaf->size != size) {
            rc = SC_ESTATE;
            snprintf(msg, len, "leaf %d has no test data", i);
            goto done;
        }
        if (!(mem[n_mem] = malloc(size ? size : 1))) {
            rc = SC_ENOMEM;
            snprintf(msg, len, "out of memory");
            goto done;
        }
        memcpy(mem[n_mem], leaf->data, size);
        t->data = mem[n_mem++];
    }
    /* [nodes in execution order]: views into their root, others get memory */
    for (int i = 0; i < b.g->n_nodes; i++) {
        sc_tensor *t = b.g->nodes[i];
        if (t->view_src) {
            t->data = (char *)t->view_src->data + t->view_offs;
        } else {
            if (!(mem[n_mem] = calloc(1, sc_tensor_nbytes(t) + 1))) {
                rc = SC_ENOMEM;
                snprintf(msg, len, "out of memory");
                goto done;
            }
            t->data = mem[n_mem++];
        }
        if (t->op == SC_OP_VIEW) continue;
        if ((rc = sc__cpu_ref_compute(t)) != SC_OK) {
            snprintf(msg, len, "reference %s failed: %s", sc_op_name(t->op), sc_strerror(rc));
            goto done;
        }
    }
    bool oom = !(ref->out = dup_bytes(b.root, &ref->out_size));
    for (int i = 0; i < b.env.n_written && !oom; i++, ref->n_w++)
        oom = !(ref->w[i] = dup_bytes(b.env.written[i], &ref->w_size[i]));
    if (oom) {
        rc = SC_ENOMEM;
        snprintf(msg, len, "out of memory");
        goto done;
    }
done:
    for (int i = 0; i < n_mem; i++) free(mem[i]);
    free(mem);
    built_free(&b);
    return rc;
}

/* ---- device under test ------------------------------------------------- */

/* The first node the device refuses, or NULL. */
const sc_tensor *bo_unsupported_node(sc_device_t *dev, const sc_graph_t *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const sc_tensor *t = g->nodes[i];
        if (t->op == SC_OP_VIEW || t->op == SC_OP_NONE) continue;
        if (!sc_device_supports_op(dev, t)) return t;
    }
    return NULL;
}

static void set_fail(bo_result *r, const char *what, int rc) {
    r->status = BO_FAIL;
    snprintf(r->msg, sizeof r->msg, "%s: %s", what, sc_strerror(rc));
}

/* A tensor placed between guard bytes in a buffer of its own. */
typedef struct guarded {
    sc_tensor *t;              /* the output's root, or a written leaf */
    sc_buffer_t *buf;
    sc_tensor *whole;          /* i8 over the whole buffer */
    size_t guard, nbytes;
} guarded;

/* Make the guarded buffer for t: [guard | nbytes | guard]. The `whole`
 * tensor (i8) spans it so that it can be filled and read back. */
static int make_guarded(sc_device_t *dev, built *b, sc_tensor *t, sc_buffer_t **buf, sc_tensor **whole,
                        size_t *guard) {
    size_t nbytes = sc_tensor_nbytes(t);
    *guard = GUARD_BYTES;
    int rc = sc_buffer_create(dev, nbytes + 2 * *guard, buf);
    if (rc != SC_OK) return rc;
    size_t align = sc_buffer_alignment(*buf);
    if (align > 1 && *guard % align != 0) {
        sc_buffer_destroy(*buf);
        *buf = NULL;
        *guard = (*guard + align - 1) / align * align;
        if ((rc = sc_buffer_create(dev, nbytes + 2 * *guard, buf)) != SC_OK) return rc;
    }
    size_t total = nbytes + 2 * *guard;
    *whole = sc_new_tensor_1d(b->env.ctx, SC_TYPE_I8, (int64_t)total);
    if (!*whole) return sc_ctx_error(b->env.ctx);
    if ((rc = sc_tensor_alloc(*buf, *whole, 0)) != SC_OK) return rc;
    uint8_t *fill = malloc(total);
    if (!fill) return SC_ENOMEM;
    memset(fill, GUARD_FILL, total);
    memset(fill + *guard, OUTPUT_FILL, nbytes);
    rc = sc_tensor_set(*whole, fill, 0, total);
    free(fill);
    if (rc != SC_OK) return rc;
    return sc_tensor_alloc(*buf, t, *guard);
}

/* Upload a leaf's test data. */
static int upload(const built *b, sc_tensor *t) {
    const bo_leaf *leaf = bo_env_leaf(&b->env, t);
    if (!leaf) return SC_ESTATE;
    return sc_tensor_set(t, leaf->data, 0, leaf->size);
}

int bo_leaves_to_device(sc_device_t *dev, const bo_built *b, const sc_tensor *const *skip, int n_skip,
                        sc_buffer_t **buf, const char **what) {
    *buf = NULL;
    sc_tensor **leaves = malloc(((size_t)b->g->n_leafs + 1) * sizeof *leaves);
    if (!leaves) {
        *what = "allocating the inputs";
        return SC_ENOMEM;
    }
    int n = 0, rc = SC_OK;
    for (int i = 0; i < b->g->n_leafs; i++) {
        bool skipped = false;
        for (int j = 0; j < n_skip; j++) skipped |= b->g->leafs[i] == skip[j];
        if (!skipped) leaves[n++] = b->g->leafs[i];
    }
    if (n > 0 && (rc = sc_alloc_tensors(dev, leaves, n, buf)) != SC_OK) *what = "allocating the inputs";
    for (int i = 0; i < n && rc == SC_OK; i++)
        if ((rc = upload(b, leaves[i])) != SC_OK) *what = "uploading an input";
    free(leaves);
    if (rc != SC_OK) {
        sc_buffer_destroy(*buf);
        *buf = NULL;
    }
    return rc;
}

/* Count changed guard bytes; *first is the offset of the first one relative
 * to the output (negative: before it). */
static size_t check_guards(const uint8_t *all, size_t guard, size_t nbytes, long long *first) {
    size_t bad = 0;
    for (size_t i = 0; i < guard; i++) {
        if (all[i] != GUARD_FILL) {
            if (!bad) *first = (long long)i - (long long)guard;
            bad++;
        }
    }
    for (size_t i = guard + nbytes; i < nbytes + 2 * guard; i++) {
        if (all[i] != GUARD_FILL) {
            if (!bad) *first = (long long)(i - guard);
            bad++;
        }
    }
    return bad;
}

bool bo_variants = false;

/* The tunable nodes of one run (queried after compute, when data is bound). */
#define MAX_TUNABLE 8
typedef struct tunables {
    int n;
    int node[MAX_TUNABLE];
    sc_tune_info info[MAX_TUNABLE];
} tunables;

/* Read g back, check its guards and compare its bytes against ref (`what`
 * names it in messages). Fills r; false when it failed. */
static bool check_guarded(const guarded *g, const void *ref, size_t ref_size, double max_err, const char *what,
                          bo_result *r) {
    size_t total = g->nbytes + 2 * g->guard;
    uint8_t *all = malloc(total);
    int rc;
    if (!all) {
        set_fail(r, "reading back", SC_ENOMEM);
        return false;
    }
    if ((rc = sc_tensor_get(g->whole, all, 0, total)) != SC_OK) {
        set_fail(r, "reading back", rc);
        free(all);
        return false;
    }
    long long first = 0;
    size_t bad = check_guards(all, g->guard, g->nbytes, &first);
    if (bad) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "out-of-bounds write: %zu guard bytes changed, first at byte %lld of %s %s",
                 bad, first, what, first < 0 ? "(before it)" : "(past its end)");
    } else if (ref_size != g->nbytes) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s is %zu bytes, the reference's %zu", what, g->nbytes, ref_size);
    } else {
        bo_compare(g->t->type, g->nbytes, ref, all + g->guard, max_err, r);
    }
    free(all);
    return r->status == BO_PASS;
}

static void run_device(const bo_case *c, sc_device_t *dev, built *b, const ref_data *ref, bo_result *r,
                       tunables *tun) {
    sc_buffer_t *lbuf = NULL;
    sc_sched_t *sched = NULL;
    /* [0]: the output's root; [1 + i]: written leaf i */
    guarded gd[1 + BO_MAX_WRITTEN];
    const sc_tensor *own[1 + BO_MAX_WRITTEN] = {NULL};
    const int n_gd = 1 + b->env.n_written;
    int rc;
    memset(gd, 0, sizeof gd);
    gd[0].t = b->root;
    for (int i = 0; i < b->env.n_written; i++) gd[1 + i].t = b->env.written[i];
    for (int i = 0; i < n_gd; i++) own[i] = gd[i].t;

    /* leaves other than the output's root and the written ones: one buffer of the device */
    const char *what = NULL;
    if ((rc = bo_leaves_to_device(dev, b, own, n_gd, &lbuf, &what)) != SC_OK) {
        set_fail(r, what, rc);
        goto done;
    }
    for (int i = 0; i < n_gd; i++) {
        gd[i].nbytes = sc_tensor_nbytes(gd[i].t);
        if ((rc = make_guarded(dev, b, gd[i].t, &gd[i].buf, &gd[i].whole, &gd[i].guard)) != SC_OK) {
            set_fail(r, i ? "allocating a guarded written leaf" : "allocating the guarded output", rc);
            goto done;
        }
        if (gd[i].t->op == SC_OP_NONE && (rc = upload(b, gd[i].t)) != SC_OK) {
            set_fail(r, i ? "uploading a written leaf" : "uploading the output's initial contents", rc);
            goto done;
        }
    }

    if ((rc = sc_sched_create(&dev, 1, &sched)) != SC_OK) {
        set_fail(r, "creating a scheduler", rc);
        goto done;
    }
    if ((rc = sc_sched_compute(sched, b->g)) != SC_OK) {
        set_fail(r, "compute", rc);
        goto done;
    }
    for (int i = 0; tun && i < b->g->n_nodes && tun->n < MAX_TUNABLE; i++) {
        const sc_tensor *t = b->g->nodes[i];
        if (t->op == SC_OP_VIEW || t->op == SC_OP_NONE) continue;
        rc = sc_device_tune_query(dev, t, &tun->info[tun->n]);
        if (rc == SC_OK) tun->node[tun->n++] = i;
        else if (rc != SC_ENOTSUP) {
            set_fail(r, "tune_query", rc);
            goto done;
        }
    }
    for (int i = 0; i < b->g->n_nodes; i++) {
        sc_device_t *where = sc_sched_node_device(sched, b->g->nodes[i]);
        if (where != dev) {
            r->status = BO_FAIL;
            snprintf(r->msg, sizeof r->msg, "%s ran on %s, not on the device under test",
                     sc_op_name(b->g->nodes[i]->op), where ? sc_device_name(where) : "(nothing)");
            goto done;
        }
    }

    if (!check_guarded(&gd[0], ref->out, ref->out_size, c->max_err, "the output", r)) goto done;
    /* then every leaf written in place: the worst nmse in err_written, the
     * first failure fails the case */
    for (int i = 0; i < b->env.n_written; i++) {
        bo_result rw;
        char name[80];
        memset(&rw, 0, sizeof rw);
        snprintf(name, sizeof name, "written leaf %.40s", gd[1 + i].t->name[0] ? gd[1 + i].t->name : "(unnamed)");
        bool ok = i < ref->n_w && check_guarded(&gd[1 + i], ref->w[i], ref->w_size[i], c->written_err, name, &rw);
        if (rw.err > r->err_written || !isfinite(rw.err)) r->err_written = rw.err;
        if (!ok) {
            r->status = BO_FAIL;
            snprintf(r->msg, sizeof r->msg, "%.60s: %.180s", name, i < ref->n_w ? rw.msg : "no reference");
            goto done;
        }
    }
done:
    sc_sched_destroy(sched);
    for (int i = 0; i < n_gd; i++) sc_buffer_destroy(gd[i].buf);
    sc_buffer_destroy(lbuf);
}

void bo_run_case(const bo_case *c, sc_device_t *dev, bo_result *r) {
    memset(r, 0, sizeof *r);
    built b;
    ref_data ref;
    memset(&ref, 0, sizeof ref);
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
    char msg[sizeof r->msg];
    if ((rc = run_reference(c, &ref, msg, sizeof msg)) != SC_OK) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s", msg);
        goto done;
    }
    tunables tun = {0};
    run_device(c, dev, &b, &ref, r, bo_variants ? &tun : NULL);
    /* every other variant of every tunable node, each on a fresh build */
    for (int k = 0; k < tun.n && r->status == BO_PASS; k++) {
        const sc_tune_info *ti = &tun.info[k];
        for (int v = 0; v < ti->n_variants && r->status == BO_PASS; v++) {
            if (v == ti->current) continue;
            built bv;
            bo_result rv;
            memset(&rv, 0, sizeof rv);
            if ((rc = bo_build(c, false, &bv, rv.msg, sizeof rv.msg)) == SC_OK &&
                (rc = sc_device_tune_set(dev, ti->key, ti->variants[v])) != SC_OK)
                set_fail(&rv, "tune_set", rc);
            else if (rc == SC_OK)
                run_device(c, dev, &bv, &ref, &rv, NULL);
            else
                rv.status = BO_FAIL;
            /* back to the default (a forgotten key) */
            const int urc = sc_device_tune_set(dev, ti->key, NULL);
            if (rv.status == BO_PASS && urc != SC_OK) set_fail(&rv, "tune_set(NULL)", urc);
            built_free(&bv);
            r->n_variants++;
            if (rv.err_written > r->err_written) r->err_written = rv.err_written;
            if (rv.status != BO_PASS) {
                r->status = BO_FAIL;
                r->err = rv.err;
                snprintf(r->msg, sizeof r->msg, "variant %.31s of %.100s: %.100s", ti->variants[v], ti->key, rv.msg);
            } else if (rv.err > r->err) {
                r->err = rv.err;
            }
        }
    }
done:
    ref_free(&ref);
    built_free(&b);
}
