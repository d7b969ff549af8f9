// backends/vulkan/shaders/q8_block.glsl - one block of 32 f32 activations to
// int8 for the int8 dot-product GEMV (mul_mat_vec_dp4.comp): the layout and
// byte orders quantize_q8.comp describes (norm_rms.comp's Q8OUT variant
// builds the same bytes from registers). Include after common.glsl; Q8_SRC
// names the buffer reference type the 32 values are read through (default
// RF32).
#ifndef Q8_SRC
#define Q8_SRC RF32
#endif

layout(buffer_reference, scalar, buffer_reference_align = 16) writeonly buffer WU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) writeonly buffer WVec2 { vec2 v[]; };

// Block b of the column at col (f32 [K]) -> qs (8 u32 words at 2 uvec4 index
// 2i, 2i+1) and ds[i] = (d, float(sum)); perm: the 4-bit byte order.
void q8_block(uint64_t col, uint b, uint64_t qs, uint64_t ds, uint i, bool perm) {
    float v[32];
    float amax = 0.0;
    [[unroll]] for (uint k = 0; k < 32u; k++) {
        v[k] = Q8_SRC(col).v[b * 32u + k];
        amax = max(amax, abs(v[k]));
    }
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
    WU32x4(qs).v[2u * i] = uvec4(w[0], w[1], w[2], w[3]);
    WU32x4(qs).v[2u * i + 1u] = uvec4(w[4], w[5], w[6], w[7]);
    WVec2(ds).v[i] = vec2(d, float(sum));
}
