/*
 * backends/cpu/fast_tune.c - kernel tuning of the CPU backend (ABI minor 3:
 * sc_backend_iface.tune_query / tune_set): the variants of mul_mat and
 * mul_mat_id, their keys, the table of choices and the per-node lookup.
 *
 * Keys (the weight word: f32, f16, bf16, or q<bits>g<group> with ".gidx"
 * for act-order and ".bf16r" for bf16 rounding; sc_tune_bucket for token
 * counts):
 *   mm.<w>:N=<rows>,K=<cols>,M=<bucket(x columns)>,B=<x batches ne2*ne3>
 *   mmid.<w>:N=..,K=..,E=<experts>,U=<n_used>,T=<bucket(tokens)>
 * Variants, valid for every node of the key on this CPU (default first):
 *   <isa>           float weights: the kernel table, isa one of avx512,
 *                   avxvnni, avx2 at or below the active table (generic
 *                   only when it is the active one: sc__cpu_kernel_levels)
 *   <isa>.q8, .f32  QG weights: the table and the activation path (int8
 *                   columns for 4/8-bit groups of 32k, else only .f32)
 *   <default>.r8, .r32, .r128   the default with that many rows of W per
 *                   task instead of the heuristic split (listed when N is
 *                   larger)
 * The env knobs win: STRIXCORE_CPU_FEATURES caps the tables listed,
 * STRIXCORE_CPU_QG_ACT=f32 leaves only the .f32 variants.
 *
 * The CPU has one device, so one table, here. The untuned path pays one
 * relaxed atomic load per matmul node; with choices installed, a node pays
 * its key's snprintf and one hash lookup, and a node with a choice also the
 * list of its variants (~1 us per node on a 2-core AMD EPYC VM, next to ~0.4
 * us for a whole 16x64 q4 GEMV), so that only a listed variant ever runs.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "cpu_impl.h"
#include "../common/sc_tune_table.h" /* header-only; core/ has no include path to backends/common */

static sc_tune_table tune_table = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_size_t tune_count; /* tune_table.count, readable without the lock */

static _Thread_local sc_cpu_mm_last mm_last;

sc_cpu_mm_last *sc__cpu_mm_last(void) { return &mm_last; }

static const int split_rows[] = {8, 32, 128}; /* rows of W per task */

/* "f32", "q4g128", "q8g32.bf16r", ... into out [32] */
static void weight_word(const sc_tensor *w, char *out, size_t len) {
    switch (w->type) {
    case SC_TYPE_F32: snprintf(out, len, "f32"); return;
    case SC_TYPE_F16: snprintf(out, len, "f16"); return;
    case SC_TYPE_BF16: snprintf(out, len, "bf16"); return;
    default:
        snprintf(out, len, "q%ug%u%s%s", (unsigned)w->quant.bits, (unsigned)w->quant.group_size,
                 (w->quant.flags & SC_QUANT_HAS_GIDX) ? ".gidx" : "",
                 (w->quant.flags & SC_QUANT_BF16_ROUND) ? ".bf16r" : "");
    }
}

static bool node_key(const sc_tensor *node, char key[SC_TUNE_KEY_LEN]) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    char ww[32];
    weight_word(w, ww, sizeof ww);
    if (node->op == SC_OP_MUL_MAT)
        return sc_tune_key(key, "mm.%s:N=%lld,K=%lld,M=%lld,B=%lld", ww, (long long)w->ne[1], (long long)w->ne[0],
                           (long long)sc_tune_bucket(x->ne[1]), (long long)(x->ne[2] * x->ne[3]));
    const sc_tensor *ids = node->src[2];
    return sc_tune_key(key, "mmid.%s:N=%lld,K=%lld,E=%lld,U=%lld,T=%lld", ww, (long long)w->ne[1],
                       (long long)w->ne[0], (long long)w->ne[2], (long long)ids->ne[0],
                       (long long)sc_tune_bucket(ids->ne[1]));
}

static bool tunable(const sc_tensor *node) {
    return node && (node->op == SC_OP_MUL_MAT || node->op == SC_OP_MUL_MAT_ID) && sc__cpu_check(node) == SC_OK;
}

/* Fill info (node's key, the variants valid for node, default 0) and
 * plans[i] for each variant i. */
static void mm_variants(const sc_tensor *node, const char *key, sc_tune_info *info,
                        sc_cpu_mm_plan plans[SC_TUNE_MAX_VARIANTS]) {
    sc_tune_info_begin(info, key);
    const sc_tensor *w = node->src[0];
    const bool qg = w->type == SC_TYPE_QG;
    const bool q8_layout =
        qg && sc__cpu_qg_int8() && sc__cpu_q8_ok(w->quant.bits, w->quant.group_size, w->quant.flags, w->ne[0]);
    const sc_cpu_kernels *tabs[SC_CPU_N_LEVELS];
    const char *names[SC_CPU_N_LEVELS];
    const int n_lv = sc__cpu_kernel_levels(tabs, names);
    char name[SC_TUNE_NAME_LEN];
    for (int l = 0; l < n_lv; l++) {
        const bool q8 = q8_layout && tabs[l]->dot_qg_q8 && tabs[l]->quant_q8;
        for (int a = q8 ? 0 : 1; a < 2; a++) { /* a 0: int8 columns, 1: f32 */
            snprintf(name, sizeof name, "%s%s", names[l], !qg ? "" : a == 0 ? ".q8" : ".f32");
            const int i = sc_tune_info_add(info, name);
            if (i < 0) break;
            plans[i] = (sc_cpu_mm_plan){.kr = tabs[l], .q8 = a == 0};
            if (!qg) break;
        }
    }
    const sc_cpu_mm_plan def = plans[0];
    char def_name[SC_TUNE_NAME_LEN];
    memcpy(def_name, info->variants[0], sizeof def_name);
    for (size_t s = 0; s < sizeof split_rows / sizeof split_rows[0]; s++) {
        if (w->ne[1] <= split_rows[s]) break;
        snprintf(name, sizeof name, "%.24s.r%d", def_name, (int)split_rows[s]);
        const int i = sc_tune_info_add(info, name);
        if (i < 0) break;
        plans[i] = def;
        plans[i].rows_per_task = split_rows[s];
    }
}

int sc__cpu_tune_query(const sc_tensor *node, sc_tune_info *info) {
    if (!info || info->struct_size < sizeof *info) return SC_EINVAL;
    if (!tunable(node)) return SC_ENOTSUP;
    char key[SC_TUNE_KEY_LEN];
    if (!node_key(node, key)) return SC_ENOTSUP;
    sc_cpu_mm_plan plans[SC_TUNE_MAX_VARIANTS];
    mm_variants(node, key, info, plans);
    char chosen[SC_TUNE_NAME_LEN];
    const bool has = sc_tune_table_get(&tune_table, info->key, chosen);
    return sc_tune_info_finish(info, 0, has ? chosen : NULL);
}

void sc__cpu_mm_plan(const sc_tensor *node, sc_cpu_mm_plan *plan) {
    *plan = (sc_cpu_mm_plan){.kr = sc__cpu_kernels(), .q8 = sc__cpu_qg_int8()};
    mm_last.variant[0] = '\0';
    if (atomic_load_explicit(&tune_count, memory_order_relaxed) == 0) return; /* untuned: no string work */
    char key[SC_TUNE_KEY_LEN], chosen[SC_TUNE_NAME_LEN];
    if (!node_key(node, key) || !sc_tune_table_get(&tune_table, key, chosen)) return;
    sc_tune_info info = {.struct_size = sizeof info};
    sc_cpu_mm_plan plans[SC_TUNE_MAX_VARIANTS];
    mm_variants(node, key, &info, plans); /* the choice runs only when it is in this node's list */
    const int i = sc_tune_info_find(&info, chosen);
    if (i < 0) return; /* not valid here (another CPU's cache, an env cap): the default */
    *plan = plans[i];
    memcpy(mm_last.variant, chosen, sizeof chosen);
}

/* Could `variant` ever be a variant of `key`'s family? isa[.q8|.f32][.rN]
 * with the activation word exactly for QG keys. */
static bool known_variant(const char *key, const char *variant) {
    const bool mm = strncmp(key, "mm.", 3) == 0, mmid = strncmp(key, "mmid.", 5) == 0;
    if (!mm && !mmid) return false;
    const bool qg = key[mm ? 3 : 5] == 'q';
    static const char *const isas[] = {"avx512", "avxvnni", "avx2", "generic"};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0] && !p; i++) {
        const size_t n = strlen(isas[i]);
        if (strncmp(variant, isas[i], n) == 0 && (variant[n] == '\0' || variant[n] == '.')) p = variant + n;
    }
    if (!p) return false;
    if (qg) {
        if (strncmp(p, ".q8", 3) == 0) p += 3;
        else if (strncmp(p, ".f32", 4) == 0) p += 4;
        else return false;
    }
    if (*p == '\0') return true;
    char buf[16];
    for (size_t s = 0; s < sizeof split_rows / sizeof split_rows[0]; s++) {
        snprintf(buf, sizeof buf, ".r%d", split_rows[s]);
        if (strcmp(p, buf) == 0) return true;
    }
    return false;
}

int sc__cpu_tune_set(const char *key, const char *variant) {
    if (!key || !*key) return SC_EINVAL;
    if (variant && !known_variant(key, variant)) return SC_ENOENT;
    const int rc = sc_tune_table_set(&tune_table, key, variant);
    pthread_mutex_lock(&tune_table.mu);
    atomic_store_explicit(&tune_count, tune_table.count, memory_order_relaxed);
    pthread_mutex_unlock(&tune_table.mu);
    return rc;
}
