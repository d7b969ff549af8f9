/*
 * core/src/sched.c - the scheduler: placement, cross-device copies, memory
 * planning and execution of one graph over several devices.
 *
 * Plan, in four passes over the nodes (which are already in execution order):
 *  1. place   each node on a device, asking only supports_op / offload_op,
 *             and record why (sc_sched_dump prints it);
 *  2. split   runs of consecutive nodes on one device into splits; a source
 *             that lives on another device gets a copy on the consumer's
 *             device, made at the start of the first split that needs it;
 *  3. plan    memory: every intermediate gets an offset in its device's arena
 *             from a best-fit free list driven by first-definition and
 *             last-use times, so dead intermediates' bytes are reused;
 *  4. bind    data pointers (arenas are grown only when a plan needs more).
 * Execution runs the splits in order, copying inputs in before each split.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tune.h"

#define SCHED_MAX_DEVS 16
#define REASON_LEN 160

typedef struct copy_rec {
    sc_tensor *src;     /* the tensor as produced on its home device */
    sc_tensor *dst;     /* the copy on `dev` (descriptor owned by the scheduler) */
    sc_device_t *dev;
    int split;          /* made before this split runs */
} copy_rec;

typedef struct split_rec {
    sc_device_t *dev;
    int first, n;       /* node indices [first, first+n) that are not views */
    int *nodes;         /* indices into the graph of the nodes it computes */
} split_rec;

/* One tensor in a device arena: lifetime in node-index time. */
typedef struct alloc_item {
    sc_tensor *t;
    int dev;            /* index into s->devs */
    int def, last;      /* allocated before `def`, free after `last` */
    size_t size, offset;
} alloc_item;

struct sc_sched {
    sc_device_t *devs[SCHED_MAX_DEVS];
    int n_devs;
    sc_buffer_t *arena[SCHED_MAX_DEVS];
    size_t arena_need[SCHED_MAX_DEVS];

    /* plan of the last graph */
    sc_graph_t *graph;
    sc_device_t **node_dev;  /* [n_nodes] */
    char (*reason)[REASON_LEN];
    copy_rec *copies;
    int n_copies, cap_copies;
    sc_tensor *copy_descs;   /* storage for copy descriptors */
    split_rec *splits;
    int n_splits;
    int *split_nodes;        /* backing store for split_rec.nodes */
    const sc_tensor **hkeys; /* node pointer -> index, open addressing */
    int *hvals;
    size_t hmask;
    bool planned;

    /* plan reuse: the last full plan's fingerprint (plan_fingerprint) and
     * where each node landed; a graph with the same fingerprint (the next
     * decode step) is only rebound, not planned again */
    uint64_t *fp, *fp_new;
    size_t fp_len, fp_cap, fp_new_cap;
    size_t *node_off;        /* [n_nodes] arena offset, SIZE_MAX: not in an arena */
    int *node_arena;         /* [n_nodes] device index of that arena */
    bool fp_valid;
    int n_reused;
};

int sc_sched_create(sc_device_t *const *devs, int n_devs, sc_sched_t **out) {
    if (!out) return SC_EINVAL;
    *out = NULL;
    if (!devs || n_devs <= 0 || n_devs > SCHED_MAX_DEVS) return SC_EINVAL;
    sc_sched_t *s = calloc(1, sizeof *s);
    if (!s) return SC_ENOMEM;
    for (int i = 0; i < n_devs; i++) {
        if (!devs[i]) {
            free(s);
            return SC_EINVAL;
        }
        s->devs[i] = devs[i];
    }
    s->n_devs = n_devs;
    *out = s;
    return SC_OK;
}

static void plan_free(sc_sched_t *s) {
    free(s->node_dev);
    free(s->reason);
    free(s->copies);
    free(s->copy_descs);
    free(s->splits);
    free(s->split_nodes);
    free(s->hkeys);
    free(s->hvals);
    s->hkeys = NULL;
    s->hvals = NULL;
    s->node_dev = NULL;
    s->reason = NULL;
    s->copies = NULL;
    s->copy_descs = NULL;
    s->splits = NULL;
    s->split_nodes = NULL;
    s->n_copies = s->cap_copies = s->n_splits = 0;
    s->graph = NULL;
    s->planned = false;
}

static void reuse_free(sc_sched_t *s) {
    free(s->fp);
    free(s->fp_new);
    free(s->node_off);
    free(s->node_arena);
    s->fp = s->fp_new = NULL;
    s->node_off = NULL;
    s->node_arena = NULL;
    s->fp_len = s->fp_cap = s->fp_new_cap = 0;
    s->fp_valid = false;
}

void sc_sched_destroy(sc_sched_t *s) {
    if (!s) return;
    plan_free(s);
    reuse_free(s);
    for (int i = 0; i < s->n_devs; i++) sc_buffer_destroy(s->arena[i]);
    free(s);
}

static int dev_index(const sc_sched_t *s, const sc_device_t *d) {
    for (int i = 0; i < s->n_devs; i++)
        if (s->devs[i] == d) return i;
    return -1;
}

static bool is_our_arena(const sc_sched_t *s, const sc_buffer_t *b) {
    for (int i = 0; i < s->n_devs; i++)
        if (b && s->arena[i] == b) return true;
    return false;
}

static size_t ptr_hash(const void *p, size_t mask) {
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & mask;
}

/* Nodes carry no back-pointer (extra belongs to backends), so the plan keeps
 * a pointer -> node index table. */
static int build_index(sc_sched_t *s) {
    size_t cap = 16;
    while (cap < (size_t)s->graph->n_nodes * 2) cap <<= 1;
    s->hkeys = calloc(cap, sizeof *s->hkeys);
    s->hvals = calloc(cap, sizeof *s->hvals);
    if (!s->hkeys || !s->hvals) return SC_ENOMEM;
    s->hmask = cap - 1;
    for (int i = 0; i < s->graph->n_nodes; i++) {
        size_t h = ptr_hash(s->graph->nodes[i], s->hmask);
        while (s->hkeys[h]) h = (h + 1) & s->hmask;
        s->hkeys[h] = s->graph->nodes[i];
        s->hvals[h] = i;
    }
    return SC_OK;
}

static int node_index_s(const sc_sched_t *s, const sc_tensor *t) {
    if (!s->hkeys || !t) return -1;
    for (size_t h = ptr_hash(t, s->hmask); s->hkeys[h]; h = (h + 1) & s->hmask)
        if (s->hkeys[h] == t) return s->hvals[h];
    return -1;
}

/* Memory "root" of a tensor: the tensor whose bytes it reads. */
static sc_tensor *mem_root(sc_tensor *t) { return t->view_src ? t->view_src : t; }

/* True when the tensor already has memory the user gave it (not ours). */
static bool user_allocated(const sc_sched_t *s, const sc_tensor *t) {
    return t->buffer != NULL && !is_our_arena(s, t->buffer);
}

/* Device on which tensor t's bytes live (after placement). */
static sc_device_t *home_of(const sc_sched_t *s, sc_tensor *t, int *err) {
    sc_tensor *r = mem_root(t);
    if (user_allocated(s, r)) return sc_buffer_device(r->buffer);
    if (r->op == SC_OP_NONE) {
        *err = SC_ESTATE;
        sc_log(SC_LOG_ERROR, "sched", "leaf '%s' has no memory: allocate it before compute", r->name);
        return NULL;
    }
    int i = node_index_s(s, r);
    if (i < 0) {
        *err = SC_ESTATE;
        sc_log(SC_LOG_ERROR, "sched", "'%s' is not in the graph", r->name);
        return NULL;
    }
    return s->node_dev[i];
}

static void set_reason(sc_sched_t *s, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_reason(sc_sched_t *s, int i, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason[i], REASON_LEN, fmt, ap);
    va_end(ap);
}

/* ---- pass 1: placement ------------------------------------------------- */
static int place_node(sc_sched_t *s, int i) {
    sc_tensor *n = s->graph->nodes[i];
    int err = SC_OK;

    /* Views and in-place ops live where their memory lives. */
    if (n->view_src) {
        sc_device_t *home = home_of(s, n->view_src, &err);
        if (!home) return err;
        if (n->op == SC_OP_VIEW) {
            s->node_dev[i] = home;
            set_reason(s, i, "view of '%s'", n->view_src->name);
            return SC_OK;
        }
        if (!sc_device_supports_op(home, n)) {
            sc_log(SC_LOG_ERROR, "sched", "%s '%s' writes in place into memory on %s, which does not support it",
                   sc_op_name(n->op), n->name, sc_device_name(home));
            return SC_ENOTSUP;
        }
        s->node_dev[i] = home;
        set_reason(s, i, "in place on '%s' in %s memory", n->view_src->name, sc_device_name(home));
        return SC_OK;
    }

    /* Memory the caller placed (e.g. an output buffer) decides. */
    if (user_allocated(s, n)) {
        sc_device_t *d = sc_buffer_device(n->buffer);
        if (!sc_device_supports_op(d, n)) {
            sc_log(SC_LOG_ERROR, "sched", "'%s' was allocated on %s, which does not support %s", n->name,
                   sc_device_name(d), sc_op_name(n->op));
            return SC_ENOTSUP;
        }
        s->node_dev[i] = d;
        set_reason(s, i, "output preallocated on %s", sc_device_name(d));
        return SC_OK;
    }

    /* The recurrent ops update their state operand in place: they run where
     * the state lives, whatever else asks (a copy elsewhere would lose the
     * update). */
    const int state_src = n->op == SC_OP_SSM_CONV ? 2 : n->op == SC_OP_GATED_DELTA_NET ? 3 : -1;
    if (state_src >= 0 && n->src[state_src] && user_allocated(s, mem_root(n->src[state_src]))) {
        sc_tensor *st = mem_root(n->src[state_src]);
        sc_device_t *d = sc_buffer_device(st->buffer);
        if (!sc_device_supports_op(d, n)) {
            sc_log(SC_LOG_ERROR, "sched", "%s '%s' updates state '%s' in place on %s, which does not support it",
                   sc_op_name(n->op), n->name, st->name, sc_device_name(d));
            return SC_ENOTSUP;
        }
        s->node_dev[i] = d;
        set_reason(s, i, "updates state '%s' in %s memory", st->name, sc_device_name(d));
        return SC_OK;
    }

    /* Weight affinity: run where the weights are, unless a higher-priority
     * device asks to have the op offloaded (large batches, ggml's rule). */
    for (int k = 0; k < SC_MAX_SRC; k++) {
        sc_tensor *w = n->src[k];
        if (!w || !(mem_root(w)->flags & SC_TENSOR_WEIGHT) || !user_allocated(s, mem_root(w))) continue;
        sc_device_t *wd = sc_buffer_device(mem_root(w)->buffer);
        int wi = dev_index(s, wd);
        for (int j = 0; j < (wi < 0 ? s->n_devs : wi); j++) {
            if (sc_device_supports_op(s->devs[j], n) && sc_device_offload_op(s->devs[j], n)) {
                s->node_dev[i] = s->devs[j];
                set_reason(s, i, "offloaded from %s by %s (offload_op)", sc_device_name(wd),
                           sc_device_name(s->devs[j]));
                return SC_OK;
            }
        }
        if (wi >= 0 && sc_device_supports_op(wd, n)) {
            s->node_dev[i] = wd;
            set_reason(s, i, "weights '%s' live on %s", mem_root(w)->name, sc_device_name(wd));
            return SC_OK;
        }
        break; /* the weights' device cannot run it: fall back to priority order */
    }

    /* Priority order: the first device that supports the op. */
    char refused[REASON_LEN] = "";
    size_t len = 0;
    for (int j = 0; j < s->n_devs; j++) {
        if (sc_device_supports_op(s->devs[j], n)) {
            s->node_dev[i] = s->devs[j];
            if (len)
                set_reason(s, i, "%sunsupported; %s supports it", refused, sc_device_name(s->devs[j]));
            else
                set_reason(s, i, "first supporting device in priority order (%s)", sc_device_name(s->devs[j]));
            return SC_OK;
        }
        int w = snprintf(refused + len, sizeof refused - len, "%s%s", len ? ", " : "", sc_device_name(s->devs[j]));
        if (w > 0) len = SC_MIN(sizeof refused - 1, len + (size_t)w);
        if (len < sizeof refused - 2) { refused[len++] = ' '; refused[len] = '\0'; }
    }
    sc_log(SC_LOG_ERROR, "sched", "no device supports %s '%s' (%s, [%lld, %lld, %lld, %lld]); tried: %s",
           sc_op_name(n->op), n->name, sc_type_name(n->type), (long long)n->ne[0], (long long)n->ne[1],
           (long long)n->ne[2], (long long)n->ne[3], refused);
    return SC_ENOTSUP;
}

/* ---- pass 2: splits and copies ----------------------------------------- */
static copy_rec *find_copy(sc_sched_t *s, const sc_tensor *src, const sc_device_t *dev) {
    for (int i = 0; i < s->n_copies; i++)
        if (s->copies[i].src == src && s->copies[i].dev == dev) return &s->copies[i];
    return NULL;
}

static int add_copy(sc_sched_t *s, sc_tensor *src, sc_device_t *dev, int split) {
    if (find_copy(s, src, dev)) return SC_OK;
    if (s->n_copies == s->cap_copies) return SC_ENOMEM; /* sized up front: a bug if hit */
    copy_rec *c = &s->copies[s->n_copies];
    sc_tensor *d = &s->copy_descs[s->n_copies];
    s->n_copies++;
    /* Same shape and strides: the copy is a byte image of the source's span. */
    memset(d, 0, sizeof *d);
    d->type = src->type;
    memcpy(d->ne, src->ne, sizeof d->ne);
    memcpy(d->nb, src->nb, sizeof d->nb);
    d->quant = src->quant;
    d->op = SC_OP_NONE;
    snprintf(d->name, sizeof d->name, "%.40s@%.16s", src->name, sc_device_name(dev));
    c->src = src;
    c->dst = d;
    c->dev = dev;
    c->split = split;
    return SC_OK;
}

static int build_splits(sc_sched_t *s) {
    sc_graph_t *g = s->graph;
    s->splits = calloc((size_t)g->n_nodes + 1, sizeof *s->splits);
    s->split_nodes = calloc((size_t)g->n_nodes + 1, sizeof(int));
    s->cap_copies = g->n_nodes * SC_MAX_SRC + 1;
    s->copies = calloc((size_t)s->cap_copies, sizeof *s->copies);
    s->copy_descs = calloc((size_t)s->cap_copies, sizeof *s->copy_descs);
    if (!s->splits || !s->split_nodes || !s->copies || !s->copy_descs) return SC_ENOMEM;

    int n_work = 0;
    split_rec *cur = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (n->op == SC_OP_VIEW) continue; /* views carry no work */
        sc_device_t *d = s->node_dev[i];
        if (!cur || cur->dev != d) {
            cur = &s->splits[s->n_splits++];
            cur->dev = d;
            cur->first = i;
            cur->nodes = &s->split_nodes[n_work];
            cur->n = 0;
        }
        cur->nodes[cur->n++] = i;
        n_work++;
        for (int k = 0; k < SC_MAX_SRC; k++) {
            if (!n->src[k]) continue;
            /* an in-place node's src[0] is its own memory: never copied */
            if (k == 0 && n->view_src) continue;
            int err = SC_OK;
            sc_device_t *home = home_of(s, n->src[k], &err);
            if (!home) return err;
            if (home != d) {
                int rc = add_copy(s, n->src[k], d, (int)(cur - s->splits));
                if (rc != SC_OK) return rc;
            }
        }
    }
    return SC_OK;
}

/* ---- pass 3: memory planning ------------------------------------------- */
typedef struct free_block { size_t off, size; } free_block;

typedef struct arena_plan {
    free_block *blocks;
    int n, cap;
    size_t top; /* high-water mark */
} arena_plan;

static size_t arena_take(arena_plan *a, size_t size) {
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->blocks[i].size >= size && (best < 0 || a->blocks[i].size < a->blocks[best].size)) best = i;
    if (best >= 0) {
        size_t off = a->blocks[best].off;
        a->blocks[best].off += size;
        a->blocks[best].size -= size;
        if (a->blocks[best].size == 0) a->blocks[best] = a->blocks[--a->n];
        return off;
    }
    /* grow the top; a free block touching the top is merged into the new range */
    for (int i = 0; i < a->n; i++) {
        if (a->blocks[i].off + a->blocks[i].size == a->top) {
            size_t off = a->blocks[i].off;
            a->top = off + size;
            a->blocks[i] = a->blocks[--a->n];
            return off;
        }
    }
    size_t off = a->top;
    a->top += size;
    return off;
}

static int arena_give(arena_plan *a, size_t off, size_t size) {
    /* merge with neighbours so fragmentation stays bounded */
    for (int i = 0; i < a->n; i++) {
        if (a->blocks[i].off + a->blocks[i].size == off) {
            a->blocks[i].size += size;
            for (int j = 0; j < a->n; j++) {
                if (j != i && a->blocks[j].off == a->blocks[i].off + a->blocks[i].size) {
                    a->blocks[i].size += a->blocks[j].size;
                    a->blocks[j] = a->blocks[--a->n];
                    break;
                }
            }
            return SC_OK;
        }
        if (off + size == a->blocks[i].off) {
            a->blocks[i].off = off;
            a->blocks[i].size += size;
            return SC_OK;
        }
    }
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 64;
        free_block *nb = realloc(a->blocks, (size_t)nc * sizeof *nb);
        if (!nb) return SC_ENOMEM;
        a->blocks = nb;
        a->cap = nc;
    }
    a->blocks[a->n++] = (free_block){off, size};
    return SC_OK;
}

static size_t dev_alignment(const sc_device_t *d) {
    sc_buffer_type_props p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    if (d->be->buffer_type_props(d->dev, 0, &p) != SC_OK || p.alignment == 0) return 64;
    return p.alignment;
}

static int plan_memory(sc_sched_t *s) {
    sc_graph_t *g = s->graph;
    int n_items_max = g->n_nodes + s->n_copies;
    alloc_item *items = calloc((size_t)n_items_max + 1, sizeof *items);
    int *last_use = malloc(((size_t)g->n_nodes + 1) * sizeof(int));
    int *by_def = NULL, *by_last = NULL, *def_start = NULL, *last_start = NULL;
    arena_plan plans[SCHED_MAX_DEVS];
    memset(plans, 0, sizeof plans);
    int rc = SC_OK, n_items = 0;
    if (!items || !last_use) { rc = SC_ENOMEM; goto done; }

    /* Last use of every node's memory, in node-index time. Views extend
     * their root's life; a copy reads its source at its split's start. */
    for (int i = 0; i < g->n_nodes; i++) last_use[i] = i;
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        for (int k = 0; k < SC_MAX_SRC; k++) {
            if (!n->src[k]) continue;
            int r = node_index_s(s, mem_root(n->src[k]));
            if (r >= 0) last_use[r] = SC_MAX(last_use[r], i);
        }
        if (n->view_src) {
            int r = node_index_s(s, n->view_src);
            if (r >= 0) last_use[r] = SC_MAX(last_use[r], i);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        /* views propagate: a root lives as long as its longest-lived view */
        sc_tensor *n = g->nodes[i];
        if (n->view_src) {
            int r = node_index_s(s, n->view_src);
            if (r >= 0) last_use[r] = SC_MAX(last_use[r], last_use[i]);
        }
        if (n->flags & SC_TENSOR_OUTPUT) last_use[i] = g->n_nodes;
    }
    for (int c = 0; c < s->n_copies; c++) {
        int r = node_index_s(s, mem_root(s->copies[c].src));
        int start = s->splits[s->copies[c].split].first;
        if (r >= 0) last_use[r] = SC_MAX(last_use[r], start);
    }

    /* Items: intermediates we own, and copies. */
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (n->view_src || user_allocated(s, n)) continue;
        int d = dev_index(s, s->node_dev[i]);
        /* freed SC_SCHED_REUSE_DELAY nodes after the last read (plugin.h: backends fuse short chains) */
        int last = last_use[i] >= g->n_nodes - SC_SCHED_REUSE_DELAY ? g->n_nodes : last_use[i] + SC_SCHED_REUSE_DELAY;
        items[n_items++] = (alloc_item){n, d, i, last, sc_tensor_nbytes(n), 0};
    }
    for (int c = 0; c < s->n_copies; c++) {
        copy_rec *cp = &s->copies[c];
        int start = s->splits[cp->split].first, last = start;
        for (int i = start; i < g->n_nodes; i++) {
            if (s->node_dev[i] != cp->dev) continue;
            for (int k = 0; k < SC_MAX_SRC; k++)
                if (g->nodes[i]->src[k] == cp->src) last = i;
        }
        items[n_items++] = (alloc_item){cp->dst, dev_index(s, cp->dev), start, last, sc_tensor_nbytes(cp->dst), 0};
    }

    /* Sweep time: at step t allocate what is defined at t (copies first:
     * they are made before their split's first node runs), then free what
     * dies at t. Items are bucketed by def and by last so the sweep is linear. */
    size_t align[SCHED_MAX_DEVS];
    for (int d = 0; d < s->n_devs; d++) align[d] = dev_alignment(s->devs[d]);
    int T = g->n_nodes + 1;
    by_def = calloc((size_t)n_items + 1, sizeof(int));
    by_last = calloc((size_t)n_items + 1, sizeof(int));
    def_start = calloc((size_t)T + 1, sizeof(int));
    last_start = calloc((size_t)T + 1, sizeof(int));
    if (!by_def || !by_last || !def_start || !last_start) { rc = SC_ENOMEM; goto done; }
    for (int it = 0; it < n_items; it++) {
        def_start[items[it].def + 1]++;
        last_start[items[it].last + 1]++;
    }
    for (int t = 0; t < T; t++) {
        def_start[t + 1] += def_start[t];
        last_start[t + 1] += last_start[t];
    }
    {
        int *dfill = calloc((size_t)T, sizeof(int)), *lfill = calloc((size_t)T, sizeof(int));
        if (!dfill || !lfill) { free(dfill); free(lfill); rc = SC_ENOMEM; goto done; }
        /* copies go first within a time step: insert them in a first pass */
        for (int pass = 0; pass < 2; pass++)
            for (int it = 0; it < n_items; it++)
                if ((items[it].t->op == SC_OP_NONE) == (pass == 0))
                    by_def[def_start[items[it].def] + dfill[items[it].def]++] = it;
        for (int it = 0; it < n_items; it++) by_last[last_start[items[it].last] + lfill[items[it].last]++] = it;
        free(dfill);
        free(lfill);
    }
    for (int t = 0; t < T && rc == SC_OK; t++) {
        for (int j = def_start[t]; j < def_start[t + 1]; j++) {
            alloc_item *a = &items[by_def[j]];
            a->size = SC_ALIGN_UP(SC_MAX(a->size, (size_t)1), align[a->dev]);
            a->offset = arena_take(&plans[a->dev], a->size);
        }
        for (int j = last_start[t]; j < last_start[t + 1] && rc == SC_OK; j++) {
            alloc_item *a = &items[by_last[j]];
            rc = arena_give(&plans[a->dev], a->offset, a->size);
        }
    }
    if (rc != SC_OK) goto done;

    /* Grow arenas that are too small; keep those that fit. */
    for (int d = 0; d < s->n_devs; d++) {
        s->arena_need[d] = plans[d].top;
        if (plans[d].top == 0) continue;
        if (s->arena[d] && sc_buffer_size(s->arena[d]) >= plans[d].top) continue;
        sc_buffer_destroy(s->arena[d]);
        s->arena[d] = NULL;
        rc = sc_buffer_create(s->devs[d], plans[d].top, &s->arena[d]);
        if (rc != SC_OK) {
            sc_log(SC_LOG_ERROR, "sched", "cannot allocate %zu bytes of intermediates on %s: %s", plans[d].top,
                   sc_device_name(s->devs[d]), sc_strerror(rc));
            goto done;
        }
    }

    /* ---- pass 4: bind ---- */
    for (int it = 0; it < n_items; it++) {
        rc = sc_tensor_alloc(s->arena[items[it].dev], items[it].t, items[it].offset);
        if (rc != SC_OK) goto done;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (!n->view_src) continue;
        n->buffer = n->view_src->buffer;
        n->data = (char *)n->view_src->data + n->view_offs;
    }
done:
    for (int d = 0; d < s->n_devs; d++) free(plans[d].blocks);
    free(items);
    free(by_def);
    free(by_last);
    free(def_start);
    free(last_start);
    free(last_use);
    return rc;
}

/* ---- plan reuse ----------------------------------------------------------
 * Everything a plan depends on, per node: the node (its address: a graph
 * rebuilt in the same context after sc_ctx_reset reuses the same tensor
 * slots), op, type, shape, strides, params, flags, its view source and
 * offset, memory a caller gave it, and each source by address plus, for a
 * leaf, where its memory is. Placement asks backends about exactly these,
 * splits and copies follow from placement, memory from sizes and the node
 * order. With the same node and source addresses the pointer -> index table
 * of the last plan still holds. Written to s->fp_new; false when out of
 * memory. */
static bool plan_fingerprint(sc_sched_t *s, const sc_graph_t *g, size_t *len) {
    const size_t per = 4 + 2 * SC_MAX_DIMS + SC_MAX_OP_PARAMS / 2 + 4 + 3 * SC_MAX_SRC;
    const size_t need = 1 + (size_t)g->n_nodes * per;
    if (need > s->fp_new_cap) {
        uint64_t *n = malloc(need * sizeof *n);
        if (!n) return false;
        free(s->fp_new);
        s->fp_new = n;
        s->fp_new_cap = need;
    }
    uint64_t *w = s->fp_new;
    *w++ = (uint64_t)g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++) {
        const sc_tensor *n = g->nodes[i];
        *w++ = (uint64_t)(uintptr_t)n;
        *w++ = (uint64_t)(uint32_t)n->type | (uint64_t)(uint32_t)n->op << 32;
        *w++ = n->flags;
        for (int d = 0; d < SC_MAX_DIMS; d++) *w++ = (uint64_t)n->ne[d];
        for (int d = 0; d < SC_MAX_DIMS; d++) *w++ = (uint64_t)n->nb[d];
        for (int k = 0; k < SC_MAX_OP_PARAMS; k += 2)
            *w++ = (uint64_t)(uint32_t)n->op_params[k] | (uint64_t)(uint32_t)n->op_params[k + 1] << 32;
        /* memory the caller gave this node (not an arena of ours) */
        const bool own = n->buffer && !is_our_arena(s, n->buffer) && !n->view_src;
        *w++ = own ? (uint64_t)(uintptr_t)n->buffer : 0;
        *w++ = own ? (uint64_t)(uintptr_t)n->data : 0;
        *w++ = (uint64_t)(uintptr_t)n->view_src;
        *w++ = n->view_offs;
        for (int k = 0; k < SC_MAX_SRC; k++) {
            const sc_tensor *src = n->src[k];
            const bool leaf = src && src->op == SC_OP_NONE;
            *w++ = (uint64_t)(uintptr_t)src;
            *w++ = leaf ? (uint64_t)(uintptr_t)src->buffer : 0; /* a leaf: where its memory is */
            *w++ = leaf ? (uint64_t)(uintptr_t)src->data : 0;
        }
    }
    *len = (size_t)(w - s->fp_new);
    return true;
}

/* After a full plan: remember its fingerprint and where every node landed. */
static void plan_remember(sc_sched_t *s, size_t fp_len) {
    const sc_graph_t *g = s->graph;
    size_t *off = malloc(((size_t)g->n_nodes + 1) * sizeof *off);
    int *ar = malloc(((size_t)g->n_nodes + 1) * sizeof *ar);
    if (!off || !ar) {
        free(off);
        free(ar);
        s->fp_valid = false;
        return;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const sc_tensor *n = g->nodes[i];
        off[i] = SIZE_MAX;
        ar[i] = -1;
        for (int d = 0; d < s->n_devs && !n->view_src; d++)
            if (n->buffer && n->buffer == s->arena[d]) {
                off[i] = (size_t)((const char *)n->data - (const char *)s->arena[d]->base);
                ar[i] = d;
            }
    }
    free(s->node_off);
    free(s->node_arena);
    s->node_off = off;
    s->node_arena = ar;
    uint64_t *t = s->fp;
    size_t tc = s->fp_cap;
    s->fp = s->fp_new;
    s->fp_cap = s->fp_new_cap;
    s->fp_new = t;
    s->fp_new_cap = tc;
    s->fp_len = fp_len;
    s->fp_valid = true;
}

/* The plan of the last graph applied to g, which has its fingerprint. */
static int plan_rebind(sc_sched_t *s, sc_graph_t *g) {
    s->graph = g;
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (s->node_arena[i] < 0) continue;
        int rc = sc_tensor_alloc(s->arena[s->node_arena[i]], n, s->node_off[i]);
        if (rc != SC_OK) return rc;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (!n->view_src) continue;
        n->buffer = n->view_src->buffer;
        n->data = (char *)n->view_src->data + n->view_offs;
    }
    s->planned = true;
    return SC_OK;
}

int sc_sched_plan(sc_sched_t *s, sc_graph_t *g) {
    if (!s || !g) return SC_EINVAL;
    /* The same graph as last time (the next decode step): rebind and go.
     * Only plans without cross-device copies are reused (copies hold
     * descriptors of the old graph's tensors). */
    if (s->fp_valid && s->planned && s->n_copies == 0 && s->graph && s->graph->n_nodes == g->n_nodes) {
        for (int i = 0; i < g->n_nodes; i++) {
            sc_tensor *n = g->nodes[i];
            if (is_our_arena(s, n->buffer) || (n->view_src && !n->view_src->buffer)) {
                n->buffer = NULL;
                n->data = NULL;
            }
        }
        s->graph = g; /* same node addresses: the pointer -> index table still holds */
        size_t len = 0;
        if (plan_fingerprint(s, g, &len) && len == s->fp_len && memcmp(s->fp_new, s->fp, len * sizeof(uint64_t)) == 0) {
            s->n_reused++;
            return plan_rebind(s, g);
        }
    }
    plan_free(s);
    s->graph = g;
    s->node_dev = calloc((size_t)g->n_nodes + 1, sizeof *s->node_dev);
    s->reason = calloc((size_t)g->n_nodes + 1, sizeof *s->reason);
    if (!s->node_dev || !s->reason) {
        plan_free(s);
        return SC_ENOMEM;
    }
    /* Forget memory a previous plan bound, so it is planned afresh. */
    for (int i = 0; i < g->n_nodes; i++) {
        sc_tensor *n = g->nodes[i];
        if (is_our_arena(s, n->buffer) || (n->view_src && !n->view_src->buffer)) {
            n->buffer = NULL;
            n->data = NULL;
        }
    }
    int rc = build_index(s);
    size_t fp_len = 0;
    /* fingerprinted before placement binds memory (a new graph's nodes have none) */
    const bool fp_ok = rc == SC_OK && plan_fingerprint(s, g, &fp_len);
    s->fp_valid = false;
    for (int i = 0; i < g->n_nodes && rc == SC_OK; i++) rc = place_node(s, i);
    if (rc == SC_OK) rc = build_splits(s);
    if (rc == SC_OK) rc = plan_memory(s);
    if (rc != SC_OK) {
        plan_free(s);
        return rc;
    }
    s->planned = true;
    if (fp_ok) plan_remember(s, fp_len);
    return SC_OK;
}

/* ---- execution --------------------------------------------------------- */
static size_t tensor_offset(const sc_tensor *t) {
    return (size_t)((const char *)t->data - (const char *)t->buffer->base);
}

static int sync_device(sc_device_t *d) {
    void *stream = NULL;
    int rc = sc__device_stream(d, &stream);
    if (rc != SC_OK) return rc;
    if (SC_BE_HAS(d->be, stream_sync)) return d->be->stream_sync(stream);
    return SC_OK;
}

static int do_copy(const copy_rec *c) {
    const sc_tensor *src = c->src;
    size_t size = sc_tensor_nbytes(src);
    int rc = sync_device(sc_buffer_device(src->buffer));
    if (rc != SC_OK) return rc;
    void *host = sc_buffer_host_ptr(src->buffer);
    if (host) return sc_tensor_set(c->dst, (char *)host + tensor_offset(src), 0, size);
    void *tmp = malloc(size);
    if (!tmp) return SC_ENOMEM;
    sc_device_t *sd = sc_buffer_device(src->buffer);
    rc = sd->be->buffer_read(sd->dev, src->buffer->handle, tensor_offset(src), tmp, size);
    if (rc == SC_OK) rc = sc_tensor_set(c->dst, tmp, 0, size);
    free(tmp);
    return rc;
}

int sc_sched_compute(sc_sched_t *s, sc_graph_t *g) {
    if (!s || !g) return SC_EINVAL;
    const double t0 = sc__now_us();
    int rc = sc_sched_plan(s, g);
    if (rc != SC_OK) return rc;
    if (sc_log_get_level() >= SC_LOG_DEBUG)
        sc_log(SC_LOG_DEBUG, "sched", "plan: %d nodes, %d splits, %d copies in %.0f us", g->n_nodes, s->n_splits,
               s->n_copies, sc__now_us() - t0);

    sc_tensor **batch = malloc(((size_t)g->n_nodes + 1) * sizeof *batch);
    if (!batch) return SC_ENOMEM;
    for (int sp = 0; sp < s->n_splits && rc == SC_OK; sp++) {
        split_rec *split = &s->splits[sp];
        for (int c = 0; c < s->n_copies && rc == SC_OK; c++)
            if (s->copies[c].split == sp) rc = do_copy(&s->copies[c]);
        if (rc != SC_OK) break;

        /* Point sources at their local copies for the length of the split. */
        for (int j = 0; j < split->n; j++) {
            sc_tensor *n = g->nodes[split->nodes[j]];
            batch[j] = n;
            for (int k = 0; k < SC_MAX_SRC; k++) {
                if (!n->src[k] || (k == 0 && n->view_src)) continue;
                copy_rec *cp = find_copy(s, n->src[k], split->dev);
                if (cp) n->src[k] = cp->dst;
            }
        }
        void *stream = NULL;
        rc = sc__device_stream(split->dev, &stream);
        if (rc == SC_OK && sc__tune_active(split->dev)) rc = sc__tune_compute(split->dev, stream, batch, split->n);
        else if (rc == SC_OK) rc = split->dev->be->graph_compute(stream, batch, split->n);
        if (rc != SC_OK)
            sc_log(SC_LOG_ERROR, "sched", "%s failed on split %d (%d nodes from '%s'): %s",
                   sc_device_name(split->dev), sp, split->n, g->nodes[split->first]->name, sc_strerror(rc));
        for (int j = 0; j < split->n; j++) {
            sc_tensor *n = g->nodes[split->nodes[j]];
            for (int k = 0; k < SC_MAX_SRC; k++)
                for (int c = 0; c < s->n_copies; c++)
                    if (n->src[k] && n->src[k] == s->copies[c].dst) n->src[k] = s->copies[c].src;
        }
    }
    free(batch);
    for (int d = 0; d < s->n_devs && rc == SC_OK; d++) rc = sync_device(s->devs[d]);
    return rc;
}

/* ---- introspection ----------------------------------------------------- */
static int find_node(const sc_sched_t *s, const sc_tensor *node) {
    if (!s || !s->planned || !node) return -1;
    return node_index_s(s, node);
}

sc_device_t *sc_sched_node_device(const sc_sched_t *s, const sc_tensor *node) {
    int i = find_node(s, node);
    return i < 0 ? NULL : s->node_dev[i];
}

const char *sc_sched_node_reason(const sc_sched_t *s, const sc_tensor *node) {
    int i = find_node(s, node);
    return i < 0 ? NULL : s->reason[i];
}

int sc_sched_n_copies(const sc_sched_t *s) { return s ? s->n_copies : 0; }

int sc_sched_n_reused(const sc_sched_t *s) { return s ? s->n_reused : 0; }

size_t sc_sched_arena_size(const sc_sched_t *s, const sc_device_t *dev) {
    if (!s) return 0;
    int d = dev_index(s, dev);
    return d < 0 ? 0 : s->arena_need[d];
}

void sc_sched_dump(const sc_sched_t *s, FILE *f) {
    if (!s || !f) return;
    if (!s->planned) {
        fprintf(f, "sched: no plan\n");
        return;
    }
    const sc_graph_t *g = s->graph;
    fprintf(f, "sched: %d nodes, %d splits, %d copies\n", g->n_nodes, s->n_splits, s->n_copies);
    for (int i = 0; i < g->n_nodes; i++) {
        const sc_tensor *n = g->nodes[i];
        fprintf(f, "  %4d %-10s %-24.24s -> %-10s %s\n", i, sc_op_name(n->op), n->name[0] ? n->name : "-",
                sc_device_name(s->node_dev[i]), s->reason[i]);
    }
    for (int c = 0; c < s->n_copies; c++)
        fprintf(f, "  copy '%s' (%zu bytes) -> %s before split %d\n", s->copies[c].src->name,
                sc_tensor_nbytes(s->copies[c].src), sc_device_name(s->copies[c].dev), s->copies[c].split);
    for (int d = 0; d < s->n_devs; d++)
        if (s->arena_need[d])
            fprintf(f, "  arena %s: %zu bytes\n", sc_device_name(s->devs[d]), s->arena_need[d]);
}
