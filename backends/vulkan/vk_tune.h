/*
 * backends/vulkan/vk_tune.h - kernel tuning on Vulkan (vk_tune.c; the ABI:
 * sc_backend_iface.tune_query / tune_set, backends/common/sc_tune_table.h;
 * docs/vulkan.md "Tuning").
 *
 * A tunable node (MUL_MAT, MUL_MAT_ID, ATTENTION, RMS_NORM) has a key and a
 * list of variant names valid for it. A variant name decodes into a
 * vk_tune_sel: the path and launch shape the recording code honours in place
 * of its heuristics (0 fields: the heuristic's own choice). vk_tune_pick
 * gives the node's selection at dispatch: the table's choice when it is in
 * the node's list, else all zeros (the default); with an empty table it
 * costs one mutex and nothing else. Fused groups (vk_fuse_gemv.c) take the
 * selection of their first MUL_MAT / MUL_MAT_ID member.
 */
#ifndef STRIXCORE_VK_TUNE_H
#define STRIXCORE_VK_TUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "sc_tune_table.h"
#include "vk_internal.h"

enum vk_tune_path {
    VK_TP_AUTO = 0, /* the heuristic (vk_op_matmul*.c, vk_op_attn.c) */
    VK_TP_GEMV,     /* MUL_MAT: the f32 GEMV (mul_mat_vec.comp), never dp4; MUL_MAT_ID: per pair */
    VK_TP_GEMM,     /* MUL_MAT: the tiled GEMM; MUL_MAT_ID: grouped by expert */
    VK_TP_DP4,      /* MUL_MAT: the int8-activation GEMV */
    VK_TP_COOP,     /* matrix units (VK_KHR_cooperative_matrix) */
    VK_TP_DECODE,   /* ATTENTION: attention_decode.comp */
    VK_TP_PREFILL,  /* ATTENTION: attention_prefill.comp */
    VK_TP_NORM,     /* RMS_NORM (only its workgroup size varies) */
};

typedef struct vk_tune_sel {
    uint8_t path;      /* vk_tune_path */
    uint8_t nr;        /* GEMV rows per workgroup (1..16) */
    uint16_t bs;       /* GEMV lanes per workgroup */
    uint8_t uw;        /* GEMV QG words per lane step (1, 2, 4) */
    uint8_t wgx;       /* 0: heuristic, 1: never the WGX GEMV, 2: the WGX GEMV */
    uint8_t wgw, wgr;  /* WGX warps per workgroup, rows per warp */
    uint8_t dp4rows;   /* dp4 rows per team */
    uint8_t splitk;    /* coop GEMM split-K parts */
    uint8_t splits;    /* ATTENTION key splits */
    uint16_t dp4lanes; /* dp4 lanes per workgroup */
    uint16_t wg;       /* RMS_NORM workgroup size */
} vk_tune_sel;

/* The selection for node (zeros: default). */
void vk_tune_pick(vk_dev *d, const sc_tensor *node, vk_tune_sel *sel);
/* A selection that leaves the dp4 GEMV its heuristic (AUTO or DP4). */
static inline bool vk_tune_dp4_ok(const vk_tune_sel *s) { return !s || s->path == VK_TP_AUTO || s->path == VK_TP_DP4; }
/* A selection that customises the dp4 launch shape (the fused q8 epilogues need the default). */
static inline bool vk_tune_dp4_custom(const vk_tune_sel *s) { return s && (s->dp4rows || s->dp4lanes); }

/* The device's table (vk_device.c creates and frees it with the device). */
int vk_tune_query(vk_dev *d, const sc_tensor *node, sc_tune_info *info);
int vk_tune_set(vk_dev *d, const char *key, const char *variant);
/* The table's generation: graph recordings made under another are not replayed. */
uint64_t vk_tune_generation(vk_dev *d);

/* The op files' lists: fill info's key and variants for node, return the
 * default's index, or SC_ENOTSUP (not tunable here, or a test knob is set). */
int vk_mm_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info);   /* vk_op_matmul.c */
int vk_attn_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info); /* vk_op_attn.c */
int vk_norm_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info); /* vk_op_norm.c */

#endif
