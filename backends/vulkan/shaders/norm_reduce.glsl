// backends/vulkan/shaders/norm_reduce.glsl - workgroup-wide sum and max of
// one float per invocation, for the row reductions of the norm family
// (norm_rms.comp, norm_softmax.comp) and the key/query norms of
// gated_delta_net.comp. Include after common.glsl.
//
// Specialization constants (vk_op_norm.c, vk_op_recurrent.c set them):
//   0  WG  local_size_x, a power of two, >= SG
//   3  SG  the device's subgroup size (vk_caps.subgroup_size)
// Compiled twice: with -DUSE_SUBGROUP=1 (vk_caps.subgroup_arithmetic) the
// reduction is subgroupAdd/Max, then one partial per subgroup through shared
// memory; without it (or when a pipeline happens to run at a subgroup size
// other than SG, tested at run time and uniform over the workgroup) it is a
// shared-memory tree. Every invocation of the workgroup must call these, in
// uniform control flow; the result is returned to all of them.

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 3) const uint SG = 32;

shared float red_f[WG]; // tree slots; in the subgroup path, one partial per subgroup

float wg_sum(float v) {
    const uint tid = gl_LocalInvocationID.x;
#ifdef USE_SUBGROUP
    if (gl_SubgroupSize == SG) {
        v = subgroupAdd(v);
        if (subgroupElect()) red_f[gl_SubgroupID] = v;
        barrier();
        float s = 0.0;
        for (uint i = 0; i < WG / SG; i++) s += red_f[i]; // same order in every invocation
        barrier();                                        // red_f is free again
        return s;
    }
#endif
    red_f[tid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red_f[tid] += red_f[tid + s];
        barrier();
    }
    const float r = red_f[0];
    barrier();
    return r;
}

// max that ignores a NaN operand, as fmaxf does (an all-NaN input gives -inf
// through the callers' -inf start value)
float fmax_nonan(float a, float b) { return (b > a || isnan(a)) ? b : a; }

float wg_max(float v) {
    const uint tid = gl_LocalInvocationID.x;
#ifdef USE_SUBGROUP
    if (gl_SubgroupSize == SG) {
        v = subgroupMax(v);
        if (subgroupElect()) red_f[gl_SubgroupID] = v;
        barrier();
        float m = red_f[0];
        for (uint i = 1; i < WG / SG; i++) m = fmax_nonan(m, red_f[i]);
        barrier();
        return m;
    }
#endif
    red_f[tid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red_f[tid] = fmax_nonan(red_f[tid], red_f[tid + s]);
        barrier();
    }
    const float r = red_f[0];
    barrier();
    return r;
}

// The workgroup's row when a grid is split into dispatches of at most
// 65535 x 65535 workgroups (vk_op_norm.c: norm_dispatch): wg_base is the
// first row of this dispatch, wg_count how many it holds (the last grid row
// may be partly empty). Returns false for a padding workgroup.
bool norm_row(uint wg_base, uint wg_count, out uint row) {
    const uint local = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    row = wg_base + local;
    return local < wg_count;
}
