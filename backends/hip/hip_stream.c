/*
 * backends/hip/hip_stream.c - streams: launches, scratch, eager and graph mode.
 *
 * Eager (the default, what vLLM's --enforce-eager gives): every node's
 * kernels go to the stream as the families enqueue them; graph_compute waits
 * for the stream at the end.
 *
 * Graph mode (STRIXCORE_HIP_GRAPHS=1; hipGraph / CUDA graphs): the families'
 * launches are recorded into a list first. A list equal to the previous
 * call's (same kernels, grids and argument bytes: a decode step whose
 * tensors sit where they sat last time) is captured once into a graph and
 * from then on replayed with one launch; any other list runs eagerly and
 * becomes the one to compare against. Kernels read positions, ids and
 * lengths from device memory, not from their arguments, so consecutive
 * decode steps of one batch shape record the same list. The emulator's
 * "graph" is the captured list itself, replayed launch by launch: it runs
 * this same logic in CI.
 * Tuning: a list is only compared with one recorded under the same
 * generation of the device's table of kernel choices (hip_tune.c): after a
 * tune_set the previous list and its graph are dropped, so a graph recorded
 * under one choice is never replayed under another, even where the two
 * choices happen to record the same launches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_device.h"

enum { ITEM_LAUNCH = 1, ITEM_FILL = 2 };

typedef struct hip_item {
    int kind;
    void *fn;
    const char *name;          /* for messages */
    unsigned grid[3], block[3];
    size_t args_off, args_size;
    void *dst;                 /* fill */
    size_t size;
    uint8_t value;
} hip_item;

typedef struct hip_list {
    hip_item *items;
    int n, cap;
    unsigned char *args;
    size_t args_len, args_cap;
} hip_list;

struct hip_stream {
    hip_dev *d;
    void *st;
    bool graphs;               /* record, compare, capture */
    hip_list rec;              /* this call's launches (graph mode) */
    hip_list prev;             /* the previous call's */
    void *exec;                /* prev captured, when it was seen twice */
    uint64_t prev_gen;         /* the tuning table's generation prev was recorded under */
    void *scratch;
    size_t scratch_size;
    void **retired;            /* scratch regions replaced during this call: freed after the sync */
    int n_retired, cap_retired;
    const sc_tensor *node;     /* the node being enqueued, for messages */
    unsigned *err;             /* device u32: kernels' range errors (hip_err_word) */
    uint64_t replays, captures; /* statistics for the log */
};

hip_dev *hip_stream_dev(hip_stream *s) { return s->d; }
unsigned *hip_err_word(hip_stream *s) { return s->err; }

static bool env_on(const char *name) {
    const char *e = getenv(name);
    return e && *e && strcmp(e, "0") != 0;
}

int hip_stream_create(hip_dev *d, hip_stream **out) {
    char why[HIP_RT_WHY] = "";
    hip_stream *s = hip_host->calloc(1, sizeof(*s));
    if (!s) return SC_ENOMEM;
    s->d = d;
    int rc = d->rt->stream_create(d->rt, &s->st, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s", d->name, why);
        hip_host->free(s);
        return rc;
    }
    rc = d->rt->mem_alloc(d->rt, 256, (void **)&s->err, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s", d->name, why);
        d->rt->stream_destroy(d->rt, s->st);
        hip_host->free(s);
        return rc;
    }
    s->graphs = env_on("STRIXCORE_HIP_GRAPHS") && d->rt->capture_begin != NULL;
    if (env_on("STRIXCORE_HIP_GRAPHS") && !s->graphs)
        HIP_LOG(SC_LOG_INFO, "%s: the %s runtime has no graphs: running eagerly", d->name,
                hip_platform_name(d->caps.platform));
    *out = s;
    return SC_OK;
}

static void list_free(hip_list *l) {
    hip_host->free(l->items);
    hip_host->free(l->args);
    memset(l, 0, sizeof(*l));
}

static void free_retired(hip_stream *s) {
    for (int i = 0; i < s->n_retired; i++) s->d->rt->mem_free(s->d->rt, s->retired[i]);
    s->n_retired = 0;
}

void hip_stream_destroy(hip_stream *s) {
    if (!s) return;
    s->d->rt->stream_sync(s->d->rt, s->st, NULL);
    if (s->exec) s->d->rt->graph_destroy(s->d->rt, s->exec);
    if (s->graphs)
        HIP_LOG(SC_LOG_INFO, "%s: graph mode: %llu captures, %llu replays", s->d->name,
                (unsigned long long)s->captures, (unsigned long long)s->replays);
    list_free(&s->rec);
    list_free(&s->prev);
    free_retired(s);
    hip_host->free(s->retired);
    if (s->scratch) s->d->rt->mem_free(s->d->rt, s->scratch);
    if (s->err) s->d->rt->mem_free(s->d->rt, s->err);
    s->d->rt->stream_destroy(s->d->rt, s->st);
    hip_host->free(s);
}

/* ------------------------------------------------------------------------ */
/* enqueueing                                                                */
/* ------------------------------------------------------------------------ */
static hip_item *list_add(hip_list *l, const void *args, size_t args_size) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        hip_item *it = hip_host->malloc((size_t)cap * sizeof(*it));
        if (!it) return NULL;
        if (l->n) memcpy(it, l->items, (size_t)l->n * sizeof(*it));
        hip_host->free(l->items);
        l->items = it;
        l->cap = cap;
    }
    size_t off = (l->args_len + 15) & ~(size_t)15;
    if (off + args_size > l->args_cap) {
        size_t cap = l->args_cap ? l->args_cap * 2 : 16384;
        while (cap < off + args_size) cap *= 2;
        unsigned char *a = hip_host->malloc(cap);
        if (!a) return NULL;
        if (l->args_len) memcpy(a, l->args, l->args_len);
        hip_host->free(l->args);
        l->args = a;
        l->args_cap = cap;
    }
    hip_item *it = &l->items[l->n++];
    memset(it, 0, sizeof(*it));
    if (args_size) {
        memset(l->args + l->args_len, 0, off - l->args_len);
        memcpy(l->args + off, args, args_size);
    }
    it->args_off = off;
    it->args_size = args_size;
    l->args_len = off + args_size;
    return it;
}

static int issue(hip_stream *s, const hip_item *it, const unsigned char *args) {
    char why[HIP_RT_WHY] = "";
    hip_rt *rt = s->d->rt;
    int rc = it->kind == ITEM_LAUNCH
                 ? rt->launch(rt, it->fn, it->grid, it->block, s->st, args + it->args_off, it->args_size, why)
                 : rt->fill(rt, it->dst, it->value, it->size, s->st, why);
    if (rc != SC_OK)
        HIP_LOG(SC_LOG_ERROR, "%s: %s (%s %s): %s", s->d->name, it->kind == ITEM_LAUNCH ? it->name : "fill",
                s->node ? hip_host->op_name(s->node->op) : "-", s->node ? s->node->name : "", why);
    return rc;
}

int hip_launch(hip_stream *s, const char *name, const unsigned grid[3], const unsigned block[3], const void *args,
               size_t args_size) {
    void *fn = NULL;
    hip_item it;
    if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0) return SC_OK; /* nothing to do */
    if (grid[1] > HIP_GRID_YZ_MAX || grid[2] > HIP_GRID_YZ_MAX || grid[0] > HIP_GRID_X_MAX) {
        HIP_LOG(SC_LOG_ERROR, "%s: grid %ux%ux%u of %s is too large", s->d->name, grid[0], grid[1], grid[2], name);
        return SC_ERANGE;
    }
    if (hip_dev_function(s->d, name, &fn) != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: no kernel %s in the loaded modules", s->d->name, name);
        return SC_ENOENT;
    }
    if (s->graphs) {
        hip_item *r = list_add(&s->rec, args, args_size);
        if (!r) return SC_ENOMEM;
        r->kind = ITEM_LAUNCH;
        r->fn = fn;
        r->name = name;
        memcpy(r->grid, grid, sizeof(r->grid));
        memcpy(r->block, block, sizeof(r->block));
        return SC_OK;
    }
    memset(&it, 0, sizeof(it));
    it.kind = ITEM_LAUNCH;
    it.fn = fn;
    it.name = name;
    memcpy(it.grid, grid, sizeof(it.grid));
    memcpy(it.block, block, sizeof(it.block));
    it.args_size = args_size;
    return issue(s, &it, args);
}

int hip_memset(hip_stream *s, void *dst, uint8_t value, size_t size) {
    hip_item it;
    if (size == 0) return SC_OK;
    if (s->graphs) {
        hip_item *r = list_add(&s->rec, NULL, 0);
        if (!r) return SC_ENOMEM;
        r->kind = ITEM_FILL;
        r->dst = dst;
        r->value = value;
        r->size = size;
        return SC_OK;
    }
    memset(&it, 0, sizeof(it));
    it.kind = ITEM_FILL;
    it.dst = dst;
    it.value = value;
    it.size = size;
    return issue(s, &it, NULL);
}

void *hip_scratch(hip_stream *s, size_t size) {
    char why[HIP_RT_WHY] = "";
    void *p = NULL;
    if (size <= s->scratch_size) return s->scratch;
    size_t want = s->scratch_size ? s->scratch_size : (1u << 20);
    while (want < size) want *= 2;
    if (s->d->rt->mem_alloc(s->d->rt, want, &p, why) != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: scratch of %zu bytes: %s", s->d->name, want, why);
        return NULL;
    }
    if (s->scratch) { /* enqueued work may still use it: free after the sync */
        if (s->n_retired == s->cap_retired) {
            int cap = s->cap_retired ? s->cap_retired * 2 : 8;
            void **r = hip_host->malloc((size_t)cap * sizeof(*r));
            if (!r) {
                s->d->rt->mem_free(s->d->rt, p);
                return NULL;
            }
            if (s->n_retired) memcpy(r, s->retired, (size_t)s->n_retired * sizeof(*r));
            hip_host->free(s->retired);
            s->retired = r;
            s->cap_retired = cap;
        }
        s->retired[s->n_retired++] = s->scratch;
    }
    s->scratch = p;
    s->scratch_size = want;
    return p;
}

/* ------------------------------------------------------------------------ */
/* graph_compute                                                             */
/* ------------------------------------------------------------------------ */
static bool same_list(const hip_list *a, const hip_list *b) {
    if (a->n != b->n || a->args_len != b->args_len) return false;
    for (int i = 0; i < a->n; i++) {
        const hip_item *x = &a->items[i], *y = &b->items[i];
        if (x->kind != y->kind || x->fn != y->fn || x->args_off != y->args_off || x->args_size != y->args_size ||
            memcmp(x->grid, y->grid, sizeof(x->grid)) != 0 || memcmp(x->block, y->block, sizeof(x->block)) != 0 ||
            x->dst != y->dst || x->size != y->size || x->value != y->value)
            return false;
    }
    return a->args_len == 0 || memcmp(a->args, b->args, a->args_len) == 0;
}

static int issue_list(hip_stream *s, const hip_list *l) {
    for (int i = 0; i < l->n; i++) {
        int rc = issue(s, &l->items[i], l->args);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

/* Graph mode: run the recorded list, from a graph when it repeats. */
static int run_recorded(hip_stream *s, uint64_t gen) {
    char why[HIP_RT_WHY] = "";
    hip_rt *rt = s->d->rt;
    int rc;
    if (gen == s->prev_gen && same_list(&s->rec, &s->prev)) {
        if (!s->exec) { /* seen twice: capture it */
            rc = rt->capture_begin(rt, s->st, why);
            if (rc == SC_OK) {
                int rc2 = issue_list(s, &s->prev);
                rc = rt->capture_end(rt, s->st, &s->exec, why);
                if (rc2 != SC_OK) rc = rc2;
            }
            if (rc != SC_OK) {
                HIP_LOG(SC_LOG_ERROR, "%s: graph capture: %s", s->d->name, why);
                s->exec = NULL;
                return rc;
            }
            s->captures++;
        }
        rc = rt->graph_launch(rt, s->exec, s->st, why);
        if (rc != SC_OK) HIP_LOG(SC_LOG_ERROR, "%s: %s", s->d->name, why);
        s->replays++;
        return rc;
    }
    /* a new list: run it eagerly and keep it to compare with the next call */
    if (s->exec) {
        rt->stream_sync(rt, s->st, NULL);
        rt->graph_destroy(rt, s->exec);
        s->exec = NULL;
    }
    rc = issue_list(s, &s->rec);
    hip_list t = s->prev;
    s->prev = s->rec;
    s->rec = t;
    s->prev_gen = gen;
    return rc;
}

int hip_graph_compute(hip_stream *s, sc_tensor *const *nodes, int n_nodes) {
    char why[HIP_RT_WHY] = "";
    hip_rt *rt = s->d->rt;
    unsigned err = 0;
    /* the error word is cleared outside any recorded list: a replayed graph
     * reports its own errors only */
    int rc = rt->fill(rt, s->err, 0, sizeof(unsigned), s->st, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s", s->d->name, why);
        return rc;
    }
    s->rec.n = 0;
    s->rec.args_len = 0;
    /* the table's generation before the nodes consult it (tune_set never runs during graph_compute) */
    const uint64_t gen = s->graphs ? hip_tune_generation(s->d) : 0;
    for (int i = 0; i < n_nodes && rc == SC_OK; i++) {
        const sc_tensor *node = nodes[i];
        if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) continue;
        s->node = node;
        rc = hip_ops_run(s, node);
        if (rc != SC_OK)
            HIP_LOG(SC_LOG_ERROR, "%s: node %d (%s '%s'): %s", s->d->name, i, hip_host->op_name(node->op), node->name,
                    hip_host->strerror(rc));
    }
    s->node = NULL;
    if (rc == SC_OK && s->graphs) rc = run_recorded(s, gen);
    int rs = rt->copy_dtoh(rt, &err, s->err, sizeof(err), s->st, why);
    if (rs == SC_OK) rs = rt->stream_sync(rt, s->st, why);
    if (rs != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s", s->d->name, why);
        if (rc == SC_OK) rc = rs;
    }
    free_retired(s);
    if (rc == SC_OK && (err & SC_HIP_ERR_RANGE)) {
        HIP_LOG(SC_LOG_ERROR, "%s: an id, position, block or g_idx entry out of range: those elements were "
                "skipped", s->d->name);
        rc = SC_ERANGE;
    }
    return rc;
}
