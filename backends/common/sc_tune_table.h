/*
 * backends/common/sc_tune_table.h - a backend's side of kernel tuning
 * (sc_backend_iface.tune_query / tune_set, ABI minor 3): the table of
 * choices the core installed, key -> variant name, and helpers to answer
 * tune_query. Header-only: plugins link nothing from the core.
 *
 * Use:
 *   sc_tune_table tt;                 one per device, sc_tune_table_init / _free
 *   tune_set    -> sc_tune_table_set(&tt, key, variant)   (variant NULL forgets)
 *   dispatch    -> build the node's key, sc_tune_table_get(&tt, key) -> name or NULL,
 *                  run that variant when it is valid for the node, else the default
 *   tune_query  -> sc_tune_info_add(info, "name") per valid variant, then
 *                  sc_tune_info_finish(info, default_index, sc_tune_table_get(...))
 * `generation` grows on every change: a backend that records command lists
 * keeps the generation it recorded under and records again when it moved.
 *
 * The table is guarded by a mutex: tune_set comes from the core's thread,
 * lookups from whichever thread runs graph_compute.
 */
#ifndef SC_TUNE_TABLE_H
#define SC_TUNE_TABLE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strixcore/plugin.h"

typedef struct sc_tune_entry {
    char key[SC_TUNE_KEY_LEN];
    char variant[SC_TUNE_NAME_LEN];
    bool used;
} sc_tune_entry;

typedef struct sc_tune_table {
    pthread_mutex_t mu;
    sc_tune_entry *slots; /* open addressing, power-of-two capacity */
    size_t cap, count;
    uint64_t generation;
} sc_tune_table;

static inline void sc_tune_table_init(sc_tune_table *t) {
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
}

static inline void sc_tune_table_free(sc_tune_table *t) {
    free(t->slots);
    pthread_mutex_destroy(&t->mu);
    memset(t, 0, sizeof *t);
}

static inline uint64_t sc_tune_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* the slot of `key`, or the empty slot where it would go (cap > count) */
static inline sc_tune_entry *sc_tune_slot(const sc_tune_table *t, const char *key) {
    size_t i = (size_t)sc_tune_hash(key) & (t->cap - 1);
    while (t->slots[i].used && strcmp(t->slots[i].key, key) != 0) i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static inline int sc_tune_grow(sc_tune_table *t) {
    const size_t ncap = t->cap ? t->cap * 2 : 64;
    sc_tune_entry *old = t->slots, *ns = (sc_tune_entry *)calloc(ncap, sizeof *ns);
    const size_t ocap = t->cap;
    if (!ns) return SC_ENOMEM;
    t->slots = ns;
    t->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used) *sc_tune_slot(t, old[i].key) = old[i];
    free(old);
    return SC_OK;
}

/* Install (variant != NULL) or forget (NULL) the choice for key. Deletion
 * rebuilds the table (rare: only a stale cache or a test does it). */
static inline int sc_tune_table_set(sc_tune_table *t, const char *key, const char *variant) {
    if (!key || strlen(key) >= SC_TUNE_KEY_LEN || (variant && strlen(variant) >= SC_TUNE_NAME_LEN)) return SC_EINVAL;
    int rc = SC_OK;
    pthread_mutex_lock(&t->mu);
    if (!variant) {
        if (t->cap && sc_tune_slot(t, key)->used) {
            sc_tune_entry *old = t->slots;
            const size_t ocap = t->cap;
            sc_tune_entry *ns = (sc_tune_entry *)calloc(ocap, sizeof *ns);
            if (!ns) {
                rc = SC_ENOMEM;
            } else {
                t->slots = ns;
                t->count = 0;
                for (size_t i = 0; i < ocap; i++)
                    if (old[i].used && strcmp(old[i].key, key) != 0) {
                        *sc_tune_slot(t, old[i].key) = old[i];
                        t->count++;
                    }
                free(old);
                t->generation++;
            }
        }
    } else {
        if ((t->count + 1) * 2 > t->cap) rc = sc_tune_grow(t);
        if (rc == SC_OK) {
            sc_tune_entry *e = sc_tune_slot(t, key);
            if (!e->used) {
                e->used = true;
                snprintf(e->key, sizeof e->key, "%s", key);
                t->count++;
            }
            snprintf(e->variant, sizeof e->variant, "%s", variant);
            t->generation++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Copy the chosen variant of key into out (SC_TUNE_NAME_LEN bytes); false
 * when nothing was chosen. */
static inline bool sc_tune_table_get(sc_tune_table *t, const char *key, char *out) {
    bool found = false;
    pthread_mutex_lock(&t->mu);
    if (t->count) {
        const sc_tune_entry *e = sc_tune_slot(t, key);
        if (e->used) {
            memcpy(out, e->variant, SC_TUNE_NAME_LEN);
            found = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

static inline uint64_t sc_tune_table_generation(sc_tune_table *t) {
    pthread_mutex_lock(&t->mu);
    const uint64_t g = t->generation;
    pthread_mutex_unlock(&t->mu);
    return g;
}

/* printf into a key buffer (SC_TUNE_KEY_LEN); false when it did not fit */
static inline bool sc_tune_key(char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool sc_tune_key(char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(key, SC_TUNE_KEY_LEN, fmt, ap);
    va_end(ap);
    return n > 0 && n < SC_TUNE_KEY_LEN;
}

/* Token counts in keys: exact up to 8, then the power of two at or above
 * (a prefill chunk of 300 tokens shares the choice measured for 512's
 * bucket): few keys, and every shape a server meets has one. */
static inline int64_t sc_tune_bucket(int64_t n) {
    if (n <= 8) return n;
    int64_t b = 16;
    while (b < n && b < ((int64_t)1 << 40)) b *= 2;
    return b;
}

/* ---- answering tune_query ----------------------------------------------------------------- */
static inline void sc_tune_info_begin(sc_tune_info *info, const char *key) {
    const size_t keep = info->struct_size;
    memset((char *)info + sizeof(size_t), 0, sizeof *info - sizeof(size_t));
    info->struct_size = keep;
    snprintf(info->key, sizeof info->key, "%s", key);
}

/* append a variant name; returns its index (-1 when full) */
static inline int sc_tune_info_add(sc_tune_info *info, const char *name) {
    if (info->n_variants >= SC_TUNE_MAX_VARIANTS) return -1;
    snprintf(info->variants[info->n_variants], SC_TUNE_NAME_LEN, "%s", name);
    return info->n_variants++;
}

static inline int sc_tune_info_find(const sc_tune_info *info, const char *name) {
    for (int i = 0; i < info->n_variants; i++)
        if (strcmp(info->variants[i], name) == 0) return i;
    return -1;
}

/* default_variant = def; current = the chosen one when it is in the list */
static inline int sc_tune_info_finish(sc_tune_info *info, int def, const char *chosen) {
    if (info->n_variants < 1 || def < 0 || def >= info->n_variants) return SC_ENOTSUP;
    info->default_variant = def;
    const int c = chosen ? sc_tune_info_find(info, chosen) : -1;
    info->current = c >= 0 ? c : def;
    return SC_OK;
}

#endif /* SC_TUNE_TABLE_H */
