// backends/vulkan/shaders/attention_common.glsl - what the ATTENTION shaders
// (attention_decode.comp, attention_prefill.comp) share: reading rows of a
// paged f32/f16/bf16 cache as f32, and the layout of split-K partial results.
// Include after common.glsl; the including shader enables
// GL_EXT_control_flow_attributes ([[unroll]]).
//
// Register arrays: glslc unrolls an [[unroll]] loop (and so turns the arrays
// it indexes into registers) only when every loop nested in it is unrolled
// too, so loops of a run-time or specialization-constant count go outside,
// never inside, the unrolled ones.
//
// Cache types are specialization constants (sc_type numbering: 0 f32, 1 f16,
// 2 bf16), so one module serves every cache type and the branches below fold
// away when the pipeline is specialised.

const uint ATTN_F32 = 0u;
const uint ATTN_F16 = 1u;
const uint ATTN_BF16 = 2u;

// Vector views for rows the host found aligned (row start and every stride a
// multiple of 16 bytes, head_dim % 8 == 0): one 16-byte load per 4 (f32) or
// 8 (f16/bf16) elements.
layout(buffer_reference, scalar, buffer_reference_align = 16) buffer AttnV4F32 { vec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) buffer AttnV4U32 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) buffer AttnV2U32 { uvec2 v[]; };

// f16/bf16 bits -> f32. f16 goes through the hardware conversion
// (unpackHalf2x16): it may flush f16 subnormals (|x| < 6.1e-5) to zero on
// some devices, an error far below ATTENTION's bound for 16-bit caches
// (KV_WRITE, which must be exact, does its own integer rounding). An integer
// rebias (shift, multiply by 2^112) measured no faster on an H200 for decode
// and 1.5x slower for prefill.
vec2 attn_unpack2(uint ty, uint w) {
    return ty == ATTN_BF16 ? vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u)) : unpackHalf2x16(w);
}

float attn_half_to_f32(uint ty, uint h) { return attn_unpack2(ty, h).x; }

// Elements 4*i .. 4*i+3 of a row of D elements of type ty at address row;
// elements past D read as 0 (head_dim not a multiple of 4). aligned: the
// host's 16-byte alignment (then 8-byte alignment of 4 16-bit elements holds).
vec4 attn_load4(uint ty, bool aligned, uint D, uint64_t row, uint i) {
    if (aligned) {
        if (ty == ATTN_F32) return AttnV4F32(row).v[i];
        const uvec2 w = AttnV2U32(row).v[i];
        return vec4(attn_unpack2(ty, w.x), attn_unpack2(ty, w.y));
    }
    vec4 r = vec4(0.0);
    [[unroll]] for (uint c = 0; c < 4; c++) {
        const uint d = 4 * i + c;
        if (d < D) r[c] = ty == ATTN_F32 ? F32Buf(row).v[d] : attn_half_to_f32(ty, uint(U16Buf(row).v[d]));
    }
    return r;
}

// Elements 8*i .. 8*i+7 as two vec4: one 16-byte load for 16-bit types.
void attn_load8(uint ty, bool aligned, uint D, uint64_t row, uint i, out vec4 a, out vec4 b) {
    if (aligned && ty != ATTN_F32) {
        const uvec4 w = AttnV4U32(row).v[i];
        a = vec4(attn_unpack2(ty, w.x), attn_unpack2(ty, w.y));
        b = vec4(attn_unpack2(ty, w.z), attn_unpack2(ty, w.w));
    } else {
        a = attn_load4(ty, aligned, D, row, 2 * i);
        b = attn_load4(ty, aligned, D, row, 2 * i + 1);
    }
}

// q row (f32, rows contiguous but possibly unaligned: a slice of a fused
// projection starts one element in), elements past D as 0.
vec4 attn_load_q4(uint D, uint64_t row, uint i) {
    vec4 r = vec4(0.0);
    [[unroll]] for (uint c = 0; c < 4; c++) {
        const uint d = 4 * i + c;
        if (d < D) r[c] = F32Buf(row).v[d];
    }
    return r;
}

// Split-K partial results (scratch), one record per (split s, head h, token t)
// at index (t * H + h) * NS + s, each ATTN_PART_STRIDE(D) floats:
//   [0] m: the running max of the scores in log2 units (-inf: no key seen)
//   [1] l: sum over the split's keys of exp2(score - m)
//   [2..3] padding, so that the accumulator is 16-byte aligned
//   [4 .. 4 + D) acc: sum of exp2(score - m) * v, unnormalised
// attention_reduce.comp merges the NS records of a (h, t).
uint attn_part_stride(uint D) { return D + 4u; }

// log2(e): scores are kept in log2 units (q is pre-scaled by scale * log2(e))
// so that every exponential is one exp2.
const float ATTN_LOG2E = 1.4426950408889634;

// -inf: a masked score, or the running max before any key.
#define NEG_INF uintBitsToFloat(0xff800000u)
