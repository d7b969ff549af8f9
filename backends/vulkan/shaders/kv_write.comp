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
// arithmetic here: packHalf2x16's rounding is implementation-defined, and f32
// subnormals may be flushed by float instructions (shaderDenormPreserveFloat32
// is off on lavapipe and RADV). The f32 cache is copied as bits for the same
// reason.
#include "common.glsl"

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

// f32 -> f16 bits, round to nearest even: backends/cpu/cpu_fp.h sc__f32_to_f16_inl.
uint f32_to_f16_rne(uint x) {
    uint sign = (x >> 16) & 0x8000u;
    uint ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { // inf or NaN (quieted, top payload bits kept)
        if (ax == 0x7f800000u) return sign | 0x7c00u;
        return sign | 0x7e00u | ((ax >> 13) & 0x3ffu);
    }
    if (ax >= 0x477ff000u) return sign | 0x7c00u; // >= 65520: rounds to inf
    if (ax >= 0x38800000u) {                      // a normal f16: rebias, RNE on 13 bits
        uint odd = (ax >> 13) & 1u;
        ax += 0xc8000fffu + odd;                  // -(112 << 23) + 0xfff + odd (mod 2^32)
        return sign | (ax >> 13);
    }
    uint e = ax >> 23; // below 2^-14: an f16 subnormal (units of 2^-24) or zero
    if (e < 102u) return sign;
    uint m = (ax & 0x7fffffu) | 0x800000u;
    uint shift = 126u - e; // 14..24
    uint q = m >> shift;
    uint rem = m & ((1u << shift) - 1u);
    uint half_ = 1u << (shift - 1u);
    if (rem > half_ || (rem == half_ && (q & 1u) != 0u)) q++;
    return sign | q;
}

// f32 -> bf16 bits, round to nearest even, NaN quieted (sc__f32_to_bf16_inl).
uint f32_to_bf16_rne(uint x) {
    if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 0x40u;
    x += 0x7fffu + ((x >> 16) & 1u);
    return x >> 16;
}

void main() {
    const uint i = gl_GlobalInvocationID.x; // d + D * h
    const uint t = pc.t_base + gl_WorkGroupID.y;
    if (i >= pc.D * pc.Hkv) return;
    const uint d = i % pc.D, h = i / pc.D;

    const int s = pc.seq != 0 ? I32Buf(pc.seq).v[t] : 0;
    const int p = I32Buf(pc.pos).v[t];
    // range checks (the reference's sc__cpu_kv_block); one invocation per
    // token reports, all of them skip the token
    bool ok = s >= 0 && uint(s) < pc.NSEQ && p >= 0 && uint(p) / pc.BS < pc.MB;
    int blk = -1;
    if (ok) {
        blk = I32Buf(pc.bt + uint64_t(uint(s)) * pc.bt_nb1).v[uint(p) / pc.BS];
        ok = blk >= 0 && uint(blk) < pc.NB;
    }
    if (!ok) {
        if (i == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }

    const uint x = U32Buf(pc.src + uint64_t(h) * pc.src_nb1 + uint64_t(t) * pc.src_nb2).v[d];
    const uint64_t row = pc.dst + uint64_t(h) * pc.dst_nb1 + uint64_t(uint(p) % pc.BS) * pc.dst_nb2 +
                         uint64_t(uint(blk)) * pc.dst_nb3; // [D] of the cache type
    if (KT == 0) {
        U32Buf(row).v[d] = x;
    } else if (KT == 1) {
        U16Buf(row).v[d] = uint16_t(f32_to_f16_rne(x));
    } else {
        U16Buf(row).v[d] = uint16_t(f32_to_bf16_rne(x));
    }
}
