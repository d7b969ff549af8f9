/*
 * tests/backend-ops/compare.c - device output against the reference.
 *
 * Float outputs (f32, and f16/bf16 caches) are widened to double. First a
 * NaN/Inf in the device output where the reference is finite fails the case,
 * whatever the bound. Then either every element must be equal (BO_EXACT), or
 * the normalised mean squared error
 *     nmse = sum((a - b)^2) / sum(b^2)     (b: the reference)
 * must stay within the case's bound. Integer outputs are always compared
 * exactly.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bo.h"

static double load(int32_t type, const void *base, size_t i) {
    uint16_t h;
    float f;
    switch (type) {
    case SC_TYPE_F32: memcpy(&f, (const char *)base + i * 4, 4); return f;
    case SC_TYPE_F16: memcpy(&h, (const char *)base + i * 2, 2); return sc_f16_to_f32(h);
    case SC_TYPE_BF16: memcpy(&h, (const char *)base + i * 2, 2); return sc_bf16_to_f32(h);
    default: return 0.0;
    }
}

static void fail(bo_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(bo_result *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->status = BO_FAIL;
}

static void compare_ints(int32_t type, size_t nbytes, const void *ref, const void *got, bo_result *r) {
    size_t es = sc_type_size(type), n = nbytes / es, bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp((const char *)ref + i * es, (const char *)got + i * es, es) != 0) {
            if (!bad) first = i;
            bad++;
        }
    }
    r->err = (double)bad;
    if (!bad) return;
    long long a = 0, b = 0;
    if (type == SC_TYPE_I32) {
        int32_t x, y;
        memcpy(&x, (const char *)got + first * 4, 4);
        memcpy(&y, (const char *)ref + first * 4, 4);
        a = x;
        b = y;
    } else {
        a = ((const int8_t *)got)[first];
        b = ((const int8_t *)ref)[first];
    }
    fail(r, "%zu of %zu elements differ; first at [%zu]: %lld, expected %lld", bad, n, first, a, b);
}

void bo_compare(int32_t type, size_t nbytes, const void *ref, const void *got, double max_err, bo_result *r) {
    r->status = BO_PASS;
    r->err = 0.0;
    r->msg[0] = '\0';
    if (type == SC_TYPE_I32 || type == SC_TYPE_I8) {
        compare_ints(type, nbytes, ref, got, r);
        return;
    }
    if (type != SC_TYPE_F32 && type != SC_TYPE_F16 && type != SC_TYPE_BF16) {
        fail(r, "cannot compare outputs of type %s", sc_type_name(type));
        return;
    }
    size_t n = nbytes / sc_type_size(type), bad = 0, first = 0, worst = 0;
    double num = 0.0, den = 0.0, worst_diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = load(type, got, i), b = load(type, ref, i);
        if (!isfinite(b)) {
            /* the reference itself overflowed: only an identical value is right */
            if (!(a == b || (isnan(a) && isnan(b)))) {
                fail(r, "reference is %g at [%zu] and the device gave %g", b, i, a);
                return;
            }
            continue;
        }
        if (!isfinite(a)) {
            fail(r, "%s at [%zu] where the reference is %g", isnan(a) ? "NaN" : "Inf", i, b);
            return;
        }
        if (a != b) {
            if (!bad) first = i;
            bad++;
        }
        if (fabs(a - b) > worst_diff) {
            worst_diff = fabs(a - b);
            worst = i;
        }
        num += (a - b) * (a - b);
        den += b * b;
    }
    if (max_err == BO_EXACT) {
        r->err = (double)bad;
        if (bad)
            fail(r, "%zu of %zu elements differ; first at [%zu]: %.9g, expected %.9g", bad, n, first,
                 load(type, got, first), load(type, ref, first));
        return;
    }
    r->err = den > 0.0 ? num / den : (num > 0.0 ? INFINITY : 0.0);
    if (!(r->err <= max_err))
        fail(r, "nmse=%.3e > %.1e; largest difference at [%zu]: %.9g, expected %.9g", r->err, max_err, worst,
             load(type, got, worst), load(type, ref, worst));
}
