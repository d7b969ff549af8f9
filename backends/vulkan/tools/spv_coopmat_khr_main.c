/*
 * backends/vulkan/tools/spv_coopmat_khr_main.c - the build-time command:
 *
 *   spv_coopmat_khr IN.spv OUT.spv
 *
 * rewrites IN (SPV_NV_cooperative_matrix, as glslc emits it for
 * GL_NV_cooperative_matrix) into OUT (SPV_KHR_cooperative_matrix). Exits 1
 * with a message on anything it does not understand; OUT is then not written.
 */
#include <stdio.h>
#include <stdlib.h>

#include "spv_coopmat_khr.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN.spv OUT.spv\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint32_t *in = malloc(cap * 4);
    for (;;) {
        if (!in) {
            fprintf(stderr, "%s: out of memory\n", argv[1]);
            fclose(f);
            return 1;
        }
        n += fread(in + n, 4, cap - n, f);
        if (n < cap) break;
        uint32_t *m = realloc(in, cap * 2 * 4);
        if (!m) free(in);
        in = m;
        cap *= 2;
    }
    const int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        fprintf(stderr, "%s: read error\n", argv[1]);
        free(in);
        return 1;
    }
    uint32_t *out = NULL;
    size_t n_out = 0;
    char err[256];
    if (spv_coopmat_nv_to_khr(in, n, &out, &n_out, err, sizeof err) != 0) {
        fprintf(stderr, "spv_coopmat_khr: %s: %s\n", argv[1], err);
        free(in);
        return 1;
    }
    free(in);
    f = fopen(argv[2], "wb");
    const int bad = !f || fwrite(out, 4, n_out, f) != n_out;
    if (bad || fclose(f) != 0) { /* no half-written OUT for the build to take as done */
        perror(argv[2]);
        if (f && bad) fclose(f);
        remove(argv[2]);
        free(out);
        return 1;
    }
    free(out);
    return 0;
}
