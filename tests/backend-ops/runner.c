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
 * Variants (`test --variants`, bo_variants): after the default run, every
 * node the device calls tunable (sc_device_tune_query: a tuning key and its
 * variants) is run again under each of its other variants, one node and
 * one variant at a time (sc_device_tune_set, then back to the default), on
 * a fresh build of the case, against the same reference and bound. A
 * variant the tuner could pick must be as correct as the default.
 */
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

/* Compute the case with the scalar reference; *out receives a malloc'd copy
 * of the root's bytes. */
static int run_reference(const bo_case *c, void **out, size_t *out_size, char *msg, size_t len) {
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
    *out_size = sc_tensor_nbytes(b.root);
    if (!(*out = malloc(*out_size ? *out_size : 1))) {
        rc = SC_ENOMEM;
        snprintf(msg, len, "out of memory");
        goto done;
    }
    memcpy(*out, b.root->data, *out_size);
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

/* Make the guarded output buffer for root: [guard | nbytes | guard]. The
 * `whole` tensor (i8) spans it so that it can be filled and read back. */
static int make_guarded(sc_device_t *dev, built *b, sc_buffer_t **buf, sc_tensor **whole, size_t *guard) {
    size_t nbytes = sc_tensor_nbytes(b->root);
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
    return sc_tensor_alloc(*buf, b->root, *guard);
}

/* Upload a leaf's test data. */
static int upload(const built *b, sc_tensor *t) {
    const bo_leaf *leaf = bo_env_leaf(&b->env, t);
    if (!leaf) return SC_ESTATE;
    return sc_tensor_set(t, leaf->data, 0, leaf->size);
}

int bo_leaves_to_device(sc_device_t *dev, const bo_built *b, const sc_tensor *skip, sc_buffer_t **buf,
                        const char **what) {
    *buf = NULL;
    sc_tensor **leaves = malloc(((size_t)b->g->n_leafs + 1) * sizeof *leaves);
    if (!leaves) {
        *what = "allocating the inputs";
        return SC_ENOMEM;
    }
    int n = 0, rc = SC_OK;
    for (int i = 0; i < b->g->n_leafs; i++)
        if (b->g->leafs[i] != skip) leaves[n++] = b->g->leafs[i];
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

static void run_device(const bo_case *c, sc_device_t *dev, built *b, const void *ref, size_t ref_size, bo_result *r,
                       tunables *tun) {
    sc_buffer_t *lbuf = NULL, *gbuf = NULL;
    sc_sched_t *sched = NULL;
    sc_tensor *whole = NULL;
    uint8_t *all = NULL;
    size_t guard = 0, nbytes = sc_tensor_nbytes(b->root);
    int rc;

    /* leaves other than the output's root: one buffer of the device */
    const char *what = NULL;
    if ((rc = bo_leaves_to_device(dev, b, b->root, &lbuf, &what)) != SC_OK) {
        set_fail(r, what, rc);
        goto done;
    }
    if ((rc = make_guarded(dev, b, &gbuf, &whole, &guard)) != SC_OK) {
        set_fail(r, "allocating the guarded output", rc);
        goto done;
    }
    if (b->root->op == SC_OP_NONE && (rc = upload(b, b->root)) != SC_OK) {
        set_fail(r, "uploading the output's initial contents", rc);
        goto done;
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

    size_t total = nbytes + 2 * guard;
    if (!(all = malloc(total))) {
        set_fail(r, "reading back", SC_ENOMEM);
        goto done;
    }
    if ((rc = sc_tensor_get(whole, all, 0, total)) != SC_OK) {
        set_fail(r, "reading back", rc);
        goto done;
    }
    long long first = 0;
    size_t bad = check_guards(all, guard, nbytes, &first);
    if (bad) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "out-of-bounds write: %zu guard bytes changed, first at byte %lld %s",
                 bad, first, first < 0 ? "(before the output)" : "(past the output's end)");
        goto done;
    }
    if (ref_size != nbytes) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "output is %zu bytes, the reference's %zu", nbytes, ref_size);
        goto done;
    }
    bo_compare(b->root->type, nbytes, ref, all + guard, c->max_err, r);
done:
    free(all);
    sc_sched_destroy(sched);
    sc_buffer_destroy(gbuf);
    sc_buffer_destroy(lbuf);
}

void bo_run_case(const bo_case *c, sc_device_t *dev, bo_result *r) {
    memset(r, 0, sizeof *r);
    built b;
    void *ref = NULL;
    size_t ref_size = 0;
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
    if ((rc = run_reference(c, &ref, &ref_size, msg, sizeof msg)) != SC_OK) {
        r->status = BO_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s", msg);
        goto done;
    }
    tunables tun = {0};
    run_device(c, dev, &b, ref, ref_size, r, bo_variants ? &tun : NULL);
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
                run_device(c, dev, &bv, ref, ref_size, &rv, NULL);
            else
                rv.status = BO_FAIL;
            /* back to the default (a forgotten key) */
            const int urc = sc_device_tune_set(dev, ti->key, NULL);
            if (rv.status == BO_PASS && urc != SC_OK) set_fail(&rv, "tune_set(NULL)", urc);
            built_free(&bv);
            r->n_variants++;
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
    free(ref);
    built_free(&b);
}
