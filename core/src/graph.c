/*
 * core/src/graph.c - the per-step DAG of ops.
 *
 * sc_graph_expand walks from an output back through src[] depth first and
 * appends each tensor after its sources, so nodes[] is a valid execution
 * order. Leaves (op NONE: weights, inputs, caches) go to leafs[]. A small
 * open-addressing pointer set keeps the walk linear in the graph size.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct graph_priv {
    sc_graph_t pub;
    const sc_tensor **seen; /* hash set of visited tensors, 2x capacity slots */
    size_t seen_cap;
} graph_priv;

sc_graph_t *sc_graph_create(int capacity) {
    if (capacity <= 0) capacity = 8192;
    graph_priv *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->pub.capacity = capacity;
    g->pub.nodes = calloc((size_t)capacity, sizeof(sc_tensor *));
    g->pub.leafs = calloc((size_t)capacity, sizeof(sc_tensor *));
    g->seen_cap = 1;
    while (g->seen_cap < (size_t)capacity * 4) g->seen_cap <<= 1;
    g->seen = calloc(g->seen_cap, sizeof(*g->seen));
    if (!g->pub.nodes || !g->pub.leafs || !g->seen) {
        sc_graph_destroy(&g->pub);
        return NULL;
    }
    return &g->pub;
}

void sc_graph_destroy(sc_graph_t *pub) {
    if (!pub) return;
    graph_priv *g = (graph_priv *)pub;
    free(g->pub.nodes);
    free(g->pub.leafs);
    free(g->seen);
    free(g);
}

void sc_graph_reset(sc_graph_t *pub) {
    if (!pub) return;
    graph_priv *g = (graph_priv *)pub;
    g->pub.n_nodes = 0;
    g->pub.n_leafs = 0;
    memset(g->seen, 0, g->seen_cap * sizeof(*g->seen));
}

static size_t ptr_hash(const void *p, size_t mask) {
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & mask;
}

/* Insert t; returns true if it was already present. */
static bool seen_insert(graph_priv *g, const sc_tensor *t) {
    size_t mask = g->seen_cap - 1;
    for (size_t i = ptr_hash(t, mask);; i = (i + 1) & mask) {
        if (g->seen[i] == t) return true;
        if (!g->seen[i]) {
            g->seen[i] = t;
            return false;
        }
    }
}

/* Iterative post-order DFS: a frame is (tensor, next src index). */
typedef struct { sc_tensor *t; int next; } frame;

static int expand(sc_graph_t *pub, sc_tensor *out, bool output) {
    if (!pub || !out) return SC_EINVAL;
    graph_priv *g = (graph_priv *)pub;
    if (output) out->flags |= SC_TENSOR_OUTPUT;
    if (seen_insert(g, out)) return SC_OK;

    size_t stack_cap = 256, sp = 0;
    frame *stack = malloc(stack_cap * sizeof *stack);
    if (!stack) return SC_ENOMEM;
    stack[sp++] = (frame){out, 0};
    int rc = SC_OK;
    while (sp > 0) {
        frame *f = &stack[sp - 1];
        if (f->next < SC_MAX_SRC) {
            sc_tensor *s = f->t->src[f->next++];
            if (!s || seen_insert(g, s)) continue;
            if (sp == stack_cap) {
                frame *ns = realloc(stack, 2 * stack_cap * sizeof *stack);
                if (!ns) { rc = SC_ENOMEM; break; }
                stack = ns;
                stack_cap *= 2;
            }
            stack[sp++] = (frame){s, 0};
            continue;
        }
        /* all sources placed: emit this tensor */
        sc_tensor *t = f->t;
        sp--;
        if (t->op == SC_OP_NONE) {
            if (g->pub.n_leafs == g->pub.capacity) { rc = SC_ENOMEM; break; }
            g->pub.leafs[g->pub.n_leafs++] = t;
        } else {
            if (g->pub.n_nodes == g->pub.capacity) { rc = SC_ENOMEM; break; }
            g->pub.nodes[g->pub.n_nodes++] = t;
        }
    }
    free(stack);
    if (rc != SC_OK) sc_log(SC_LOG_ERROR, "graph", "graph capacity %d exceeded", g->pub.capacity);
    return rc;
}

int sc_graph_expand(sc_graph_t *pub, sc_tensor *out) { return expand(pub, out, true); }

int sc__graph_expand_node(sc_graph_t *g, sc_tensor *t) { return expand(g, t, false); }

void sc_graph_print(const sc_graph_t *g, FILE *f) {
    if (!g || !f) return;
    fprintf(f, "graph: %d nodes, %d leafs\n", g->n_nodes, g->n_leafs);
    for (int i = 0; i < g->n_nodes; i++) {
        const sc_tensor *t = g->nodes[i];
        fprintf(f, "  %4d %-10s %-4s [%lld, %lld, %lld, %lld] %s\n", i, sc_op_name(t->op), sc_type_name(t->type),
                (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], t->name);
    }
}
