#version 450
// backends/vulkan/shaders/select_cpy.comp - CPY: copy, cast, make contiguous,
// reshape (docs/ops.md).
//
//   a    [sne0..3]  f32/f16/bf16/i32/i8, any byte strides snb
//   dst  [dne0..3]  f32/f16/bf16/i32/i8, any byte strides dnb,
//                   same number of elements
//
// Element e in logical order (ne0 fastest) of a goes to element e in logical
// order of dst: same shape = cast / "cont", another shape = reshape. The host
// has already merged dims that are contiguous in memory (a tensor's logical
// order does not change), so a dense tensor is a single dim here.
// One invocation per element. Casts are exact bit manipulations
// (select_fp.glsl): float <-> float rounds to nearest even, equal types copy
// the bits, i8 -> i32 sign-extends, i32 -> i8 needs -128..127 (else
// ERR_RANGE and that element is skipped). Float <-> int is never asked for
// (vk_supports_select refuses it, as the reference does).
#include "common.glsl"
#include "select_fp.glsl"

layout(constant_id = 0) const uint WG = 256;

// SC_TYPE_* (strixcore/plugin.h)
const uint T_F32 = 0u, T_F16 = 1u, T_BF16 = 2u, T_I32 = 3u, T_I8 = 4u;

layout(push_constant, scalar) uniform Push {
    uint64_t src, dst, err;
    uint sne0, sne1, sne2, sne3;
    uint snb0, snb1, snb2, snb3; // byte strides (< 2^32, checked on the host)
    uint dne0, dne1, dne2, dne3;
    uint dnb0, dnb1, dnb2, dnb3;
    uint types;                  // src type | dst type << 8
    uint wg_base, wg_count;
} pc;

// byte offset of logical element e of a tensor
uint64_t elem_offset(uint e, uint ne0, uint ne1, uint ne2, uint nb0, uint nb1, uint nb2, uint nb3) {
    const uint i0 = e % ne0; e /= ne0;
    const uint i1 = e % ne1; e /= ne1;
    const uint i2 = e % ne2;
    const uint i3 = e / ne2;
    return uint64_t(i0) * nb0 + uint64_t(i1) * nb1 + uint64_t(i2) * nb2 + uint64_t(i3) * nb3;
}

void main() {
    uint group;
    if (!sel_group(pc.wg_base, pc.wg_count, group)) return;
    const uint e = group * WG + gl_LocalInvocationID.x;
    if (e >= pc.sne0 * pc.sne1 * pc.sne2 * pc.sne3) return;

    const uint64_t sa = pc.src + elem_offset(e, pc.sne0, pc.sne1, pc.sne2, pc.snb0, pc.snb1, pc.snb2, pc.snb3);
    const uint64_t da = pc.dst + elem_offset(e, pc.dne0, pc.dne1, pc.dne2, pc.dnb0, pc.dnb1, pc.dnb2, pc.dnb3);
    const uint st = pc.types & 0xffu, dt = pc.types >> 8;

    // load: raw bits, widened to 32
    uint v;
    if (st == T_F32 || st == T_I32) v = U32Buf(sa).v[0];
    else if (st == T_I8) v = uint(U8Buf(sa).v[0]);
    else v = uint(U16Buf(sa).v[0]);

    if (st != dt) {
        if (st == T_I32) { // -> i8: narrowing is range-checked
            const int iv = int(v);
            if (iv < -128 || iv > 127) {
                atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
                return;
            }
        } else if (st == T_I8) { // -> i32: sign-extend
            v = uint(int(v << 24) >> 24);
        } else { // float -> float, through f32 bits
            if (st == T_F16) v = fp_f16_to_f32(v);
            else if (st == T_BF16) v = fp_bf16_to_f32(v);
            if (dt == T_F16) v = fp_f32_to_f16(v);
            else if (dt == T_BF16) v = fp_f32_to_bf16(v);
        }
    }

    if (dt == T_F32 || dt == T_I32) U32Buf(da).v[0] = v;
    else if (dt == T_I8) U8Buf(da).v[0] = uint8_t(v & 0xffu);
    else U16Buf(da).v[0] = uint16_t(v & 0xffffu);
}
