/*
 * tests/backend-ops/cases.c - the case list and its names.
 *
 * A case name reads like ggml's: OP(param=value,...), e.g.
 * MUL_MAT(type_w=q4g32,type_x=f32,K=4097,N=3,M=1). The op tables
 * themselves are in cases_basic.c, cases_select.c, cases_matmul.c, cases_attn.c
 * and cases_recurrent.c;
 * the perf-only ones (bo_case.perf_only) in cases_perf.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bo.h"

bo_case *bo_list_add(bo_list *l, int32_t op, bo_build_fn build, double max_err) {
    if (l->oom) return NULL;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        bo_case *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    bo_case *c = &l->v[l->n++];
    memset(c, 0, sizeof *c);
    c->op = op;
    c->build = build;
    c->max_err = max_err;
    return c;
}

void bo_case_name(bo_case *c, const char *fmt, ...) {
    int n = snprintf(c->name, sizeof c->name, "%s(", sc_op_name(c->op));
    if (n < 0 || (size_t)n >= sizeof c->name) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(c->name + n, sizeof c->name - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = strlen(c->name);
    if (len + 1 < sizeof c->name) {
        c->name[len] = ')';
        c->name[len + 1] = '\0';
    }
}

void bo_case_views(bo_case *c, bo_view v0, const char *n0, bo_view v1, const char *n1) {
    static const char *const names[] = {"contiguous", "perm", "slice"};
    if (!c) return; /* bo_list_add ran out of memory; the list says so */
    c->view[0] = v0;
    c->view[1] = v1;
    size_t len = strlen(c->name);
    if (len == 0 || c->name[len - 1] != ')') return;
    c->name[--len] = '\0';
    if (v0 != BO_CONTIG) snprintf(c->name + len, sizeof c->name - len, ",%s=%s", n0, names[v0]);
    len = strlen(c->name);
    if (v1 != BO_CONTIG) snprintf(c->name + len, sizeof c->name - len, ",%s=%s", n1, names[v1]);
    len = strlen(c->name);
    if (len + 1 < sizeof c->name) {
        c->name[len] = ')';
        c->name[len + 1] = '\0';
    }
}

/* "f16", "q4g32", "q4g128+gidx", "q8gK" (one group per row), "q4g32+bf16r"
 * (weights rounded to bf16 instead of f16) */
const char *bo_wtype_name(const bo_wtype *w, char *buf, size_t len) {
    if (w->type != SC_TYPE_QG) {
        snprintf(buf, len, "%s", sc_type_name(w->type));
        return buf;
    }
    char group[16];
    if (w->group)
        snprintf(group, sizeof group, "%u", w->group);
    else
        snprintf(group, sizeof group, "K");
    snprintf(buf, len, "q%ug%s%s%s", w->bits, group, w->gidx ? "+gidx" : "", w->bf16 ? "+bf16r" : "");
    return buf;
}

int bo_cases_all(bo_list *l) {
    memset(l, 0, sizeof *l);
    bo_cases_basic(l);
    bo_cases_select(l);
    bo_cases_matmul(l);
    bo_cases_attn(l);
    bo_cases_recurrent(l);
    bo_cases_fuse_rows(l);
    bo_cases_fuse_gemv(l);
    /* perf-only (model-sized shapes): test, coverage and list skip them
     * (main.c), so CI never builds them */
    bo_cases_perf(l);
    if (l->oom) {
        bo_list_free(l);
        return SC_ENOMEM;
    }
    return SC_OK;
}

void bo_list_free(bo_list *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}
