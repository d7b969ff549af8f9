/*
 * kernels/eltwise.hip - ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID on f32 (the CPU
 * reference is backends/cpu/ref_elementwise.c; host side
 * backends/hip/hip_op_eltwise.c; arguments kernels/eltwise.h).
 *
 *   y[i0, i1, i2, i3] = a[i0, i1, i2, i3] (op) b[i0 % b_ne0, i1 % b_ne1, ...]
 *
 * One template, one kernel per op (k_elt_<op>_f32). Grid: y + z * gridDim.y
 * is the row (i1, i2, i3), decomposed once per block; x * blockDim.x +
 * threadIdx.x walks the row's items (a float4 or a float), grid-stride.
 * Memory-bound: one read of each operand, one write, coalesced; float4 where
 * the host found every row 16-byte aligned (p.vec == 4).
 *
 * In place: every thread reads the items it writes, and only those, so y may
 * be a or b itself.
 */
#include "sc_hip.h"
#include "eltwise.h"

enum elt_op { ELT_ADD, ELT_MUL, ELT_SCALE, ELT_SILU, ELT_SWIGLU, ELT_SIGMOID };

/* four floats moved as one 128-bit access (global_load_b128 on gfx11) */
struct alignas(16) elt_f4 {
    float v[4];
};

template <int VEC> struct elt_vec;
template <> struct elt_vec<1> { typedef float type; };
template <> struct elt_vec<4> { typedef elt_f4 type; };

static __device__ __forceinline__ float elt_lane(const float &x, int) { return x; }
static __device__ __forceinline__ float elt_lane(const elt_f4 &x, int k) { return x.v[k]; }
static __device__ __forceinline__ void elt_set(float &x, int, float v) { x = v; }
static __device__ __forceinline__ void elt_set(elt_f4 &x, int k, float v) { x.v[k] = v; }

/* the op on one element; x / (1 + exp(-x)) is the reference's silu and
 * 1 / (1 + exp(-x)) its sigmoid, as written */
template <int OP> static __device__ __forceinline__ float elt_apply(float x, float b, float s) {
    if (OP == ELT_ADD) return x + b;
    if (OP == ELT_MUL) return x * b;
    if (OP == ELT_SCALE) return x * s;
    if (OP == ELT_SIGMOID) return 1.0f / (1.0f + expf(-x));
    const float sx = x / (1.0f + expf(-x));
    return OP == ELT_SILU ? sx : sx * b;
}

template <int OP, int VEC> static __device__ __forceinline__ void elt_rows(const sc_elt_args &p) {
    typedef typename elt_vec<VEC>::type V;
    const bool has_b = OP == ELT_ADD || OP == ELT_MUL || OP == ELT_SWIGLU;

    /* this block's row: uniform, scalar registers */
    const uint32_t row = blockIdx.y + blockIdx.z * gridDim.y;
    const uint32_t i1 = row % p.ne[1], r = row / p.ne[1];
    const uint32_t i2 = r % p.ne[2], i3 = r / p.ne[2];
    if (i3 >= p.ne[3]) return;
    const V *a = (const V *)((const char *)p.a + (int64_t)i1 * p.a_nb[1] + (int64_t)i2 * p.a_nb[2] +
                             (int64_t)i3 * p.a_nb[3]); /* [ne0 / VEC] */
    V *y = (V *)((char *)p.y + (int64_t)i1 * p.y_nb[1] + (int64_t)i2 * p.y_nb[2] + (int64_t)i3 * p.y_nb[3]);
    const float *b = 0; /* [b_ne0] */
    if (has_b)
        b = (const float *)((const char *)p.b + (int64_t)(i1 % p.b_ne[1]) * p.b_nb[1] +
                            (int64_t)(i2 % p.b_ne[2]) * p.b_nb[2] + (int64_t)(i3 % p.b_ne[3]) * p.b_nb[3]);

    const uint32_t n = p.ne[0] / VEC;                   /* items in the row */
    const bool b_one = has_b && p.b_ne[0] == 1;       /* one value of b for the whole row */
    const uint32_t bn = has_b ? p.b_ne[0] / VEC : 0u; /* items in b's row otherwise */
    const float s = p.s;
    const uint32_t step = gridDim.x * blockDim.x;
    /* hot loop: one row, an item per thread */
    for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += step) {
        const V x = a[j];
        V bv = x;
        if (has_b) {
            if (b_one) {
                const float b0 = b[0];
                for (int k = 0; k < VEC; k++) elt_set(bv, k, b0);
            } else {
                bv = ((const V *)b)[bn == n ? j : j % bn];
            }
        }
        V out;
        for (int k = 0; k < VEC; k++) elt_set(out, k, elt_apply<OP>(elt_lane(x, k), elt_lane(bv, k), s));
        y[j] = out;
    }
}

template <int OP> static __device__ __forceinline__ void elt_run(const sc_elt_args &p) {
    if (p.vec == 4)
        elt_rows<OP, 4>(p);
    else
        elt_rows<OP, 1>(p);
}

/* the kernel names are SC_ELT_KERNEL_* of eltwise.h */
#define ELT_KERNEL(name, OP) \
    SC_KERNEL(name, sc_elt_args, SC_ELT_THREADS) { elt_run<OP>(p); }

ELT_KERNEL(k_elt_add_f32, ELT_ADD)
ELT_KERNEL(k_elt_mul_f32, ELT_MUL)
ELT_KERNEL(k_elt_scale_f32, ELT_SCALE)
ELT_KERNEL(k_elt_silu_f32, ELT_SILU)
ELT_KERNEL(k_elt_swiglu_f32, ELT_SWIGLU)
ELT_KERNEL(k_elt_sigmoid_f32, ELT_SIGMOID)
