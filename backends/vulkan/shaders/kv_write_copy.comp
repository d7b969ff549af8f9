#version 450
// backends/vulkan/shaders/kv_write_copy.comp - KV_WRITE's first step when the
// node does not share the cache's memory (node->data != cache->data): the
// cache is copied into the node, then kv_write.comp writes the new tokens.
//
//   cache, node [D, Hkv, BS, NB] of one type, rows contiguous, strides free.
//
// Rows are moved as u16 words (every cache type is 2 or 4 bytes, rows start
// on their element size), bit for bit. A grid-stride loop over the W = NR *
// RW words (NR rows of RW words each) keeps the grid under 65535 workgroups
// whatever NB is.
#include "common.glsl"

layout(push_constant, std430) uniform PC {
    uint64_t src; // the cache
    uint64_t dst; // the node
    uint src_nb1, src_nb2, src_nb3; // bytes
    uint dst_nb1, dst_nb2, dst_nb3;
    uint RW;      // u16 words per row: D * elsize / 2
    uint Hkv, BS, NB;
} pc;

void main() {
    const uint64_t n_rows = uint64_t(pc.Hkv) * pc.BS * pc.NB;
    const uint64_t W = n_rows * pc.RW;
    const uint64_t stride = uint64_t(gl_NumWorkGroups.x) * gl_WorkGroupSize.x;
    for (uint64_t w = gl_GlobalInvocationID.x; w < W; w += stride) {
        const uint e = uint(w % pc.RW);
        const uint64_t row = w / pc.RW; // h + Hkv * (slot + BS * block)
        const uint h = uint(row % pc.Hkv);
        const uint slot = uint((row / pc.Hkv) % pc.BS);
        const uint blk = uint(row / (uint64_t(pc.Hkv) * pc.BS));
        const uint64_t s = pc.src + uint64_t(h) * pc.src_nb1 + uint64_t(slot) * pc.src_nb2 + uint64_t(blk) * pc.src_nb3;
        const uint64_t d = pc.dst + uint64_t(h) * pc.dst_nb1 + uint64_t(slot) * pc.dst_nb2 + uint64_t(blk) * pc.dst_nb3;
        U16Buf(d).v[e] = U16Buf(s).v[e];
    }
}
