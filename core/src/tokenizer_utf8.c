/*
 * core/src/tokenizer_utf8.c - strict UTF-8 validation and the lossy
 * conversion HF applies to decoded bytes.
 *
 * Well-formed sequences (Unicode Table 3-7; what Rust's str accepts):
 *   00..7F | C2..DF 80..BF | E0 A0..BF 80..BF | E1..EC,EE..EF 80..BF 80..BF
 *   | ED 80..9F 80..BF | F0 90..BF 80..BF 80..BF | F1..F3 (80..BF){3}
 *   | F4 80..8F 80..BF 80..BF
 */
#include "tokenizer_internal.h"

/* Sequence length for lead byte b (0: never valid) and the range its second
 * byte must fall in. */
static int lead_info(unsigned char b, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
            *lo = 0xA0; /* no overlongs */
        if (b == 0xED)
            *hi = 0x9F; /* no surrogates */
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
            *lo = 0x90;
        if (b == 0xF4)
            *hi = 0x8F; /* nothing past U+10FFFF */
        return 4;
    }
    return 0;
}

/* How many bytes after the lead at s[0] continue a well-formed sequence
 * (at most need - 1). */
static size_t valid_tail(const unsigned char *s, size_t len, int need, unsigned char lo, unsigned char hi) {
    size_t k = 0;
    while ((int)k + 1 < need && k + 1 < len) {
        unsigned char c = s[k + 1];
        unsigned char l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xBF;
        if (c < l || c > h)
            break;
        k++;
    }
    return k;
}

size_t sc__utf8_valid_prefix(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        int need = lead_info(s[i], &lo, &hi);
        if (need == 0 || (int)valid_tail(s + i, len - i, need, lo, hi) != need - 1)
            return i;
        i += (size_t)need;
    }
    return len;
}

size_t sc__utf8_decode(const char *str, size_t len, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0) {
        *cp = 0;
        return 0;
    }
    if (s[0] < 0x80 || len < 2) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xE0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0 || len < 4) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (len > 2 ? (s[2] & 0x3F) : 0);
        return len < 3 ? len : 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
          (s[3] & 0x3F);
    return 4;
}

/* Each maximal subpart of an ill-formed sequence (the longest prefix of a
 * well-formed sequence, or one byte) becomes one U+FFFD: what Rust's
 * String::from_utf8_lossy and Python's errors="replace" both do. */
size_t sc__utf8_lossy(const char *str, size_t len, char *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            out[o++] = (char)s[i++];
            continue;
        }
        unsigned char lo, hi;
        int need = lead_info(s[i], &lo, &hi);
        size_t k = need ? valid_tail(s + i, len - i, need, lo, hi) : 0;
        if (need && (int)k == need - 1) {
            for (int j = 0; j < need; j++)
                out[o++] = (char)s[i++];
            continue;
        }
        out[o++] = (char)0xEF;
        out[o++] = (char)0xBF;
        out[o++] = (char)0xBD;
        i += 1 + k;
    }
    out[o] = '\0';
    return o;
}

/* Where a trailing, still completable sequence starts (len if none): bytes
 * from there on may become a character once more bytes arrive. */
size_t sc__utf8_incomplete_tail(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        size_t p = len - back;
        if ((s[p] & 0xC0) == 0x80)
            continue; /* a continuation byte: keep looking for its lead */
        unsigned char lo, hi;
        int need = lead_info(s[p], &lo, &hi);
        if (need > 1 && (size_t)need > back && valid_tail(s + p, back, need, lo, hi) == back - 1)
            return p;
        return len;
    }
    return len;
}
