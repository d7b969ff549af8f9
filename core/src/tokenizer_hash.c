/*
 * core/src/tokenizer_hash.c - the tokenizer's hash maps: token string -> id
 * and (left id, right id) -> merge. Open addressing with linear probing,
 * load factor <= 1/2, sized once at load time (the vocabulary never grows).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

uint64_t sc__tok_hash(const void *data, size_t len) {
    /* FNV-1a: tokens are short, and this is only used at load time and for
     * the odd token_id() lookup, so simplicity beats speed here. */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t table_size(uint32_t expected) {
    uint32_t cap = 16;
    while (cap < expected * 2u + 1u && cap < (1u << 30))
        cap <<= 1;
    return cap;
}

int sc__tok_strmap_init(sc_tok_strmap *m, uint32_t expected) {
    uint32_t cap = table_size(expected);
    m->slots = malloc(sizeof(int32_t) * cap);
    if (!m->slots)
        return SC_ENOMEM;
    memset(m->slots, 0xFF, sizeof(int32_t) * cap); /* -1 */
    m->mask = cap - 1;
    m->count = 0;
    return SC_OK;
}

void sc__tok_strmap_free(sc_tok_strmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

int sc__tok_strmap_put(sc_tok_strmap *m, const void *owner, sc_tok_key_fn key, int32_t id) {
    size_t len;
    const char *s = key(owner, id, &len);
    uint32_t i = (uint32_t)sc__tok_hash(s, len) & m->mask;
    for (;;) {
        int32_t cur = m->slots[i];
        if (cur < 0)
            break;
        size_t clen;
        const char *cs = key(owner, cur, &clen);
        if (clen == len && memcmp(cs, s, len) == 0) {
            m->slots[i] = id;
            return SC_OK;
        }
        i = (i + 1) & m->mask;
    }
    if ((m->count + 1) * 2u > m->mask + 1u)
        return SC_EOVERFLOW; /* sized for fewer entries: a caller bug */
    m->slots[i] = id;
    m->count++;
    return SC_OK;
}

int32_t sc__tok_strmap_get(const sc_tok_strmap *m, const void *owner, sc_tok_key_fn key, const char *s,
                           size_t len) {
    if (!m->slots)
        return -1;
    uint32_t i = (uint32_t)sc__tok_hash(s, len) & m->mask;
    for (;;) {
        int32_t cur = m->slots[i];
        if (cur < 0)
            return -1;
        size_t clen;
        const char *cs = key(owner, cur, &clen);
        if (clen == len && memcmp(cs, s, len) == 0)
            return cur;
        i = (i + 1) & m->mask;
    }
}

/* splitmix64's finaliser: the ids are small and dense, so they need mixing. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

int sc__tok_merges_init(sc_tok_merges *m, uint32_t expected) {
    uint32_t cap = table_size(expected);
    m->slots = malloc(sizeof(sc_tok_merge) * cap);
    if (!m->slots)
        return SC_ENOMEM;
    for (uint32_t i = 0; i < cap; i++)
        m->slots[i].key = UINT64_MAX;
    m->mask = cap - 1;
    m->count = 0;
    return SC_OK;
}

void sc__tok_merges_free(sc_tok_merges *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

void sc__tok_merges_put(sc_tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t i = (uint32_t)mix64(key) & m->mask;
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    if (m->slots[i].key == UINT64_MAX)
        m->count++;
    /* A pair listed twice keeps its last rank: HF collects the merges into a
     * HashMap, where the later insert wins. */
    m->slots[i].key = key;
    m->slots[i].rank = rank;
    m->slots[i].id = id;
}

const sc_tok_merge *sc__tok_merges_get(const sc_tok_merges *m, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t i = (uint32_t)mix64(key) & m->mask;
    for (;;) {
        const sc_tok_merge *e = &m->slots[i];
        if (e->key == key)
            return e;
        if (e->key == UINT64_MAX)
            return NULL;
        i = (i + 1) & m->mask;
    }
}

int sc__tok_ids_push(sc_tok_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof(int32_t));
        if (!v)
            return SC_ENOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return SC_OK;
}
