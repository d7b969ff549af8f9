/*
 * backends/cpu/fast_matmul.c - threaded SIMD mul_mat and mul_mat_id.
 *
 * Both ops reduce to "jobs": one weight matrix W [K, N] applied to M input
 * columns x_m [K], giving output columns y_m [N] (pointers, so mul_mat_id can
 * gather the tokens routed to one expert). Every job is split into row
 * chunks of W; a task is one (job, chunk) pair, handed out by the pool.
 *
 *  - M < MM_BLOCK_MIN_M (decode): each weight row is dotted with each column
 *    straight from its stored form (f32/f16/bf16 SIMD dots, QG fused
 *    unpack-dequantise-round-FMA), so weights are read exactly once.
 *  - otherwise (prefill, batched decode): the chunk's rows are converted
 *    once to f32 in per-thread scratch, then columns are dotted two at a
 *    time with four rows at a time (dot4x2), the columns staying in L1 while
 *    the rows stream from L2. A kernel table with a GEMM (AVX-512) takes
 *    f32/f16/bf16 weights from M >= MM_GEMM_MIN_M instead: the columns are
 *    prepared once per call (gemm_prep) and its register tiles read the
 *    stored rows directly.
 * QG with g_idx (act-order) always goes through sc_quant_dequant_row.
 *
 * QG of 4 or 8 bits with groups of 32k columns and K % 32 == 0 (every real
 * GPTQ/AWQ/compressed-tensors layer) takes the integer path instead, for
 * any M: each input column is quantized once to int8 blocks of 32 with an
 * f32 scale (sc_cpu_q8, ggml's Q8_0), and each weight row meets up to four
 * columns at a time in integer dot products (dot_qg_q8; with AVX-512,
 * gemm_q8's tiles of 4 rows x 4 columns), so the codes are unpacked once per
 * four columns and never dequantised to f32. Its error
 * (nmse ~1.5e-5 on uniform data) sits inside backend-ops' QG bound; it
 * skips the per-weight f16/bf16 rounding of the reference (nmse ~1e-7).
 *
 * Kernel tuning (fast_tune.c) may change three things per node through its
 * sc_cpu_mm_plan: the kernel table (a lower ISA level), the QG activation
 * path (int8 or f32) and the rows of W per task (instead of the split
 * below); the defaults are what this file did before tuning existed.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cpu_impl.h"

#define MM_BLOCK_MIN_M 4
#define MM_GEMM_MIN_M 3
#define MM_SCRATCH_FLOATS 131072 /* 512 KiB of dequantised rows per task */
#define MM_SLOT_ROWS 0           /* scratch slot: converted weight rows */
#define MM_ALIGN64(x) (((x) + 63u) / 64u * 64u)

/* One weight matrix and the columns it multiplies. */
typedef struct mm_job {
    const uint8_t *wbase; /* matrix (i2, i3): its slab for QG */
    int64_t M;
    const float *const *xc; /* [M] columns x_m [K] */
    float *const *yc;       /* [M] columns y_m [N] */
} mm_job;

typedef struct mm_ctx {
    const sc_cpu_kernels *kr;
    const sc_tensor *w;
    int64_t K, N;
    int64_t rows_per_task, tasks_per_job;
    const mm_job *jobs;
    const sc_cpu_q8 *const *xq; /* [n_jobs] int8 columns of each job, or NULL */
    const float *const *const *xp; /* [n_jobs] gemm_prep'd columns of each job, or NULL */
    atomic_int err;
} mm_ctx;

static bool qg_fused(const sc_tensor *w) { return w->type == SC_TYPE_QG && !(w->quant.flags & SC_QUANT_HAS_GIDX); }

static sc_cpu_qrow qrow_of(const sc_tensor *w, const uint8_t *slab, int64_t r) {
    const sc_quant_info *q = &w->quant;
    return (sc_cpu_qrow){
        .codes = slab + (uint64_t)r * q->row_bytes,
        .scales = slab + q->scales_offset + (uint64_t)r * q->n_groups * 2u,
        .zeros = slab + q->zeros_offset + (uint64_t)r * q->n_groups,
        .bits = q->bits,
        .group_size = q->group_size,
        .flags = q->flags,
    };
}

/* Row r of the job's matrix as f32 into dst [K]. */
static int row_to_f32(const mm_ctx *c, const mm_job *job, int64_t r, float *dst) {
    const sc_tensor *w = c->w;
    const uint8_t *row = job->wbase + (size_t)r * w->nb[1];
    switch (w->type) {
    case SC_TYPE_F32: memcpy(dst, row, (size_t)c->K * sizeof(float)); return SC_OK;
    case SC_TYPE_F16: c->kr->cvt_f16((const uint16_t *)(const void *)row, dst, c->K); return SC_OK;
    case SC_TYPE_BF16: c->kr->cvt_bf16((const uint16_t *)(const void *)row, dst, c->K); return SC_OK;
    default:
        if (qg_fused(w)) {
            sc_cpu_qrow q = qrow_of(w, job->wbase, r);
            c->kr->dequant_qg(&q, dst, c->K);
            return SC_OK;
        }
        return sc_quant_dequant_row(w, job->wbase, r, dst);
    }
}

/* Decode shape: y_m[r] = W[r] . x_m straight from the stored row. */
static int rows_direct(const mm_ctx *c, const mm_job *job, int64_t r0, int64_t r1) {
    const sc_tensor *w = c->w;
    const sc_cpu_kernels *kr = c->kr;
    const int64_t K = c->K;
    float *tmp = NULL;
    if (w->type == SC_TYPE_QG && !qg_fused(w)) {
        tmp = sc__cpu_scratch(MM_SLOT_ROWS, (size_t)K * sizeof(float)); /* [K] */
        if (!tmp) return SC_ENOMEM;
    }
    for (int64_t r = r0; r < r1; r++) { /* hot loop over weight rows */
        const uint8_t *row = job->wbase + (size_t)r * w->nb[1];
        sc_cpu_qrow q = {0};
        if (w->type == SC_TYPE_QG) {
            if (tmp) {
                int rc = sc_quant_dequant_row(w, job->wbase, r, tmp);
                if (rc != SC_OK) return rc;
            } else {
                q = qrow_of(w, job->wbase, r);
            }
        }
        for (int64_t m = 0; m < job->M; m++) {
            const float *x = job->xc[m];
            float d;
            switch (w->type) {
            case SC_TYPE_F32: d = kr->dot_f32((const float *)(const void *)row, x, K); break;
            case SC_TYPE_F16: d = kr->dot_f16((const uint16_t *)(const void *)row, x, K); break;
            case SC_TYPE_BF16: d = kr->dot_bf16((const uint16_t *)(const void *)row, x, K); break;
            default: d = tmp ? kr->dot_f32(tmp, x, K) : kr->dot_qg(&q, x, K); break;
            }
            job->yc[m][r] = d;
        }
    }
    return SC_OK;
}

/* Prefill shape: convert the chunk's rows once, then four rows per x load. */
static int rows_blocked(const mm_ctx *c, const mm_job *job, int64_t r0, int64_t r1) {
    const sc_tensor *w = c->w;
    const int64_t K = c->K, R = r1 - r0;
    const float *rows; /* [R, ldw] f32 */
    int64_t ldw;
    if (w->type == SC_TYPE_F32 && w->nb[1] % sizeof(float) == 0) {
        rows = (const float *)(const void *)(job->wbase + (size_t)r0 * w->nb[1]);
        ldw = (int64_t)(w->nb[1] / sizeof(float));
    } else {
        float *buf = sc__cpu_scratch(MM_SLOT_ROWS, (size_t)R * (size_t)K * sizeof(float));
        if (!buf) return SC_ENOMEM;
        for (int64_t r = 0; r < R; r++) {
            int rc = row_to_f32(c, job, r0 + r, buf + r * K);
            if (rc != SC_OK) return rc;
        }
        rows = buf;
        ldw = K;
    }
    int64_t m = 0;
    for (; m + 2 <= job->M; m += 2) { /* two columns per pass: each row load feeds two FMAs */
        const float *x0 = job->xc[m], *x1 = job->xc[m + 1];
        float *y0 = job->yc[m] + r0, *y1 = job->yc[m + 1] + r0;
        int64_t r = 0;
        for (; r + 4 <= R; r += 4) c->kr->dot4x2_f32(rows + r * ldw, ldw, x0, x1, K, y0 + r, y1 + r); /* hot loop */
        for (; r < R; r++) {
            y0[r] = c->kr->dot_f32(rows + r * ldw, x0, K);
            y1[r] = c->kr->dot_f32(rows + r * ldw, x1, K);
        }
    }
    for (; m < job->M; m++) {
        const float *x = job->xc[m];
        float *y = job->yc[m] + r0;
        int64_t r = 0;
        for (; r + 4 <= R; r += 4) c->kr->dot4_f32(rows + r * ldw, ldw, x, K, y + r);
        for (; r < R; r++) y[r] = c->kr->dot_f32(rows + r * ldw, x, K);
    }
    return SC_OK;
}

/* Does this job take the table's tiled int8 pair (quant_q8_tiled, gemm_q8)?
 * Decode (one column) keeps the row-wise pair: it is memory-bound, and
 * streams best one row after another. */
#define MM_Q8_TILED_MIN_M 2
static bool q8_tiled(const sc_cpu_kernels *kr, int64_t M) {
    return kr->gemm_q8 && kr->quant_q8_tiled && M >= MM_Q8_TILED_MIN_M;
}

/* Integer path: four int8 columns per pass over the chunk's rows, so the
 * columns stay in L1 while the chunk's codes stay in L2; or the table's
 * tiled gemm_q8 over pieces of MM_Q8_PIECE rows. */
#define MM_Q8_PIECE 64
static void rows_q8(const mm_ctx *c, const mm_job *job, const sc_cpu_q8 *xq, int64_t r0, int64_t r1) {
    if (q8_tiled(c->kr, job->M)) {
        sc_cpu_qrow q[MM_Q8_PIECE];
        for (int64_t p = r0; p < r1; p += MM_Q8_PIECE) {
            const int64_t n = r1 - p < MM_Q8_PIECE ? r1 - p : MM_Q8_PIECE;
            for (int64_t i = 0; i < n; i++) q[i] = qrow_of(c->w, job->wbase, p + i);
            c->kr->gemm_q8(q, n, xq, job->M, c->K, job->yc, p);
        }
        return;
    }
    float out[4];
    for (int64_t m = 0; m < job->M; m += 4) {
        const int nx = job->M - m < 4 ? (int)(job->M - m) : 4;
        for (int64_t r = r0; r < r1; r++) { /* hot loop over weight rows */
            const sc_cpu_qrow q = qrow_of(c->w, job->wbase, r);
            c->kr->dot_qg_q8(&q, xq + m, nx, c->K, out);
            for (int j = 0; j < nx; j++) job->yc[m + j][r] = out[j];
        }
    }
}

static void mm_task(void *vctx, int64_t task) {
    mm_ctx *c = vctx;
    const int64_t ji = task / c->tasks_per_job;
    const mm_job *job = &c->jobs[ji];
    const int64_t r0 = (task % c->tasks_per_job) * c->rows_per_task;
    const int64_t r1 = r0 + c->rows_per_task < c->N ? r0 + c->rows_per_task : c->N;
    if (job->M == 0 || r0 >= r1) return;
    int rc = SC_OK;
    if (c->xq)
        rows_q8(c, job, c->xq[ji], r0, r1);
    else if (c->xp && job->M >= MM_GEMM_MIN_M)
        c->kr->gemm(c->w->type, job->wbase + (size_t)r0 * c->w->nb[1], c->w->nb[1], r1 - r0, c->K, c->xp[ji], job->M,
                    job->yc, r0);
    else
        rc = job->M < MM_BLOCK_MIN_M ? rows_direct(c, job, r0, r1) : rows_blocked(c, job, r0, r1);
    if (rc != SC_OK) {
        int expected = SC_OK;
        atomic_compare_exchange_strong(&c->err, &expected, rc);
    }
}

/* Quantize every column of every job to int8 (sc_cpu_q8) in one block of
 * memory: *mem to free, *out [n_jobs] per-job column arrays. */
typedef struct q8_ctx {
    const sc_cpu_kernels *kr;
    const sc_tensor *w;
    const float *const *x;  /* [total_m] the columns, jobs in order */
    sc_cpu_q8 *cols;        /* [total_m] */
    const uint8_t *tiled;   /* [total_m] 1: quantize for gemm_q8 (the column's job takes it) */
    int64_t per_task;
    int64_t total_m;
} q8_ctx;

static void q8_task(void *vctx, int64_t task) {
    const q8_ctx *c = vctx;
    const int64_t i0 = task * c->per_task, i1 = i0 + c->per_task < c->total_m ? i0 + c->per_task : c->total_m;
    for (int64_t i = i0; i < i1; i++) {
        void (*quant)(const float *, int64_t, uint32_t, uint32_t, int8_t *, float *, float *, float *) =
            c->tiled[i] ? c->kr->quant_q8_tiled : c->kr->quant_q8;
        quant(c->x[i], c->w->ne[0], c->w->quant.bits, c->w->quant.group_size, (int8_t *)c->cols[i].q,
              (float *)c->cols[i].d, (float *)c->cols[i].gsum, c->cols[i].dx);
    }
}

static int q8_prepare(const sc_cpu_kernels *kr, const sc_tensor *w, const mm_job *jobs, int64_t n_jobs,
                      int64_t total_m, void **mem, const sc_cpu_q8 ***out) {
    const int64_t K = w->ne[0], G = w->quant.n_groups, nb = K / SC_CPU_Q8_BLOCK;
    const size_t per_col = MM_ALIGN64((size_t)K) + MM_ALIGN64((size_t)(nb + G) * sizeof(float)) +
                           MM_ALIGN64((size_t)K / 8 * sizeof(float));
    const size_t head = MM_ALIGN64((size_t)n_jobs * sizeof(sc_cpu_q8 *) + (size_t)total_m * (sizeof(sc_cpu_q8) +
                                    sizeof(float *) + 1));
    uint8_t *p = NULL;
    if (posix_memalign((void **)&p, 64, head + (size_t)total_m * per_col) != 0) return SC_ENOMEM;
    const sc_cpu_q8 **per_job = (const sc_cpu_q8 **)(void *)p;
    sc_cpu_q8 *cols = (sc_cpu_q8 *)(void *)(p + (size_t)n_jobs * sizeof *per_job);
    const float **xs = (const float **)(void *)(cols + total_m);
    uint8_t *tiled = (uint8_t *)(void *)(xs + total_m);
    uint8_t *data = p + head;
    int64_t i = 0;
    for (int64_t j = 0; j < n_jobs; j++) {
        per_job[j] = cols + i;
        for (int64_t m = 0; m < jobs[j].M; m++, i++) {
            uint8_t *col = data + (size_t)i * per_col;
            cols[i].q = (const int8_t *)col;
            cols[i].d = (const float *)(void *)(col + MM_ALIGN64((size_t)K));
            cols[i].gsum = cols[i].d + nb;
            cols[i].dx = (float *)(void *)(col + MM_ALIGN64((size_t)K) + MM_ALIGN64((size_t)(nb + G) * sizeof(float)));
            xs[i] = jobs[j].xc[m];
            tiled[i] = q8_tiled(kr, jobs[j].M);
        }
    }
    q8_ctx qc = {.kr = kr, .w = w, .x = xs, .cols = cols, .tiled = tiled, .total_m = total_m};
    const int64_t n_tasks = sc__cpu_n_tasks(total_m, 4.0 * (double)K);
    qc.per_task = (total_m + n_tasks - 1) / n_tasks;
    sc__cpu_parallel_for((total_m + qc.per_task - 1) / qc.per_task, q8_task, &qc);
    *mem = p;
    *out = per_job;
    return SC_OK;
}

/* Every column of every job in the table's GEMM form (gemm_prep), in one
 * block of memory: *mem to free, *out [n_jobs] per-job column arrays. */
static int gemm_prepare(const sc_cpu_kernels *kr, const sc_tensor *w, const mm_job *jobs, int64_t n_jobs,
                        int64_t total_m, void **mem, const float *const *const **out) {
    const size_t len = MM_ALIGN64(kr->gemm_prep_len(w->ne[0]) * sizeof(float));
    const size_t head = MM_ALIGN64((size_t)n_jobs * sizeof(float **) + (size_t)total_m * sizeof(float *));
    uint8_t *p = NULL;
    if (posix_memalign((void **)&p, 64, head + (size_t)total_m * len) != 0) return SC_ENOMEM;
    const float ***per_job = (const float ***)(void *)p;
    const float **cols = (const float **)(void *)(p + (size_t)n_jobs * sizeof *per_job);
    int64_t i = 0;
    for (int64_t j = 0; j < n_jobs; j++) { /* [M, K] per job: small next to the GEMM's [N, K] */
        per_job[j] = cols + i;
        for (int64_t m = 0; m < jobs[j].M; m++, i++)
            cols[i] = kr->gemm_prep(w->type, jobs[j].xc[m], w->ne[0], (float *)(void *)(p + head + (size_t)i * len));
    }
    *mem = p;
    *out = (const float *const *const *)per_job;
    return SC_OK;
}

/* Chunk the N rows of every job (n_jobs >= 1) and run all (job, chunk) tasks.
 * total_m: columns over all jobs; max_m: the most columns of one job. */
static int mm_run(const sc_tensor *w, const mm_job *jobs, int64_t n_jobs, int64_t max_m, int64_t total_m,
                  const sc_cpu_mm_plan *plan) {
    const int64_t K = w->ne[0], N = w->ne[1];
    mm_ctx c = {.kr = plan->kr, .w = w, .K = K, .N = N, .jobs = jobs};
    atomic_init(&c.err, SC_OK);
    void *q8_mem = NULL, *xp_mem = NULL;
    if (c.kr->gemm && sc__cpu_is_float(w->type) && max_m >= MM_GEMM_MIN_M) {
        int rc = gemm_prepare(c.kr, w, jobs, n_jobs, total_m, &xp_mem, &c.xp);
        if (rc != SC_OK) return rc;
    }
    if (w->type == SC_TYPE_QG && c.kr->dot_qg_q8 && c.kr->quant_q8 && plan->q8 &&
        sc__cpu_q8_ok(w->quant.bits, w->quant.group_size, w->quant.flags, K)) {
        const sc_cpu_q8 **xq = NULL;
        int rc = q8_prepare(c.kr, w, jobs, n_jobs, total_m, &q8_mem, &xq);
        if (rc != SC_OK) return rc;
        c.xq = xq;
    }
    /* tasks wanted over all jobs from the total work (2*K flops per row and column) */
    const int64_t want = sc__cpu_n_tasks(N * n_jobs, 2.0 * (double)K * (double)total_m / (double)n_jobs);
    const bool tiles = c.xp || (c.xq && q8_tiled(c.kr, max_m));
    int64_t per_job = want / n_jobs;
    if (per_job < 1) per_job = 1;
    int64_t rpt = plan->rows_per_task > 0 ? plan->rows_per_task : (N + per_job - 1) / per_job;
    if (max_m >= MM_BLOCK_MIN_M && !c.xq && !c.xp) { /* bound the dequantised block */
        int64_t cap = MM_SCRATCH_FLOATS / K;
        if (cap < 4) cap = 4;
        if (rpt > cap) rpt = cap;
    }
    if ((tiles || (max_m >= MM_BLOCK_MIN_M && !c.xq)) && rpt > 4) rpt = (rpt + 3) / 4 * 4; /* whole 4-row tiles */
    if (rpt < 1) rpt = 1;
    c.rows_per_task = rpt;
    c.tasks_per_job = (N + rpt - 1) / rpt;
    sc_cpu_mm_last *last = sc__cpu_mm_last(); /* what ran, for tests */
    last->table = c.kr->name;
    last->q8 = c.xq != NULL;
    last->rows_per_task = rpt;
    sc__cpu_parallel_for(n_jobs * c.tasks_per_job, mm_task, &c);
    free(q8_mem);
    free(xp_mem);
    return atomic_load(&c.err);
}

int sc__cpu_fast_mul_mat(sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const int64_t M = x->ne[1], B2 = x->ne[2], B3 = x->ne[3];
    const int64_t r2 = B2 / w->ne[2], r3 = B3 / w->ne[3]; /* broadcast factors */
    const int64_t n_jobs = B2 * B3;
    mm_job *jobs = malloc((size_t)n_jobs * sizeof *jobs);
    const float **xc = malloc((size_t)(n_jobs * M) * sizeof *xc);
    float **yc = malloc((size_t)(n_jobs * M) * sizeof *yc);
    if (!jobs || !xc || !yc) {
        free(jobs);
        free(xc);
        free(yc);
        return SC_ENOMEM;
    }
    for (int64_t i3 = 0; i3 < B3; i3++)
        for (int64_t i2 = 0; i2 < B2; i2++) {
            const int64_t j = i3 * B2 + i2;
            for (int64_t m = 0; m < M; m++) {
                xc[j * M + m] = sc__cpu_row(x, m, i2, i3);
                yc[j * M + m] = sc__cpu_row(node, m, i2, i3);
            }
            jobs[j] = (mm_job){
                .wbase = (const uint8_t *)w->data + (size_t)(i2 / r2) * w->nb[2] + (size_t)(i3 / r3) * w->nb[3],
                .M = M,
                .xc = xc + j * M,
                .yc = yc + j * M,
            };
        }
    sc_cpu_mm_plan plan;
    sc__cpu_mm_plan(node, &plan);
    int rc = mm_run(w, jobs, n_jobs, M, M * n_jobs, &plan);
    free(jobs);
    free(xc);
    free(yc);
    return rc;
}

/* Group the (slot i, token t) pairs by expert, then one job per used expert:
 * a prefill batch multiplies each expert's weights once for all its tokens. */
int sc__cpu_fast_mul_mat_id(sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const int64_t E = w->ne[2], n_used = ids->ne[0], T = ids->ne[1], P = n_used * T;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n_used; i++) {
            int32_t e = sc__cpu_load_i32(ids, i, t);
            if (e < 0 || e >= E) return SC_ERANGE;
        }
    int64_t *start = calloc((size_t)E + 1, sizeof *start); /* [E+1] prefix sums of counts */
    mm_job *jobs = malloc((size_t)E * sizeof *jobs);
    const float **xc = malloc((size_t)P * sizeof *xc);
    float **yc = malloc((size_t)P * sizeof *yc);
    int64_t *fill = calloc((size_t)E, sizeof *fill);
    int rc = SC_ENOMEM;
    if (!start || !jobs || !xc || !yc || !fill) goto done;

    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n_used; i++) start[sc__cpu_load_i32(ids, i, t) + 1]++;
    for (int64_t e = 0; e < E; e++) start[e + 1] += start[e];
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n_used; i++) {
            const int32_t e = sc__cpu_load_i32(ids, i, t);
            const int64_t slot = start[e] + fill[e]++;
            xc[slot] = sc__cpu_row(x, x->ne[1] == 1 ? 0 : i, t, 0);
            yc[slot] = sc__cpu_row(node, i, t, 0);
        }
    int64_t n_jobs = 0, max_m = 0;
    for (int64_t e = 0; e < E; e++) {
        const int64_t M = start[e + 1] - start[e];
        if (M == 0) continue;
        jobs[n_jobs++] = (mm_job){
            .wbase = (const uint8_t *)w->data + (size_t)e * w->nb[2],
            .M = M,
            .xc = xc + start[e],
            .yc = yc + start[e],
        };
        if (M > max_m) max_m = M;
    }
    sc_cpu_mm_plan plan;
    sc__cpu_mm_plan(node, &plan);
    rc = n_jobs ? mm_run(w, jobs, n_jobs, max_m, P, &plan) : SC_OK;
done:
    free(start);
    free(jobs);
    free(xc);
    free(yc);
    free(fill);
    return rc;
}
