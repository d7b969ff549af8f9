/*
 * tests/fuzz/fuzz_model_config.c - libFuzzer target for config.json and
 * generation_config.json parsing.
 *
 * Input byte 0 picks the mode: even parses the rest as config.json (in
 * memory); odd writes it as generation_config.json and loads it. What parses
 * must satisfy the invariants model code relies on.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strixcore/model_config.h"
#include "strixcore/strixcore.h"

static char g_dir[256];

static void quiet(sc_log_level l, const char *who, const char *msg, void *user) {
    (void)l, (void)who, (void)msg, (void)user;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void) {
    if (g_dir[0]) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sc_log_set_sink(quiet, NULL);
    snprintf(g_dir, sizeof(g_dir), "%s/sc_fuzz_mc_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) __builtin_trap();
    atexit(cleanup);
    return 0;
}

static void check_config(const sc_model_config *c) {
    if (c->arch != SC_ARCH_QWEN3 && c->arch != SC_ARCH_QWEN3_MOE) __builtin_trap();
    if (c->vocab_size < 1 || c->hidden_size < 1 || c->n_heads < 1 || c->n_kv_heads < 1 || c->head_dim < 1)
        __builtin_trap();
    if (c->n_layers < 1 || c->n_layers > SC_MAX_LAYERS || c->n_heads % c->n_kv_heads) __builtin_trap();
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0) || !(c->partial_rotary_factor > 0)) __builtin_trap();
    if (c->arch == SC_ARCH_QWEN3_MOE &&
        (c->n_experts < 1 || c->n_experts_used < 1 || c->n_experts_used > c->n_experts || c->moe_intermediate_size < 1))
        __builtin_trap();
    if (memchr(c->arch_name, '\0', sizeof(c->arch_name)) == NULL) __builtin_trap();
    for (int64_t L = -1; L <= SC_MAX_LAYERS + 1; L++)
        if (!sc_model_config_layer_is_moe(c, L) && L >= 0 && L < c->n_layers && c->intermediate_size < 1)
            __builtin_trap(); /* a dense layer without a dense MLP size */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    if (size < 1) return 0;
    bool gen = data[0] & 1;
    data++, size--;
    if (!gen) {
        sc_model_config cfg;
        int rc = sc_model_config_parse((const char *)data, size, &cfg, err, sizeof(err));
        if (rc == SC_OK)
            check_config(&cfg);
        else if (rc > 0 || !err[0])
            __builtin_trap();
        return 0;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/generation_config.json", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f) __builtin_trap();
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    sc_model_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.bos_token_id = 151643;
    cfg.eos_token_id = 151645;
    sc_generation_config g;
    int rc = sc_generation_config_load(g_dir, &cfg, &g, err, sizeof(err));
    if (rc == SC_OK) {
        if (g.n_eos < 1 || g.n_eos > SC_MAX_EOS || g.top_k < 0 || !(g.top_p >= 0 && g.top_p <= 1)) __builtin_trap();
        for (int i = 0; i < g.n_eos; i++)
            for (int j = 0; j < i; j++)
                if (g.eos_ids[i] == g.eos_ids[j]) __builtin_trap();
    } else if (rc > 0 || !err[0]) {
        __builtin_trap();
    }
    return 0;
}
