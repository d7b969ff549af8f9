/*
 * kernels/sc_hip_emu.h - the EMU target of sc_hip.h: kernels/<family>.hip compiled as
 * plain host C++ (g++ / clang++, C++17, -DSC_HIP_EMU). Included by sc_hip.h
 * only; kernel files never include it themselves.
 *
 * Design (the runtime is backends/hip/emu/hip_emu.cpp):
 *
 *   - Every GPU thread of a block is a fiber (its own 64 KiB stack) on one
 *     host thread; the blocks of a launch are spread over a few host threads.
 *     A fiber runs until it reaches a sync point (__syncthreads or a warp
 *     shuffle) or returns; then the next runnable fiber of the block runs.
 *   - threadIdx / blockIdx / blockDim / gridDim read the running fiber's ids
 *     through one thread-local pointer (fibers never change host thread).
 *   - __shared__ is `static thread_local`: all fibers of a block run on one
 *     host thread and so share it; blocks on other host threads get their own
 *     copy. It is not cleared between blocks (on a GPU it is undefined).
 *   - A warp is 32 consecutive threads in linear order (x fastest). Shuffles
 *     meet at a warp rendezvous; lanes that have returned do not take part
 *     (reading one gives 0). Lanes of one warp waiting at different kinds of
 *     sync point (one at __syncthreads, another at a shuffle) fail the launch
 *     with a "divergent sync" error instead of hanging.
 *   - __syncthreads waits for every thread of the block that has not
 *     returned (threads that returned early do not count).
 *   - Atomics are real (__atomic builtins, sequentially consistent): blocks
 *     run concurrently on several host threads.
 *
 * Not emulated: the GPU's weak memory model (the host's is stronger, so a
 * missing fence never shows up here), timing / occupancy, dynamic shared
 * memory, warp sizes other than 32, the AMD wave64 mode, WMMA.
 *
 * Everything here is static or inline so that any number of kernel files link
 * into one shared object; each SC_KERNEL adds one registry node per TU.
 */
#ifndef SC_HIP_EMU_H
#define SC_HIP_EMU_H

#ifndef __cplusplus
#error "sc_hip_emu.h is C++ (compile kernels/<family>.hip with -x c++ -DSC_HIP_EMU)"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <math.h> /* expf, sqrtf, ... in the global namespace, as in device code */
#include <stdint.h>
#include <string.h>
#include <type_traits>

/* ---- qualifiers ------------------------------------------------------------
 * All host code here. __restrict__ is already a g++/clang++ keyword. */
#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
/* one copy per host thread = per running block (see above) */
#define __shared__ static thread_local

#define SC_EMU_HIDDEN __attribute__((visibility("hidden")))

/* ---- what the runtime shares with the kernels ----------------------------- */
struct sc_emu_uint3 {
    unsigned x, y, z;
};

/* The ids of one GPU thread; the runtime keeps one per fiber. */
struct sc_emu_ids {
    sc_emu_uint3 tid, bid, bdim, gdim;
};

/* Registry node, one per SC_KERNEL (constant-initialized, linked at load). */
struct sc_emu_kernel_reg {
    const char *name;
    size_t args_size;
    unsigned max_threads;
    void (*thunk)(const void *args);
    sc_emu_kernel_reg *next; /* owned by the runtime */
    int dup;                 /* set by the runtime: another kernel has this name */
};

/* The ids of the fiber running on this host thread (set by the scheduler).
 * __thread, not thread_local: no dynamic-initialization wrapper on access. */
extern __thread const sc_emu_ids *sc_emu_cur SC_EMU_HIDDEN;

extern "C" {
SC_EMU_HIDDEN void sc_emu_register(sc_emu_kernel_reg *r);
SC_EMU_HIDDEN void sc_emu_syncthreads(void);
/* xor_mode 1: read lane (lane ^ arg); 0: read lane (arg & 31). */
SC_EMU_HIDDEN uint32_t sc_emu_shfl(uint32_t v, int arg, int xor_mode);

/* The C API of the emu shared object (backends/hip/emu/hip_emu.cpp), which
 * the HIP plugin reaches through dlsym. Declared here for tests. */
int sc_emu_launch(const char *kernel, const unsigned grid[3], const unsigned block[3], const void *args,
                  size_t args_size, char *err, size_t err_len);
int sc_emu_kernel_count(void);
const char *sc_emu_kernel_name(int i);
}

/* ---- kernels -----------------------------------------------------------------
 * SC_KERNEL(k_add_f32, sc_k_add_args, 256) { ...body using p... }
 * The thunk copies the launch's argument bytes into a properly aligned args_t
 * on the fiber's own stack, as the GPU gives each thread its own `p`. */
#define SC_KERNEL(name, args_t, threads)                                                               \
    static_assert((threads) >= 1 && (threads) <= 1024, #name ": threads must be 1..1024");            \
    static_assert(sizeof(args_t) <= 4096, #name ": kernel arguments are limited to 4 KiB");            \
    static_assert(std::is_trivially_copyable<args_t>::value, #name ": args must be a plain struct");   \
    static void name##_body([[maybe_unused]] const args_t p);                                          \
    static void name##_thunk(const void *a) {                                                          \
        args_t p_;                                                                                     \
        memcpy((void *)&p_, a, sizeof p_);                                                             \
        name##_body(p_);                                                                               \
    }                                                                                                  \
    static sc_emu_kernel_reg name##_reg = {#name, sizeof(args_t), (threads), name##_thunk, nullptr, 0}; \
    __attribute__((constructor)) static void name##_register(void) { sc_emu_register(&name##_reg); }   \
    static void name##_body([[maybe_unused]] const args_t p)

/* ---- built-in variables (read-only) ------------------------------------------ */
#define threadIdx (sc_emu_cur->tid)
#define blockIdx (sc_emu_cur->bid)
#define blockDim (sc_emu_cur->bdim)
#define gridDim (sc_emu_cur->gdim)

/* ---- block and warp sync -------------------------------------------------------- */
static inline void __syncthreads(void) { sc_emu_syncthreads(); }

static inline uint32_t sc_emu_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float sc_emu_u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float sc_shfl_xor(float v, int m) { return sc_emu_u2f(sc_emu_shfl(sc_emu_f2u(v), m, 1)); }
static inline int sc_shfl_xor(int v, int m) { return (int)sc_emu_shfl((uint32_t)v, m, 1); }
static inline float sc_shfl(float v, int l) { return sc_emu_u2f(sc_emu_shfl(sc_emu_f2u(v), l, 0)); }
static inline int sc_shfl(int v, int l) { return (int)sc_emu_shfl((uint32_t)v, l, 0); }

/* ---- atomics ----------------------------------------------------------------------
 * Return the old value, as on the GPU. Float ones are compare-exchange loops
 * on the bits (the generic __atomic builtins compare bytes, so NaN is fine). */
#define SC_EMU_MO __ATOMIC_SEQ_CST

static inline float atomicAdd(float *a, float v) {
    float old, nv;
    __atomic_load(a, &old, SC_EMU_MO);
    do {
        nv = old + v;
    } while (!__atomic_compare_exchange(a, &old, &nv, false, SC_EMU_MO, SC_EMU_MO));
    return old;
}
static inline int atomicAdd(int *a, int v) {
    /* wraps like the hardware (unsigned add: no signed overflow for UBSan) */
    return (int)__atomic_fetch_add((unsigned *)(void *)a, (unsigned)v, SC_EMU_MO);
}
static inline unsigned atomicAdd(unsigned *a, unsigned v) { return __atomic_fetch_add(a, v, SC_EMU_MO); }
static inline int atomicMax(int *a, int v) {
    int old = __atomic_load_n(a, SC_EMU_MO);
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, false, SC_EMU_MO, SC_EMU_MO)) {
    }
    return old;
}
static inline int atomicMin(int *a, int v) {
    int old = __atomic_load_n(a, SC_EMU_MO);
    while (old > v && !__atomic_compare_exchange_n(a, &old, v, false, SC_EMU_MO, SC_EMU_MO)) {
    }
    return old;
}
static inline unsigned atomicOr(unsigned *a, unsigned v) { return __atomic_fetch_or(a, v, SC_EMU_MO); }
static inline unsigned atomicExch(unsigned *a, unsigned v) { return __atomic_exchange_n(a, v, SC_EMU_MO); }
static inline int atomicExch(int *a, int v) { return __atomic_exchange_n(a, v, SC_EMU_MO); }
static inline float atomicExch(float *a, float v) {
    float old;
    __atomic_exchange(a, &v, &old, SC_EMU_MO);
    return old;
}
static inline unsigned atomicCAS(unsigned *a, unsigned cmp, unsigned v) {
    __atomic_compare_exchange_n(a, &cmp, v, false, SC_EMU_MO, SC_EMU_MO);
    return cmp; /* the old value, whether or not it was swapped */
}
static inline int atomicCAS(int *a, int cmp, int v) {
    __atomic_compare_exchange_n(a, &cmp, v, false, SC_EMU_MO, SC_EMU_MO);
    return cmp;
}

/* ---- bit casts ---------------------------------------------------------------------- */
static inline float __uint_as_float(uint32_t u) { return sc_emu_u2f(u); }
static inline uint32_t __float_as_uint(float f) { return sc_emu_f2u(f); }
static inline float __int_as_float(int i) { return sc_emu_u2f((uint32_t)i); }
static inline int __float_as_int(float f) { return (int)sc_emu_f2u(f); }

/* ---- math ----------------------------------------------------------------------------
 * The fast GPU intrinsics are the exact host functions here. glibc's math.h
 * already declares an extern __expf, so that one has to be a macro. */
#define __expf(x) expf(x)
static inline float __fdividef(float a, float b) { return a / b; }
static inline float sc_emu_rsqrtf(float x) { return 1.0f / sqrtf(x); }
#define rsqrtf(x) sc_emu_rsqrtf(x) /* a macro too: newer C libraries declare rsqrtf */

/* min / max as in device code: plain overloads in the global namespace (a
 * non-template beats std::min/max should a file say `using namespace std`).
 * Mixed types (int, unsigned) are ambiguous on purpose, as with HIP. */
#define SC_EMU_MINMAX(T)                                   \
    static inline T min(T a, T b) { return b < a ? b : a; } \
    static inline T max(T a, T b) { return a < b ? b : a; }
SC_EMU_MINMAX(int)
SC_EMU_MINMAX(unsigned)
SC_EMU_MINMAX(long)
SC_EMU_MINMAX(unsigned long)
SC_EMU_MINMAX(long long)
SC_EMU_MINMAX(unsigned long long)
#undef SC_EMU_MINMAX
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }

/* ---- packed int8 dot product: acc + sum of a.byte[i] * b.byte[i], signed, wrapping */
static inline int sc_dot4_i8(int a, int b, int acc) {
    uint32_t s = (uint32_t)acc;
    for (int i = 0; i < 4; i++) {
        int x = (int8_t)(uint8_t)((uint32_t)a >> (8 * i));
        int y = (int8_t)(uint8_t)((uint32_t)b >> (8 * i));
        s += (uint32_t)(x * y); /* |x*y| <= 2^14: no overflow; the sum wraps unsigned */
    }
    return (int)s;
}

/* ---- IEEE half <-> float in software (no F16C needed, exact) --------------------------- */
static inline float sc_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) /* inf; NaN comes out quiet with its payload, as from F16C and the GPUs */
        return sc_emu_u2f(sign | 0x7f800000u | (m ? 0x400000u | (m << 13) : 0u));
    if (e == 0) {
        /* zero or subnormal: m * 2^-24, exact in float (a normal float) */
        float f = (float)m * 0x1p-24f;
        return sc_emu_u2f(sign | sc_emu_f2u(f));
    }
    return sc_emu_u2f(sign | ((e + 112u) << 23) | (m << 13)); /* rebias 15 -> 127 */
}

/* Round to nearest, ties to even, in integer arithmetic (independent of the
 * host's rounding mode and of FTZ/DAZ). */
static inline uint16_t sc_f2h(float f) {
    uint32_t u = sc_emu_f2u(f);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN: quiet, keep payload */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (incl. inf): inf */
    if (a < 0x38800000u) {                                  /* below 2^-14: half subnormal or zero */
        uint32_t e = a >> 23;
        if (e < 102) return (uint16_t)sign; /* < 2^-25 (or exactly it: ties to even 0) */
        uint32_t m = (a & 0x7fffffu) | 0x800000u, sh = 126 - e; /* units of 2^-24: m >> sh, sh in 14..24 */
        uint32_t q = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
        if (rem > half || (rem == half && (q & 1))) q++; /* q may become 0x400: the smallest normal */
        return (uint16_t)(sign | q);
    }
    uint32_t b = a - 0x38000000u; /* rebias 127 -> 15 */
    b += 0xfffu + ((b >> 13) & 1u);
    return (uint16_t)(sign | (b >> 13));
}

#endif /* SC_HIP_EMU_H */
