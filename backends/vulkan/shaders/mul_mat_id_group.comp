#version 450
// backends/vulkan/shaders/mul_mat_id_group.comp - sort MUL_MAT_ID's (i, t)
// pairs by expert, so that the grouped GEMM (mul_mat.comp -DMUL_MAT_ID) reads
// each expert's weights once per 64 of its tokens instead of once per pair.
//
// In:  ids i32 [n_used, T] (ids_nb1: i32 elements between tokens).
// Out: u32 at pc.out: off[0..E] (off[e] = first list slot of expert e, off[E]
//      = number of valid pairs), then list[P], P = n_used*T: the pairs
//      p = i + n_used*t, grouped by expert (in no particular order inside a
//      group: every pair's output is computed independently, so the order
//      does not change any result).
// An id outside 0..E-1 raises ERR_RANGE and its pair is left out (its output
// is not written). One workgroup does it all: P and E are small next to the
// GEMM that follows (E <= MAX_E, checked by the host).
#include "common.glsl"

const uint MAX_E = 4096u;
shared uint cnt[MAX_E]; // per-expert counts, then the running write cursors
shared uint part[1024]; // per-lane partial sums for the scan (local_size_x <= 1024)

layout(push_constant) uniform Push {
    uint64_t ids, out_, err;
    uint n_used, T, ids_nb1, E;
} pc;

int id_of(uint p) { return I32Buf(pc.ids).v[p % pc.n_used + (p / pc.n_used) * pc.ids_nb1]; }

void main() {
    const uint tid = gl_LocalInvocationID.x, BS = gl_WorkGroupSize.x;
    const uint E = pc.E, P = pc.n_used * pc.T;
    U32Buf o = U32Buf(pc.out_);

    for (uint e = tid; e < E; e += BS) cnt[e] = 0u;
    barrier();
    for (uint p = tid; p < P; p += BS) {
        const int e = id_of(p);
        if (e >= 0 && uint(e) < E) atomicAdd(cnt[e], 1u);
        else atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
    }
    barrier();

    // exclusive scan of cnt: lane `tid` owns experts [tid*per, tid*per + per)
    const uint per = (E + BS - 1u) / BS, e0 = min(tid * per, E), e1 = min(e0 + per, E);
    uint sum = 0u;
    for (uint e = e0; e < e1; e++) sum += cnt[e];
    part[tid] = sum;
    barrier();
    if (tid == 0u) {
        uint run = 0u;
        for (uint l = 0; l < BS; l++) {
            const uint c = part[l];
            part[l] = run;
            run += c;
        }
        o.v[E] = run;
    }
    barrier();
    uint run = part[tid];
    for (uint e = e0; e < e1; e++) {
        const uint c = cnt[e];
        cnt[e] = run;
        o.v[e] = run;
        run += c;
    }
    barrier();

    for (uint p = tid; p < P; p += BS) {
        const int e = id_of(p);
        if (e >= 0 && uint(e) < E) o.v[E + 1u + atomicAdd(cnt[e], 1u)] = p;
    }
}
