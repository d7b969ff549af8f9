/*
 * tests/fuzz/fuzz_safetensors.c - libFuzzer target for the safetensors
 * reader: single files (header + data) and model.safetensors.index.json.
 *
 * Input byte 0 picks the mode, the rest is the payload:
 *   even: a whole .safetensors file, opened through a memfd (no disk I/O);
 *   odd:  an index JSON, written next to three valid shards made once at
 *         start-up, then the directory is opened.
 * Whatever opens must honour the contract: every tensor's bytes readable
 * (an out-of-range one faults here), find() returns what at() does, and
 * total_bytes is the sum.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "strixcore/safetensors.h"
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

static void make_shard(const char *name, const char *const *names, int n) {
    static const int64_t shape[2] = {2, 3};
    static const float vals[6] = {1, 2, 3, 4, 5, 6};
    sc_st_write_tensor ts[4];
    char p[512];
    for (int i = 0; i < n; i++) ts[i] = (sc_st_write_tensor){names[i], SC_ST_F32, 2, shape, vals, sizeof(vals)};
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    if (sc_safetensors_write(p, ts, n, "{\"format\":\"pt\"}") != SC_OK) __builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sc_log_set_sink(quiet, NULL);
    snprintf(g_dir, sizeof(g_dir), "%s/sc_fuzz_st_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) __builtin_trap();
    atexit(cleanup);
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/sub", g_dir);
    mkdir(sub, 0755);
    const char *a[] = {"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"};
    const char *b[] = {"lm_head.weight", "model.norm.weight"};
    const char *c[] = {"model.layers.0.mlp.up_proj.weight", "x"};
    make_shard("model-00001-of-00002.safetensors", a, 2);
    make_shard("model-00002-of-00002.safetensors", b, 2);
    make_shard("sub/c.safetensors", c, 2);
    return 0;
}

static void check(const sc_safetensors_t *st) {
    uint64_t total = 0;
    for (int i = 0; i < sc_safetensors_count(st); i++) {
        const sc_st_tensor *t = sc_safetensors_at(st, i);
        if (!t || sc_safetensors_find(st, t->name) != t) __builtin_trap();
        if (t->ndims < 0 || t->ndims > SC_ST_MAX_DIMS || sc_st_dtype_size(t->dtype) == 0) __builtin_trap();
        if (t->nbytes) { /* both ends must be mapped */
            volatile uint8_t x = ((const volatile uint8_t *)t->data)[0];
            x = ((const volatile uint8_t *)t->data)[t->nbytes - 1];
            (void)x;
        }
        total += t->nbytes;
    }
    if (total != sc_safetensors_total_bytes(st)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], err[512];
    sc_safetensors_t *st = NULL;
    int rc;
    if (size < 1) return 0;
    bool index = data[0] & 1;
    data++, size--;

    if (!index) {
        int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) __builtin_trap();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        rc = sc_safetensors_open(path, &st, err, sizeof(err));
        close(fd); /* the mapping outlives the descriptor */
    } else {
        snprintf(path, sizeof(path), "%s/model.safetensors.index.json", g_dir);
        FILE *f = fopen(path, "wb");
        if (!f) __builtin_trap();
        if (size) fwrite(data, 1, size, f);
        fclose(f);
        rc = sc_safetensors_open(g_dir, &st, err, sizeof(err));
    }
    if (rc == SC_OK) {
        if (!st) __builtin_trap();
        check(st);
        sc_safetensors_close(st);
    } else if (rc > 0 || st || !err[0]) { /* errors are negative, leave no handle and say why */
        __builtin_trap();
    }
    return 0;
}
