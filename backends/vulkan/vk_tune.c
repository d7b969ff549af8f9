/*
 * backends/vulkan/vk_tune.c - kernel tuning (sc_backend_iface.tune_query /
 * tune_set; docs/vulkan.md "Tuning" lists the keys and variants).
 *
 * The op files list a node's key and variants (vk_mm_tune_variants in
 * vk_op_matmul.c, vk_attn_tune_variants in vk_op_attn.c,
 * vk_norm_tune_variants in vk_op_norm.c); this file keeps the device's
 * table (sc_tune_table in vk_dev), decodes variant names into a
 * vk_tune_sel and answers the recording code's vk_tune_pick.
 *
 * Variant names: a path, then modifiers, '.'-separated:
 *   MUL_MAT     gemv | gemm | dp4 | coop
 *   MUL_MAT_ID  gemv | grouped | coop
 *   ATTENTION   decode | prefill
 *   RMS_NORM    wg<N>
 *   modifiers   nr<N> bs<N> uw<N> (f32 GEMV rows, lanes, QG words per step),
 *               wgx / nowgx, w<W>r<R> (WGX GEMV on / off, warps x rows per warp),
 *               r<N> l<N> (dp4 rows per team, lanes), sk<N> (coop split-K),
 *               s<N> (attention key splits)
 * A name that does not decode for the key's family is SC_ENOENT at tune_set.
 *
 * Dispatch: with an empty table vk_tune_pick returns zeros (one mutex, no
 * string work). Otherwise it builds the node's key and variant list, looks
 * the key up, and decodes the choice when the list has it; the default
 * variant decodes to zeros too (the heuristic, so a fused kernel keeps its
 * own default path, e.g. dp4 in the MoE fusers). Recording happens only when
 * a graph changes (vk_graph.c replays otherwise, and records again when the
 * table's generation moved), so this is not per token.
 *
 * STRIXCORE_VK_MATMUL, STRIXCORE_VK_ATTN(_SPLITS), STRIXCORE_VK_NORM_WG (the
 * test knobs) win: while one is set, its op family is not tunable and the
 * table is not consulted for it. Debug log: "tune: KEY -> VARIANT" for each
 * node recorded under a table choice (tests count these lines).
 */
#include "vk_tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_infra.h"

/* the key's op family from its prefix */
enum { FAM_NONE, FAM_MM, FAM_MMID, FAM_ATTN, FAM_RMS };

static int key_family(const char *key) {
    if (!strncmp(key, "mm.", 3)) return FAM_MM;
    if (!strncmp(key, "mmid.", 5)) return FAM_MMID;
    if (!strncmp(key, "attn.", 5)) return FAM_ATTN;
    if (!strncmp(key, "rms:", 4)) return FAM_RMS;
    return FAM_NONE;
}

static bool pow2(unsigned long v) { return v && !(v & (v - 1)); }

/* "<prefix><digits>" at tok (len bytes) -> *v; false otherwise */
static bool num_tok(const char *tok, size_t len, const char *prefix, unsigned long *v) {
    const size_t pl = strlen(prefix);
    if (len <= pl || strncmp(tok, prefix, pl) != 0) return false;
    unsigned long n = 0;
    for (size_t i = pl; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9' || n > 100000) return false;
        n = n * 10 + (unsigned long)(tok[i] - '0');
    }
    *v = n;
    return true;
}

/* Decode variant `name` for family fam into *sel; false when it is no name of that family. */
static bool parse(int fam, const char *name, vk_tune_sel *sel) {
    memset(sel, 0, sizeof *sel);
    const char *p = name;
    size_t len = strcspn(p, ".");
    unsigned long v = 0, v2 = 0;
#define TOK(s) (len == strlen(s) && !strncmp(p, s, len))
    if (fam == FAM_RMS) {
        if (!num_tok(p, len, "wg", &v) || !pow2(v) || v > 1024 || p[len]) return false;
        sel->path = VK_TP_NORM;
        sel->wg = (uint16_t)v;
        return true;
    }
    if (fam == FAM_MM && TOK("gemv")) sel->path = VK_TP_GEMV;
    else if (fam == FAM_MM && TOK("gemm")) sel->path = VK_TP_GEMM;
    else if (fam == FAM_MM && TOK("dp4")) sel->path = VK_TP_DP4;
    else if ((fam == FAM_MM || fam == FAM_MMID) && TOK("coop")) sel->path = VK_TP_COOP;
    else if (fam == FAM_MMID && TOK("gemv")) sel->path = VK_TP_GEMV;
    else if (fam == FAM_MMID && TOK("grouped")) sel->path = VK_TP_GEMM;
    else if (fam == FAM_ATTN && TOK("decode")) sel->path = VK_TP_DECODE;
    else if (fam == FAM_ATTN && TOK("prefill")) sel->path = VK_TP_PREFILL;
    else return false;
    while (p[len]) {
        p += len + 1;
        len = strcspn(p, ".");
        const uint8_t path = sel->path;
        if (path == VK_TP_GEMV && num_tok(p, len, "nr", &v) && v >= 1 && v <= 16) {
            sel->nr = (uint8_t)v, sel->wgx = 1;
        } else if (path == VK_TP_GEMV && num_tok(p, len, "bs", &v) && pow2(v) && v >= 32 && v <= 1024) {
            sel->bs = (uint16_t)v, sel->wgx = 1;
        } else if (path == VK_TP_GEMV && num_tok(p, len, "uw", &v) && (v == 1 || v == 2 || v == 4)) {
            sel->uw = (uint8_t)v, sel->wgx = 1;
        } else if (path == VK_TP_GEMV && fam == FAM_MM && TOK("wgx")) {
            sel->wgx = 2;
        } else if (path == VK_TP_GEMV && fam == FAM_MM && TOK("nowgx")) {
            sel->wgx = 1;
        } else if (path == VK_TP_GEMV && fam == FAM_MM && sel->wgx == 2 && len >= 4 && p[0] == 'w' &&
                   sscanf(p, "w%lur%lu", &v, &v2) == 2 && pow2(v) && v <= 32 && v2 >= 1 && v2 <= 8) {
            char canon[24];
            snprintf(canon, sizeof canon, "w%lur%lu", v, v2);
            if (strlen(canon) != len || strncmp(canon, p, len)) return false;
            sel->wgw = (uint8_t)v, sel->wgr = (uint8_t)v2;
        } else if (path == VK_TP_DP4 && num_tok(p, len, "r", &v) && v >= 1 && v <= 8) {
            sel->dp4rows = (uint8_t)v;
        } else if (path == VK_TP_DP4 && num_tok(p, len, "l", &v) && pow2(v) && v >= 32 && v <= 1024) {
            sel->dp4lanes = (uint16_t)v;
        } else if (path == VK_TP_COOP && fam == FAM_MM && num_tok(p, len, "sk", &v) && v >= 1 && v <= 8) {
            sel->splitk = (uint8_t)v;
        } else if ((path == VK_TP_DECODE || path == VK_TP_PREFILL) && num_tok(p, len, "s", &v) && v >= 1 &&
                   v <= 128) {
            sel->splits = (uint8_t)v;
        } else {
            return false;
        }
    }
#undef TOK
    return true;
}

/* The node's key and variants; the default's index, or < 0 (not tunable). */
static int variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (!node || !vk_ops_supports(d, node)) return SC_ENOTSUP;
    switch (node->op) {
#ifdef SC_VK_HAVE_FAMILY_matmul
    case SC_OP_MUL_MAT:
    case SC_OP_MUL_MAT_ID: return vk_mm_tune_variants(d, node, info);
#endif
#ifdef SC_VK_HAVE_FAMILY_attn
    case SC_OP_ATTENTION: return vk_attn_tune_variants(d, node, info);
#endif
#ifdef SC_VK_HAVE_FAMILY_norm
    case SC_OP_RMS_NORM: return vk_norm_tune_variants(d, node, info);
#endif
    default: return SC_ENOTSUP;
    }
}

static bool table_active(vk_dev *d) {
    pthread_mutex_lock(&d->tune.mu);
    const bool on = d->tune.count > 0;
    pthread_mutex_unlock(&d->tune.mu);
    return on;
}

void vk_tune_pick(vk_dev *d, const sc_tensor *node, vk_tune_sel *sel) {
    memset(sel, 0, sizeof *sel);
    if (!table_active(d)) return;
    sc_tune_info info;
    info.struct_size = sizeof info;
    const int def = variants(d, node, &info);
    if (def < 0) return;
    char chosen[SC_TUNE_NAME_LEN];
    if (!sc_tune_table_get(&d->tune, info.key, chosen)) return;
    const int i = sc_tune_info_find(&info, chosen);
    if (i < 0) {
        VK_LOG(SC_LOG_DEBUG, "tune: %s -> %s: not valid for '%s', default %s", info.key, chosen, node->name,
               info.variants[def]);
        return;
    }
    VK_LOG(SC_LOG_DEBUG, "tune: %s -> %s ('%s')", info.key, chosen, node->name);
    if (i == def) return; /* the heuristic itself */
    vk_tune_sel s;
    if (parse(key_family(info.key), chosen, &s)) *sel = s;
}

int vk_tune_query(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (!info || info->struct_size < sizeof *info) return SC_EINVAL; /* all of it is written */
    const int def = variants(d, node, info);
    if (def < 0) return SC_ENOTSUP;
    char chosen[SC_TUNE_NAME_LEN];
    const bool have = sc_tune_table_get(&d->tune, info->key, chosen);
    return sc_tune_info_finish(info, def, have ? chosen : NULL);
}

int vk_tune_set(vk_dev *d, const char *key, const char *variant) {
    if (!key) return SC_EINVAL;
    const int fam = key_family(key);
    if (fam == FAM_NONE) return SC_ENOENT;
    if (variant) {
        vk_tune_sel s;
        if (!parse(fam, variant, &s)) return SC_ENOENT;
    }
    return sc_tune_table_set(&d->tune, key, variant);
}

uint64_t vk_tune_generation(vk_dev *d) { return sc_tune_table_generation(&d->tune); }
