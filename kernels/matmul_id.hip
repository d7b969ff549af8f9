/*
 * kernels/matmul_id.hip - MUL_MAT_ID's pairs sorted by expert, for the
 * grouped GEMM (k_mm_gemm_* with lists); arguments kernels/matmul.h, host
 * backends/hip/hip_op_matmul.c.
 *
 *   ids i32 [n_used, T] -> lists (u32, sc_mm_gemm_args):
 *     [0]              number of work items
 *     off_at + e       first list entry of expert e (E + 1 entries)
 *     items_at + 2j    work item j: {expert, first entry of its tile}
 *     list_at + q      pair i + t * n_used, grouped by expert
 *
 * One block of SC_MM_ID_THREADS threads (the lists are small: a few entries
 * per token), counters in shared memory (E <= SC_MM_ID_MAX_E):
 *   1. count the pairs of each expert (shared atomics);
 *   2. prefix sums of the counts and of the tiles (ceil(count / SC_MM_TILE)),
 *      each thread over a run of consecutive experts, then across threads;
 *   3. write the offsets and the work items;
 *   4. place every pair (the order inside an expert is whatever the atomics
 *      give: each pair's output is computed alone, so y does not depend on it).
 * A pair whose id is outside 0..E-1 (the reference's SC_ERANGE) is reported
 * in p.err, once, while counting, and left out (its y column is not written).
 */
#include "sc_hip.h"
#include "matmul.h"

#define NT SC_MM_ID_THREADS
#define PER ((SC_MM_ID_MAX_E + NT - 1) / NT) /* experts per thread in the scans */

struct mm_id_smem {
    int cnt[SC_MM_ID_MAX_E];   /* pairs per expert, then the placement cursors */
    uint32_t off[SC_MM_ID_MAX_E]; /* first list entry per expert */
    uint32_t tsum[NT], psum[NT];  /* per-thread tile and pair totals -> exclusive prefixes */
};

static __device__ __forceinline__ int32_t mm_id_of(const sc_mm_id_lists_args &p, uint32_t pair) {
    const uint32_t i = pair % p.n_used, t = pair / p.n_used;
    return *(const int32_t *)(p.ids + (int64_t)t * p.ids_nb1 + (int64_t)i * 4);
}

SC_KERNEL(k_mm_id_lists, sc_mm_id_lists_args, SC_MM_ID_THREADS) {
    __shared__ mm_id_smem sm;
    const uint32_t tid = threadIdx.x, E = p.E, npairs = p.n_used * p.T;

    /* 1. counts */
    for (uint32_t e = tid; e < E; e += NT) sm.cnt[e] = 0;
    __syncthreads();
    for (uint32_t q = tid; q < npairs; q += NT) {
        const int32_t e = mm_id_of(p, q);
        if (e >= 0 && (uint32_t)e < E) atomicAdd(&sm.cnt[e], 1);
        else sc_report(p.err, SC_HIP_ERR_RANGE);
    }
    __syncthreads();

    /* 2. this thread's experts e0 .. e0 + PER - 1: pair and tile totals */
    const uint32_t e0 = tid * PER;
    uint32_t pairs = 0, tiles = 0;
    for (uint32_t e = e0; e < e0 + PER && e < E; e++) {
        pairs += (uint32_t)sm.cnt[e];
        tiles += ((uint32_t)sm.cnt[e] + SC_MM_TILE - 1) / SC_MM_TILE;
    }
    sm.psum[tid] = pairs;
    sm.tsum[tid] = tiles;
    __syncthreads();
    /* inclusive scan over the threads (Hillis-Steele, read then write) */
    for (uint32_t s = 1; s < NT; s *= 2) {
        const uint32_t pp = tid >= s ? sm.psum[tid - s] : 0u, tt = tid >= s ? sm.tsum[tid - s] : 0u;
        __syncthreads();
        sm.psum[tid] += pp;
        sm.tsum[tid] += tt;
        __syncthreads();
    }

    /* 3. offsets and work items of this thread's experts */
    uint32_t po = sm.psum[tid] - pairs, to = sm.tsum[tid] - tiles; /* exclusive prefixes */
    for (uint32_t e = e0; e < e0 + PER && e < E; e++) {
        const uint32_t c = (uint32_t)sm.cnt[e];
        sm.off[e] = po;
        p.lists[p.off_at + e] = po;
        for (uint32_t f = 0; f < c; f += SC_MM_TILE) {
            p.lists[p.items_at + 2 * to] = e;
            p.lists[p.items_at + 2 * to + 1] = f;
            to++;
        }
        po += c;
    }
    if (tid == NT - 1) {
        p.lists[0] = sm.tsum[NT - 1];
        p.lists[p.off_at + E] = sm.psum[NT - 1];
    }
    __syncthreads();

    /* 4. place the pairs */
    for (uint32_t e = tid; e < E; e += NT) sm.cnt[e] = 0;
    __syncthreads();
    for (uint32_t q = tid; q < npairs; q += NT) {
        const int32_t e = mm_id_of(p, q);
        if (e >= 0 && (uint32_t)e < E) p.lists[p.list_at + sm.off[e] + (uint32_t)atomicAdd(&sm.cnt[e], 1)] = q;
    }
}
