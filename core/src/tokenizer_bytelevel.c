/*
 * core/src/tokenizer_bytelevel.c - GPT-2's byte <-> unicode alphabet.
 *
 * Byte-level BPE vocabularies are written in a 256-char alphabet so that
 * every byte is a printable char: bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF
 * stand for themselves; the other 68 bytes (controls, space, 0x7F..0xA0,
 * 0xAD) become U+0100.. in byte order, so ' ' is 'Ġ' (U+0120) and '\n' is
 * 'Ċ' (U+010A). Same table as bytes_to_unicode() in GPT-2 and HF tokenizers.
 */
#include "tokenizer_internal.h"

static bool byte_is_self(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The bytes that do not stand for themselves are 0x00..0x20 (33 of them),
 * 0x7F..0xA0 (34) and 0xAD (1): closed forms instead of a 256-step scan. */
uint32_t sc__bytelevel_char(uint8_t b) {
    if (byte_is_self(b))
        return b;
    if (b <= 0x20)
        return 256u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 256u + 33u + (b - 0x7Fu);
    return 256u + 67u; /* 0xAD */
}

int sc__bytelevel_byte(uint32_t cp) {
    if (cp < 256)
        return byte_is_self(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    uint32_t n = cp - 256;
    if (n < 33)
        return (int)n;
    if (n < 67)
        return (int)(0x7F + (n - 33));
    return 0xAD;
}

bool sc__bytelevel_to_bytes(const char *s, size_t len, char *out, size_t *out_len) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        /* The alphabet is U+0021..U+0143: one or two UTF-8 bytes. */
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < len && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
            i += 2;
        } else {
            return false;
        }
        int b = sc__bytelevel_byte(cp);
        if (b < 0)
            return false;
        out[o++] = (char)b;
    }
    *out_len = o;
    return true;
}

size_t sc__bytelevel_from_bytes(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = sc__bytelevel_char((uint8_t)s[i]);
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}
