/*
 * backends/vulkan/vk_fuse.c - finding the node groups the fusers record as
 * one (vk_internal.h "fusion").
 *
 * vk_fuse_plan runs once per graph before recording: it counts how often
 * each result is read (src[] slots of work nodes, through views, plus graph
 * outputs), then walks the work nodes in order and offers each node not yet
 * taken to every fuser in `fusers` (first match wins). The recorder asks
 * vk_fuse_group_at(i) at each node: -1 (record the node), a group (record it
 * with its fuser) or "taken" (a later member of a group already recorded).
 *
 * Fusers land independently, like op families: CMakeLists.txt defines
 * SC_VK_HAVE_FUSER_<file> for every vk_fuse_<file>.c present.
 */
#include <stdlib.h>
#include <string.h>

#include "vk_infra.h"

#ifdef SC_VK_HAVE_FUSER_rows /* vk_fuse_rows.c: row-wise chains */
VK_FUSER(norm_rope)   /* RMS_NORM + ROPE (+ KV_WRITE): q/k head norm, rotation, cache write */
VK_FUSER(moe_route)   /* SOFTMAX + TOP_K + MUL_MAT_ID gather (+ SOFTMAX): MoE routing */
#endif
#ifdef SC_VK_HAVE_FUSER_gemv /* vk_fuse_gemv.c: GEMV prologues and epilogues */
VK_FUSER(mm_swiglu)   /* MUL_MAT gate + MUL_MAT up + SWIGLU */
VK_FUSER(mm_add)      /* MUL_MAT + ADD: projection plus residual */
VK_FUSER(moe_gate_up) /* MUL_MAT_ID gate + MUL_MAT_ID up + SWIGLU */
VK_FUSER(moe_down)    /* MUL_MAT_ID down + MUL by routing weights + slot sum (+ residual ADD) */
#endif

static const vk_fuser *const fusers[] = {
#ifdef SC_VK_HAVE_FUSER_rows
    &vk_fuser_norm_rope, &vk_fuser_moe_route,
#endif
#ifdef SC_VK_HAVE_FUSER_gemv
    &vk_fuser_mm_swiglu, &vk_fuser_mm_add, &vk_fuser_moe_gate_up, &vk_fuser_moe_down,
#endif
    NULL,
};
#define N_FUSERS ((int)(sizeof fusers / sizeof fusers[0]) - 1)

/* ---- use counts: an open-addressing table keyed by the root tensor ----------- */
typedef struct use_slot {
    const sc_tensor *t;
    int n;
} use_slot;

struct vk_fuse_graph {
    sc_tensor *const *nodes;
    int n_nodes;
    use_slot *uses;
    size_t cap; /* power of two */
    int *group_of;    /* node -> group index, VK_FUSE_TAKEN, or -1 */
    int *members;     /* groups' members, back to back */
    int *group_first; /* group g: members[group_first[g] .. group_first[g + 1]) */
    int *group_fuser;
    int n_groups, n_members;
};

#define VK_FUSE_TAKEN (-2)
#define VK_FUSE_MAX_MEMBERS 32

static bool is_work(const sc_tensor *t) { return t->op != SC_OP_NONE && t->op != SC_OP_VIEW; }

const sc_tensor *vk_fg_root(const sc_tensor *t) {
    while (t && t->view_src) t = t->view_src;
    return t;
}

static size_t slot_of(const vk_fuse_graph *g, const sc_tensor *t) {
    size_t h = ((uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull;
    size_t i = h & (g->cap - 1);
    while (g->uses[i].t && g->uses[i].t != t) i = (i + 1) & (g->cap - 1);
    return i;
}

static void add_use(vk_fuse_graph *g, const sc_tensor *t) {
    t = vk_fg_root(t);
    size_t i = slot_of(g, t);
    g->uses[i].t = t;
    g->uses[i].n++;
}

int vk_fg_uses(const vk_fuse_graph *g, const sc_tensor *t) {
    t = vk_fg_root(t);
    size_t i = slot_of(g, t);
    return g->uses[i].t ? g->uses[i].n : 0;
}

int vk_fg_count(const vk_fuse_graph *g) { return g->n_nodes; }

sc_tensor *vk_fg_node(const vk_fuse_graph *g, int i) {
    return i >= 0 && i < g->n_nodes ? g->nodes[i] : NULL;
}

int vk_fg_next(const vk_fuse_graph *g, int i) {
    for (int j = i + 1; j < g->n_nodes; j++)
        if (is_work(g->nodes[j]) && g->group_of[j] == -1) return j;
    return -1;
}

bool vk_fg_disjoint(const sc_tensor *t, const sc_tensor *u) {
    uint64_t a = vk_addr(t), b = vk_addr(u);
    uint64_t ae = a + vk_host->tensor_nbytes(t), be = b + vk_host->tensor_nbytes(u);
    return ae <= b || be <= a;
}

/* ---- the plan ---------------------------------------------------------------- */
void vk_fuse_free(vk_fuse_graph *g) {
    if (!g) return;
    vk_free(g->uses);
    vk_free(g->group_of);
    vk_free(g->members);
    vk_free(g->group_first);
    vk_free(g->group_fuser);
    vk_free(g);
}

/* The fusers left out by STRIXCORE_VK_FUSE ("0": all; "-a,-b": those). */
static bool fuser_enabled(const char *env, const char *name) {
    if (!env || !env[0]) return true;
    if (strcmp(env, "0") == 0) return false;
    size_t n = strlen(name);
    for (const char *p = env; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n + 1 && p[0] == '-' && strncmp(p + 1, name, n) == 0) return false;
        p += len + (e ? 1 : 0);
    }
    return true;
}

int vk_fuse_plan(vk_dev *d, sc_tensor *const *nodes, int n_nodes, vk_fuse_graph **out) {
    const char *env = getenv("STRIXCORE_VK_FUSE");
    *out = NULL;
    if (N_FUSERS == 0 || (env && strcmp(env, "0") == 0) || n_nodes < 2) return SC_OK;
    vk_fuse_graph *g = vk_calloc(1, sizeof *g);
    if (!g) return SC_ENOMEM;
    g->nodes = nodes;
    g->n_nodes = n_nodes;
    g->cap = 64;
    while (g->cap < 4 * (size_t)n_nodes) g->cap *= 2;
    g->uses = vk_calloc(g->cap, sizeof *g->uses);
    g->group_of = vk_calloc((size_t)n_nodes, sizeof *g->group_of);
    g->members = vk_calloc((size_t)n_nodes, sizeof *g->members);
    g->group_first = vk_calloc((size_t)n_nodes + 1, sizeof *g->group_first);
    g->group_fuser = vk_calloc((size_t)n_nodes, sizeof *g->group_fuser);
    if (!g->uses || !g->group_of || !g->members || !g->group_first || !g->group_fuser) {
        vk_fuse_free(g);
        return SC_ENOMEM;
    }
    /* every src slot of a work node is a read of its root; srcs are leaves,
     * views or nodes, and a root is never counted twice per slot */
    for (int i = 0; i < n_nodes; i++) {
        const sc_tensor *n = nodes[i];
        g->group_of[i] = -1;
        if (n->flags & SC_TENSOR_OUTPUT) add_use(g, n);
        if (!is_work(n)) continue;
        for (int s = 0; s < SC_MAX_SRC; s++)
            if (n->src[s]) add_use(g, n->src[s]);
    }

    bool enabled[N_FUSERS + 1];
    for (int f = 0; f < N_FUSERS; f++) enabled[f] = fuser_enabled(env, fusers[f]->name);
    int members[VK_FUSE_MAX_MEMBERS];
    const char *log_env = getenv("STRIXCORE_VK_FUSE_LOG"); /* one info line per group (tests check it) */
    const bool log_groups = log_env && log_env[0] && strcmp(log_env, "0") != 0;
    for (int i = 0; i < n_nodes; i++) {
        if (!is_work(nodes[i]) || g->group_of[i] != -1) continue;
        for (int f = 0; f < N_FUSERS; f++) {
            if (!enabled[f]) continue;
            int m = fusers[f]->match(d, g, i, members, VK_FUSE_MAX_MEMBERS);
            if (m < 2) continue;
            if (m > VK_FUSE_MAX_MEMBERS || members[0] != i) {
                VK_LOG(SC_LOG_ERROR, "fuser %s matched a malformed group at node %d", fusers[f]->name, i);
                continue;
            }
            /* members: consecutive work nodes from i (views between are free) */
            bool ok = true;
            for (int k = 1; k < m && ok; k++) ok = members[k] == vk_fg_next(g, members[k - 1]);
            if (!ok) {
                VK_LOG(SC_LOG_ERROR, "fuser %s: group at node %d is not a run of consecutive nodes", fusers[f]->name, i);
                continue;
            }
            const int gi = g->n_groups++;
            g->group_first[gi] = g->n_members;
            g->group_fuser[gi] = f;
            for (int k = 0; k < m; k++) {
                g->members[g->n_members++] = members[k];
                g->group_of[members[k]] = k == 0 ? gi : VK_FUSE_TAKEN;
            }
            g->group_first[gi + 1] = g->n_members;
            if (log_groups)
                VK_LOG(SC_LOG_INFO, "fused %s: %d nodes from node %d (%s '%s')", fusers[f]->name, m, i,
                       vk_host->op_name(nodes[i]->op), nodes[i]->name);
            break;
        }
    }
    if (g->n_groups == 0) {
        vk_fuse_free(g);
        return SC_OK;
    }
    *out = g;
    return SC_OK;
}

int vk_fuse_group_at(const vk_fuse_graph *g, int i, const int **members, int *n, const vk_fuser **fuser) {
    if (!g) return -1;
    const int gi = g->group_of[i];
    if (gi < 0) return gi; /* -1: a plain node; VK_FUSE_TAKEN: recorded with its group */
    *members = g->members + g->group_first[gi];
    *n = g->group_first[gi + 1] - g->group_first[gi];
    *fuser = fusers[g->group_fuser[gi]];
    return gi;
}

int vk_fuse_n_groups(const vk_fuse_graph *g) { return g ? g->n_groups : 0; }
