/*
 * kernels/recurrent.h - arguments of the recurrent family (kernels/recurrent.hip):
 * SSM_CONV and GATED_DELTA_NET, the two ops of Gated DeltaNet (Qwen3-Next
 * linear attention) layers. Shared by the host (C11,
 * backends/hip/hip_op_recurrent.c) and the kernels (C++/HIP/CUDA/EMU).
 *
 * Both update a per-slot state IN PLACE, token by token. The tokens of one
 * sequence form one run in the step (consecutive entries of seq); a run whose
 * first position is 0 starts from a zero state. Runs are independent, so the
 * grid's y walks the tokens and only the block of a run's first token (t == 0
 * or seq[t-1] != seq[t]) works: it walks its run to the end. Kernels read
 * seq and pos from device memory (never from the args), so every decode step
 * of one batch shape launches the same argument bytes.
 *
 * Range errors (the reference's SC_ERANGE: a slot outside 0..n_slots-1, a
 * negative position) are reported in `err`, the stream's error word
 * (hip_err_word, sc_report); a run with a bad slot is skipped whole (nothing
 * is written for it), a negative position is only reported.
 */
#ifndef SC_KERNELS_RECURRENT_H
#define SC_KERNELS_RECURRENT_H

#include <stdint.h>

/* ---- SSM_CONV ------------------------------------------------------------------------------
 * x f32 [Cg, G, T] (rows contiguous, nb1/nb2 free), channel c = g * Cg + i;
 * w f32 [Kc, C] contiguous; state f32 [C, Kc-1, n_slots] contiguous
 * (state[s][j][c]); y f32 [C, T] (token stride y_nb1):
 *   y[t][c] = silu(sum_j w[c][j] * in_c(pos[t] - (Kc-1) + j))
 * A thread per (channel, run): grid x covers the channels (blocks of
 * SC_CONV_THREADS), grid y the tokens (min(T, 65535), striding). The window of
 * the Kc-1 previous inputs lives in registers, so Kc is bounded at compile
 * time: k_ssm_conv_k4 (Kc <= 4, Qwen3-Next's 4) and k_ssm_conv_k16 (Kc <= 16,
 * the op's bound). */
#define SC_CONV_KERNEL_K4 "k_ssm_conv_k4"
#define SC_CONV_KERNEL_K16 "k_ssm_conv_k16"
#define SC_CONV_THREADS 256 /* most threads a block (the launch bound) */

typedef struct sc_ssm_conv_args {
    const float *x;       /* [Cg, G, T] */
    const float *w;       /* [Kc, C] */
    float *state;         /* [C, Kc-1, n_slots], updated in place */
    float *y;             /* [C, T] */
    const int32_t *seq;   /* [T] */
    const int32_t *pos;   /* [T] */
    unsigned *err;        /* the stream's error word */
    int64_t x_nb1, x_nb2; /* bytes: group, token */
    int64_t y_nb1;        /* bytes: token */
    int32_t Cg, C, Kc, T;
    int32_t n_slots;
    int32_t pad_;
} sc_ssm_conv_args;

/* ---- GATED_DELTA_NET ----------------------------------------------------------------------
 * qkv f32 [nk * (2*dk + r*dv), T] (rows contiguous, token stride qkv_nb1):
 *   per key group g [q_g (dk) | k_g (dk) | v of heads g*r .. g*r+r-1 (r*dv)];
 * ba f32 [2*nv, T] (token stride ba_nb1): per group g [b of its r heads | a of them];
 * ad f32 [nv, 2] contiguous: A_log, then dt_bias;
 * state f32 [dv, dk, nv, n_slots] contiguous: S[s][h][i][j], i < dk, j < dv;
 * o f32 [dv, nv, T] (byte strides o_nb1, o_nb2).
 *
 * A block per (value head h, chunk of 32 columns of S, run): grid x = nv *
 * ceil(dv / 32), grid y the tokens (min(T, 65535), striding). The block is
 * `parts` warps (parts = ceil(dk / SC_GDN_RPT)): lane = column j of the
 * chunk, warp = a part: rows 32 * part .. 32 * part + 31 of that column,
 * held in registers for the whole run (each load of a row is one 128-byte
 * line across the warp). Per token the parts' partial sums meet in shared
 * memory. */
#define SC_GDN_KERNEL "k_gated_delta_net"
#define SC_GDN_RPT 32      /* rows of S a thread holds (registers) */
#define SC_GDN_COLS 32     /* columns of S a block serves: one per lane */
#define SC_GDN_MAX_DK 256  /* the op's bound on dk and dv */
#define SC_GDN_MAX_PARTS (SC_GDN_MAX_DK / SC_GDN_RPT)
#define SC_GDN_THREADS (SC_GDN_COLS * SC_GDN_MAX_PARTS) /* 256: the launch bound */

typedef struct sc_gdn_args {
    const float *qkv;     /* [nk * (2*dk + r*dv), T] */
    const float *ba;      /* [2*nv, T] */
    const float *ad;      /* [nv, 2] */
    float *state;         /* [dv, dk, nv, n_slots], updated in place */
    float *o;             /* [dv, nv, T] */
    const int32_t *seq;   /* [T] */
    const int32_t *pos;   /* [T] */
    unsigned *err;        /* the stream's error word */
    int64_t qkv_nb1;      /* bytes: token */
    int64_t ba_nb1;       /* bytes: token */
    int64_t o_nb1, o_nb2; /* bytes: head, token */
    int32_t dk, dv, nv, r; /* r = nv / nk: value heads per key group */
    int32_t T, n_slots;
    int32_t parts;        /* warps a block: ceil(dk / SC_GDN_RPT) */
    int32_t chunks;       /* column chunks per head: ceil(dv / SC_GDN_COLS) */
    float eps;            /* l2-norm epsilon */
    int32_t pad_;
} sc_gdn_args;

#endif /* SC_KERNELS_RECURRENT_H */
