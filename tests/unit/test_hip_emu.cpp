/*
 * tests/unit/test_hip_emu.cpp - self-test of the EMU target of kernels/sc_hip.h
 * (kernels/sc_hip_emu.h + backends/hip/emu/hip_emu.cpp).
 *
 * Its own small kernels, written against sc_hip.h as kernels/<family>.hip are, run
 * through the C API the HIP plugin uses (sc_emu_launch). Covered: block
 * reduction through __shared__ + __syncthreads, warp sums and broadcasts,
 * shuffles in warp 0 only, partial and early-returning warps, 3-D ids,
 * atomics across many blocks (exact counts), launch errors (unknown kernel,
 * args size, block / grid shape, divergent sync; the next launch must still
 * work), half / bf16 conversions for every 16-bit pattern against a software
 * reference (and F16C when the CPU has it), sc_dot4_i8. It also times a
 * launch of 4096 blocks x 256 threads doing a shared-memory reduction.
 *
 * Build: -std=c++17 -DSC_HIP_EMU -I kernels, linked with the runtime.
 * Run with SC_HIP_EMU_THREADS=1 for the serial scheduler.
 */
#include "sc_hip.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static int g_fail;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            if (g_fail < 50) {                                \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                 \
                fputc('\n', stderr);                          \
            }                                                 \
            g_fail++;                                         \
        }                                                     \
    } while (0)

/* ---- kernels ------------------------------------------------------------------ */

/* out[block] = sum of x[block * n .. + n): strided sums, then a tree in shared memory */
struct r_args {
    const float *x;
    float *out;
    int n;
};
SC_KERNEL(t_block_reduce, r_args, 256) {
    __shared__ float s[256];
    const float *x = p.x + (int64_t)blockIdx.x * p.n;
    float v = 0.0f;
    for (int i = (int)threadIdx.x; i < p.n; i += (int)blockDim.x) v += x[i];
    s[threadIdx.x] = v;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) p.out[blockIdx.x] = s[0];
}

/* every lane gets its warp's sum and max, and an int butterfly */
struct w_args {
    float *sum, *mx;
    int *isum;
};
SC_KERNEL(t_warp_sum, w_args, 1024) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = (float)(i % 97);
    p.sum[i] = sc_warp_sum(v);
    p.mx[i] = sc_warp_max(v);
    int a = (int)i;
    for (int m = 16; m > 0; m >>= 1) a += sc_shfl_xor(a, m);
    p.isum[i] = a;
}

/* sc_shfl: every lane reads lane src (+ the warp's number), as float and int */
struct b_args {
    float *f;
    int *i;
    int src;
};
SC_KERNEL(t_shfl_bcast, b_args, 256) {
    unsigned t = threadIdx.x, w = t / 32;
    float v = (float)(t * 10);
    int src = p.src + (int)w; /* may be >= 32 or negative: wraps modulo 32 */
    p.f[t] = sc_shfl(v, src);
    p.i[t] = sc_shfl((int)t, (int)sc_lane() ^ 3); /* a permutation */
}

/* two-level block sum: warps sum, lane 0 parks it, warp 0 alone sums the partials */
struct s2_args {
    const int *x;
    float *out;
};
SC_KERNEL(t_two_level, s2_args, 1024) {
    __shared__ float part[32];
    unsigned t = threadIdx.x;
    float v = (float)p.x[blockIdx.x * blockDim.x + t];
    v = sc_warp_sum(v);
    if (sc_lane() == 0) part[t / 32] = v;
    __syncthreads();
    if (t < 32) {
        float w = t < blockDim.x / 32 ? part[t] : 0.0f;
        w = sc_warp_sum(w);
        if (t == 0) p.out[blockIdx.x] = w;
    }
}

/* atomics from every thread of many blocks */
struct a_args {
    int *icount;
    unsigned *ucount;
    float *fcount;
    int *imax, *imin;
    unsigned *cas_count;
    int *icas_count;
    unsigned *xchg;
    int *ixchg;
    float *fxchg;
    unsigned *seen; /* one bit a thread: atomicExch hands out each old value once */
};
SC_KERNEL(t_atomics, a_args, 256) {
    int g = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    atomicAdd(p.icount, 1);
    atomicAdd(p.ucount, 2u);
    atomicAdd(p.fcount, 1.0f);
    atomicMax(p.imax, g * 7 - 1000);
    atomicMin(p.imin, 1000 - g * 3);
    unsigned old = *(volatile unsigned *)p.cas_count, prev;
    while ((prev = atomicCAS(p.cas_count, old, old + 1)) != old) old = prev;
    int iold = *(volatile int *)p.icas_count, iprev;
    while ((iprev = atomicCAS(p.icas_count, iold, iold - 1)) != iold) iold = iprev;
    unsigned got = atomicExch(p.xchg, (unsigned)g + 1); /* a chain: each value is seen exactly once */
    atomicAdd(&p.seen[got / 32], 1u << (got % 32));
    atomicExch(p.ixchg, -g);
    atomicExch(p.fxchg, (float)g);
}

/* ids of a 3-D grid of 3-D blocks */
struct i_args {
    unsigned *out; /* 7 values a thread */
};
SC_KERNEL(t_index_3d, i_args, 64) {
    unsigned tl = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned bl = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned *o = p.out + 7 * (bl * blockDim.x * blockDim.y * blockDim.z + tl);
    o[0] = threadIdx.x;
    o[1] = threadIdx.y;
    o[2] = threadIdx.z;
    o[3] = blockIdx.x;
    o[4] = blockIdx.y;
    o[5] = blockIdx.z;
    o[6] = blockDim.x * 10000 + gridDim.x * 100 + gridDim.z;
}

/* lanes >= keep return at once; the others do a butterfly among themselves,
 * and lane 0 also reads a returned lane (0 in the emulator) */
struct e_args {
    int *out, *gone;
    int keep;
};
SC_KERNEL(t_early_exit, e_args, 256) {
    unsigned t = threadIdx.x;
    if ((int)sc_lane() >= p.keep) return;
    int v = sc_shfl_xor((int)t + 1, 1);
    p.out[t] = v;
    int g = sc_shfl((int)t + 1, 31);
    if (sc_lane() == 0) p.gone[t / 32] = g;
}

/* lanes 0..15 of warp 0 shuffle while lanes 16..31 wait at __syncthreads: a
 * bug, which must be reported, only in block p.bad */
struct d_args {
    float *out;
    unsigned bad;
};
SC_KERNEL(t_divergent, d_args, 128) {
    float v = (float)threadIdx.x;
    if (blockIdx.x == p.bad && threadIdx.x < 16) v = sc_shfl_xor(v, 1);
    __syncthreads();
    p.out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

/* a kernel with a small maximum block */
struct m_args {
    int *out;
};
SC_KERNEL(t_small, m_args, 64) { p.out[threadIdx.x] = (int)threadIdx.x; }

/* many barriers and a __device__ helper using the ids */
static __device__ __forceinline__ unsigned rot(unsigned t, unsigned k) { return (t + k) % blockDim.x; }
struct l_args {
    int *out;
    int rounds;
};
SC_KERNEL(t_many_barriers, l_args, 1024) {
    __shared__ int s[1024];
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned n = blockDim.x * blockDim.y * blockDim.z;
    s[t] = (int)t;
    __syncthreads();
    for (int r = 0; r < p.rounds; r++) { /* rotate the whole array by 1, r times */
        int v = s[(t + 1) % n];
        __syncthreads();
        s[t] = v;
        __syncthreads();
    }
    p.out[blockIdx.x * n + t] = s[t];
    (void)rot;
}

/* ---- helpers -------------------------------------------------------------------- */
template <class A>
static int launch(const char *k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                  const A &a, char *err = nullptr, size_t err_len = 0) {
    const unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
    char local[256];
    if (!err) {
        err = local;
        err_len = sizeof local;
    }
    int rc = sc_emu_launch(k, g, b, &a, sizeof a, err, err_len);
    if (rc && err == local) fprintf(stderr, "launch %s: %d %s\n", k, rc, err);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- tests ------------------------------------------------------------------------- */
static void test_block_reduce(unsigned blocks, int n, bool timed) {
    float *x = (float *)malloc(sizeof(float) * blocks * n), *out = (float *)calloc(blocks, sizeof(float));
    for (size_t i = 0; i < (size_t)blocks * n; i++) x[i] = (float)(i % 13);
    r_args a = {x, out, n};
    double t0 = now_s();
    int rc = launch("t_block_reduce", blocks, 1, 1, 256, 1, 1, a);
    double t1 = now_s();
    CHECK(rc == 0, "t_block_reduce: rc %d", rc);
    int bad = 0;
    for (unsigned b = 0; b < blocks; b++) {
        double want = 0;
        for (int i = 0; i < n; i++) want += (double)(((size_t)b * n + i) % 13);
        if (out[b] != (float)want && bad++ < 5) CHECK(0, "t_block_reduce: block %u: %g, want %g", b, out[b], want);
    }
    CHECK(bad == 0, "t_block_reduce: %d blocks wrong", bad);
    if (timed)
        printf("time: t_block_reduce %u blocks x 256 threads (%d floats a block): %.1f ms\n", blocks, n,
               (t1 - t0) * 1e3);
    free(x);
    free(out);
}

static void test_warp(void) {
    const unsigned blocks = 3, threads = 1024, n = blocks * threads;
    float *sum = (float *)calloc(n, 4), *mx = (float *)calloc(n, 4);
    int *isum = (int *)calloc(n, 4);
    w_args a = {sum, mx, isum};
    CHECK(launch("t_warp_sum", blocks, 1, 1, threads, 1, 1, a) == 0, "t_warp_sum failed");
    for (unsigned w = 0; w < n / 32; w++) {
        float s = 0, m = 0;
        int is = 0;
        for (unsigned l = 0; l < 32; l++) {
            s += (float)((w * 32 + l) % 97);
            m = fmaxf(m, (float)((w * 32 + l) % 97));
            is += (int)(w * 32 + l);
        }
        for (unsigned l = 0; l < 32; l++) {
            unsigned i = w * 32 + l;
            CHECK(sum[i] == s, "warp sum: thread %u: %g, want %g", i, sum[i], s);
            CHECK(mx[i] == m, "warp max: thread %u: %g, want %g", i, mx[i], m);
            CHECK(isum[i] == is, "int warp sum: thread %u: %d, want %d", i, isum[i], is);
        }
    }
    /* a partial warp (48 threads: warp 1 has 16 lanes): absent lanes read 0 */
    memset(sum, 0, 4 * n);
    CHECK(launch("t_warp_sum", 1, 1, 1, 48, 1, 1, a) == 0, "t_warp_sum 48 failed");
    float s1 = 0;
    for (unsigned i = 32; i < 48; i++) s1 += (float)(i % 97);
    for (unsigned i = 32; i < 48; i++) CHECK(sum[i] == s1, "partial warp: thread %u: %g, want %g", i, sum[i], s1);
    free(sum);
    free(mx);
    free(isum);
}

static void test_bcast(void) {
    float f[256];
    int iv[256];
    const int srcs[] = {0, 5, 31, 32 + 7, -1};
    for (int src : srcs) {
        b_args a = {f, iv, src};
        CHECK(launch("t_shfl_bcast", 1, 1, 1, 256, 1, 1, a) == 0, "t_shfl_bcast failed");
        for (unsigned t = 0; t < 256; t++) {
            unsigned w = t / 32, from = w * 32 + ((unsigned)(src + (int)w) & 31u);
            CHECK(f[t] == (float)(from * 10), "bcast src %d: thread %u: %g, want %u", src, t, f[t], from * 10);
            CHECK(iv[t] == (int)(t ^ 3u), "shfl permutation: thread %u: %d", t, iv[t]);
        }
    }
}

static void test_two_level(void) {
    const unsigned blocks = 37;
    const unsigned shapes[] = {1024, 256, 64, 32};
    for (unsigned threads : shapes) {
        int *x = (int *)malloc(sizeof(int) * blocks * threads);
        float *out = (float *)calloc(blocks, 4);
        for (unsigned i = 0; i < blocks * threads; i++) x[i] = (int)(i * 7 % 31) - 15;
        s2_args a = {x, out};
        CHECK(launch("t_two_level", blocks, 1, 1, threads, 1, 1, a) == 0, "t_two_level failed");
        for (unsigned b = 0; b < blocks; b++) {
            int want = 0;
            for (unsigned i = 0; i < threads; i++) want += x[b * threads + i];
            CHECK(out[b] == (float)want, "two-level %u threads: block %u: %g, want %d", threads, b, out[b], want);
        }
        free(x);
        free(out);
    }
}

static void test_atomics(void) {
    const unsigned blocks = 509, threads = 256, n = blocks * threads; /* 130304 < 2^24: float counts exact */
    int icount = 0, imax = -2000000000, imin = 2000000000, icas = 0, ixchg = 5;
    unsigned ucount = 0, cas = 0, xchg = 0;
    float fcount = 0, fxchg = -1;
    unsigned *seen = (unsigned *)calloc(n / 32 + 1, 4);
    a_args a = {&icount, &ucount, &fcount, &imax, &imin, &cas, &icas, &xchg, &ixchg, &fxchg, seen};
    CHECK(launch("t_atomics", blocks, 1, 1, threads, 1, 1, a) == 0, "t_atomics failed");
    CHECK(icount == (int)n, "atomicAdd int: %d, want %u", icount, n);
    CHECK(ucount == 2 * n, "atomicAdd unsigned: %u, want %u", ucount, 2 * n);
    CHECK(fcount == (float)n, "atomicAdd float: %g, want %u", fcount, n);
    CHECK(imax == (int)(n - 1) * 7 - 1000, "atomicMax: %d", imax);
    CHECK(imin == 1000 - (int)(n - 1) * 3, "atomicMin: %d", imin);
    CHECK(cas == n, "atomicCAS unsigned: %u, want %u", cas, n);
    CHECK(icas == -(int)n, "atomicCAS int: %d, want %d", icas, -(int)n);
    /* the exchange chain: old values are 0 and all g+1 but one (the last written stays) */
    unsigned nseen = 0;
    for (unsigned v = 0; v <= n; v++) nseen += seen[v / 32] >> (v % 32) & 1u;
    CHECK(nseen == n, "atomicExch: %u distinct old values, want %u", nseen, n);
    CHECK(xchg >= 1 && xchg <= n && !(seen[xchg / 32] >> (xchg % 32) & 1u), "atomicExch: final %u", xchg);
    CHECK(ixchg <= 0 && ixchg > -(int)n, "atomicExch int: %d", ixchg);
    CHECK(fxchg >= 0 && fxchg < (float)n, "atomicExch float: %g", fxchg);
    free(seen);
}

static void test_index(void) {
    const unsigned gx = 5, gy = 3, gz = 2, bx = 4, by = 4, bz = 4; /* 64 threads a block */
    const unsigned nthr = gx * gy * gz * bx * by * bz;
    unsigned *out = (unsigned *)calloc(7 * nthr, 4);
    i_args a = {out};
    CHECK(launch("t_index_3d", gx, gy, gz, bx, by, bz, a) == 0, "t_index_3d failed");
    unsigned bad = 0;
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++)
                for (unsigned tz = 0; tz < bz; tz++)
                    for (unsigned ty = 0; ty < by; ty++)
                        for (unsigned tx = 0; tx < bx; tx++) {
                            unsigned bl = x + gx * (y + gy * z), tl = tx + bx * (ty + by * tz);
                            const unsigned *o = out + 7 * (bl * 64 + tl);
                            const unsigned want[7] = {tx, ty, tz, x, y, z, bx * 10000 + gx * 100 + gz};
                            if (memcmp(o, want, sizeof want) != 0) bad++;
                        }
    CHECK(bad == 0, "t_index_3d: %u threads with wrong ids", bad);
    /* 2-D: grid 7x9, block 16x2 */
    unsigned *out2 = (unsigned *)calloc(7 * 63 * 32, 4);
    i_args a2 = {out2};
    CHECK(launch("t_index_3d", 7, 9, 1, 16, 2, 1, a2) == 0, "t_index_3d 2-D failed");
    bad = 0;
    for (unsigned y = 0; y < 9; y++)
        for (unsigned x = 0; x < 7; x++)
            for (unsigned ty = 0; ty < 2; ty++)
                for (unsigned tx = 0; tx < 16; tx++) {
                    const unsigned *o = out2 + 7 * ((x + 7 * y) * 32 + tx + 16 * ty);
                    const unsigned want[7] = {tx, ty, 0, x, y, 0, 16 * 10000 + 7 * 100 + 1};
                    if (memcmp(o, want, sizeof want) != 0) bad++;
                }
    CHECK(bad == 0, "t_index_3d 2-D: %u threads with wrong ids", bad);
    free(out);
    free(out2);
}

static void test_early_exit(void) {
    int out[256], gone[8];
    const int keeps[] = {2, 8, 20, 32}; /* even: butterfly partners stay inside [0, keep) */
    for (int keep : keeps) {
        for (int &v : out) v = -1;
        for (int &v : gone) v = -1;
        e_args a = {out, gone, keep};
        CHECK(launch("t_early_exit", 2, 1, 1, 256, 1, 1, a) == 0, "t_early_exit failed");
        for (unsigned t = 0; t < 256; t++) {
            int want = (int)(t % 32) < keep ? (int)(t ^ 1u) + 1 : -1;
            CHECK(out[t] == want, "early exit keep %d: thread %u: %d, want %d", keep, t, out[t], want);
        }
        for (unsigned w = 0; w < 8; w++) {
            int want = keep == 32 ? (int)(w * 32 + 31) + 1 : 0;
            CHECK(gone[w] == want, "early exit keep %d: warp %u read %d from lane 31, want %d", keep, w, gone[w], want);
        }
    }
}

static void test_barriers(void) {
    const int rounds = 5;
    const unsigned shapes[][3] = {{1024, 1, 1}, {16, 8, 8}, {96, 1, 1}, {1, 1, 1}, {33, 1, 1}};
    for (const auto &sh : shapes) {
        unsigned n = sh[0] * sh[1] * sh[2], blocks = 3;
        int *out = (int *)calloc(blocks * n, 4);
        l_args a = {out, rounds};
        CHECK(launch("t_many_barriers", blocks, 1, 1, sh[0], sh[1], sh[2], a) == 0, "t_many_barriers failed");
        for (unsigned i = 0; i < blocks * n; i++) {
            unsigned t = i % n;
            CHECK(out[i] == (int)((t + rounds) % n), "barriers %ux%ux%u: [%u] = %d", sh[0], sh[1], sh[2], i, out[i]);
        }
        free(out);
    }
}

static void test_errors(void) {
    char err[256];
    int o[64];
    m_args m = {o};
    const unsigned g1[3] = {1, 1, 1}, b64[3] = {64, 1, 1};

    CHECK(sc_emu_launch("t_nope", g1, b64, &m, sizeof m, err, sizeof err) == -ENOENT, "unknown kernel accepted");
    CHECK(strstr(err, "t_nope") != nullptr, "unknown kernel message: %s", err);
    CHECK(sc_emu_launch("t_small", g1, b64, &m, sizeof m + 8, err, sizeof err) == -EINVAL, "args size accepted");
    CHECK(strstr(err, "args size") != nullptr, "args size message: %s", err);
    CHECK(launch("t_small", 1, 1, 1, 128, 1, 1, m, err, sizeof err) == -EINVAL, "block over the kernel's max");
    CHECK(launch("t_small", 1, 1, 1, 0, 1, 1, m, err, sizeof err) == -EINVAL, "empty block accepted");
    l_args la = {o, 1};
    CHECK(launch("t_many_barriers", 1, 1, 1, 1025, 1, 1, la, err, sizeof err) == -EINVAL, "1025 threads accepted");
    CHECK(launch("t_many_barriers", 1, 1, 1, 64, 32, 1, la, err, sizeof err) == -EINVAL, "2048 threads accepted");
    CHECK(launch("t_small", 0, 1, 1, 64, 1, 1, m, err, sizeof err) == -EINVAL, "grid x 0 accepted");
    CHECK(launch("t_small", 1, 1, 0, 64, 1, 1, m, err, sizeof err) == -EINVAL, "grid z 0 accepted");
    CHECK(sc_emu_launch("t_small", g1, b64, &m, sizeof m, nullptr, 0) == 0, "launch without err buffer");
    /* args at an odd address are fine (the runtime copies them) */
    unsigned char odd[sizeof m + 1];
    memcpy(odd + 1, &m, sizeof m);
    for (int &v : o) v = -1;
    CHECK(sc_emu_launch("t_small", g1, b64, odd + 1, sizeof m, err, sizeof err) == 0, "misaligned args: %s", err);
    CHECK(o[63] == 63, "misaligned args: wrong result");

    /* divergent sync: reported, in the first block or in one of many, and the next launch works */
    const unsigned bads[] = {0, 41};
    for (unsigned bad : bads) {
        float *out = (float *)calloc(64 * 128, 4);
        d_args d = {out, bad};
        err[0] = 0;
        int rc = launch("t_divergent", 64, 1, 1, 128, 1, 1, d, err, sizeof err);
        CHECK(rc == -EDEADLK, "divergent sync: rc %d", rc);
        CHECK(strstr(err, "divergent") && strstr(err, "warp 0"), "divergent sync message: %s", err);
        if (bad == 41) printf("expected error: %s\n", err);
        d.bad = 1000; /* no bad block */
        CHECK(launch("t_divergent", 64, 1, 1, 128, 1, 1, d) == 0, "launch after a divergent one failed");
        for (unsigned i = 0; i < 64 * 128; i++) CHECK(out[i] == (float)(i % 128), "after divergent: [%u]", i);
        free(out);
        test_block_reduce(64, 512, false);
    }
}

static void test_registry(void) {
    const char *want[] = {"t_block_reduce", "t_warp_sum", "t_shfl_bcast", "t_two_level", "t_atomics",
                          "t_index_3d",     "t_early_exit", "t_divergent", "t_small",     "t_many_barriers"};
    int n = sc_emu_kernel_count();
    CHECK(n == (int)(sizeof want / sizeof want[0]), "kernel count %d", n);
    for (const char *w : want) {
        bool found = false;
        for (int i = 0; i < n; i++) found |= sc_emu_kernel_name(i) && strcmp(sc_emu_kernel_name(i), w) == 0;
        CHECK(found, "kernel %s not listed", w);
    }
    CHECK(sc_emu_kernel_name(n) == nullptr && sc_emu_kernel_name(-1) == nullptr, "kernel name out of range");
}

/* ---- 16-bit floats ------------------------------------------------------------------
 * Reference: decode exactly in double; encode by searching the nearest
 * pattern among the positive ones (ordered like their values), ties to the
 * even pattern, with the infinity pattern standing for the first value past
 * the largest finite one (IEEE overflow rounding). */
static double ref_h2d(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}
static double ref_bf2d(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static double ref_hval(uint16_t p) { return p == 0x7c00 ? 65536.0 : ref_h2d(p); }
static double ref_bval(uint16_t p) { return p == 0x7f80 ? ldexp(1.0, 128) : ref_bf2d(p); }

static uint16_t ref_round(float f, uint16_t inf, double (*val)(uint16_t)) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= val(inf)) return sign | inf;
    unsigned lo = 0, hi = inf; /* val(lo) <= a < val(hi) */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (val((uint16_t)mid) <= a) lo = mid;
        else hi = mid;
    }
    double dl = a - val((uint16_t)lo), dh = val((uint16_t)hi) - a;
    unsigned p = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
    return (uint16_t)(sign | p);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_f2h(float f) { return (uint16_t)_cvtss_sh(f, 0); }
__attribute__((target("f16c"))) static float hw_h2f(uint16_t h) { return _cvtsh_ss(h); }
static bool have_f16c(void) { return __builtin_cpu_supports("f16c"); }
#else
static uint16_t hw_f2h(float) { return 0; }
static float hw_h2f(uint16_t) { return 0; }
static bool have_f16c(void) { return false; }
#endif

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* check one float against the references: half and bf16 */
static unsigned check_f(float f, bool hw) {
    unsigned bad = 0;
    uint16_t h = sc_f2h(f), b = sc_f2bf(f);
    if (isnan(f)) {
        bad += !(isnan(sc_h2f(h)) && (h & 0x8000) == (fbits(f) >> 16 & 0x8000));
        bad += !(isnan(sc_bf2f(b)) && (b & 0x8000) == (fbits(f) >> 16 & 0x8000));
    } else {
        bad += h != ref_round(f, 0x7c00, ref_hval);
        bad += b != ref_round(f, 0x7f80, ref_bval);
    }
    if (hw) bad += h != hw_f2h(f); /* NaN payloads included */
    if (bad && g_fail < 20) CHECK(0, "f2h/f2bf of %a (0x%08x): h 0x%04x b 0x%04x", (double)f, fbits(f), h, b);
    return bad;
}

static void test_f16(void) {
    const bool hw = have_f16c();
    unsigned bad = 0;
    for (unsigned p = 0; p < 65536; p++) {
        uint16_t h = (uint16_t)p;
        /* half -> float: exact, NaN stays NaN of the same sign */
        float f = sc_h2f(h);
        double r = ref_h2d(h);
        if (isnan(r)) {
            bad += !isnan(f) || signbit(f) != (bool)(h & 0x8000);
            bad += sc_f2h(f) != (h | 0x200); /* back: the same NaN, quiet */
        } else {
            bad += (double)f != r || signbit(f) != (bool)(h & 0x8000);
            bad += sc_f2h(f) != h; /* round trip */
        }
        if (hw) bad += fbits(f) != fbits(hw_h2f(h));
        /* bf16 -> float -> bf16 */
        float fb = sc_bf2f(h);
        if (isnan(fb)) bad += !isnan(sc_bf2f(sc_f2bf(fb)));
        else bad += sc_f2bf(fb) != h;
        if (bad && g_fail < 20) CHECK(0, "16-bit pattern 0x%04x", p);
        /* ties and their neighbours: between h and the next pattern up */
        if ((p & 0x7fff) < 0x7c00) {
            double hi = (p & 0x7fff) == 0x7bff ? 65536.0 : fabs(ref_h2d((uint16_t)(p + 1)));
            float mid = (float)((fabs(r) + hi) / 2); /* exact: 12 significant bits */
            if (h & 0x8000) mid = -mid;
            bad += check_f(mid, hw) + check_f(nextafterf(mid, 0), hw) + check_f(nextafterf(mid, 2 * mid), hw);
        }
        if ((p & 0x7fff) < 0x7f80) {
            float mid = bitsf(fbits(sc_bf2f(h)) + 0x8000u); /* halfway to the next bf16 up */
            bad += check_f(mid, hw) + check_f(nextafterf(mid, 0), hw) + check_f(nextafterf(mid, 2 * mid), hw);
        }
    }
    /* a sweep over all floats, denser where halves live */
    for (uint64_t u = 0; u < (1ull << 32); u += 65521) bad += check_f(bitsf((uint32_t)u), hw);
    for (uint32_t u = 0x32800000u; u < 0x47900000u; u += 331) {
        bad += check_f(bitsf(u), hw);
        bad += check_f(bitsf(u | 0x80000000u), hw);
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 65504.0f, 65519.996f, 65520.0f,
                             1e-8f, 2.9802322e-08f /* 2^-25 */, 2.9802326e-08f, 5.9604645e-08f, 1e30f, bitsf(0x7f800001u),
                             bitsf(0xffbfffffu)};
    for (float f : special) bad += check_f(f, hw);
    CHECK(sc_f2h(65520.0f) == 0x7c00 && sc_f2h(65519.996f) == 0x7bff, "half overflow threshold");
    CHECK(sc_f2h(2.9802322e-08f) == 0 && sc_f2h(2.9802326e-08f) == 1, "half subnormal tie");
    CHECK(bad == 0, "16-bit float conversions: %u mismatches", bad);
    printf("f16/bf16: all 65536 patterns, ties and sweeps checked%s\n", hw ? " (and against F16C)" : "");
}

static int ref_dot4(int a, int b, int acc) {
    int64_t s = acc;
    for (int i = 0; i < 4; i++) s += (int64_t)(int8_t)(a >> (8 * i)) * (int8_t)(b >> (8 * i));
    return (int)(uint32_t)(uint64_t)s;
}

static void test_dot4(void) {
    uint32_t x = 12345;
    unsigned bad = 0;
    for (int i = 0; i < 200000; i++) {
        x = x * 1664525u + 1013904223u;
        int a = (int)x;
        x = x * 1664525u + 1013904223u;
        int b = (int)x;
        x = x * 1664525u + 1013904223u;
        int acc = (int)x >> (x & 15);
        bad += sc_dot4_i8(a, b, acc) != ref_dot4(a, b, acc);
    }
    CHECK(bad == 0, "sc_dot4_i8: %u mismatches", bad);
    CHECK(sc_dot4_i8((int)0x80808080u, (int)0x80808080u, 0) == 4 * 16384, "dot4 -128*-128");
    CHECK(sc_dot4_i8((int)0x7f80ff01u, 0x01020304, 5) == 5 + 1 * 4 - 1 * 3 - 128 * 2 + 127 * 1, "dot4 mixed");
    CHECK(sc_dot4_i8((int)0x80808080u, (int)0x80808080u, 2147483647) == (int)(2147483647u + 65536u), "dot4 wraps");
}

int main(void) {
    test_registry();
    test_block_reduce(3, 256, false);
    test_block_reduce(7, 1000, false);
    test_warp();
    test_bcast();
    test_two_level();
    test_atomics();
    test_index();
    test_early_exit();
    test_barriers();
    test_errors();
    test_dot4();
    test_f16();
    test_block_reduce(4096, 256, true);
    if (g_fail) {
        fprintf(stderr, "test_hip_emu: %d failures\n", g_fail);
        return 1;
    }
    printf("test_hip_emu: ok\n");
    return 0;
}
