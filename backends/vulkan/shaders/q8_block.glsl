// backends/vulkan/shaders/q8_block.glsl - one block of 32 f32 activations to
// int8 for the int8 dot-product GEMV (mul_mat_vec_dp4.comp): the layout and
// byte orders quantize_q8.comp describes (norm_rms.comp's Q8OUT variant
// builds the same bytes from registers; attention_decode.comp's packs them
// with q8_pack from shared memory). Include after common.glsl; Q8_SRC names
// the buffer reference type q8_block reads the 32 values through (default
// RF32; Q8_NO_SRC leaves q8_block out).
#if !defined(Q8_SRC) && !defined(Q8_NO_SRC)
#define Q8_SRC RF32
#endif

layout(buffer_reference, scalar, buffer_reference_align = 16) writeonly buffer WU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) writeonly buffer WVec2 { vec2 v[]; };

// 32 values -> the block's 8 words (w0: words 0-3, w1: 4-7) and (d, float(sum));
// perm: the 4-bit byte order.
void q8_pack(float v[32], bool perm, out uvec4 w0, out uvec4 w1, out vec2 dsum) {
    float amax = 0.0;
    [[unroll]] for (uint k = 0; k < 32u; k++) amax = max(amax, abs(v[k]));
    const float d = amax / 127.0;
    const float id = amax > 0.0 ? 127.0 / amax : 0.0;

    // int8 values in packing order (constant indices only: v stays in registers)
    int q[32];
    if (perm) {
        // word 2h + o (o = 0: low nibbles, 1: high) byte t holds xq[8h + 2t + o]
        [[unroll]] for (uint j = 0; j < 8u; j++)
            [[unroll]] for (uint t = 0; t < 4u; t++)
                q[4u * j + t] = int(clamp(roundEven(v[8u * (j / 2u) + 2u * t + (j % 2u)] * id), -127.0, 127.0));
    } else {
        [[unroll]] for (uint k = 0; k < 32u; k++) q[k] = int(clamp(roundEven(v[k] * id), -127.0, 127.0));
    }
    uint w[8];
    int sum = 0;
    [[unroll]] for (uint j = 0; j < 8u; j++) {
        uint packed = 0u;
        [[unroll]] for (uint t = 0; t < 4u; t++) {
            sum += q[4u * j + t];
            packed |= (uint(q[4u * j + t]) & 0xffu) << (8u * t);
        }
        w[j] = packed;
    }
    w0 = uvec4(w[0], w[1], w[2], w[3]);
    w1 = uvec4(w[4], w[5], w[6], w[7]);
    dsum = vec2(d, float(sum));
}

// Store block i of the copy: words at 2 uvec4 index 2i, 2i+1 of qs, ds[i].
void q8_store(uint64_t qs, uint64_t ds, uint i, uvec4 w0, uvec4 w1, vec2 dsum) {
    WU32x4(qs).v[2u * i] = w0;
    WU32x4(qs).v[2u * i + 1u] = w1;
    WVec2(ds).v[i] = dsum;
}

#ifndef Q8_NO_SRC
// Block b of the column at col (f32 [K]) -> block i of qs / ds.
void q8_block(uint64_t col, uint b, uint64_t qs, uint64_t ds, uint i, bool perm) {
    float v[32];
    [[unroll]] for (uint k = 0; k < 32u; k++) v[k] = Q8_SRC(col).v[b * 32u + k];
    uvec4 w0, w1;
    vec2 dsum;
    q8_pack(v, perm, w0, w1, dsum);
    q8_store(qs, ds, i, w0, w1, dsum);
}
#endif
