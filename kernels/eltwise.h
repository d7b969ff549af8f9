/*
 * kernels/eltwise.h - arguments of the eltwise family (kernels/eltwise.hip):
 * ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID on f32. Shared by the host (C11,
 * backends/hip/hip_op_eltwise.c) and the kernels (C++/HIP/CUDA/EMU).
 *
 *   y[i0, i1, i2, i3] = a[i0, i1, i2, i3] (op) b[i0 % b_ne0, i1 % b_ne1, ...]
 *
 * The host has already merged the dims it could (size-1 dims dropped,
 * adjacent dims that are contiguous in every operand folded into one), so a
 * contiguous [4096, T] + [4096, T] arrives as one row of 4096 T elements.
 * Rows (dim 0) are contiguous in every operand; the other strides are free.
 */
#ifndef SC_KERNELS_ELTWISE_H
#define SC_KERNELS_ELTWISE_H

#include <stdint.h>

/* One kernel per op, all instances of one template (eltwise.hip). */
#define SC_ELT_KERNEL_ADD "k_elt_add_f32"
#define SC_ELT_KERNEL_MUL "k_elt_mul_f32"
#define SC_ELT_KERNEL_SCALE "k_elt_scale_f32"
#define SC_ELT_KERNEL_SILU "k_elt_silu_f32"
#define SC_ELT_KERNEL_SWIGLU "k_elt_swiglu_f32"
#define SC_ELT_KERNEL_SIGMOID "k_elt_sigmoid_f32"

#define SC_ELT_THREADS 256 /* most threads a block (the launch bound) */

typedef struct sc_elt_args {
    const float *a; /* [ne0, ne1, ne2, ne3]; SWIGLU: gate */
    const float *b; /* ADD, MUL: [b_ne0, ...] broadcast over a; SWIGLU: up (a's shape); else NULL */
    float *y;       /* a's shape; may be a or b itself */
    int64_t a_nb[4]; /* byte strides (nb[0] is 4: rows are contiguous) */
    int64_t b_nb[4];
    int64_t y_nb[4];
    uint32_t ne[4];   /* shape of a and y */
    uint32_t b_ne[4]; /* shape of b: each divides ne[d] */
    uint32_t vec;     /* 4: every row start is 16-byte aligned and ne0 % 4 == 0, and b's row is one
                         value or a multiple of 4 long: rows move as float4; 1 otherwise */
    float s;          /* SCALE's factor */
} sc_elt_args;

#endif /* SC_KERNELS_ELTWISE_H */
