/*
 * tests/backend-ops/main.c - the backend-ops command line.
 *
 *   backend-ops [test|coverage|list] [-b DEVICE] [-o OP] [-p TEXT] [-t N] [-v]
 *   backend-ops perf [-b DEVICE] [-o OP] [-p TEXT] [-n REPS] [--ms MIN_MS] [-l] [-t N]
 *
 *   test      (default) run every case on every device of the registry (the
 *             built-in CPU, whose fast path is compared with its own scalar
 *             reference, and every plugin STRIXCORE_PLUGIN_PATH or the
 *             default plugin directories provide); exit 1 if a case failed.
 *             An op a device does not support is reported, not failed.
 *   coverage  cases per op of SC_OP_TABLE; exit 1 if a compute op has none.
 *   list      the case names.
 *   perf      time every selected case, and the perf-only cases (perf_*:
 *             model-sized shapes, cases_perf.c), on every non-CPU device or
 *             the -b one; one line per case: microseconds per op, GB/s and
 *             GFLOP/s (perf.c says what they count). Exit 1 if a case
 *             failed to run, 2 on a bad argument or an unknown device.
 *             test, coverage and list skip the perf-only cases.
 *
 *   -b DEVICE only this device (sc_device_name: "cpu", "hip0", ...)
 *   -o OP     only cases of this op (GET_ROWS, mul_mat, ...)
 *   -p TEXT   only cases whose name contains TEXT
 *   -t N      threads of the built-in CPU device (default: one per core); an
 *             odd count exercises uneven work splits
 *   -v        print the error of passing cases and the time each case took
 *   --log LV  log backends' messages down to LV (error|warn|info|debug) on
 *             stderr, stdout flushed per line so they interleave in order
 *   -n REPS   perf: timed runs per case at most (default 1000)
 *   --ms MS   perf: stop timing a case after MS milliseconds (default 200);
 *             at least one timed run follows the warm-up
 *   -l        perf: list the cases it would time, run nothing
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bo.h"

typedef struct opts {
    const char *mode, *device, *op, *pattern;
    int threads;  /* -1: leave the CPU default */
    bool verbose;
    int max_reps;     /* perf: -n */
    double min_ms;    /* perf: --ms */
    bool list_only;   /* perf: -l */
} opts;

static void usage(FILE *f) {
    fprintf(f, "usage: backend-ops [test|coverage|list] [-b DEVICE] [-o OP] [-p TEXT] [-t N] [-v] [--log LEVEL] [--variants]\n"
               "       backend-ops perf [-b DEVICE] [-o OP] [-p TEXT] [-n REPS] [--ms MIN_MS] [-l] [-t N]\n");
}

/* A whole number of 1..max for option `opt`; -1 with a message otherwise. */
static int parse_count(const char *arg, const char *opt, const char *what, long max, int *out) {
    char *end;
    long n = strtol(arg, &end, 10);
    if (end == arg || *end || n < 1 || n > max) {
        fprintf(stderr, "backend-ops: %s wants %s of 1..%ld, not '%s'\n", opt, what, max, arg);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = "test";
    o->threads = -1;
    o->max_reps = 1000;
    o->min_ms = 200;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "test") || !strcmp(a, "coverage") || !strcmp(a, "list") || !strcmp(a, "perf")) {
            o->mode = a;
        } else if ((!strcmp(a, "-b") || !strcmp(a, "-o") || !strcmp(a, "-p")) && i + 1 < argc) {
            const char **dst = a[1] == 'b' ? &o->device : a[1] == 'o' ? &o->op : &o->pattern;
            *dst = argv[++i];
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            if (parse_count(argv[++i], "-t", "a thread count", 256, &o->threads) != 0) return -1;
        } else if (!strcmp(a, "-n") && i + 1 < argc) {
            if (parse_count(argv[++i], "-n", "a run count", 1000000, &o->max_reps) != 0) return -1;
        } else if (!strcmp(a, "--ms") && i + 1 < argc) {
            char *end;
            double ms = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(ms >= 0 && ms <= 3600e3)) {
                fprintf(stderr, "backend-ops: --ms wants milliseconds of 0..3600000, not '%s'\n", argv[i]);
                return -1;
            }
            o->min_ms = ms;
        } else if (!strcmp(a, "--variants")) {
            bo_variants = true;
        } else if (!strcmp(a, "-l")) {
            o->list_only = true;
        } else if (!strcmp(a, "-v")) {
            o->verbose = true;
        } else if (!strcmp(a, "--log") && i + 1 < argc) {
            /* backends' log lines at this level (e.g. the Vulkan fusers' "fused NAME:"
             * lines at info), interleaved with the results: stdout goes out per line */
            sc_log_level lv;
            if (sc_log_level_parse(argv[++i], &lv) != SC_OK) {
                fprintf(stderr, "backend-ops: --log wants error|warn|info|debug, not '%s'\n", argv[i]);
                return -1;
            }
            sc_log_set_level(lv);
            setvbuf(stdout, NULL, _IOLBF, 0);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "backend-ops: unknown argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->op) {
        bool known = false;
        for (int op = 0; op < SC_OP_COUNT; op++) known |= !strcasecmp(o->op, sc_op_name(op));
        if (!known) {
            fprintf(stderr, "backend-ops: unknown op '%s'\n", o->op);
            return -1;
        }
    }
    return 0;
}

static bool selected(const opts *o, const bo_case *c) {
    if (c->perf_only && strcmp(o->mode, "perf") != 0) return false;
    if (o->op && strcasecmp(o->op, sc_op_name(c->op)) != 0) return false;
    if (o->pattern && !strstr(c->name, o->pattern)) return false;
    return true;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmd_list(const opts *o, const bo_list *l) {
    for (int i = 0; i < l->n; i++)
        if (selected(o, &l->v[i])) printf("%s\n", l->v[i].name);
    return 0;
}

static int cmd_coverage(const bo_list *l) {
    int counts[SC_OP_COUNT] = {0}, rc = 0, n_cases = 0;
    for (int i = 0; i < l->n; i++) {
        if (l->v[i].perf_only) continue;
        n_cases++;
        char msg[256];
        if (bo_case_ops(&l->v[i], counts, msg, sizeof msg) != SC_OK) {
            printf("  %s: cannot build (%s)\n", l->v[i].name, msg);
            rc = 1;
        }
    }
    printf("Cases per op (%d cases):\n", n_cases);
    int missing = 0;
    for (int op = 0; op < SC_OP_COUNT; op++) {
        bool compute = op != SC_OP_NONE && op != SC_OP_VIEW;
        printf("  %-12s %5d%s\n", sc_op_name(op), counts[op], compute && counts[op] == 0 ? "  MISSING" : "");
        if (compute && counts[op] == 0) missing++;
    }
    if (missing) {
        printf("%d compute op(s) have no cases\n", missing);
        rc = 1;
    }
    return rc;
}

/* Run the selected cases on one device; returns the number that failed. */
static int test_device(const opts *o, const bo_list *l, sc_device_t *dev) {
    int n_pass = 0, n_fail = 0, n_unsup = 0, n_var = 0, n_var_cases = 0;
    double t0 = now_s();
    for (int i = 0; i < l->n; i++) {
        const bo_case *c = &l->v[i];
        if (!selected(o, c)) continue;
        bo_result r;
        double t = now_s();
        bo_run_case(c, dev, &r);
        t = now_s() - t;
        n_var += r.n_variants;
        n_var_cases += r.n_variants > 0;
        switch (r.status) {
        case BO_PASS: {
            n_pass++;
            /* the leaves written in place (the recurrent ops' states) */
            char wr[64] = "";
            if (c->written_err == BO_EXACT)
                snprintf(wr, sizeof wr, ", written exact");
            else if (c->written_err != 0.0)
                snprintf(wr, sizeof wr, ", written nmse=%.2e <= %.0e", r.err_written, c->written_err);
            if (o->verbose && r.n_variants)
                printf("  %s: OK (%d variants besides the default, worst nmse=%.2e%s, %.0f ms)\n", c->name,
                       r.n_variants, r.err, wr, t * 1e3);
            else if (o->verbose && c->max_err == BO_EXACT)
                printf("  %s: OK (exact%s, %.0f ms)\n", c->name, wr, t * 1e3);
            else if (o->verbose)
                printf("  %s: OK (nmse=%.2e <= %.0e%s, %.0f ms)\n", c->name, r.err, c->max_err, wr, t * 1e3);
            else
                printf("  %s: OK\n", c->name);
            break;
        }
        case BO_FAIL:
            n_fail++;
            printf("  %s: FAIL (%s)\n", c->name, r.msg);
            break;
        case BO_UNSUPPORTED:
            n_unsup++;
            if (o->verbose)
                printf("  %s: not supported (%s)\n", c->name, r.msg);
            else
                printf("  %s: not supported\n", c->name);
            break;
        }
        fflush(stdout);
    }
    printf("  %d/%d tests passed, %d not supported (%.1f s)\n", n_pass, n_pass + n_fail, n_unsup, now_s() - t0);
    if (bo_variants) printf("  tuning variants: %d run on %d cases\n", n_var, n_var_cases);
    printf("  Device %s: %s\n", sc_device_name(dev), n_fail ? "FAIL" : "OK");
    return n_fail;
}

/* The registry with default options (plugins from the environment and the
 * default directories); NULL after printing why. */
static sc_registry_t *open_registry(const opts *o) {
    sc_registry_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.struct_size = sizeof ro;
    sc_registry_t *reg = NULL;
    if (o->threads > 0) sc_cpu_set_threads(o->threads);
    int rc = sc_registry_create(&ro, &reg);
    if (rc != SC_OK) {
        fprintf(stderr, "backend-ops: cannot create the registry: %s\n", sc_strerror(rc));
        return NULL;
    }
    return reg;
}

static void print_device(sc_device_t *dev, int i, int n_dev) {
    sc_device_props props;
    memset(&props, 0, sizeof props);
    props.struct_size = sizeof props;
    if (sc_device_get_props(dev, &props) != SC_OK) props.description[0] = '\0';
    printf("Device %d/%d: %s (backend %s%s%s)\n", i + 1, n_dev, sc_device_name(dev), sc_device_backend_name(dev),
           props.description[0] ? ", " : "", props.description);
}

static int cmd_test(const opts *o, const bo_list *l) {
    sc_registry_t *reg = open_registry(o);
    if (!reg) return 1;
    int n_dev = sc_registry_device_count(reg), n_tested = 0, n_failed_dev = 0;
    for (int i = 0; i < n_dev; i++) {
        sc_device_t *dev = sc_registry_device(reg, i);
        if (!dev || (o->device && strcmp(o->device, sc_device_name(dev)) != 0)) continue;
        print_device(dev, i, n_dev);
        n_tested++;
        if (test_device(o, l, dev) > 0) n_failed_dev++;
    }
    sc_registry_destroy(reg);
    if (o->device && n_tested == 0) {
        fprintf(stderr, "backend-ops: no device named '%s'\n", o->device);
        return 1;
    }
    printf("%d/%d devices passed\n", n_tested - n_failed_dev, n_tested);
    return n_failed_dev ? 1 : 0;
}

/* ---- perf ---------------------------------------------------------------- */

/* Width of the case column: the longest selected name, 40..120. */
static int perf_name_width(const opts *o, const bo_list *l) {
    int w = 40;
    for (int i = 0; i < l->n; i++) {
        int n = (int)strlen(l->v[i].name);
        if (selected(o, &l->v[i]) && n > w) w = n;
    }
    return w < 120 ? w : 120;
}

/* Time the selected cases on one device; returns the number that failed. */
static int perf_device(const opts *o, const bo_list *l, sc_device_t *dev) {
    bo_perf_opts po = {.max_reps = o->max_reps, .min_ms = o->min_ms};
    int n_ok = 0, n_fail = 0, n_unsup = 0;
    double t0 = now_s();
    const int w = perf_name_width(o, l);
    printf("  %-*s %11s %9s %9s %6s %5s\n", w, "case", "us/op", "GB/s", "GFLOP/s", "copies", "runs");
    for (int i = 0; i < l->n; i++) {
        const bo_case *c = &l->v[i];
        if (!selected(o, c)) continue;
        bo_perf_result r;
        bo_perf_case(c, dev, &po, &r);
        switch (r.status) {
        case BO_PASS: {
            n_ok++;
            double s = r.us * 1e-6;
            char gflops[32] = "-";
            if (r.flops > 0) snprintf(gflops, sizeof gflops, "%.1f", r.flops / s * 1e-9);
            printf("  %-*s %11.2f %9.2f %9s %6d %5d\n", w, c->name, r.us, r.bytes / s * 1e-9, gflops,
                   r.copies, r.reps);
            if (o->verbose)
                printf("  %-*s %11s %9.3g MB %.3g GFLOP per op\n", w, "", "", r.bytes * 1e-6,
                       r.flops * 1e-9);
            break;
        }
        case BO_FAIL:
            n_fail++;
            printf("  %s: FAIL (%s)\n", c->name, r.msg);
            break;
        case BO_UNSUPPORTED:
            n_unsup++;
            printf("  %s: not supported (%s)\n", c->name, r.msg);
            break;
        }
        fflush(stdout);
    }
    printf("  %d cases timed, %d failed, %d not supported (%.1f s)\n", n_ok, n_fail, n_unsup, now_s() - t0);
    return n_fail;
}

static int cmd_perf(const opts *o, const bo_list *l) {
    if (o->list_only) return cmd_list(o, l);
    sc_registry_t *reg = open_registry(o);
    if (!reg) return 1;
    int n_dev = sc_registry_device_count(reg), n_timed = 0, n_failed = 0;
    for (int i = 0; i < n_dev; i++) {
        sc_device_t *dev = sc_registry_device(reg, i);
        if (!dev) continue;
        /* without -b, the devices being tuned: every one but the CPU */
        if (o->device ? strcmp(o->device, sc_device_name(dev)) != 0 : !strcmp(sc_device_backend_name(dev), "cpu"))
            continue;
        print_device(dev, i, n_dev);
        n_timed++;
        n_failed += perf_device(o, l, dev);
    }
    sc_registry_destroy(reg);
    if (o->device && n_timed == 0) {
        fprintf(stderr, "backend-ops: no device named '%s'\n", o->device);
        return 2;
    }
    if (n_timed == 0) printf("no device other than the CPU; time it with -b cpu\n");
    return n_failed ? 1 : 0;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o) != 0) return 2;
    bo_list l;
    if (bo_cases_all(&l) != SC_OK) {
        fprintf(stderr, "backend-ops: out of memory building the case table\n");
        return 1;
    }
    int rc;
    if (!strcmp(o.mode, "list"))
        rc = cmd_list(&o, &l);
    else if (!strcmp(o.mode, "coverage"))
        rc = cmd_coverage(&l);
    else if (!strcmp(o.mode, "perf"))
        rc = cmd_perf(&o, &l);
    else
        rc = cmd_test(&o, &l);
    bo_list_free(&l);
    return rc;
}
