/*
 * core/src/quant.c - the SC_TYPE_QG packed group-quantized layout.
 *
 * A QG tensor [K, N, n_mat] is a stack of n_mat matrices W [N rows, K cols].
 * Each matrix is one slab of nb[2] bytes (plugin.h has the full picture):
 *
 *   offset 0              codes  N x row_bytes, row_bytes = ceil(K*bits/32)*4
 *   scales_offset         f16 scales [N, G]   (row-major)
 *   zeros_offset          u8 zero points [N, G]
 *   gidx_offset           i32 g_idx [K]       (only with SC_QUANT_HAS_GIDX)
 *
 * Every section starts on a 32-byte boundary and the slab size is rounded up
 * to 32 bytes, so consecutive slabs keep the alignment. Code k of a row is the
 * `bits`-wide field at bit offset bits*k of the row, least significant bit
 * first (the dense little-endian bitstream of GPTQ and compressed-tensors).
 *
 * W[n][k] = round_f16(scale[n][g] * (code - zero[n][g])), g = group(k).
 * The product of an f16 scale and an integer of at most 9 bits is exact in
 * f32, so there is exactly one rounding, as in the Hugging Face paths.
 */
#include <string.h>

#include "internal.h"
#include "cpu_fp.h"
#include "cpu_impl.h"

#define QG_ALIGN 32u
/* Limits that keep every byte count below 2^63: rows and columns fit int32. */
#define QG_MAX_DIM ((int64_t)INT32_MAX)

static bool bits_ok(uint32_t bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

static uint64_t row_bytes_for(uint32_t bits, int64_t K) {
    return ((uint64_t)K * bits + 31u) / 32u * 4u;
}

int sc_quant_layout(sc_tensor *t, uint32_t bits, uint32_t group_size, bool has_gidx) {
    if (!t || !bits_ok(bits) || group_size == 0) return SC_EINVAL;
    int64_t K = t->ne[0], N = t->ne[1], n2 = t->ne[2], n3 = t->ne[3];
    if (K <= 0 || N <= 0 || n2 <= 0 || n3 <= 0) return SC_EINVAL;
    if (K > QG_MAX_DIM || N > QG_MAX_DIM || n2 > QG_MAX_DIM || n3 > QG_MAX_DIM) return SC_EOVERFLOW;

    uint64_t G = ((uint64_t)K + group_size - 1) / group_size;
    uint64_t row_bytes = row_bytes_for(bits, K);
    uint64_t codes = (uint64_t)N * row_bytes;               /* < 2^31 * 2^33 */
    uint64_t scales_off = SC_ALIGN_UP(codes, QG_ALIGN);
    uint64_t zeros_off = SC_ALIGN_UP(scales_off + (uint64_t)N * G * 2u, QG_ALIGN);
    uint64_t end = zeros_off + (uint64_t)N * G;
    uint64_t gidx_off = 0;
    if (has_gidx) {
        gidx_off = SC_ALIGN_UP(end, QG_ALIGN);
        end = gidx_off + (uint64_t)K * 4u;
    }
    uint64_t slab = SC_ALIGN_UP(end, QG_ALIGN);
    /* nb[3] = slab * ne[2], and the whole tensor spans slab * ne[2] * ne[3]. */
    if (slab > SIZE_MAX / (uint64_t)n2 || slab * (uint64_t)n2 > SIZE_MAX / (uint64_t)n3) return SC_EOVERFLOW;

    t->type = SC_TYPE_QG;
    t->quant = (sc_quant_info){
        .bits = bits,
        .group_size = group_size,
        .n_groups = (uint32_t)G,
        .flags = has_gidx ? SC_QUANT_HAS_GIDX : 0u,
        .row_bytes = row_bytes,
        .scales_offset = scales_off,
        .zeros_offset = zeros_off,
        .gidx_offset = gidx_off,
    };
    /* Codes are sub-byte: there is no per-element stride, so nb[0] is 0. */
    t->nb[0] = 0;
    t->nb[1] = (size_t)row_bytes;
    t->nb[2] = (size_t)slab;
    t->nb[3] = (size_t)slab * (size_t)n2;
    return SC_OK;
}

int sc_quant_pack_row(uint32_t bits, int64_t K, const uint8_t *codes, uint8_t *row) {
    if (!bits_ok(bits) || K <= 0 || K > QG_MAX_DIM || !codes || !row) return SC_EINVAL;
    uint32_t max = (1u << bits) - 1u;
    for (int64_t k = 0; k < K; k++)
        if (codes[k] > max) return SC_ERANGE; /* checked first: nothing is written on error */
    uint64_t rb = row_bytes_for(bits, K);
    memset(row, 0, (size_t)rb); /* the padding bits of the last word are zero */
    for (int64_t k = 0; k < K; k++) {
        uint64_t bit = (uint64_t)k * bits;
        uint32_t v = (uint32_t)codes[k] << (bit & 7u); /* at most 8 + 7 bits wide */
        size_t byte = (size_t)(bit >> 3);
        row[byte] |= (uint8_t)v;
        if (v >> 8) row[byte + 1] |= (uint8_t)(v >> 8); /* a 3-bit field may straddle bytes */
    }
    return SC_OK;
}

uint32_t sc_quant_get_code(uint32_t bits, const uint8_t *row, int64_t k) {
    if (!bits_ok(bits) || !row || k < 0) return 0;
    uint64_t bit = (uint64_t)k * bits;
    size_t byte = (size_t)(bit >> 3);
    uint32_t shift = (uint32_t)(bit & 7u);
    uint32_t v = row[byte];
    if (shift + bits > 8) v |= (uint32_t)row[byte + 1] << 8; /* only read a byte we need */
    return (v >> shift) & ((1u << bits) - 1u);
}

/* Shape/layout consistency of a QG tensor, without touching its data. The
 * offsets are checked for order, alignment and fit rather than for equality
 * with what sc_quant_layout writes, so a loader may add more padding. */
int sc__quant_check(const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_QG) return SC_EINVAL;
    const sc_quant_info *q = &t->quant;
    int64_t K = t->ne[0], N = t->ne[1];
    if (K <= 0 || N <= 0 || K > QG_MAX_DIM || N > QG_MAX_DIM) return SC_EINVAL;
    if (!bits_ok(q->bits) || q->group_size == 0) return SC_EINVAL;
    uint64_t G = ((uint64_t)K + q->group_size - 1) / q->group_size;
    if (q->n_groups != G || q->row_bytes != row_bytes_for(q->bits, K)) return SC_EINVAL;
    if ((q->flags & ~(uint32_t)(SC_QUANT_HAS_GIDX | SC_QUANT_BF16_ROUND)) != 0) return SC_EINVAL;
    if (t->nb[1] != q->row_bytes) return SC_EINVAL;
    uint64_t end = (uint64_t)N * q->row_bytes;
    if (q->scales_offset < end || (q->scales_offset & 1u)) return SC_EINVAL;
    end = q->scales_offset + (uint64_t)N * G * 2u;
    if (q->zeros_offset < end) return SC_EINVAL;
    end = q->zeros_offset + (uint64_t)N * G;
    if (q->flags & SC_QUANT_HAS_GIDX) {
        if (q->gidx_offset < end || (q->gidx_offset & 3u)) return SC_EINVAL;
        end = q->gidx_offset + (uint64_t)K * 4u;
    }
    if ((uint64_t)t->nb[2] < end) return SC_EINVAL;
    return SC_OK;
}

static inline float qg_round(float w, uint32_t flags) {
    return (flags & SC_QUANT_BF16_ROUND) ? sc__round_bf16_inl(w) : sc__round_f16_inl(w);
}

int sc_quant_dequant_row(const sc_tensor *t, const void *slab, int64_t row, float *out) {
    int rc = sc__quant_check(t);
    if (rc != SC_OK) return rc;
    if (!slab || !out) return SC_EINVAL;
    if (row < 0 || row >= t->ne[1]) return SC_ERANGE;

    const sc_quant_info *q = &t->quant;
    const int64_t K = t->ne[0];
    const uint32_t G = q->n_groups;
    const uint8_t *base = slab;
    const uint8_t *codes = base + (uint64_t)row * q->row_bytes;      /* [row_bytes] */
    const uint8_t *scales = base + q->scales_offset + (uint64_t)row * G * 2u; /* f16 [G] */
    const uint8_t *zeros = base + q->zeros_offset + (uint64_t)row * G;        /* u8 [G] */
    const uint8_t *gidx = (q->flags & SC_QUANT_HAS_GIDX) ? base + q->gidx_offset : NULL; /* i32 [K] */

    for (int64_t k = 0; k < K; k++) {
        int64_t g;
        if (gidx) {
            int32_t gi;
            memcpy(&gi, gidx + (size_t)k * 4u, sizeof gi); /* may be unaligned in a caller's slab */
            if (gi < 0 || (uint32_t)gi >= G) return SC_ERANGE;
            g = gi;
        } else {
            g = k / q->group_size;
        }
        uint16_t sh;
        memcpy(&sh, scales + (size_t)g * 2u, sizeof sh);
        float scale = sc__f16_to_f32_inl(sh);
        int32_t code = (int32_t)sc_quant_get_code(q->bits, codes, k);
        out[k] = qg_round(scale * (float)(code - (int32_t)zeros[g]), q->flags);
    }
    return SC_OK;
}
