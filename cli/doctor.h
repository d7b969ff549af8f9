/*
 * cli/doctor.h - what `strixcore doctor`'s files share (cli/cmd_doctor.c,
 * cli/doctor_probe.c, cli/doctor_model.c).
 *
 * doctor_probe.c reads the machine (under --root) into an sc_doctor,
 * cmd_doctor.c turns the facts into checks and advice and prints them,
 * doctor_model.c sizes a checkpoint without loading its weights.
 */
#ifndef STRIXCORE_CLI_DOCTOR_H
#define STRIXCORE_CLI_DOCTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

#define SC_DR_MAX_CARDS 8
#define SC_DR_MAX_NODES 16
#define SC_DR_MAX_GIDS 64
#define SC_DR_MAX_CHECKS 32
#define SC_DR_MAX_ADVICE 16

#define SC_DR_GIB (1024ull * 1024ull * 1024ull)
#define SC_DR_MIB (1024ull * 1024ull)
/* The kernel-argument rule (docs/doctor.md): RAM = MemTotal + VRAM
 * carve-out rounded up to a multiple of 8 GiB; GTT = RAM - 4 GiB. */
#define SC_DR_RAM_STEP (8ull * SC_DR_GIB)
#define SC_DR_OS_RESERVE (4ull * SC_DR_GIB)

typedef enum sc_dr_status { SC_DR_OK, SC_DR_WARN, SC_DR_FAIL } sc_dr_status;

typedef struct sc_dr_card {
    char name[32];            /* card0 */
    char vendor[16], device[16]; /* PCI ids as in sysfs: 0x1002, 0x1586 */
    bool amdgpu;              /* has mem_info_gtt_total */
    uint64_t vram_total, gtt_total;
} sc_dr_card;

typedef struct sc_dr_node {
    char path[64];            /* /dev/dri/renderD128 (without the root) */
    bool access;              /* read and write */
} sc_dr_node;

typedef struct sc_dr_check {
    char name[32];
    sc_dr_status status;
    char detail[320];
} sc_dr_check;

/* a kernel argument from /proc/cmdline: set, and its value */
typedef struct sc_dr_karg {
    bool set;
    char value[64];
} sc_dr_karg;

typedef struct sc_doctor {
    char root[1024];          /* "" for the real machine */
    /* /proc */
    bool have_cmdline, have_meminfo;
    char cmdline[4096];
    sc_dr_karg gttsize, pages_limit, amd_iommu, iommu;
    uint64_t mem_total, mem_available;
    /* /sys/class/drm */
    sc_dr_card cards[SC_DR_MAX_CARDS];
    int n_cards;
    int gpu;                  /* the amdgpu card with the most VRAM + GTT, or -1 */
    /* /dev */
    bool kfd_exists, kfd_access;
    sc_dr_node nodes[SC_DR_MAX_NODES];
    int n_nodes;
    /* user and groups (/etc/group) */
    char user[64];
    bool faked_user;          /* STRIXCORE_DOCTOR_USER / _GIDS set */
    bool is_root;             /* euid 0 (not faked) */
    gid_t gids[SC_DR_MAX_GIDS];
    int n_gids;
    bool render_exists, video_exists;
    bool in_render, in_video;         /* in the process's groups */
    bool listed_render, listed_video; /* named in /etc/group (maybe not active yet) */
    /* the recommendation for this machine's RAM */
    uint64_t ram_rounded;     /* bytes, 0 when unknown */
    uint64_t rec_gtt_mib, rec_pages;
    /* results */
    sc_dr_check checks[SC_DR_MAX_CHECKS];
    int n_checks;
    char advice[SC_DR_MAX_ADVICE][512];
    int n_advice;
} sc_doctor;

/* The model part. */
typedef struct sc_dr_model {
    char *dir;                /* resolved path (free()) */
    char arch[64];
    int64_t n_layers, n_kv_heads, head_dim, max_position_embeddings;
    uint64_t weights_bytes;   /* safetensors tensor bytes */
    sc_type kv_type;
    uint64_t kv_bytes_per_token;
    int64_t max_model_len;    /* asked (or the engine's default) */
    int block_size;
    uint64_t kv_bytes;        /* at max_model_len, whole blocks */
    uint64_t state_bytes;     /* recurrent state of one sequence (Gated DeltaNet layers; 0 otherwise) */
    uint64_t budget;          /* memory the device can use */
    const char *budget_source;
    bool fits;
    int64_t max_fit;          /* largest max_model_len that fits (0: not even the weights) */
} sc_dr_model;

/* doctor_probe.c: fill d (root already set). Never fails: what is missing
 * stays zero / false. */
void sc__doctor_probe(sc_doctor *d);
/* doctor_model.c: MODEL argument -> directory (malloc'd) or NULL with err. */
char *sc__doctor_resolve_model(const char *arg, char *err, size_t err_len);
/* Size the checkpoint at m->dir; m->max_model_len 0 = the engine's default.
 * SC_CLI_OK, or SC_CLI_FAIL with err. */
int sc__doctor_model(sc_dr_model *m, uint64_t budget, const char *budget_source, char *err, size_t err_len);

#endif
