/*
 * kernels/norm.h - arguments of the norm family (kernels/norm.hip):
 * RMS_NORM, SOFTMAX, ROPE on f32. Shared by the host (C11,
 * backends/hip/hip_op_norm.c) and the kernels (C++/HIP/CUDA/EMU).
 */
#ifndef SC_KERNELS_NORM_H
#define SC_KERNELS_NORM_H

#include <stdint.h>

#define SC_NORM_KERNEL_RMS "k_rms_norm_f32"
#define SC_NORM_KERNEL_SOFTMAX "k_softmax_f32"
#define SC_NORM_KERNEL_ROPE "k_rope_f32"

/* ---- row reductions: RMS_NORM, SOFTMAX ------------------------------------------
 * x [n, r1, r2, r3] -> y, same shape; rows contiguous, the other strides free;
 * y may be x itself.
 *   RMS_NORM  y = w * (x * 1 / sqrt(mean(x^2) + eps))     (w [n] or NULL)
 *   SOFTMAX   y = exp(v - max v) / sum exp(v - max v),  v = x * scale
 * A row is reduced by tpr threads: either one warp (tpr 32, blockDim.x / 32
 * rows a block) or the whole block (tpr == blockDim.x, 64..1024, one row a
 * block). */
#define SC_ROWS_THREADS 1024 /* most threads a block (the launch bound) */

typedef struct sc_rows_args {
    const float *x; /* [n, r1, r2, r3] */
    const float *w; /* RMS_NORM: [n] or NULL; SOFTMAX: NULL */
    float *y;       /* [n, r1, r2, r3] */
    int64_t x_nb[4]; /* byte strides (nb[0] == 4) */
    int64_t y_nb[4];
    uint32_t n;      /* row length */
    uint32_t r1, r2; /* rows are (i1, i2, i3), i1 < r1, i2 < r2 */
    uint32_t rows;   /* r1 * r2 * r3 */
    uint32_t tpr;    /* threads per row: 32, or blockDim.x */
    uint32_t vec;    /* 4: n % 4 == 0 and every row (and w) 16-byte aligned: float4 reads; else 1 */
    float s;         /* RMS_NORM: eps; SOFTMAX: scale */
    uint32_t pad_;
} sc_rows_args;

/* ---- ROPE ---------------------------------------------------------------------------
 * x [D, H, T] -> y, same shape (rows contiguous, head/token strides free; y
 * may be x itself), pos i32 [T]. For pair i < n_rot / 2 = half:
 *   theta = (float)pos[t] * inv_freq[i]
 *   y[i]        = x[i] * cos(theta) - x[i + half] * sin(theta)
 *   y[i + half] = x[i + half] * cos(theta) + x[i] * sin(theta)
 * and y[c] = x[c] for n_rot <= c < D. inv_freq comes from the host, computed
 * with the CPU reference's own expression (1 / powf(base, 2i / n_rot)), so the
 * angles are the reference's bit for bit. One launch per chunk of at most
 * SC_ROPE_MAX_PAIRS pairs; the first also copies the pass-through columns. */
#define SC_ROPE_THREADS 256
#define SC_ROPE_MAX_PAIRS 128

typedef struct sc_rope_args {
    const float *x;     /* [D, H, T] */
    const int32_t *pos; /* [T] */
    float *y;           /* [D, H, T] */
    int64_t x_nb1, x_nb2; /* byte strides: head, token */
    int64_t y_nb1, y_nb2;
    uint32_t H, T;
    uint32_t half;     /* n_rot / 2 */
    uint32_t n_rot;
    uint32_t i0, ni;   /* this launch's pairs: i0 .. i0 + ni - 1 */
    uint32_t n_pass;   /* pass-through columns this launch copies: D - n_rot in the first, else 0 */
    uint32_t items;    /* (ni + n_pass) * H * T: one thread each */
    float inv_freq[SC_ROPE_MAX_PAIRS]; /* inv_freq[i0 + j] at j < ni */
} sc_rope_args;

#endif /* SC_KERNELS_NORM_H */
