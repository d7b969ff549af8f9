/*
 * tests/backend-ops/main.c - the backend-ops command line.
 *
 *   backend-ops [test|coverage|list] [-b DEVICE] [-o OP] [-p TEXT] [-t N] [-v]
 *
 *   test      (default) run every case on every device of the registry (the
 *             built-in CPU, whose fast path is compared with its own scalar
 *             reference, and every plugin STRIXCORE_PLUGIN_PATH or the
 *             default plugin directories provide); exit 1 if a case failed.
 *             An op a device does not support is reported, not failed.
 *   coverage  cases per op of SC_OP_TABLE; exit 1 if a compute op has none.
 *   list      the case names.
 *
 *   -b DEVICE only this device (sc_device_name: "cpu", "hip0", ...)
 *   -o OP     only cases of this op (GET_ROWS, mul_mat, ...)
 *   -p TEXT   only cases whose name contains TEXT
 *   -t N      threads of the built-in CPU device (default: one per core); an
 *             odd count exercises uneven work splits
 *   -v        print the error of passing cases and the time each case took
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
} opts;

static void usage(FILE *f) {
    fprintf(f, "usage: backend-ops [test|coverage|list] [-b DEVICE] [-o OP] [-p TEXT] [-t N] [-v]\n");
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = "test";
    o->threads = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "test") || !strcmp(a, "coverage") || !strcmp(a, "list")) {
            o->mode = a;
        } else if ((!strcmp(a, "-b") || !strcmp(a, "-o") || !strcmp(a, "-p")) && i + 1 < argc) {
            const char **dst = a[1] == 'b' ? &o->device : a[1] == 'o' ? &o->op : &o->pattern;
            *dst = argv[++i];
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "backend-ops: -t wants a thread count of 1..256, not '%s'\n", argv[i]);
                return -1;
            }
            o->threads = (int)n;
        } else if (!strcmp(a, "-v")) {
            o->verbose = true;
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
    int counts[SC_OP_COUNT] = {0}, rc = 0;
    for (int i = 0; i < l->n; i++) {
        char msg[256];
        if (bo_case_ops(&l->v[i], counts, msg, sizeof msg) != SC_OK) {
            printf("  %s: cannot build (%s)\n", l->v[i].name, msg);
            rc = 1;
        }
    }
    printf("Cases per op (%d cases):\n", l->n);
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
    int n_pass = 0, n_fail = 0, n_unsup = 0;
    double t0 = now_s();
    for (int i = 0; i < l->n; i++) {
        const bo_case *c = &l->v[i];
        if (!selected(o, c)) continue;
        bo_result r;
        double t = now_s();
        bo_run_case(c, dev, &r);
        t = now_s() - t;
        switch (r.status) {
        case BO_PASS:
            n_pass++;
            if (o->verbose && c->max_err == BO_EXACT)
                printf("  %s: OK (exact, %.0f ms)\n", c->name, t * 1e3);
            else if (o->verbose)
                printf("  %s: OK (nmse=%.2e <= %.0e, %.0f ms)\n", c->name, r.err, c->max_err, t * 1e3);
            else
                printf("  %s: OK\n", c->name);
            break;
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
    printf("  Device %s: %s\n", sc_device_name(dev), n_fail ? "FAIL" : "OK");
    return n_fail;
}

static int cmd_test(const opts *o, const bo_list *l) {
    sc_registry_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.struct_size = sizeof ro;
    sc_registry_t *reg = NULL;
    if (o->threads > 0) sc_cpu_set_threads(o->threads);
    int rc = sc_registry_create(&ro, &reg);
    if (rc != SC_OK) {
        fprintf(stderr, "backend-ops: cannot create the registry: %s\n", sc_strerror(rc));
        return 1;
    }
    int n_dev = sc_registry_device_count(reg), n_tested = 0, n_failed_dev = 0;
    for (int i = 0; i < n_dev; i++) {
        sc_device_t *dev = sc_registry_device(reg, i);
        if (!dev || (o->device && strcmp(o->device, sc_device_name(dev)) != 0)) continue;
        sc_device_props props;
        memset(&props, 0, sizeof props);
        props.struct_size = sizeof props;
        if (sc_device_get_props(dev, &props) != SC_OK) props.description[0] = '\0';
        printf("Device %d/%d: %s (backend %s%s%s)\n", i + 1, n_dev, sc_device_name(dev),
               sc_device_backend_name(dev), props.description[0] ? ", " : "", props.description);
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
    else
        rc = cmd_test(&o, &l);
    bo_list_free(&l);
    return rc;
}
