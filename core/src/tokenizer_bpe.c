/*
 * core/src/tokenizer_bpe.c - the BPE merge loop for one pre-token.
 *
 * A transcription of HF tokenizers' BPE::merge_word + Word::merge_all, kept
 * step for step because exact parity depends on it:
 *   - every byte starts as its own symbol (a doubly linked list in an array);
 *   - a min-heap holds candidate merges ordered by (rank, position);
 *   - a popped entry is stale when its left symbol was swallowed, is now the
 *     last one, or the pair there no longer merges into the same new id (HF
 *     compares only the new id, so an entry whose pair changed but still
 *     makes the same token is applied with its old rank; so do we);
 *   - after a merge the pairs with the new left and right neighbours are
 *     pushed.
 * O(n log n) in the pre-token length, so a 50k-letter "word" is fine.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

typedef struct bpe_sym {
    int32_t id;
    int32_t prev, next;       /* indices, -1 at the ends */
    uint32_t len;             /* bytes covered; 0 = merged away */
} bpe_sym;

typedef struct bpe_cand {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} bpe_cand;

static bool cand_less(const bpe_cand *a, const bpe_cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_cand *h, size_t *n, bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static bpe_cand heap_pop(bpe_cand *h, size_t *n) {
    bpe_cand top = h[0];
    bpe_cand last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m)
            break;
        size_t c = (l + 1 < m && cand_less(&h[l + 1], &h[l])) ? l + 1 : l;
        if (!cand_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (m > 0)
        h[i] = last;
    return top;
}

static void sym_add(bpe_sym *syms, size_t *n, int32_t id, uint32_t len) {
    size_t i = (*n)++;
    syms[i].id = id;
    syms[i].len = len;
    syms[i].prev = (int32_t)i - 1;
    syms[i].next = -1;
    if (i > 0)
        syms[i - 1].next = (int32_t)i;
}

/* merge_word's symbol building: byte ids, then byte_fallback "<0xXX>" ids
 * for the UTF-8 bytes of the byte's alphabet char, then unk (fused or not);
 * a byte with none of these is dropped, as HF does without an unk token. */
static size_t initial_symbols(const sc_tokenizer_t *tok, const unsigned char *s, size_t len, bpe_sym *syms) {
    size_t n = 0;
    int32_t unk = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = tok->byte_id[s[i]];
        if (id >= 0) {
            if (unk >= 0) {
                sym_add(syms, &n, unk, unk_len);
                unk = -1;
            }
            sym_add(syms, &n, id, 1);
            continue;
        }
        if (tok->byte_fallback) {
            uint32_t cp = sc__bytelevel_char(s[i]);
            unsigned char u[2];
            size_t nu = 0;
            if (cp < 0x80) {
                u[nu++] = (unsigned char)cp;
            } else {
                u[nu++] = (unsigned char)(0xC0 | (cp >> 6));
                u[nu++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
            bool all = true;
            for (size_t k = 0; k < nu; k++)
                all = all && tok->fallback_id[u[k]] >= 0;
            if (all) {
                for (size_t k = 0; k < nu; k++)
                    sym_add(syms, &n, tok->fallback_id[u[k]], 1);
                continue;
            }
        }
        if (tok->unk_id >= 0) {
            if (unk >= 0 && tok->fuse_unk) {
                unk_len += 1;
            } else {
                if (unk >= 0)
                    sym_add(syms, &n, unk, unk_len);
                unk = tok->unk_id;
                unk_len = 1;
            }
        }
    }
    if (unk >= 0)
        sym_add(syms, &n, unk, unk_len);
    return n;
}

static void merge_all(const sc_tokenizer_t *tok, bpe_sym *syms, size_t n, bpe_cand *heap) {
    size_t nh = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const sc_tok_merge *m = sc__tok_merges_get(&tok->merges, syms[i].id, syms[i + 1].id);
        if (m)
            heap_push(heap, &nh, (bpe_cand){m->rank, (uint32_t)i, m->id});
    }
    /* hot loop: one merge per iteration */
    while (nh > 0) {
        bpe_cand top = heap_pop(heap, &nh);
        bpe_sym *cur = &syms[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        bpe_sym right = syms[cur->next];
        const sc_tok_merge *m = sc__tok_merges_get(&tok->merges, cur->id, right.id);
        if (!m || m->id != top.new_id)
            continue; /* stale */
        int32_t right_pos = cur->next;
        cur->id = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        syms[right_pos].len = 0;
        if (right.next >= 0)
            syms[right.next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) {
            const sc_tok_merge *pm = sc__tok_merges_get(&tok->merges, syms[cur->prev].id, cur->id);
            if (pm)
                heap_push(heap, &nh, (bpe_cand){pm->rank, (uint32_t)cur->prev, pm->id});
        }
        if (cur->next >= 0) {
            const sc_tok_merge *nm = sc__tok_merges_get(&tok->merges, cur->id, syms[cur->next].id);
            if (nm)
                heap_push(heap, &nh, (bpe_cand){nm->rank, top.pos, nm->id});
        }
    }
}

static bool cache_get(const sc_tokenizer_t *tok, const char *s, size_t len, uint32_t slot, sc_tok_ids *ids,
                      int *rc) {
    sc_tok_cache_entry e;
    pthread_mutex_lock((pthread_mutex_t *)&tok->cache_lock);
    e = tok->cache[slot];
    pthread_mutex_unlock((pthread_mutex_t *)&tok->cache_lock);
    if (e.key_len != len || memcmp(e.key, s, len) != 0)
        return false;
    *rc = SC_OK;
    for (unsigned i = 0; i < e.n_ids && *rc == SC_OK; i++)
        *rc = sc__tok_ids_push(ids, e.ids[i]);
    return true;
}

static void cache_put(const sc_tokenizer_t *tok, const char *s, size_t len, uint32_t slot, const int32_t *v,
                      size_t n) {
    if (n > SC_TOK_CACHE_MAX_IDS)
        return;
    sc_tok_cache_entry e;
    memset(&e, 0, sizeof(e));
    e.key_len = (uint8_t)len;
    e.n_ids = (uint8_t)n;
    memcpy(e.key, s, len);
    memcpy(e.ids, v, n * sizeof(int32_t));
    pthread_mutex_lock((pthread_mutex_t *)&tok->cache_lock);
    tok->cache[slot] = e;
    pthread_mutex_unlock((pthread_mutex_t *)&tok->cache_lock);
}

int sc__tok_bpe(const sc_tokenizer_t *tok, const char *s, size_t len, sc_tok_ids *ids) {
    if (len == 0)
        return SC_OK;
    if (tok->ignore_merges) {
        /* ignore_merges: a pre-token that is itself a vocab entry is taken whole. */
        char stackbuf[256];
        char *bl = len * 2 <= sizeof(stackbuf) ? stackbuf : malloc(len * 2);
        if (!bl)
            return SC_ENOMEM;
        size_t bl_len = sc__bytelevel_from_bytes(s, len, bl);
        int32_t id = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, bl, bl_len);
        if (bl != stackbuf)
            free(bl);
        if (id >= 0)
            return sc__tok_ids_push(ids, id);
    }
    uint32_t slot = 0;
    bool cacheable = tok->cache && len <= SC_TOK_CACHE_MAX_KEY;
    if (cacheable) {
        int rc;
        slot = (uint32_t)sc__tok_hash(s, len) & (SC_TOK_CACHE_SLOTS - 1);
        if (cache_get(tok, s, len, slot, ids, &rc))
            return rc;
    }

    /* Up to len symbols (2 per byte with byte_fallback) and, per merge, at
     * most two pushes on top of the initial n - 1 candidates. */
    size_t max_syms = len * 2;
    bpe_sym sym_stack[64];
    bpe_cand heap_stack[3 * 64];
    bpe_sym *syms = max_syms <= 64 ? sym_stack : malloc(max_syms * sizeof(bpe_sym));
    bpe_cand *heap = max_syms <= 64 ? heap_stack : malloc(3 * max_syms * sizeof(bpe_cand));
    int rc = SC_OK;
    if (!syms || !heap) {
        rc = SC_ENOMEM;
        goto out;
    }
    size_t n = initial_symbols(tok, (const unsigned char *)s, len, syms);
    if (n > 1)
        merge_all(tok, syms, n, heap);

    size_t first = ids->n;
    for (size_t i = 0; i < n && rc == SC_OK; i++)
        if (syms[i].len != 0)
            rc = sc__tok_ids_push(ids, syms[i].id);
    if (rc == SC_OK && cacheable)
        cache_put(tok, s, len, slot, ids->v + first, ids->n - first);
out:
    if (syms != sym_stack)
        free(syms);
    if (heap != heap_stack)
        free(heap);
    return rc;
}
