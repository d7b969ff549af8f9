/*
 * core/src/tokenizer_internal.h - the pieces of the byte-level BPE tokenizer
 * (tokenizer_*.c). Not installed.
 *
 * The encode pipeline mirrors Hugging Face tokenizers' order exactly:
 *   1. added tokens with normalized=false are cut out of the raw text
 *      (leftmost-longest, lstrip/rstrip/single_word)        tokenizer_encode.c
 *   2. the remaining pieces are normalised (NFC)            tokenizer_encode.c
 *   3. added tokens with normalized=true are cut out of those pieces
 *   4. pre-tokenizer steps (Split regex, ByteLevel) cut each piece further
 *                                                           tokenizer_pretok.c
 *   5. BPE merges each pre-token into ids                   tokenizer_bpe.c
 * BPE works on raw bytes, not on the GPT-2 "byte-level" unicode strings: the
 * byte <-> char map is a bijection, so every vocab entry made only of mapped
 * chars is stored as the raw bytes it stands for (tokenizer_bytelevel.c).
 */
#ifndef STRIXCORE_TOKENIZER_INTERNAL_H
#define STRIXCORE_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

#include "internal.h"
#include "strixcore/tokenizer.h"

/* ---- string -> id map: open addressing over ids whose bytes live elsewhere */
typedef struct sc_tok_strmap {
    int32_t *slots;           /* id or -1; capacity is a power of two */
    uint32_t mask;
    uint32_t count;
} sc_tok_strmap;

/* The bytes that key id `id` in a map (the map does not own them). */
typedef const char *(*sc_tok_key_fn)(const void *owner, int32_t id, size_t *len);

uint64_t sc__tok_hash(const void *data, size_t len);
int sc__tok_strmap_init(sc_tok_strmap *m, uint32_t expected);
void sc__tok_strmap_free(sc_tok_strmap *m);
/* Insert id under its key; an id already stored under an equal key is
 * replaced (the later entry wins, as a Rust HashMap insert does). */
int sc__tok_strmap_put(sc_tok_strmap *m, const void *owner, sc_tok_key_fn key, int32_t id);
int32_t sc__tok_strmap_get(const sc_tok_strmap *m, const void *owner, sc_tok_key_fn key, const char *s,
                           size_t len);

/* ---- merges: (left id, right id) -> (rank, merged id) */
typedef struct sc_tok_merge {
    uint64_t key;             /* left << 32 | right; UINT64_MAX = empty slot */
    uint32_t rank;
    int32_t id;
} sc_tok_merge;

typedef struct sc_tok_merges {
    sc_tok_merge *slots;
    uint32_t mask;
    uint32_t count;
} sc_tok_merges;

int sc__tok_merges_init(sc_tok_merges *m, uint32_t expected);
void sc__tok_merges_free(sc_tok_merges *m);
void sc__tok_merges_put(sc_tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t id);
const sc_tok_merge *sc__tok_merges_get(const sc_tok_merges *m, int32_t a, int32_t b);

/* ---- GPT-2 byte-level alphabet (tokenizer_bytelevel.c) */
/* The codepoint byte b is shown as. */
uint32_t sc__bytelevel_char(uint8_t b);
/* The byte a codepoint stands for, or -1 if it is not in the alphabet. */
int sc__bytelevel_byte(uint32_t cp);
/* Byte-level string -> raw bytes; false if a char is outside the alphabet
 * (out then holds garbage). out needs len bytes. */
bool sc__bytelevel_to_bytes(const char *s, size_t len, char *out, size_t *out_len);
/* Raw bytes -> byte-level UTF-8 string; out needs 2 * len bytes. */
size_t sc__bytelevel_from_bytes(const char *s, size_t len, char *out);

/* ---- UTF-8 helpers (tokenizer_utf8.c) */
/* Length of the valid UTF-8 prefix (strict: no surrogates, no overlongs). */
size_t sc__utf8_valid_prefix(const char *s, size_t len);
/* Where a trailing sequence that more bytes could still complete starts
 * (len if there is none). */
size_t sc__utf8_incomplete_tail(const char *s, size_t len);
/* Decode one char of valid UTF-8 at s; returns its byte length. */
size_t sc__utf8_decode(const char *s, size_t len, uint32_t *cp);

/* ---- pre-tokenizer steps (tokenizer_pretok.c) */
typedef enum sc_tok_step_kind { SC_TOK_STEP_SPLIT = 0, SC_TOK_STEP_BYTELEVEL } sc_tok_step_kind;

typedef enum sc_tok_split_behavior {
    SC_TOK_SPLIT_REMOVED = 0,
    SC_TOK_SPLIT_ISOLATED,
    SC_TOK_SPLIT_MERGED_PREV,
    SC_TOK_SPLIT_MERGED_NEXT,
    SC_TOK_SPLIT_CONTIGUOUS,
} sc_tok_split_behavior;

typedef struct sc_tok_step {
    sc_tok_step_kind kind;
    pcre2_code *re;               /* Split: the pattern; ByteLevel with use_regex: GPT-2's */
    sc_tok_split_behavior behavior;
    bool invert;
    bool add_prefix_space;        /* ByteLevel */
} sc_tok_step;

/* Compile an Oniguruma-style pattern from tokenizer.json for PCRE2 (literal:
 * match the string verbatim). */
int sc__tok_regex_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, char *err,
                          size_t err_len);

/* ---- added tokens */
typedef struct sc_tok_added {
    char *content;            /* as matched: the normalised form when normalized=true */
    size_t len;
    char *orig;               /* as written in tokenizer.json */
    size_t orig_len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} sc_tok_added;

typedef enum sc_tok_norm { SC_TOK_NORM_NONE = 0, SC_TOK_NORM_NFC, SC_TOK_NORM_NFD, SC_TOK_NORM_NFKC, SC_TOK_NORM_NFKD } sc_tok_norm;

/* A small cache of pre-token -> ids: most words recur, and a hit skips the
 * merge loop. Shared by every thread encoding with this tokenizer. */
#define SC_TOK_CACHE_SLOTS 4096u
#define SC_TOK_CACHE_MAX_KEY 24u
#define SC_TOK_CACHE_MAX_IDS 12u
typedef struct sc_tok_cache_entry {
    uint8_t key_len;          /* 0 = empty */
    uint8_t n_ids;
    char key[SC_TOK_CACHE_MAX_KEY];
    int32_t ids[SC_TOK_CACHE_MAX_IDS];
} sc_tok_cache_entry;

#define SC_TOK_ID_MODEL   0x01u /* a model vocab entry */
#define SC_TOK_ID_ADDED   0x02u
#define SC_TOK_ID_SPECIAL 0x04u

struct sc_tokenizer {
    /* every id: its JSON string (token_id lookups) and its decoded bytes */
    int32_t n_ids;            /* max id + 1 */
    uint8_t *flags;           /* [n_ids] SC_TOK_ID_* */
    char *str_blob;           /* JSON strings */
    uint32_t *str_off, *str_len;
    char *raw_blob;           /* decoded bytes (ByteLevel decoder rule) */
    uint32_t *raw_off, *raw_len;
    sc_tok_strmap model_map;  /* model vocab: JSON string -> id */
    sc_tok_strmap added_map;  /* added tokens: content -> id */

    /* BPE model */
    sc_tok_merges merges;
    int32_t byte_id[256];     /* id of the single-byte token, -1 if missing */
    int32_t fallback_id[256]; /* byte_fallback: id of "<0xXX>", -1 if missing */
    int32_t unk_id;           /* -1 if none */
    bool byte_fallback, fuse_unk, ignore_merges;

    sc_tok_norm norm;
    sc_tok_step *steps;
    int n_steps;

    sc_tok_added *added;      /* sorted longest first, so a scan finds the longest */
    int n_added;
    bool added_first[256];    /* first bytes of raw-matched added tokens */
    bool added_first_norm[256];
    bool has_added_raw, has_added_norm;

    pthread_mutex_t cache_lock;
    sc_tok_cache_entry *cache;
};

/* Id -> JSON string (a key function for the maps). */
const char *sc__tok_str_key(const void *tok, int32_t id, size_t *len);
const char *sc__tok_added_key(const void *tok, int32_t id, size_t *len);

/* ---- id buffer used while encoding */
typedef struct sc_tok_ids {
    int32_t *v;
    size_t n, cap;
} sc_tok_ids;
int sc__tok_ids_push(sc_tok_ids *ids, int32_t id);

/* Apply the normalizer: *out is malloc'd (NULL with *out_len = len when the
 * text is unchanged, e.g. ASCII under NFC). */
int sc__tok_normalize(const sc_tokenizer_t *tok, const char *s, size_t len, char **out, size_t *out_len);
/* BPE-merge one pre-token (raw bytes) and append its ids. */
int sc__tok_bpe(const sc_tokenizer_t *tok, const char *s, size_t len, sc_tok_ids *ids);
/* Run the pre-tokenizer steps over one normalised piece, then BPE. */
int sc__tok_pretok_encode(const sc_tokenizer_t *tok, const char *s, size_t len, sc_tok_ids *ids);
/* Lossy UTF-8 -> UTF-8: each maximal invalid subpart becomes U+FFFD (Rust's
 * String::from_utf8_lossy, the Unicode "maximal subpart" practice). out needs
 * 3 * len + 1 bytes. */
size_t sc__utf8_lossy(const char *s, size_t len, char *out);

#endif
