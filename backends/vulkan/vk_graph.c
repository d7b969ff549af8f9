/*
 * backends/vulkan/vk_graph.c - streams and graph recording.
 *
 * A stream owns a command pool with one command buffer, a fence, the
 * graph's error flag, a scratch arena and (with STRIXCORE_VK_PROFILE=1) a
 * timestamp query pool. graph_compute:
 *
 *   1. asks every node's family whether it is supported (nothing is
 *      recorded or submitted when one is not: SC_ENOTSUP);
 *   2. records: a barrier that makes earlier submissions' writes visible,
 *      the error flag cleared, then each node's dispatches (vk_ops_record ->
 *      the family's record -> vk_dispatch), with a compute->compute memory
 *      barrier in front of a dispatch that may depend on an earlier one
 *      (see "hazards" below);
 *   3. submits once, waits on the fence, reads the error flag (SC_ERANGE
 *      when a shader set it) and, when profiling, logs the per-op times.
 *
 * Hazards. Within a node every dispatch after the first gets a barrier
 * (families chain dispatches: quantize, then multiply) unless the family
 * said vk_rec_independent() before it. Between nodes a
 * barrier is needed only when the new node reads or writes memory that a
 * node since the last barrier wrote, or writes memory such a node read;
 * byte ranges come from the tensors (view roots are not needed: ranges are
 * addresses). A node writes its output, and the recurrent ops also the state
 * source they update in place (inplace_src). STRIXCORE_VK_BARRIERS=all puts
 * one before every dispatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vk_infra.h"
#include "vk_tune.h"

#define VK_SCRATCH_MIN (1u << 20)
#define VK_MAX_RANGES 64
#define VK_MAX_CONSTS 16
#define VK_MAX_MEMO   8  /* vk_rec_memo entries alive at once (the oldest goes) */
#define VK_CONST_DEDUP 1024 /* bytes: larger tables are stored every time they are asked for */

typedef struct vk_range {
    uint64_t lo, hi; /* [lo, hi) */
} vk_range;

typedef struct vk_memo {
    uint64_t tag, lo, hi, val; /* val derived from [lo, hi) under tag */
    int node;                  /* the node (index) that put it: its own writes keep it */
} vk_memo;

typedef struct vk_const {
    uint64_t addr;
    size_t bytes;
    uint32_t words[VK_CONST_DEDUP / 4]; /* a copy, to find the same table again */
} vk_const;

struct vk_rec {
    vk_stream *s;
    VkCommandBuffer cb;
    int cb_dispatches;     /* dispatches in cb (it is submitted early when long) */
    bool independent;      /* vk_rec_independent: no intra-node barrier before the next dispatch */
    const vk_pipeline *bound;
    bool need_barrier;     /* the next dispatch must wait for earlier ones */
    int node_dispatches;   /* dispatches of the current node so far */
    int node_index;
    int n_dispatch, n_barrier;
    int n_fused;           /* nodes recorded as part of an earlier group member */
    bool const_barrier;    /* vk_rec_const wrote since the last dispatch */
    vk_const consts[VK_MAX_CONSTS]; /* vk_rec_const's small tables of this graph */
    int n_consts;
    vk_memo memo[VK_MAX_MEMO]; /* vk_rec_memo_*: values derived from memory not written since */
    int n_memo;
    /* memory touched since the last barrier */
    vk_range wr[VK_MAX_RANGES], rd[VK_MAX_RANGES];
    int n_wr, n_rd;
    bool overflow;         /* too many ranges: the next node gets a barrier */
    /* vk_rec_scratch_node: one region every node may reuse */
    uint64_t nscr_addr;
    size_t nscr_size;
    bool nscr_claim;       /* the current node uses it */
    bool nscr_used;        /* a dispatch using it ran since the last barrier */
};

struct vk_stream {
    vk_dev *d;
    VkCommandPool pool;
    VkCommandBuffer *cbs;     /* a graph's command buffers, allocated as needed */
    int n_cbs, cap_cbs, cur_cb;
    int submit_first, submit_max; /* early submission: dispatches per chunk */
    VkFence fence;
    vk_buf *err, *err_host;   /* the error flag; its readback copy when err is not mapped */
    /* scratch: one arena; extra chunks when a graph outgrows it mid-recording */
    vk_buf *scratch;
    size_t scratch_used;
    vk_buf **extra;
    int n_extra, cap_extra;
    size_t scratch_total, scratch_hw;
    /* profiling */
    bool profile;
    VkQueryPool qpool;
    uint32_t qcap, qn;
    int *q_node;              /* node index of each dispatch's query pair */
    bool all_barriers;
    vk_rec rec;
    /* graph replay: the command buffers of the last recorded graph, kept
     * while the next graph's fingerprint (every work node's op, params,
     * shapes, strides and addresses, and those of its sources) is the same */
    bool replay_on;           /* STRIXCORE_VK_GRAPH_CACHE != 0 and not profiling */
    bool replay_log;          /* STRIXCORE_VK_GRAPH_LOG=1: one info line per replay */
    bool cached;              /* cbs[0 .. n_cached) hold a complete recording of fp */
    int n_cached;
    uint64_t *fp, *fp_new;    /* fingerprints: the cached graph's and the one being checked */
    size_t fp_len, fp_cap, fp_new_cap;
};

/* ------------------------------------------------------------------------ */
/* stream                                                                    */
/* ------------------------------------------------------------------------ */
static bool env_flag(const char *name) {
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

int vk_stream_create(vk_dev *d, vk_stream **out) {
    vk_stream *s = vk_calloc(1, sizeof(*s));
    const char *barriers = getenv("STRIXCORE_VK_BARRIERS");
    int rc = SC_EBACKEND;
    *out = NULL;
    if (!s) return SC_ENOMEM;
    s->d = d;
    s->profile = env_flag("STRIXCORE_VK_PROFILE");
    if (s->profile && !d->caps.timestamps) {
        VK_LOG(SC_LOG_WARN, "STRIXCORE_VK_PROFILE: %s has no compute timestamps; profiling is off",
               d->pi->props.deviceName);
        s->profile = false;
    }
    s->all_barriers = s->profile || (barriers && strcmp(barriers, "all") == 0);
    const char *gc = getenv("STRIXCORE_VK_GRAPH_CACHE");
    s->replay_on = !s->profile && !(gc && strcmp(gc, "0") == 0);
    s->replay_log = env_flag("STRIXCORE_VK_GRAPH_LOG");
    /* STRIXCORE_VK_SUBMIT=N: submit a long graph every N dispatches (the
     * first chunk N/4, so the device starts early); 0: once per graph */
    const char *sub = getenv("STRIXCORE_VK_SUBMIT");
    s->submit_max = sub && sub[0] ? atoi(sub) : 64; /* best of 16..256 for decode on an H200 */
    if (s->submit_max < 0) s->submit_max = 0;
    s->submit_first = s->submit_max / 4 > 0 ? s->submit_max / 4 : s->submit_max;

    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = d->pi->queue_family,
    };
    if (vk_check(d->fn.vkCreateCommandPool(d->dev, &pci, NULL, &s->pool), "vkCreateCommandPool") != VK_SUCCESS) {
        s->pool = VK_NULL_HANDLE;
        goto fail;
    }
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (vk_check(d->fn.vkCreateFence(d->dev, &fci, NULL, &s->fence), "vkCreateFence") != VK_SUCCESS) {
        s->fence = VK_NULL_HANDLE;
        goto fail;
    }
    rc = vk_buf_create(d, VK_BUF_DEVICE, VK_BUF_ALIGN, &s->err);
    if (rc == SC_OK && !s->err->map) rc = vk_buf_create(d, VK_BUF_HOST, VK_BUF_ALIGN, &s->err_host);
    if (rc != SC_OK) goto fail;
    *out = s;
    return SC_OK;
fail:
    vk_stream_destroy(s);
    return rc == SC_OK ? SC_EBACKEND : rc;
}

static void scratch_release_extra(vk_stream *s) {
    for (int i = 0; i < s->n_extra; i++) vk_buf_destroy(s->d, s->extra[i]);
    s->n_extra = 0;
}

void vk_stream_destroy(vk_stream *s) {
    vk_dev *d;
    if (!s) return;
    d = s->d; /* graph_compute waited for its work: nothing is in flight */
    scratch_release_extra(s);
    vk_free(s->extra);
    vk_buf_destroy(d, s->scratch);
    vk_buf_destroy(d, s->err);
    vk_buf_destroy(d, s->err_host);
    if (s->qpool) d->fn.vkDestroyQueryPool(d->dev, s->qpool, NULL);
    vk_free(s->q_node);
    vk_free(s->cbs);
    vk_free(s->fp);
    vk_free(s->fp_new);
    if (s->fence) d->fn.vkDestroyFence(d->dev, s->fence, NULL);
    if (s->pool) d->fn.vkDestroyCommandPool(d->dev, s->pool, NULL);
    vk_free(s);
}

/* ------------------------------------------------------------------------ */
/* the recorder's API (vk_internal.h)                                         */
/* ------------------------------------------------------------------------ */
vk_dev *vk_rec_dev(vk_rec *r) { return r->s->d; }

void vk_rec_independent(vk_rec *r) { r->independent = true; }

uint64_t vk_rec_error_addr(vk_rec *r) { return r->s->err->addr; }

static void barrier(vk_rec *r) {
    vk_dev *d = r->s->d;
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    d->fn.vkCmdPipelineBarrier(r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                               &mb, 0, NULL, 0, NULL);
    r->need_barrier = false;
    r->n_barrier++;
    r->n_wr = r->n_rd = 0;
    r->overflow = false;
    r->nscr_used = false;
}

int vk_dispatch(vk_rec *r, vk_pipeline *p, const void *push, uint32_t push_size, uint32_t gx, uint32_t gy,
                uint32_t gz) {
    vk_stream *s = r->s;
    vk_dev *d = s->d;
    const uint32_t *maxc = d->pi->props.limits.maxComputeWorkGroupCount;
    uint32_t words[VK_MAX_PUSH / 4];

    if (!p) return SC_EINVAL; /* vk_pipeline_get failed and logged why */
    if (gx == 0 || gy == 0 || gz == 0) return SC_OK;
    if (gx > maxc[0] || gy > maxc[1] || gz > maxc[2]) {
        VK_LOG(SC_LOG_ERROR, "%s: grid %u x %u x %u exceeds the device's %u x %u x %u workgroups", vk_pipeline_name(p),
               gx, gy, gz, maxc[0], maxc[1], maxc[2]);
        return SC_EINVAL;
    }
    if (push_size > vk_pipeline_push_size(p) || (push_size && !push)) {
        VK_LOG(SC_LOG_ERROR, "%s: %u bytes of push constants, the pipeline has %u", vk_pipeline_name(p), push_size,
               vk_pipeline_push_size(p));
        return SC_EINVAL;
    }
    if (r->const_barrier) { /* vk_rec_const's transfer writes -> shader reads */
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_SHADER_READ_BIT};
        d->fn.vkCmdPipelineBarrier(r->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                                   &mb, 0, NULL, 0, NULL);
        r->const_barrier = false;
    }
    if (r->need_barrier || (r->node_dispatches > 0 && !r->independent) || s->all_barriers) barrier(r);
    r->independent = false;
    if (r->bound != p) {
        d->fn.vkCmdBindPipeline(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, vk_pipeline_handle(p));
        r->bound = p;
    }
    if (push_size) {
        uint32_t n = (uint32_t)vk_round_up(push_size, 4);
        memset(words, 0, n);
        memcpy(words, push, push_size);
        d->fn.vkCmdPushConstants(r->cb, vk_pipeline_layout(p), VK_SHADER_STAGE_COMPUTE_BIT, 0, n, words);
    }
    bool ts = s->profile && s->qn + 2 <= s->qcap;
    if (ts) d->fn.vkCmdWriteTimestamp(r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, s->qpool, s->qn);
    d->fn.vkCmdDispatch(r->cb, gx, gy, gz);
    if (ts) {
        d->fn.vkCmdWriteTimestamp(r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, s->qpool, s->qn + 1);
        s->q_node[s->qn / 2] = r->node_index;
        s->qn += 2;
    }
    if (r->nscr_claim) r->nscr_used = true;
    r->node_dispatches++;
    r->n_dispatch++;
    r->cb_dispatches++;
    return SC_OK;
}

int vk_rec_scratch_node(vk_rec *r, size_t bytes, uint64_t *addr) {
    if (bytes > r->nscr_size) { /* a larger region; the old one stays unused until the graph is done */
        int rc = vk_rec_scratch(r, bytes, &r->nscr_addr);
        if (rc != SC_OK) return rc;
        r->nscr_size = bytes;
        r->nscr_used = false; /* nobody has touched the new region */
    }
    if (r->nscr_used) r->need_barrier = true; /* an earlier node's dispatches may still use it */
    r->nscr_claim = true;
    *addr = r->nscr_addr;
    return SC_OK;
}

int vk_rec_scratch(vk_rec *r, size_t bytes, uint64_t *addr) {
    vk_stream *s = r->s;
    size_t need = (size_t)vk_round_up(bytes ? bytes : 1, VK_BUF_ALIGN);
    vk_buf *cur = s->n_extra ? s->extra[s->n_extra - 1] : s->scratch;
    int rc;

    if (!cur || s->scratch_used + need > cur->size) {
        /* A new chunk: the arena if none exists yet, else an extra chunk that
         * lives until the graph is done (recorded addresses must stay valid). */
        size_t size = need > s->scratch_hw ? need : s->scratch_hw;
        if (cur && size < 2 * cur->size) size = 2 * cur->size;
        if (size < VK_SCRATCH_MIN) size = VK_SCRATCH_MIN;
        vk_buf *nb = NULL;
        rc = vk_buf_create(s->d, VK_BUF_DEVICE, size, &nb);
        if (rc != SC_OK) {
            VK_LOG(SC_LOG_ERROR, "scratch of %zu bytes: %s", size, vk_host->strerror(rc));
            return rc;
        }
        if (!s->scratch) {
            s->scratch = nb;
        } else {
            if (s->n_extra == s->cap_extra) {
                int ncap = s->cap_extra ? 2 * s->cap_extra : 4;
                vk_buf **ne = vk_calloc((size_t)ncap, sizeof(*ne));
                if (!ne) {
                    vk_buf_destroy(s->d, nb);
                    return SC_ENOMEM;
                }
                if (s->n_extra) memcpy(ne, s->extra, (size_t)s->n_extra * sizeof(*ne));
                vk_free(s->extra);
                s->extra = ne;
                s->cap_extra = ncap;
            }
            s->extra[s->n_extra++] = nb;
        }
        cur = nb;
        s->scratch_used = 0;
    }
    *addr = cur->addr + s->scratch_used;
    s->scratch_used += need;
    s->scratch_total += need;
    return SC_OK;
}

int vk_rec_const(vk_rec *r, const void *data, size_t bytes, uint64_t *addr) {
    vk_stream *s = r->s;
    if (!data || bytes == 0 || bytes % 4 != 0 || bytes > 65536) return SC_EINVAL;
    for (int i = 0; i < r->n_consts; i++)
        if (r->consts[i].bytes == bytes && memcmp(r->consts[i].words, data, bytes) == 0) {
            *addr = r->consts[i].addr;
            return SC_OK;
        }
    int rc = vk_rec_scratch(r, bytes, addr);
    if (rc != SC_OK) return rc;
    vk_buf *cur = s->n_extra ? s->extra[s->n_extra - 1] : s->scratch;
    s->d->fn.vkCmdUpdateBuffer(r->cb, cur->buf, *addr - cur->addr, bytes, data);
    r->const_barrier = true;
    if (bytes <= VK_CONST_DEDUP && r->n_consts < VK_MAX_CONSTS) {
        vk_const *c = &r->consts[r->n_consts++];
        c->addr = *addr;
        c->bytes = bytes;
        memcpy(c->words, data, bytes);
    }
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* hazards between nodes                                                     */
/* ------------------------------------------------------------------------ */
static vk_range range_of(const sc_tensor *t) {
    uint64_t lo = vk_addr(t);
    return (vk_range){lo, lo + vk_host->tensor_nbytes(t)};
}

static bool overlaps(const vk_range *set, int n, vk_range x) {
    for (int i = 0; i < n; i++)
        if (x.lo < set[i].hi && set[i].lo < x.hi) return true;
    return false;
}

static void add_range(vk_rec *r, vk_range *set, int *n, vk_range x) {
    if (x.lo == x.hi) return;
    if (*n == VK_MAX_RANGES) {
        r->overflow = true;
        return;
    }
    set[(*n)++] = x;
}

/* The source a node also writes in place, besides its output, or NULL: the
 * recurrent ops' per-slot state (SSM_CONV src[2], GATED_DELTA_NET src[3]),
 * whose output is another tensor. Its bytes count as written: a later node
 * reading (or writing) the state waits for the update, and the update waits
 * for earlier readers of the old state. */
static const sc_tensor *inplace_src(const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_SSM_CONV: return node->src[2];
    case SC_OP_GATED_DELTA_NET: return node->src[3];
    default: return NULL;
    }
}

/* Before a node's first dispatch: does it depend on a node since the last barrier? */
static void node_begin(vk_rec *r, const sc_tensor *node) {
    vk_range w = range_of(node);
    bool hazard = r->overflow || overlaps(r->wr, r->n_wr, w) || overlaps(r->rd, r->n_rd, w);
    const sc_tensor *ip = inplace_src(node);
    if (ip && !hazard) {
        vk_range x = range_of(ip);
        hazard = overlaps(r->wr, r->n_wr, x) || overlaps(r->rd, r->n_rd, x);
    }
    for (int i = 0; i < SC_MAX_SRC && !hazard; i++)
        if (node->src[i]) hazard = overlaps(r->wr, r->n_wr, range_of(node->src[i]));
    r->need_barrier = hazard;
    r->node_dispatches = 0;
    r->independent = false;
    r->nscr_claim = false;
}

/* Before a fused group's first dispatch: node_begin over every member. */
static void group_begin(vk_rec *r, sc_tensor *const *nodes, const int *members, int n) {
    bool hazard = false;
    for (int k = 0; k < n; k++) {
        node_begin(r, nodes[members[k]]);
        hazard = hazard || r->need_barrier;
    }
    r->need_barrier = hazard;
}

/* A node writes its output: memo entries an earlier node derived from those
 * bytes go (a node may put an entry for what it writes itself: RMS_NORM's
 * int8 copy of its output). */
static void memo_drop(vk_rec *r, vk_range w) {
    int k = 0;
    for (int i = 0; i < r->n_memo; i++)
        if (r->memo[i].node == r->node_index || !(r->memo[i].lo < w.hi && w.lo < r->memo[i].hi))
            r->memo[k++] = r->memo[i];
    r->n_memo = k;
}

bool vk_rec_memo_get(vk_rec *r, uint64_t tag, uint64_t addr, uint64_t bytes, uint64_t *val) {
    for (int i = 0; i < r->n_memo; i++)
        if (r->memo[i].tag == tag && r->memo[i].lo == addr && r->memo[i].hi == addr + bytes) {
            *val = r->memo[i].val;
            return true;
        }
    return false;
}

void vk_rec_memo_put(vk_rec *r, uint64_t tag, uint64_t addr, uint64_t bytes, uint64_t val) {
    if (bytes == 0) return;
    if (r->n_memo == VK_MAX_MEMO) { /* the oldest goes */
        memmove(r->memo, r->memo + 1, (VK_MAX_MEMO - 1) * sizeof(r->memo[0]));
        r->n_memo--;
    }
    r->memo[r->n_memo++] = (vk_memo){tag, addr, addr + bytes, val, r->node_index};
}

/* After its dispatches: remember what it touched. A node of several
 * dispatches ends behind a barrier of its own, but its last dispatch is
 * still in flight, so the sets only reset on barriers. */
static void node_end(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *ip = inplace_src(node);
    if (r->n_memo) memo_drop(r, range_of(node)); /* before the early return: a write is a write */
    if (r->n_memo && ip) memo_drop(r, range_of(ip));
    if (r->node_dispatches == 0) return;
    add_range(r, r->wr, &r->n_wr, range_of(node));
    if (ip) add_range(r, r->wr, &r->n_wr, range_of(ip));
    for (int i = 0; i < SC_MAX_SRC; i++)
        if (node->src[i]) add_range(r, r->rd, &r->n_rd, range_of(node->src[i]));
    /* scratch is bump-allocated per graph: never shared between nodes */
}

/* ------------------------------------------------------------------------ */
/* profiling                                                                 */
/* ------------------------------------------------------------------------ */
static int profile_prepare(vk_stream *s, int n_nodes) {
    vk_dev *d = s->d;
    uint32_t want = (uint32_t)(n_nodes > 0 ? n_nodes : 1) * 8u + 64u; /* ~4 dispatches per node */
    if (s->qcap >= want) return SC_OK;
    if (s->qpool) d->fn.vkDestroyQueryPool(d->dev, s->qpool, NULL);
    vk_free(s->q_node);
    s->qpool = VK_NULL_HANDLE;
    s->qcap = 0;
    s->q_node = vk_calloc(want / 2, sizeof(int));
    if (!s->q_node) return SC_ENOMEM;
    VkQueryPoolCreateInfo qi = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = want,
    };
    if (vk_check(d->fn.vkCreateQueryPool(d->dev, &qi, NULL, &s->qpool), "vkCreateQueryPool") != VK_SUCCESS) {
        s->qpool = VK_NULL_HANDLE;
        s->profile = false;
        return SC_OK;
    }
    s->qcap = want;
    return SC_OK;
}

typedef struct op_sum {
    int op;
    int count;
    double us;
} op_sum;

static int cmp_sum(const void *a, const void *b) {
    double x = ((const op_sum *)a)->us, y = ((const op_sum *)b)->us;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void profile_report(vk_stream *s, sc_tensor *const *nodes, int n_nodes, double wall_us, double rec_us) {
    vk_dev *d = s->d;
    uint64_t *ts;
    double *node_us;
    int *node_nd;
    op_sum sums[SC_OP_COUNT];
    double total = 0;
    uint64_t mask = d->pi->timestamp_bits >= 64 ? ~0ull : (1ull << d->pi->timestamp_bits) - 1;

    if (s->qn == 0) return;
    ts = vk_calloc(s->qn, sizeof(*ts));
    node_us = vk_calloc((size_t)n_nodes, sizeof(*node_us));
    node_nd = vk_calloc((size_t)n_nodes, sizeof(*node_nd));
    if (!ts || !node_us || !node_nd) goto out;
    VkResult r = d->fn.vkGetQueryPoolResults(d->dev, s->qpool, 0, s->qn, s->qn * sizeof(uint64_t), ts,
                                            sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (vk_check(r, "vkGetQueryPoolResults") != VK_SUCCESS) goto out;
    for (uint32_t q = 0; q + 1 < s->qn; q += 2) {
        double us = (double)((ts[q + 1] - ts[q]) & mask) * d->caps.timestamp_period_ns * 1e-3;
        int ni = s->q_node[q / 2];
        node_us[ni] += us;
        node_nd[ni]++;
        total += us;
    }
    for (int op = 0; op < SC_OP_COUNT; op++) sums[op] = (op_sum){op, 0, 0.0};
    VK_LOG(SC_LOG_INFO, "profile: %d nodes, %u dispatches, GPU %.1f us (sum of dispatches), record %.1f us, "
           "submit-to-done %.1f us",
           n_nodes, s->qn / 2, total, rec_us, wall_us);
    for (int i = 0; i < n_nodes; i++) {
        if (!node_nd[i]) continue;
        const sc_tensor *t = nodes[i];
        char name[SC_MAX_NAME + 8];
        if (t->name[0]) snprintf(name, sizeof(name), "%.*s", SC_MAX_NAME, t->name);
        else snprintf(name, sizeof(name), "#%d", i);
        VK_LOG(SC_LOG_INFO, "  %-12s %-40s %3d disp %10.1f us", vk_host->op_name(t->op), name, node_nd[i],
               node_us[i]);
        if (t->op >= 0 && t->op < SC_OP_COUNT) {
            sums[t->op].count++;
            sums[t->op].us += node_us[i];
        }
    }
    qsort(sums, SC_OP_COUNT, sizeof(sums[0]), cmp_sum);
    VK_LOG(SC_LOG_INFO, "profile by op:");
    for (int i = 0; i < SC_OP_COUNT; i++)
        if (sums[i].count)
            VK_LOG(SC_LOG_INFO, "  %-12s %5d nodes %10.1f us %5.1f%%", vk_host->op_name(sums[i].op), sums[i].count,
                   sums[i].us, total > 0 ? 100.0 * sums[i].us / total : 0.0);
out:
    vk_free(ts);
    vk_free(node_us);
    vk_free(node_nd);
}

/* ------------------------------------------------------------------------ */
/* graph_compute                                                             */
/* ------------------------------------------------------------------------ */
static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static void global_barrier(vk_dev *d, VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags src_access,
                           VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    d->fn.vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* The next command buffer of this graph, begun. */
static int next_cb(vk_stream *s, VkCommandBuffer *out) {
    vk_dev *d = s->d;
    if (s->cur_cb == s->n_cbs) {
        if (s->n_cbs == s->cap_cbs) {
            int ncap = s->cap_cbs ? 2 * s->cap_cbs : 4;
            VkCommandBuffer *n = vk_calloc((size_t)ncap, sizeof(*n));
            if (!n) return SC_ENOMEM;
            if (s->n_cbs) memcpy(n, s->cbs, (size_t)s->n_cbs * sizeof(*n));
            vk_free(s->cbs);
            s->cbs = n;
            s->cap_cbs = ncap;
        }
        VkCommandBufferAllocateInfo cai = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = s->pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        if (vk_check(d->fn.vkAllocateCommandBuffers(d->dev, &cai, &s->cbs[s->n_cbs]), "vkAllocateCommandBuffers") !=
            VK_SUCCESS)
            return SC_EBACKEND;
        s->n_cbs++;
    }
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = 0, /* not ONE_TIME_SUBMIT: a recording may be replayed (below) */
    };
    *out = s->cbs[s->cur_cb++];
    if (vk_check(d->fn.vkBeginCommandBuffer(*out, &bi), "vkBeginCommandBuffer") != VK_SUCCESS) return SC_EBACKEND;
    return SC_OK;
}

/* After a failed submission: let what was submitted finish before buffers
 * (scratch, the caller's) go away. */
static void wait_idle(vk_stream *s) {
    vk_dev *d = s->d;
    pthread_mutex_lock(&d->queue_lock);
    vk_check(d->fn.vkQueueWaitIdle(d->queue), "vkQueueWaitIdle");
    pthread_mutex_unlock(&d->queue_lock);
}

/* End cb and submit it; with the fence for the graph's last one. */
static int submit_cb(vk_stream *s, VkCommandBuffer cb, bool last) {
    vk_dev *d = s->d;
    VkResult vr = d->fn.vkEndCommandBuffer(cb);
    if (vk_check(vr, "vkEndCommandBuffer") != VK_SUCCESS) return vk_result_to_sc(vr);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    sigset_t old;
    vk_sig_block(&old);
    pthread_mutex_lock(&d->queue_lock);
    vr = d->fn.vkQueueSubmit(d->queue, 1, &si, last ? s->fence : VK_NULL_HANDLE);
    pthread_mutex_unlock(&d->queue_lock);
    vk_sig_restore(&old);
    if (vk_check(vr, "vkQueueSubmit") != VK_SUCCESS) return vk_result_to_sc(vr);
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* replay                                                                    */
/* ------------------------------------------------------------------------ */
/* What recording a graph depends on: for every work node its op, type,
 * params, shape, strides and address, and the same of each source. A decode
 * step differs from the last only in the contents of memory (tokens,
 * positions, block tables, the KV cache), which shaders read at run time, so
 * its fingerprint is the same and its recording can be submitted again. The
 * tuning table's generation (vk_tune.c) heads it: a recording made under
 * other choices is not replayed. */
#define FP_NODE_WORDS (2 + 2 * SC_MAX_DIMS + SC_MAX_OP_PARAMS / 2 + 1 + SC_MAX_SRC * (2 + 2 * SC_MAX_DIMS))
#define FP_HEAD_WORDS 2 /* n_nodes, the tuning table's generation */

static void fp_tensor(uint64_t **w, const sc_tensor *t) {
    uint64_t *p = *w;
    *p++ = vk_addr(t);
    *p++ = (uint64_t)(uint32_t)t->type | (uint64_t)(uint32_t)t->op << 32;
    for (int d = 0; d < SC_MAX_DIMS; d++) *p++ = (uint64_t)t->ne[d];
    for (int d = 0; d < SC_MAX_DIMS; d++) *p++ = (uint64_t)t->nb[d];
    *w = p;
}

/* s->fp_new = the fingerprint of nodes; false when out of memory */
static bool fingerprint(vk_stream *s, sc_tensor *const *nodes, int n_nodes, size_t *len) {
    size_t need = (size_t)n_nodes * FP_NODE_WORDS + FP_HEAD_WORDS;
    if (need > s->fp_new_cap) {
        uint64_t *n = vk_calloc(need, sizeof *n);
        if (!n) return false;
        vk_free(s->fp_new);
        s->fp_new = n;
        s->fp_new_cap = need;
    }
    uint64_t *w = s->fp_new;
    *w++ = (uint64_t)n_nodes;
    /* a recording made under other tuning choices (vk_tune.c) is not replayed */
    *w++ = vk_tune_generation(s->d);
    for (int i = 0; i < n_nodes; i++) {
        const sc_tensor *n = nodes[i];
        if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW) continue;
        fp_tensor(&w, n);
        for (int k = 0; k < SC_MAX_OP_PARAMS; k += 2)
            *w++ = (uint64_t)(uint32_t)n->op_params[k] | (uint64_t)(uint32_t)n->op_params[k + 1] << 32;
        *w++ = n->flags;
        for (int k = 0; k < SC_MAX_SRC; k++) {
            if (n->src[k]) {
                fp_tensor(&w, n->src[k]);
            } else {
                for (int j = 0; j < 2 + 2 * SC_MAX_DIMS; j++) *w++ = 0;
            }
        }
    }
    *len = (size_t)(w - s->fp_new);
    return true;
}

/* Submit the cached recording again and wait for it. */
static int replay(vk_stream *s, int n_nodes) {
    vk_dev *d = s->d;
    double t0 = now_us();
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = (uint32_t)s->n_cached, .pCommandBuffers = s->cbs};
    sigset_t old;
    vk_sig_block(&old);
    pthread_mutex_lock(&d->queue_lock);
    VkResult vr = d->fn.vkQueueSubmit(d->queue, 1, &si, s->fence);
    pthread_mutex_unlock(&d->queue_lock);
    vk_sig_restore(&old);
    if (vk_check(vr, "vkQueueSubmit") != VK_SUCCESS) {
        s->cached = false;
        return vk_result_to_sc(vr);
    }
    vr = d->fn.vkWaitForFences(d->dev, 1, &s->fence, VK_TRUE, UINT64_MAX);
    if (vk_check(vr, "vkWaitForFences") != VK_SUCCESS) {
        s->cached = false;
        return vk_result_to_sc(vr);
    }
    if (vk_check(d->fn.vkResetFences(d->dev, 1, &s->fence), "vkResetFences") != VK_SUCCESS) {
        s->cached = false;
        return SC_EBACKEND;
    }
    uint32_t flag = 0;
    memcpy(&flag, s->err_host ? s->err_host->map : s->err->map, sizeof(flag));
    if (s->replay_log)
        VK_LOG(SC_LOG_INFO, "graph: replayed %d nodes (%d command buffers) in %.0f us", n_nodes, s->n_cached,
               now_us() - t0);
    if (flag & VK_ERR_RANGE) {
        VK_LOG(SC_LOG_ERROR, "a shader found an index out of range (ids, pos, seq, block table or g_idx)");
        return SC_ERANGE;
    }
    return SC_OK;
}

int vk_graph_compute(vk_stream *s, sc_tensor *const *nodes, int n_nodes) {
    vk_dev *d = s->d;
    vk_rec *r = &s->rec;
    int rc = SC_OK, n_work = 0, last_work = -1, n_submits = 0;
    double t0 = now_us(), t_rec, t_done;
    VkResult vr;
    size_t fp_len = 0;
    bool fp_ok = false;

    if (s->replay_on) {
        fp_ok = fingerprint(s, nodes, n_nodes, &fp_len);
        if (fp_ok && s->cached && fp_len == s->fp_len && memcmp(s->fp_new, s->fp, fp_len * sizeof(uint64_t)) == 0)
            return replay(s, n_nodes);
    }
    s->cached = false; /* the pool is reset below: the old recording goes */

    for (int i = 0; i < n_nodes; i++) {
        const sc_tensor *n = nodes[i];
        if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW) continue;
        if (!vk_ops_supports(d, n)) {
            VK_LOG(SC_LOG_ERROR, "cannot compute %s '%s' (%s) on %s", vk_host->op_name(n->op), n->name,
                   vk_host->type_name(n->type), d->pi->props.deviceName);
            return SC_ENOTSUP;
        }
        n_work++;
        last_work = i;
    }
    if (n_work == 0) return SC_OK;
    if (s->profile && profile_prepare(s, n_nodes) != SC_OK) return SC_ENOMEM;
    vk_fuse_graph *fg = NULL;
    rc = vk_fuse_plan(d, nodes, n_nodes, &fg);
    if (rc != SC_OK) return rc;

    if (vk_check(d->fn.vkResetCommandPool(d->dev, s->pool, 0), "vkResetCommandPool") != VK_SUCCESS) {
        vk_fuse_free(fg);
        return SC_EBACKEND;
    }
    memset(r, 0, sizeof(*r));
    r->s = s;
    s->cur_cb = 0;
    s->qn = 0;
    s->scratch_used = 0;
    s->scratch_total = 0;
    rc = next_cb(s, &r->cb);
    if (rc != SC_OK) {
        vk_fuse_free(fg);
        return rc;
    }

    /* earlier submissions (uploads, fills, the last graph) -> this graph; clear the error flag */
    if (s->profile) d->fn.vkCmdResetQueryPool(r->cb, s->qpool, 0, s->qcap);
    global_barrier(d, r->cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_MEMORY_READ_BIT,
                   VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
    d->fn.vkCmdFillBuffer(r->cb, s->err->buf, 0, 4, 0);
    global_barrier(d, r->cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT,
                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);

    /* the nodes; a long graph goes to the device in chunks while the rest is
     * recorded (barriers order work across submissions of one queue) */
    int chunk = s->submit_first;
    for (int i = 0; i <= last_work && rc == SC_OK; i++) {
        const sc_tensor *n = nodes[i];
        if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW) continue;
        r->node_index = i;
        const int *members = NULL;
        const vk_fuser *fuser = NULL;
        int n_members = 0;
        const int gi = vk_fuse_group_at(fg, i, &members, &n_members, &fuser);
        if (gi == -2) continue; /* recorded with its group */
        if (gi >= 0) {
            /* a group is one node to the hazard tracker: it may read what any
             * member reads and write what any member writes */
            group_begin(r, nodes, members, n_members);
            rc = fuser->record(r, fg, members, n_members);
            if (rc != SC_OK)
                VK_LOG(SC_LOG_ERROR, "recording fused %s at %s '%s' failed: %s", fuser->name,
                       vk_host->op_name(n->op), n->name, vk_host->strerror(rc));
            for (int k = 0; k < n_members; k++) node_end(r, nodes[members[k]]);
            r->n_fused += n_members - 1;
        } else {
            node_begin(r, n);
            rc = vk_ops_record(r, n);
            if (rc != SC_OK)
                VK_LOG(SC_LOG_ERROR, "recording %s '%s' failed: %s", vk_host->op_name(n->op), n->name,
                       vk_host->strerror(rc));
            node_end(r, n);
        }
        if (rc == SC_OK && chunk > 0 && r->cb_dispatches >= chunk && i < last_work) {
            rc = submit_cb(s, r->cb, false);
            if (rc == SC_OK) n_submits++, rc = next_cb(s, &r->cb);
            if (rc != SC_OK) {
                if (n_submits) wait_idle(s); /* r->cb is unusable: stop here */
                goto done;
            }
            r->cb_dispatches = 0;
            r->bound = NULL; /* a new command buffer has no pipeline bound */
            chunk = chunk * 2 < s->submit_max ? chunk * 2 : s->submit_max;
        }
    }
    if (rc != SC_OK && n_submits == 0) {
        d->fn.vkEndCommandBuffer(r->cb);
        goto done; /* nothing submitted */
    }

    /* results -> host; the error flag -> its readback copy */
    global_barrier(d, r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                   VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                   VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
    if (s->err_host) {
        VkBufferCopy region = {0, 0, 4};
        d->fn.vkCmdCopyBuffer(r->cb, s->err->buf, s->err_host->buf, 1, &region);
        global_barrier(d, r->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    }
    t_rec = now_us();
    /* submitted even after a recording error when earlier chunks are in
     * flight: the fence then says when they are done */
    int src = submit_cb(s, r->cb, true);
    if (src != SC_OK) {
        if (n_submits) wait_idle(s);
        if (rc == SC_OK) rc = src;
        goto done;
    }
    n_submits++;
    vr = d->fn.vkWaitForFences(d->dev, 1, &s->fence, VK_TRUE, UINT64_MAX);
    if (vk_check(vr, "vkWaitForFences") != VK_SUCCESS) {
        if (rc == SC_OK) rc = vk_result_to_sc(vr); /* device lost: the fence stays as it is */
        goto done;
    }
    if (vk_check(d->fn.vkResetFences(d->dev, 1, &s->fence), "vkResetFences") != VK_SUCCESS && rc == SC_OK)
        rc = SC_EBACKEND;
    t_done = now_us();
    if (rc != SC_OK) goto done;

    uint32_t flag = 0;
    memcpy(&flag, s->err_host ? s->err_host->map : s->err->map, sizeof(flag));
    if (flag & VK_ERR_RANGE) {
        VK_LOG(SC_LOG_ERROR, "a shader found an index out of range (ids, pos, seq, block table or g_idx)");
        rc = SC_ERANGE;
    }
    if (s->profile) profile_report(s, nodes, n_nodes, t_done - t_rec, t_rec - t0);
    /* keep this recording for the next identical graph, unless scratch grew
     * in pieces (those chunks are freed below, so their addresses go stale) */
    if (fp_ok && s->n_extra == 0) {
        uint64_t *t = s->fp;
        size_t tc = s->fp_cap;
        s->fp = s->fp_new;
        s->fp_cap = s->fp_new_cap;
        s->fp_len = fp_len;
        s->fp_new = t;
        s->fp_new_cap = tc;
        s->n_cached = s->cur_cb;
        s->cached = true;
    }
    VK_LOG(SC_LOG_DEBUG,
           "graph: %d nodes (%d fused into %d groups), %d dispatches, %d barriers, %d submits, record %.0f us, "
           "wait %.0f us",
           n_work, r->n_fused + vk_fuse_n_groups(fg), vk_fuse_n_groups(fg), r->n_dispatch, r->n_barrier, n_submits,
           t_rec - t0, t_done - t_rec);
done:
    vk_fuse_free(fg);
    /* Scratch grew in pieces this time: next graph gets one arena of the high-water size. */
    if (s->scratch_total > s->scratch_hw) s->scratch_hw = s->scratch_total;
    if (s->n_extra) {
        scratch_release_extra(s);
        vk_buf_destroy(d, s->scratch);
        s->scratch = NULL;
    }
    return rc;
}
