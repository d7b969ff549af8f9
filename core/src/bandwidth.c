/*
 * core/src/bandwidth.c - the CPU memory read probe.
 *
 * Decode at batch 1 reads every weight once per token, so tok/s times the
 * bytes read per token is an achieved bandwidth, and this probe is what it is
 * compared with. The probe does the same kind of work: each thread streams a
 * contiguous slice once, read-only, summing 64 bytes per iteration into
 * independent accumulators (so the adds never wait on each other and the
 * loads stay in flight), and the sum is kept so the reads cannot be
 * optimised away. Threads start together on a signal; a run lasts from the
 * signal to the last thread's finish.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "strixcore/bandwidth.h"

#define BW_MAX_THREADS 256

typedef uint64_t v2u64 __attribute__((vector_size(16)));

/* Start line: threads wait until go is 1 (run) or -1 (abandon: a thread
 * could not be created). */
typedef struct bw_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
} bw_sync;

typedef struct bw_job {
    const unsigned char *base;
    size_t len;                 /* bytes, a multiple of 64 */
    bw_sync *sync;
    uint64_t sum;
    double t_end;
    bool fill;                  /* first touch: write instead of read */
} bw_job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *bw_thread(void *arg) {
    bw_job *j = arg;
    int go;
    pthread_mutex_lock(&j->sync->mu);
    while (j->sync->go == 0)
        pthread_cond_wait(&j->sync->cv, &j->sync->mu);
    go = j->sync->go;
    pthread_mutex_unlock(&j->sync->mu);
    if (go < 0)
        return NULL;
    if (j->fill) {
        /* pages are faulted in by the thread that later reads them */
        memset((void *)(uintptr_t)j->base, 1, j->len);
    } else {
        const v2u64 *p = (const v2u64 *)(const void *)j->base;
        const size_t n = j->len / sizeof(v2u64);
        v2u64 a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0};
        /* hot loop: 64 bytes per iteration, four independent sums */
        for (size_t i = 0; i < n; i += 4) {
            a0 += p[i];
            a1 += p[i + 1];
            a2 += p[i + 2];
            a3 += p[i + 3];
        }
        a0 += a1 + a2 + a3;
        j->sum = a0[0] + a0[1];
    }
    j->t_end = now_s();
    return NULL;
}

/* One pass of every thread over its slice; seconds from start to the last finish. */
static int bw_pass(bw_job *jobs, int nt, bool fill, double *secs) {
    pthread_t th[BW_MAX_THREADS];
    bw_sync sync = {.go = 0};
    double t0, t_end = 0.0;
    int started = 0;
    pthread_mutex_init(&sync.mu, NULL);
    pthread_cond_init(&sync.cv, NULL);
    for (int i = 0; i < nt; i++) {
        jobs[i].sync = &sync;
        jobs[i].fill = fill;
    }
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, bw_thread, &jobs[started]) != 0)
            break;
    pthread_mutex_lock(&sync.mu);
    sync.go = started == nt ? 1 : -1;
    pthread_cond_broadcast(&sync.cv);
    pthread_mutex_unlock(&sync.mu);
    t0 = now_s();
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        t_end = SC_MAX(t_end, jobs[i].t_end);
    }
    *secs = t_end - t0;
    pthread_cond_destroy(&sync.cv);
    pthread_mutex_destroy(&sync.mu);
    return started == nt ? SC_OK : SC_ENOMEM;
}

int sc_mem_read_bandwidth(size_t bytes, int n_threads, int runs, sc_bw_probe *out) {
    unsigned char *buf;
    bw_job *jobs;
    size_t slice;
    double best = 0.0, total = 0.0;
    int rc = SC_OK;
    uint64_t sink = 0;

    if (!out)
        return SC_EINVAL;
    memset(out, 0, sizeof(*out));
    if (bytes == 0)
        bytes = (size_t)1 << 30;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    n_threads = SC_MIN(n_threads, BW_MAX_THREADS);
    if (runs <= 0)
        runs = 5;
    slice = bytes / (size_t)n_threads / 64 * 64;
    if (slice == 0)
        return SC_EINVAL;
    bytes = slice * (size_t)n_threads;
    buf = aligned_alloc(64, bytes);
    jobs = calloc((size_t)n_threads, sizeof(*jobs));
    if (!buf || !jobs) {
        free(buf);
        free(jobs);
        return SC_ENOMEM;
    }
    for (int i = 0; i < n_threads; i++) {
        jobs[i].base = buf + (size_t)i * slice;
        jobs[i].len = slice;
    }
    {
        double s;
        rc = bw_pass(jobs, n_threads, true, &s);
    }
    for (int r = 0; rc == SC_OK && r < runs; r++) {
        double s = 0.0, gbps;
        if ((rc = bw_pass(jobs, n_threads, false, &s)) < 0)
            break;
        for (int i = 0; i < n_threads; i++)
            sink += jobs[i].sum;
        gbps = s > 0.0 ? (double)bytes / s * 1e-9 : 0.0;
        best = SC_MAX(best, gbps);
        total += gbps;
    }
    /* every byte was 1: the sum proves the whole buffer was read */
    if (rc == SC_OK && sink != (uint64_t)runs * (bytes / 8) * 0x0101010101010101ull)
        rc = SC_EBACKEND;
    if (rc == SC_OK) {
        out->gbps = best;
        out->mean_gbps = total / runs;
        out->bytes = bytes;
        out->threads = n_threads;
        out->runs = runs;
    }
    free(buf);
    free(jobs);
    return rc;
}

/* ---- a device's read rate ---------------------------------------------------
 * GPUs: BW_PASSES independent ARGMAX nodes over one [65536, rows] f32
 * matrix on the device (256 KiB rows: long streams per workgroup), one graph
 * computed through the scheduler like any other. Each reads every byte once
 * and writes 4 bytes per row, so the graph's time is BW_PASSES reads of the
 * buffer: the same kind of work as batch-1 decode, with the submission and
 * wait overhead of one graph spread over several reads (the buffer is far
 * larger than any GPU cache, so a pass does not hit what the last read). The
 * matrix holds random bits (not zeros: some GPUs compress uniform memory),
 * and the best of `runs` timed runs (after one untimed) is the figure. */
#define BW_ROW 65536
#define BW_PASSES 4

int sc_device_read_bandwidth(sc_device_t *dev, size_t bytes, int runs, sc_bw_probe *out) {
    sc_device_props props = {.struct_size = sizeof props};
    if (!dev || !out) return SC_EINVAL;
    memset(out, 0, sizeof *out);
    if (sc_device_get_props(dev, &props) == SC_OK && props.type == SC_DEVICE_CPU)
        return sc_mem_read_bandwidth(bytes, 0, runs, out);
    if (bytes == 0) bytes = (size_t)1 << 30;
    if (runs <= 0) runs = 5;
    int64_t rows = (int64_t)(bytes / (BW_ROW * sizeof(float)));
    if (rows < 1) rows = 1;
    sc_ctx_t *ctx = sc_ctx_create(1 + BW_PASSES);
    sc_graph_t *g = sc_graph_create(4);
    sc_sched_t *s = NULL;
    sc_buffer_t *buf = NULL;
    uint32_t *chunk = NULL;
    int rc = ctx && g ? SC_OK : SC_ENOMEM;
    sc_tensor *x = rc == SC_OK ? sc_new_tensor_2d(ctx, SC_TYPE_F32, BW_ROW, rows) : NULL;
    sc_tensor *y[BW_PASSES] = {0};
    for (int i = 0; i < BW_PASSES && x; i++) y[i] = sc_argmax(ctx, x);
    if (rc == SC_OK && (!x || !y[BW_PASSES - 1])) rc = sc_ctx_error(ctx) ? sc_ctx_error(ctx) : SC_EINVAL;
    if (rc == SC_OK && !sc_device_supports_op(dev, y[0])) rc = SC_ENOTSUP;
    if (rc == SC_OK) rc = sc_alloc_tensors(dev, &x, 1, &buf);
    /* random bits, 64 MiB at a time; NaN patterns are fine for ARGMAX */
    const size_t cbytes = (size_t)64 << 20, total = (size_t)rows * BW_ROW * sizeof(float);
    if (rc == SC_OK && !(chunk = malloc(cbytes))) rc = SC_ENOMEM;
    uint64_t z = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; rc == SC_OK && i < cbytes / sizeof *chunk; i++) {
        z += 0x9E3779B97F4A7C15ull;
        uint64_t v = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
        chunk[i] = (uint32_t)(v >> 32) & 0x3fffffffu; /* finite, positive floats */
    }
    for (size_t off = 0; rc == SC_OK && off < total; off += cbytes)
        rc = sc_tensor_set(x, chunk, off, total - off < cbytes ? total - off : cbytes);
    for (int i = 0; i < BW_PASSES && rc == SC_OK; i++) {
        y[i]->flags |= SC_TENSOR_OUTPUT;
        rc = sc_graph_expand(g, y[i]);
    }
    if (rc == SC_OK) rc = sc_sched_create(&dev, 1, &s);
    double best = 0, sum = 0;
    for (int r = -1; rc == SC_OK && r < runs; r++) {
        double t0 = now_s();
        rc = sc_sched_compute(s, g);
        double dt = now_s() - t0;
        if (rc == SC_OK && r >= 0 && dt > 0) {
            double gbps = (double)total * BW_PASSES / dt * 1e-9;
            best = gbps > best ? gbps : best;
            sum += gbps;
        }
    }
    if (rc == SC_OK) {
        out->gbps = best;
        out->mean_gbps = sum / runs;
        out->bytes = total;
        out->threads = 0;
        out->runs = runs;
    }
    free(chunk);
    sc_sched_destroy(s);
    sc_buffer_destroy(buf);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
    return rc;
}

int sc_device_op_latency(sc_device_t *dev, int chain, double *us_per_op) {
    if (!dev || !us_per_op) return SC_EINVAL;
    *us_per_op = 0;
    if (chain <= 0) chain = 256;
    if (chain > 4096) return SC_EINVAL;
    sc_ctx_t *ctx = sc_ctx_create(chain + 1);
    sc_graph_t *g = sc_graph_create(chain + 1);
    sc_sched_t *s = NULL;
    sc_buffer_t *buf = NULL;
    int rc = ctx && g ? SC_OK : SC_ENOMEM;
    sc_tensor *x = rc == SC_OK ? sc_new_tensor_1d(ctx, SC_TYPE_F32, 1024) : NULL, *y = x;
    for (int i = 0; i < chain && y; i++) y = sc_scale(ctx, y, 1.0f);
    if (rc == SC_OK && (!x || !y)) rc = sc_ctx_error(ctx) ? sc_ctx_error(ctx) : SC_EINVAL;
    if (rc == SC_OK && !sc_device_supports_op(dev, y)) rc = SC_ENOTSUP;
    if (rc == SC_OK) rc = sc_alloc_tensors(dev, &x, 1, &buf);
    float ones[1024];
    for (int i = 0; i < 1024; i++) ones[i] = 1.0f;
    if (rc == SC_OK) rc = sc_tensor_set(x, ones, 0, sizeof ones);
    if (rc == SC_OK) {
        y->flags |= SC_TENSOR_OUTPUT;
        rc = sc_graph_expand(g, y);
    }
    if (rc == SC_OK) rc = sc_sched_create(&dev, 1, &s);
    double best = 0;
    for (int r = -1; rc == SC_OK && r < 5; r++) {
        double t0 = now_s();
        rc = sc_sched_compute(s, g);
        double dt = now_s() - t0;
        if (rc == SC_OK && r >= 0 && (best == 0 || dt < best)) best = dt;
    }
    if (rc == SC_OK) *us_per_op = best * 1e6 / chain;
    sc_sched_destroy(s);
    sc_buffer_destroy(buf);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
    return rc;
}
