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
VK_FUSER(moe_sum)     /* MUL by routing weights + slot sum (+ residual ADD) after a GEMM (prefill) */
#endif
#ifdef SC_VK_HAVE_FUSER_gemv /* vk_fuse_gemv.c: GEMV prologues and epilogues */
VK_FUSER(mm_swiglu)   /* MUL_MAT gate + MUL_MAT up + SWIGLU */
VK_FUSER(mm_add)      /* MUL_MAT + ADD: projection plus residual */
VK_FUSER(moe_gate_up) /* MUL_MAT_ID gate + MUL_MAT_ID up + SWIGLU */
VK_FUSER(moe_down)    /* MUL_MAT_ID down + MUL by routing weights + slot sum (+ residual ADD) */
#endif

static const vk_fuser *const fusers[] = {
#ifdef SC_VK_HAVE_FUSER_rows
    &vk_fuser_norm_rope, &vk_fuser_moe_route, &vk_fuser_moe_sum,
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

/* ---- the MoE combine chain (moe_down, moe_sum) --------------------------------- */
static bool is_op(const sc_tensor *t, int32_t op) { return t && t->op == op; }

const sc_tensor *vk_fg_other_src(const sc_tensor *node, const sc_tensor *a) {
    if (node->src[0] == a && node->src[1] != a) return node->src[1];
    if (node->src[1] == a && node->src[0] != a) return node->src[0];
    return NULL;
}

static bool f32_2d_rows(const sc_tensor *t) {
    return t->type == SC_TYPE_F32 && t->nb[0] == 4 && t->ne[2] == 1 && t->ne[3] == 1;
}

static bool same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

bool vk_fg_in_place_or_disjoint(const sc_tensor *y, const sc_tensor *t) {
    if (vk_fg_disjoint(y, t)) return true;
    if (y->data != t->data || !same_shape(y, t)) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (y->nb[d] != t->nb[d]) return false;
    return true;
}

/* Is v slot `i` of y: the [D, T] view at i * nb1 with y's token stride? */
static bool is_slot(const sc_tensor *v, const sc_tensor *y, int64_t i) {
    if (!v || v->view_src != y) return false;
    return v->type == SC_TYPE_F32 && v->view_offs == (size_t)i * y->nb[1] && v->ne[0] == y->ne[0] &&
           v->ne[1] == y->ne[2] && v->ne[2] == 1 && v->ne[3] == 1 && v->nb[0] == 4 && v->nb[1] == y->nb[2];
}

int vk_fg_moe_sum(const vk_fuse_graph *g, const sc_tensor *mm, int j, int *members, int max, const sc_tensor **rw_out,
                  const sc_tensor **out_out) {
    if (!mm || mm->type != SC_TYPE_F32 || mm->nb[0] != 4 || mm->ne[3] != 1) return 0;
    const int64_t k = mm->ne[1], T = mm->ne[2];
    if (k < 2 || k > max) return 0;
    int m = 0;
    /* mm [D, k, T] read once, by MUL with the routing weights rw [1, k, T] */
    const sc_tensor *mul = vk_fg_node(g, j);
    if (j < 0 || !is_op(mul, SC_OP_MUL) || vk_fg_uses(g, mm) != 1) return 0;
    const sc_tensor *rw = vk_fg_other_src(mul, mm);
    if (!rw || rw->type != SC_TYPE_F32 || mul->type != SC_TYPE_F32 || !same_shape(mul, mm)) return 0;
    if (rw->ne[0] != 1 || rw->ne[1] != k || rw->ne[2] != T || rw->ne[3] != 1 || rw->nb[1] != 4) return 0;
    if (vk_fg_uses(g, mul) != k) return 0; /* the k slot views, nothing else */
    members[m++] = j;
    /* ADD(slot 0, slot 1), then ADD(sum, slot i) in rank order, each sum read once */
    const sc_tensor *sum = NULL;
    for (int64_t s = 1; s < k; s++) {
        j = vk_fg_next(g, j);
        const sc_tensor *add = vk_fg_node(g, j);
        if (j < 0 || !is_op(add, SC_OP_ADD) || !f32_2d_rows(add)) return 0;
        if (s == 1 ? !is_slot(add->src[0], mul, 0) : add->src[0] != sum) return 0;
        if (!is_slot(add->src[1], mul, s)) return 0;
        if (sum && vk_fg_uses(g, sum) != 1) return 0;
        sum = add;
        members[m++] = j;
    }
    /* the layer's residual ADD(x, sum), when next and the sum's only reader */
    const sc_tensor *out = sum;
    int jr = vk_fg_next(g, j);
    const sc_tensor *radd = vk_fg_node(g, jr);
    if (jr >= 0 && is_op(radd, SC_OP_ADD) && vk_fg_uses(g, sum) == 1 && m < max) {
        const sc_tensor *x = vk_fg_other_src(radd, sum);
        if (x && f32_2d_rows(x) && f32_2d_rows(radd) && same_shape(x, sum) && same_shape(radd, sum) &&
            vk_fg_in_place_or_disjoint(radd, x)) {
            out = radd;
            members[m++] = jr;
        }
    }
    if (!vk_fg_disjoint(out, rw) || !vk_fg_disjoint(out, mm)) return 0;
    *rw_out = rw;
    *out_out = out;
    return m;
}
