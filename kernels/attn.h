/*
 * kernels/attn.h - arguments of the paged-KV kernels (attn.hip), shared by the
 * host code (backends/hip/hip_op_attn.c) and the kernels.
 *
 *   cache       [D = head_dim, Hkv, BS = block_size, NB = n_blocks] f32/f16/bf16
 *   block_table i32 [MB = max_blocks, NSEQ]: (position p, sequence s) lives in
 *               block bt[p / BS, s], row p % BS
 *   pos, seq    i32 [T] (seq NULL: every token in sequence 0)
 *
 * Range errors (the reference's SC_ERANGE: a sequence id outside 0..NSEQ-1, a
 * negative position, a block index p / BS >= MB, a block id outside 0..NB-1)
 * are reported in `err`, the stream's error word (hip_err_word, sc_report);
 * the token (KV_WRITE) or key (ATTENTION) concerned is skipped.
 *
 * Plain C: compiles as C11 (host) and as C++/HIP/CUDA (kernels).
 */
#ifndef SC_KERNELS_ATTN_H
#define SC_KERNELS_ATTN_H

#include <stdint.h>

#define ATTN_KV_WG 256       /* kv_write, kv_copy threads */
#define ATTN_MAX_D 256       /* head_dim bound (shared-memory tiles); D % 4 == 0 */
#define ATTN_DEC_WG 128      /* decode: threads = keys per tile */
#define ATTN_DEC_GH 8        /* decode: query heads per block at most */
#define ATTN_PF_WG 128       /* prefill: threads */
#define ATTN_PF_R 16         /* prefill: query rows per tile (tokens x heads of one kv head) */
#define ATTN_PF_TPR 8        /* prefill: threads per query row (ATTN_PF_WG / ATTN_PF_R) */
#define ATTN_RED_WG 128      /* split-K merge threads */
#define ATTN_MAX_SPLITS 128  /* split-K: at most this many key ranges (<= ATTN_RED_WG) */

/* k_kv_write_{f32,f16,bf16}: src f32 [D, Hkv, T] -> the node's cache memory.
 * grid (ceil(D * Hkv / ATTN_KV_WG), min(T, 65535)); blocks stride over the
 * tokens in y. */
typedef struct attn_kv_write_args {
    uint8_t *dst;                 /* cache [D, Hkv, BS, NB] */
    const uint8_t *src;           /* f32, rows contiguous */
    const int32_t *bt, *pos, *seq; /* seq NULL: sequence 0 */
    unsigned *err;                /* the stream's error word */
    int64_t src_nb1, src_nb2;     /* bytes */
    int64_t dst_nb1, dst_nb2, dst_nb3;
    int64_t bt_nb1;
    int32_t D, Hkv, BS, NB, MB, NSEQ, T;
} attn_kv_write_args;

/* k_kv_copy: the cache into the node when they are not the same memory (the
 * reference's "not in place" rule): rows of RW 16-bit words, rows indexed by
 * (h, slot, block). Grid-stride over every word. */
typedef struct attn_kv_copy_args {
    const uint8_t *src;
    uint8_t *dst;
    int64_t snb1, snb2, snb3, dnb1, dnb2, dnb3; /* bytes */
    int64_t words;                /* RW * Hkv * BS * NB */
    int32_t RW, Hkv, BS;
} attn_kv_copy_args;

/* k_attn_dec_<K>_<V> (decode) and k_attn_pf_<K>_<V>_<DM> (prefill):
 *   q   f32 [D, H, T], rows contiguous, strides free
 *   out NS == 1: f32 [D, H, T] at dst (byte strides o_nb1, o_nb2)
 *       NS  > 1: partial records at part, one per (split s, head h, token t)
 *                at float index ((t * H + h) * NS + s) * (D + 4):
 *                [0] m (running max of the scaled scores), [1] l (sum of
 *                exp(s - m)), [2..3] padding, [4 .. 4 + D) sum of exp(s - m) v
 * Decode grid: (NS, Hkv * NHG, tokens from t_base), ATTN_DEC_WG threads.
 * Prefill grid: (query tiles from tile_base, Hkv * NHG, NS), ATTN_PF_WG threads. */
typedef struct attn_args {
    const uint8_t *q;
    const uint8_t *k, *v;
    const int32_t *bt, *pos, *seq;
    uint8_t *dst;                 /* NS == 1 */
    float *part;                  /* NS > 1 */
    unsigned *err;                /* the stream's error word */
    int64_t q_nb1, q_nb2;
    int64_t k_nb1, k_nb2, k_nb3;
    int64_t v_nb1, v_nb2, v_nb3;
    int64_t bt_nb1;
    int64_t o_nb1, o_nb2;
    int32_t D, H, G;              /* G = H / Hkv: query heads per kv head (GQA) */
    int32_t GH, NHG;              /* heads per block (decode) or tile (prefill), head groups per kv head */
    int32_t BS, NB, MB, NSEQ, T;
    int32_t NS;                   /* key splits */
    int32_t t_base;               /* decode: first token of this launch; prefill: first tile */
    int32_t k_vec, v_vec;         /* rows may be read 4 elements at a time (aligned) */
    float scale;
} attn_args;

/* k_attn_reduce: merge the NS partial records of each (h, t) into out.
 * grid (H, tokens from t_base), ATTN_RED_WG threads. */
typedef struct attn_reduce_args {
    const float *part;
    uint8_t *dst;
    int64_t o_nb1, o_nb2;
    int32_t D, H, NS, t_base;
} attn_reduce_args;

#endif /* SC_KERNELS_ATTN_H */
