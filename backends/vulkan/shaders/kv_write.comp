#version 450
// backends/vulkan/shaders/kv_write.comp - KV_WRITE: new keys or values into a
// paged cache (docs/ops.md, backends/cpu/ref_attention.c sc__cpu_ref_kv_write).
//
//   src   f32 [D, Hkv, T]            rows contiguous, nb1/nb2 free (slices, permutes)
//   cache     [D, Hkv, BS, NB]       f32/f16/bf16 (spec constant KT), the node's memory
//   bt    i32 [MB, NSEQ]             block_table; pos, seq i32 [T] (seq 0: NULL)
//
// Token t (sequence s = seq[t], position p = pos[t]) goes to block
// bt[p / BS, s], row p % BS, every kv head. One invocation per element:
// x = d + D * h over [D * Hkv], workgroup y = token (t_base + y), so adjacent
// invocations write adjacent elements of one row.
//
// Rounding must equal sc_f32_to_f16 / sc_f32_to_bf16 bit for bit (backend-ops
// compares the cache exactly), so both conversions are done in integer
// arithmetic (kv_slot.glsl kv_store, select_fp.glsl): packHalf2x16's rounding
// is implementation-defined, and f32 subnormals may be flushed by float
// instructions (shaderDenormPreserveFloat32 is off on lavapipe and RADV). The
// f32 cache is copied as bits for the same reason.
#include "common.glsl"
#include "select_fp.glsl"
#include "kv_slot.glsl"

layout(constant_id = 3) const uint KT = 0; // cache type: 0 f32, 1 f16, 2 bf16 (sc_type numbering)

layout(push_constant, std430) uniform PC {
    uint64_t dst;   // the node: cache memory [D, Hkv, BS, NB]
    uint64_t src;   // f32 [D, Hkv, T]
    uint64_t bt;    // i32 [MB, NSEQ]
    uint64_t pos;   // i32 [T]
    uint64_t seq;   // i32 [T], or 0
    uint64_t err;   // u32 error flag
    uint src_nb1, src_nb2;            // bytes
    uint dst_nb1, dst_nb2, dst_nb3;   // bytes
    uint bt_nb1;                      // bytes
    uint D, Hkv, BS, NB, MB, NSEQ;
    uint t_base;
} pc;

void main() {
    const uint i = gl_GlobalInvocationID.x; // d + D * h
    const uint t = pc.t_base + gl_WorkGroupID.y;
    if (i >= pc.D * pc.Hkv) return;
    const uint d = i % pc.D, h = i / pc.D;

    // range checks (kv_slot.glsl); one invocation per token reports, all of
    // them skip the token
    uint slot, blk;
    if (!kv_slot(pc.bt, pc.bt_nb1, pc.pos, pc.seq, t, pc.BS, pc.NB, pc.MB, pc.NSEQ, slot, blk)) {
        if (i == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }

    const uint x = U32Buf(pc.src + uint64_t(h) * pc.src_nb1 + uint64_t(t) * pc.src_nb2).v[d];
    const uint64_t row = pc.dst + uint64_t(h) * pc.dst_nb1 + uint64_t(slot) * pc.dst_nb2 +
                         uint64_t(blk) * pc.dst_nb3; // [D] of the cache type
    kv_store(KT, row, d, x);
}
