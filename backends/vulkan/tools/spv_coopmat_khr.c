/*
 * backends/vulkan/tools/spv_coopmat_khr.c - SPV_NV_cooperative_matrix ->
 * SPV_KHR_cooperative_matrix (see spv_coopmat_khr.h for the mapping).
 *
 * Two passes over the instruction stream: the first collects what the rewrite
 * needs (the NV types and their uses, the value -> type map of matrix values,
 * the bool constants, a 32-bit integer type) and rejects what it does not
 * understand; the second writes the new module, adding the i32 constants for
 * Use and MemoryLayout right after the integer type (so they precede every
 * type that names them) and raising the id bound accordingly.
 */
#include "spv_coopmat_khr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 5 /* magic, version, generator, bound, schema */

typedef struct rw {
    const uint32_t *in;
    size_t n_in;
    uint32_t bound;
    uint8_t *use;         /* per id: bit (1 << Use) for NV matrix types */
    uint8_t *is_nv_type;  /* per id */
    uint8_t *boolc;       /* per id: 1 OpConstantFalse, 2 OpConstantTrue */
    uint8_t *sint;        /* per id: a signed OpTypeInt */
    uint32_t *comp;       /* per NV type id: its component type */
    uint32_t *type_of;    /* per id: the NV matrix type of a value, or 0 */
    char *err;
    size_t err_size;
} rw;

static int fail(rw *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (r->err && r->err_size) vsnprintf(r->err, r->err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static bool id_ok(const rw *r, uint32_t id) { return id > 0 && id < r->bound; }

/* Instructions whose word 1 is not a result type even when it names a type. */
static bool annotation(uint32_t op) {
    switch (op) {
    case 3: case 4: case 5: case 6: case 7: case 8: case 15: case 16: case 71: case 72: case 73: case 74:
    case 75: case 330: case 331: case 332: case 5632: case 5633:
        return true;
    default:
        return false;
    }
}

/* Cooperative-matrix features this tool does not translate. */
static bool foreign_op(uint32_t op) {
    return (op >= SPV_OP_TYPE_COOPMAT_KHR && op <= SPV_OP_COOPMAT_LENGTH_KHR) || op == 5293 || op == 5363 ||
           (op >= 5366 && op <= 5384) || op == 5390;
}

static bool foreign_cap(uint32_t cap) {
    return cap == SPV_CAP_COOPMAT_KHR || (cap >= 5429 && cap <= 5434) || cap == 5438 || cap == 5447 ||
           cap == 4201 || cap == 4213 || cap == 4496 || cap == 5114 || cap == 5118;
}

/* A literal string operand starting at w[0], at most n words: its length in
 * words, or 0 when it is not NUL-terminated inside them. */
static size_t str_words(const uint32_t *w, size_t n, const char **s) {
    const char *c = (const char *)w;
    for (size_t i = 0; i < n * 4; i++)
        if (c[i] == 0) {
            *s = c;
            return i / 4 + 1;
        }
    return 0;
}

static const char *NV_EXT = "SPV_NV_cooperative_matrix";
static const char *KHR_EXT = "SPV_KHR_cooperative_matrix";

/* ---- pass 1 ---------------------------------------------------------------------- */
static int scan(rw *r, size_t *int_pos, uint32_t *int_type, uint32_t *n_nv_types, bool *has_cap, bool *has_ext) {
    size_t first_nv_type = 0;
    for (size_t p = HDR; p < r->n_in;) {
        const uint32_t *w = r->in + p;
        const uint32_t wc = w[0] >> 16, op = w[0] & 0xffffu;
        if (wc == 0 || p + wc > r->n_in) return fail(r, "word %zu: bad instruction length %u", p, wc);
        if (foreign_op(op)) return fail(r, "word %zu: opcode %u (cooperative matrix, not SPV_NV_cooperative_matrix) "
                                           "is not translated", p, op);
        switch (op) {
        case SPV_OP_CAPABILITY:
            if (wc != 2) return fail(r, "word %zu: bad OpCapability", p);
            if (foreign_cap(w[1])) return fail(r, "word %zu: capability %u is not translated", p, w[1]);
            if (w[1] == SPV_CAP_COOPMAT_NV) *has_cap = true;
            break;
        case SPV_OP_EXTENSION: {
            const char *s = NULL;
            if (wc < 2 || !str_words(w + 1, wc - 1, &s)) return fail(r, "word %zu: bad OpExtension", p);
            if (strcmp(s, NV_EXT) == 0) *has_ext = true;
            else if (strstr(s, "cooperative_matrix")) return fail(r, "word %zu: extension %s is not translated", p, s);
            break;
        }
        case SPV_OP_TYPE_INT:
            if (wc != 4 || !id_ok(r, w[1])) return fail(r, "word %zu: bad OpTypeInt", p);
            if (w[3]) r->sint[w[1]] = 1;
            if (w[2] == 32 && !*int_type) *int_type = w[1], *int_pos = p;
            break;
        case SPV_OP_CONSTANT_TRUE:
        case SPV_OP_CONSTANT_FALSE:
            if (wc != 3 || !id_ok(r, w[2])) return fail(r, "word %zu: bad boolean constant", p);
            r->boolc[w[2]] = op == SPV_OP_CONSTANT_TRUE ? 2 : 1;
            break;
        case SPV_OP_TYPE_COOPMAT_NV:
            if (wc != 6 || !id_ok(r, w[1])) return fail(r, "word %zu: bad OpTypeCooperativeMatrixNV", p);
            r->is_nv_type[w[1]] = 1;
            r->comp[w[1]] = w[2];
            if (!first_nv_type) first_nv_type = p;
            (*n_nv_types)++;
            break;
        case SPV_OP_SPEC_CONSTANT_OP:
            if (wc >= 4 && w[3] >= SPV_OP_TYPE_COOPMAT_NV && w[3] <= SPV_OP_COOPMAT_MULADD_NV)
                return fail(r, "word %zu: OpSpecConstantOp %u is not translated", p, w[3]);
            break;
        default:
            break;
        }
        /* word 1 naming a matrix type: word 2 is a value of that type */
        if (!annotation(op) && op != SPV_OP_TYPE_COOPMAT_NV && wc >= 3 && id_ok(r, w[1]) && r->is_nv_type[w[1]]) {
            if (!id_ok(r, w[2])) return fail(r, "word %zu: result id %u out of bound", p, w[2]);
            r->type_of[w[2]] = w[1];
        }
        p += wc;
    }
    if (*n_nv_types && !*int_type) return fail(r, "no 32-bit OpTypeInt for the Use / MemoryLayout constants");
    if (*n_nv_types && *int_pos > first_nv_type)
        return fail(r, "the 32-bit OpTypeInt comes after the first OpTypeCooperativeMatrixNV");
    return 0;
}

/* Uses from the MulAdds; every MulAdd operand must be a known matrix value. */
static int infer_uses(rw *r) {
    for (size_t p = HDR; p < r->n_in;) {
        const uint32_t *w = r->in + p;
        const uint32_t wc = w[0] >> 16, op = w[0] & 0xffffu;
        if (op == SPV_OP_COOPMAT_MULADD_NV) {
            if (wc != 6) return fail(r, "word %zu: bad OpCooperativeMatrixMulAddNV", p);
            const uint32_t rt = w[1], ta = id_ok(r, w[3]) ? r->type_of[w[3]] : 0,
                           tb = id_ok(r, w[4]) ? r->type_of[w[4]] : 0, tc = id_ok(r, w[5]) ? r->type_of[w[5]] : 0;
            if (!id_ok(r, rt) || !r->is_nv_type[rt] || !ta || !tb || !tc)
                return fail(r, "word %zu: MulAdd operand whose matrix type is unknown", p);
            r->use[rt] |= 1u << SPV_USE_ACC;
            r->use[tc] |= 1u << SPV_USE_ACC;
            r->use[ta] |= 1u << SPV_USE_A;
            r->use[tb] |= 1u << SPV_USE_B;
        }
        p += wc;
    }
    for (uint32_t id = 1; id < r->bound; id++) {
        if (!r->is_nv_type[id]) continue;
        const uint8_t u = r->use[id];
        if (!u) return fail(r, "matrix type %%%u is never an operand of a MulAdd: its Use is unknown", id);
        if (u & (u - 1))
            return fail(r, "matrix type %%%u is used as %s%s%s: one KHR type cannot be both (give A and B "
                           "different shapes or shape ids)", id, (u & 1) ? "A " : "", (u & 2) ? "B " : "",
                        (u & 4) ? "accumulator" : "");
    }
    return 0;
}

static uint32_t use_of(const rw *r, uint32_t type) {
    const uint8_t u = r->use[type];
    return u == 1 ? SPV_USE_A : u == 2 ? SPV_USE_B : SPV_USE_ACC;
}

/* ---- pass 2 ---------------------------------------------------------------------- */
int spv_coopmat_nv_to_khr(const uint32_t *in, size_t n_in, uint32_t **out, size_t *n_out, char *err,
                          size_t err_size) {
    rw r = {.in = in, .n_in = n_in, .err = err, .err_size = err_size};
    int rc = -1;
    uint32_t *o = NULL;
    *out = NULL;
    *n_out = 0;
    if (err && err_size) err[0] = 0;
    if (!in || n_in < HDR || in[0] != SPV_MAGIC) return fail(&r, "not a SPIR-V module (magic / size)");
    r.bound = in[3];
    if (r.bound == 0 || r.bound > (1u << 22)) return fail(&r, "implausible id bound %u", r.bound);
    r.use = calloc(r.bound, 1);
    r.is_nv_type = calloc(r.bound, 1);
    r.boolc = calloc(r.bound, 1);
    r.sint = calloc(r.bound, 1);
    r.comp = calloc(r.bound, sizeof(uint32_t));
    r.type_of = calloc(r.bound, sizeof(uint32_t));
    if (!r.use || !r.is_nv_type || !r.boolc || !r.sint || !r.comp || !r.type_of) {
        fail(&r, "out of memory");
        goto done;
    }
    size_t int_pos = 0;
    uint32_t int_type = 0, n_types = 0;
    bool has_cap = false, has_ext = false;
    if (scan(&r, &int_pos, &int_type, &n_types, &has_cap, &has_ext) || infer_uses(&r)) goto done;
    if (!has_cap || !has_ext || !n_types) {
        fail(&r, "module does not use SPV_NV_cooperative_matrix (capability %d, extension %d, types %u)", has_cap,
             has_ext, n_types);
        goto done;
    }

    /* new constants: c[v] = %id of OpConstant int_type v, v = 0, 1, 2 */
    const uint32_t c[3] = {r.bound, r.bound + 1, r.bound + 2};
    const uint32_t new_bound = r.bound + 3;
    /* KHR Load/Store gain nothing in size, MulAdd at most one word, types one word,
     * the extension string one word; plus 3 constants of 4 words */
    o = malloc((n_in * 2 + 16) * sizeof(uint32_t));
    if (!o) {
        fail(&r, "out of memory");
        goto done;
    }
    size_t n = 0;
    memcpy(o, in, HDR * sizeof(uint32_t));
    o[3] = new_bound;
    n = HDR;
    for (size_t p = HDR; p < n_in;) {
        const uint32_t *w = in + p;
        const uint32_t wc = w[0] >> 16, op = w[0] & 0xffffu;
        switch (op) {
        case SPV_OP_CAPABILITY:
            o[n++] = w[0];
            o[n++] = w[1] == SPV_CAP_COOPMAT_NV ? (uint32_t)SPV_CAP_COOPMAT_KHR : w[1];
            break;
        case SPV_OP_EXTENSION: {
            const char *s = NULL;
            str_words(w + 1, wc - 1, &s);
            if (strcmp(s, NV_EXT) == 0) {
                const size_t len = strlen(KHR_EXT), nw = len / 4 + 1;
                o[n++] = (uint32_t)((1 + nw) << 16) | SPV_OP_EXTENSION;
                memset(o + n, 0, nw * 4);
                memcpy(o + n, KHR_EXT, len);
                n += nw;
            } else {
                memcpy(o + n, w, wc * sizeof(uint32_t));
                n += wc;
            }
            break;
        }
        case SPV_OP_TYPE_COOPMAT_NV: /* Result Component Scope Rows Cols -> + Use */
            o[n++] = (7u << 16) | SPV_OP_TYPE_COOPMAT_KHR;
            memcpy(o + n, w + 1, 5 * sizeof(uint32_t));
            n += 5;
            o[n++] = c[use_of(&r, w[1])];
            break;
        case SPV_OP_COOPMAT_LOAD_NV:   /* RT R Pointer Stride ColumnMajor [MA...] */
        case SPV_OP_COOPMAT_STORE_NV: { /* Pointer Object Stride ColumnMajor [MA...] */
            const bool load = op == SPV_OP_COOPMAT_LOAD_NV;
            const uint32_t fixed = load ? 6u : 5u; /* words up to ColumnMajor */
            if (wc < fixed) {
                fail(&r, "word %zu: bad cooperative matrix %s", p, load ? "load" : "store");
                goto done;
            }
            const uint32_t cm = w[fixed - 1];
            if (!id_ok(&r, cm) || !r.boolc[cm]) {
                fail(&r, "word %zu: ColumnMajor %%%u is not OpConstantTrue/False (KHR needs a constant layout)", p,
                     cm);
                goto done;
            }
            o[n++] = (wc << 16) | (load ? SPV_OP_COOPMAT_LOAD_KHR : SPV_OP_COOPMAT_STORE_KHR);
            memcpy(o + n, w + 1, (fixed - 3) * sizeof(uint32_t)); /* RT R Pointer / Pointer Object */
            n += fixed - 3;
            o[n++] = c[r.boolc[cm] == 2 ? SPV_LAYOUT_COLUMN_MAJOR : SPV_LAYOUT_ROW_MAJOR];
            o[n++] = w[fixed - 2]; /* Stride */
            memcpy(o + n, w + fixed, (wc - fixed) * sizeof(uint32_t)); /* memory operands as they were */
            n += wc - fixed;
            break;
        }
        case SPV_OP_COOPMAT_MULADD_NV: { /* NV: integer signedness came from the types; KHR: operand flags */
            uint32_t flags = 0;
            const uint32_t t[4] = {r.type_of[w[3]], r.type_of[w[4]], r.type_of[w[5]], w[1]};
            for (int i = 0; i < 4; i++)
                if (r.sint[r.comp[t[i]]]) flags |= 1u << i;
            o[n++] = ((flags ? 7u : 6u) << 16) | SPV_OP_COOPMAT_MULADD_KHR;
            memcpy(o + n, w + 1, 5 * sizeof(uint32_t));
            n += 5;
            if (flags) o[n++] = flags;
            break;
        }
        case SPV_OP_COOPMAT_LENGTH_NV:
            o[n++] = (wc << 16) | SPV_OP_COOPMAT_LENGTH_KHR;
            memcpy(o + n, w + 1, (wc - 1) * sizeof(uint32_t));
            n += wc - 1;
            break;
        case SPV_OP_SPEC_CONSTANT_OP: /* RT R Opcode operands: Length of a spec-sized type */
            memcpy(o + n, w, wc * sizeof(uint32_t));
            if (w[3] == SPV_OP_COOPMAT_LENGTH_NV) o[n + 3] = SPV_OP_COOPMAT_LENGTH_KHR;
            n += wc;
            break;
        default:
            memcpy(o + n, w, wc * sizeof(uint32_t));
            n += wc;
            break;
        }
        if (p == int_pos) /* the Use / MemoryLayout constants right after the integer type */
            for (uint32_t v = 0; v < 3; v++) {
                o[n++] = (4u << 16) | SPV_OP_CONSTANT;
                o[n++] = int_type;
                o[n++] = c[v];
                o[n++] = v;
            }
        p += wc;
    }
    *out = o;
    *n_out = n;
    o = NULL;
    rc = 0;
done:
    free(o);
    free(r.use);
    free(r.is_nv_type);
    free(r.boolc);
    free(r.sint);
    free(r.comp);
    free(r.type_of);
    return rc;
}
