/*
 * backends/cpu/fast_dispatch.c - the fast path's entry point: picks the SIMD
 * kernel table once at run time and routes each op to its fast kernel, or to
 * the reference when there is none (cpy, top_k, argmax, kv_write). It also
 * lists the tables a tuned mul_mat may run instead (sc__cpu_kernel_levels,
 * for fast_tune.c).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#include "cpu_impl.h"

#if SC_CPU_X86
#include <cpuid.h>

/* AVX2 + FMA + F16C usable: the CPU has them (CPUID) and the OS saves the
 * YMM registers (OSXSAVE, XCR0 bits 1-2). Done with cpuid rather than
 * __builtin_cpu_supports because clang's builtin does not know "f16c". */
static bool cpu_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(fma && osxsave && avx && f16c)) return false;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    if ((xlo & 6u) != 6u) return false;
    if (__get_cpuid_max(0, NULL) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 5)) != 0; /* AVX2 */
}

/* AVX-VNNI (the VEX-encoded vpdpbusd on ymm): CPUID.(7,1):EAX bit 4. Only
 * asked once AVX2 (and so the YMM state) is known to be usable. */
static bool cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return false;
    __cpuid_count(7, 1, a, b, c, d);
    return (a & (1u << 4)) != 0;
}

/* AVX-512 F, DQ, BW, VL and VNNI (CPUID.(7,0): EBX bits 16, 17, 30, 31, ECX
 * bit 11), and the OS saves the opmask and ZMM state (XCR0 bits 5-7). Only
 * asked once AVX2 is known to be usable. */
static bool cpu_has_avx512(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned need_b = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((b & need_b) != need_b || !(c & (1u << 11))) return false;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    return (xlo & 0xe6u) == 0xe6u;
}
#endif

static _Atomic(const sc_cpu_kernels *) active;
static atomic_bool force_generic;

static const sc_cpu_kernels *detect(void) {
    const char *env = getenv("STRIXCORE_CPU_FEATURES");
    if (atomic_load(&force_generic) || (env && strcasecmp(env, "generic") == 0)) return sc__cpu_kernels_generic();
#if SC_CPU_X86
    if (cpu_has_avx2_fma_f16c() && sc__cpu_kernels_avx2()) {
        /* a cap: the best table up to the level named */
        const bool plain = env && strcasecmp(env, "avx2") == 0;
        const bool no512 = plain || (env && strcasecmp(env, "avxvnni") == 0);
        const sc_cpu_kernels *base = !plain && cpu_has_avxvnni() && sc__cpu_kernels_avxvnni()
                                         ? sc__cpu_kernels_avxvnni()
                                         : sc__cpu_kernels_avx2();
        /* the AVX-512 table falls back on `base` for what it does not
         * cover (Zen 4 and Ice Lake have AVX-512 VNNI but not AVX-VNNI) */
        if (!no512 && cpu_has_avx512() && sc__cpu_kernels_avx512(base)) return sc__cpu_kernels_avx512(base);
        return base;
    }
#endif
    return sc__cpu_kernels_generic();
}

const sc_cpu_kernels *sc__cpu_kernels(void) {
    const sc_cpu_kernels *k = atomic_load_explicit(&active, memory_order_acquire);
    if (!k) { /* racing first calls all compute the same answer */
        k = detect();
        atomic_store_explicit(&active, k, memory_order_release);
    }
    return k;
}

/* The tables a tuned mul_mat may run instead of the active one: the active
 * table first, then each lower SIMD level the CPU runs (avx512 > avxvnni >
 * avx2; avxvnni only where the CPU has AVX-VNNI). The portable table only
 * where it is the active one: next to any SIMD table it is 7-40x (decode) to
 * 60-360x (a 4096x4096 q4 GEMM of 64 columns: 4.2 s) slower, never the
 * tuner's pick, and timing it would cost more than all the rest together.
 * STRIXCORE_CPU_FEATURES caps the active table and so this list too.
 * Returns the count (1..3). */
int sc__cpu_kernel_levels(const sc_cpu_kernels *tabs[SC_CPU_N_LEVELS], const char *names[SC_CPU_N_LEVELS]) {
    const sc_cpu_kernels *k = sc__cpu_kernels(), *gen = sc__cpu_kernels_generic();
    int n = 0;
    if (k == gen) goto generic;
#if SC_CPU_X86
    const sc_cpu_kernels *vnni = sc__cpu_kernels_avxvnni(), *avx2 = sc__cpu_kernels_avx2();
    if (k != vnni && k != avx2) {
        tabs[n] = k;
        names[n++] = "avx512";
        static atomic_int has_vnni; /* 0 unknown, 1 yes, 2 no: cpuid traps in VMs, ask once */
        int hv = atomic_load_explicit(&has_vnni, memory_order_relaxed);
        if (hv == 0) {
            hv = cpu_has_avxvnni() ? 1 : 2;
            atomic_store_explicit(&has_vnni, hv, memory_order_relaxed);
        }
        if (vnni && hv == 1) {
            tabs[n] = vnni;
            names[n++] = "avxvnni";
        }
    } else if (k == vnni) {
        tabs[n] = vnni;
        names[n++] = "avxvnni";
    }
    if (avx2) {
        tabs[n] = avx2;
        names[n++] = "avx2";
    }
    return n;
#endif
generic:
    tabs[n] = gen;
    names[n++] = "generic";
    return n;
}

void sc__cpu_force_generic(bool on) {
    atomic_store(&force_generic, on);
    atomic_store(&active, NULL); /* re-detect on next use */
}

const char *sc__cpu_features(void) { return sc__cpu_kernels()->name; }

/* STRIXCORE_CPU_QG_ACT=f32 turns the int8-activation QG path off (weights
 * are dequantised and meet f32 activations, matching the reference up to
 * summation order: what end-to-end tests against transformers' dequantised
 * weights need); anything else, or unset, leaves it on. Read once. */
bool sc__cpu_qg_int8(void) {
    static atomic_int mode; /* 0 unknown, 1 on, 2 off */
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (m == 0) {
        const char *env = getenv("STRIXCORE_CPU_QG_ACT");
        m = env && strcasecmp(env, "f32") == 0 ? 2 : 1;
        atomic_store_explicit(&mode, m, memory_order_relaxed);
    }
    return m == 1;
}

int sc__cpu_fast_compute(sc_tensor *node) {
    int rc = sc__cpu_check_ready(node);
    if (rc != SC_OK) return rc;
    switch (node->op) {
    case SC_OP_NONE:
    case SC_OP_VIEW: return SC_OK;
    case SC_OP_MUL_MAT: return sc__cpu_fast_mul_mat(node);
    case SC_OP_MUL_MAT_ID: return sc__cpu_fast_mul_mat_id(node);
    case SC_OP_RMS_NORM: return sc__cpu_fast_rms_norm(node);
    case SC_OP_ADD:
    case SC_OP_MUL:
    case SC_OP_SCALE:
    case SC_OP_SILU:
    case SC_OP_SWIGLU: return sc__cpu_fast_elementwise(node);
    case SC_OP_SOFTMAX: return sc__cpu_fast_softmax(node);
    case SC_OP_ROPE: return sc__cpu_fast_rope(node);
    case SC_OP_ATTENTION: return sc__cpu_fast_attention(node);
    case SC_OP_GET_ROWS: return sc__cpu_fast_get_rows(node);
    default: return sc__cpu_ref_compute(node); /* small or memory-bound: the reference is enough */
    }
}
