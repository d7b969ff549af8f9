#version 450
// backends/vulkan/shaders/select_get_rows.comp - GET_ROWS (docs/ops.md).
//
//   table [D, V]  TABLE = 0 f32, 1 f16, 2 bf16 (rows contiguous, row stride
//                 free), 3 QG (one slab: codes, f16 scales, u8 zeros, g_idx)
//   ids   i32 [n]
//   y     f32 [D, n]   y[:, i] = table[:, ids[i]]
//
// One invocation per output element; a workgroup covers WG columns of one
// output row (cpr workgroups per row). Exact: dense rows are converted with
// integer arithmetic (select_fp.glsl), a QG weight is
//   W[v][k] = round_f16( scale[v][g] * (code[v][k] - zero[v][g]) )
// (round_bf16 with SC_QUANT_BF16_ROUND), g = g_idx ? g_idx[k] : k / group_size;
// the f32 product of an f16 scale and an integer of at most 9 bits is exact.
// An id outside 0..V-1 or a g_idx entry outside 0..G-1 sets ERR_RANGE in the
// error flag and the elements it would have written are skipped.
#include "common.glsl"
#include "select_fp.glsl"

#ifndef TABLE
#define TABLE 0
#endif

layout(constant_id = 0) const uint WG = 256;

layout(push_constant, scalar) uniform Push {
    uint64_t table, ids, y, err;
    uint64_t tnb1;          // table row stride (QG: row_bytes of codes)
    uint64_t ynb1;          // output row stride
    uint64_t scales_off;    // QG slab offsets (bytes)
    uint64_t zeros_off;
    uint64_t gidx_off;      // 0: no g_idx
    uint D, V, n;
    uint cpr;               // workgroups per output row: ceil(D / WG)
    uint bits, group_size, G, bf16_round;
    uint wg_base, wg_count;
} pc;

void main() {
    uint group;
    if (!sel_group(pc.wg_base, pc.wg_count, group)) return;
    const uint i = group / pc.cpr;                                  // output row
    const uint k = (group % pc.cpr) * WG + gl_LocalInvocationID.x; // column
    if (i >= pc.n || k >= pc.D) return;

    const int id = I32Buf(pc.ids).v[i];
    if (id < 0 || uint(id) >= pc.V) {
        if (k == 0u) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }
    const uint64_t row = pc.table + uint64_t(id) * pc.tnb1;
    uint bits_out;
#if TABLE == 0
    bits_out = U32Buf(row).v[k];
#elif TABLE == 1
    bits_out = fp_f16_to_f32(uint(U16Buf(row).v[k]));
#elif TABLE == 2
    bits_out = fp_bf16_to_f32(uint(U16Buf(row).v[k]));
#else
    // code k: the `bits`-wide field at bit bits*k of the row, LSB first; a
    // 3-bit field may straddle two bytes
    const uint64_t bit = uint64_t(k) * pc.bits;
    const uint64_t byte_ = bit >> 3;
    const uint shift = uint(bit & 7ul);
    U8Buf codes = U8Buf(row + byte_);
    uint v = uint(codes.v[0]);
    if (shift + pc.bits > 8u) v |= uint(codes.v[1]) << 8;
    const int code = int((v >> shift) & ((1u << pc.bits) - 1u));

    uint g;
    if (pc.gidx_off != 0ul) {
        const int gi = I32Buf(pc.table + pc.gidx_off).v[k];
        if (gi < 0 || uint(gi) >= pc.G) {
            atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
            return;
        }
        g = uint(gi);
    } else {
        g = k / pc.group_size;
    }
    const uint64_t sg = uint64_t(id) * pc.G + g; // index into scales/zeros [V, G]
    const float scale = uintBitsToFloat(fp_f16_to_f32(uint(U16Buf(pc.table + pc.scales_off + sg * 2ul).v[0])));
    const int zero = int(U8Buf(pc.table + pc.zeros_off + sg).v[0]);
    const float w = scale * float(code - zero); // exact
    bits_out = pc.bf16_round != 0u ? fp_round_bf16(floatBitsToUint(w)) : fp_round_f16(floatBitsToUint(w));
#endif
    U32Buf(pc.y + uint64_t(i) * pc.ynb1).v[k] = bits_out;
}
