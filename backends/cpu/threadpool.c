/*
 * backends/cpu/threadpool.c - persistent worker threads and a parallel-for.
 *
 * One process-wide pool. A parallel-for publishes a job (function, context,
 * task count) as a new "generation" and works on it itself; tasks are handed
 * out dynamically through an atomic counter, so uneven tasks balance. The
 * caller returns once every worker has reported back for that generation, so
 * a job never outlives its stack context.
 *
 * Waiting is spin-then-sleep: a decode step runs hundreds of small parallel
 * regions back to back, and a condition-variable round trip per region
 * (tens of microseconds) would cost more than the work. Workers poll the
 * generation for a while (yielding now and then, so an oversubscribed
 * machine still makes progress) and only then sleep on `wake`; the caller
 * polls `busy` the same way before sleeping on `done`.
 *
 * Regions are serialised (one job at a time); a parallel-for issued from
 * inside a task runs serially on that thread instead of deadlocking.
 * Per-thread scratch memory hangs off a pthread key and is freed when its
 * thread exits.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu_impl.h"

#define SC_CPU_MAX_THREADS 256
/* Below this much work (in rough flops) a parallel region costs more than it saves. */
#define SC_CPU_MIN_PARALLEL_WORK 32768.0
#define SC_CPU_MIN_TASK_WORK 8192.0
/* Polls before sleeping (~0.1-1 ms), and a sched_yield every so many polls. */
#define SC_CPU_SPIN 20000
#define SC_CPU_SPIN_YIELD 256

#if SC_CPU_X86
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

static struct {
    pthread_mutex_t region; /* held by the thread running a parallel region */
    pthread_mutex_t lock;   /* sleeping and waking; guards want/started/n_workers */
    pthread_cond_t wake;    /* workers sleep here for a new generation or stop */
    pthread_cond_t done;    /* the caller sleeps here until busy reaches 0 */
    int want;               /* sc_cpu_set_threads value; 0 = one per online core */
    bool started;
    int n_workers;          /* threads besides the caller */
    pthread_t th[SC_CPU_MAX_THREADS];
    /* the current job: written by the caller before it bumps `gen` */
    sc_cpu_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_uint_fast64_t gen; /* bumped (release) to publish a job */
    atomic_bool stop;
    atomic_int busy;          /* workers still in the current generation */
    atomic_int sleepers;      /* workers asleep (or about to be) on `wake` */
    atomic_llong next;        /* next task index to hand out */
} pool = {
    .region = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* True on pool workers and on a caller inside its region: nested regions run serially. */
static _Thread_local bool in_region;

static void run_tasks(sc_cpu_task_fn fn, void *ctx, int64_t n) {
    for (;;) {
        int64_t i = (int64_t)atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (i >= n) break;
        fn(ctx, i);
    }
}

static void spin_pause(int i) {
    if (i % SC_CPU_SPIN_YIELD == SC_CPU_SPIN_YIELD - 1) sched_yield();
    else cpu_relax();
}

/* Wait until the generation moves past `seen` or the pool stops. */
static uint64_t wait_for_job(uint64_t seen) {
    for (int i = 0; i < SC_CPU_SPIN; i++) {
        uint64_t g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        if (g != seen || atomic_load(&pool.stop)) return g;
        spin_pause(i);
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleepers, 1); /* seq_cst: pairs with the caller's gen store + sleepers load */
    while (atomic_load(&pool.gen) == seen && !atomic_load(&pool.stop)) pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.lock);
    return atomic_load_explicit(&pool.gen, memory_order_acquire);
}

static void *worker_main(void *arg) {
    uint64_t seen = (uint64_t)(uintptr_t)arg; /* the generation current at creation */
    in_region = true;
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load(&pool.stop)) break;
        run_tasks(pool.fn, pool.ctx, pool.n_tasks); /* published before gen (acquire above) */
        if (atomic_fetch_sub(&pool.busy, 1) == 1) { /* the last one out wakes a sleeping caller */
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

/* Read once: glibc's sysconf(_SC_NPROCESSORS_ONLN) opens and parses
 * /sys/devices/system/cpu/online on every call (~10 us), and every matmul of
 * a decode step asks for the thread count. CPUs hot-plugged later are not
 * seen (sc_cpu_set_threads still sets any count). */
static int online_cores(void) {
    static atomic_int cached;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c > 0) return c;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c = n < 1 ? 1 : n > SC_CPU_MAX_THREADS ? SC_CPU_MAX_THREADS : (int)n;
    atomic_store_explicit(&cached, c, memory_order_relaxed);
    return c;
}

int sc__cpu_n_threads(void) {
    pthread_mutex_lock(&pool.lock);
    int want = pool.want;
    pthread_mutex_unlock(&pool.lock);
    return want > 0 ? want : online_cores();
}

/* After fork() the child has none of the parent's workers: forget them, so
 * the child's first parallel-for starts its own (a server may daemonise
 * after loading a model). Locks are re-made in case another thread held one. */
static void child_after_fork(void) {
    pthread_mutex_init(&pool.region, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.started = false;
    pool.n_workers = 0;
    atomic_store(&pool.busy, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.stop, false);
    in_region = false;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, child_after_fork); }

/* Called with pool.region held. A failed pthread_create leaves fewer workers. */
static void ensure_started(void) {
    if (pool.started) return;
    pthread_once(&atfork_once, register_atfork);
    int n = sc__cpu_n_threads();
    uint64_t gen = atomic_load(&pool.gen);
    int made = 0;
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&pool.th[made], NULL, worker_main, (void *)(uintptr_t)gen) != 0) break;
        made++;
    }
    pool.n_workers = made;
    pool.started = true;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, true);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.n_workers; i++) pthread_join(pool.th[i], NULL);
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, false);
    pool.n_workers = 0;
    pool.started = false;
    pthread_mutex_unlock(&pool.lock);
}

void sc_cpu_set_threads(int n_threads) {
    if (in_region) return; /* from inside a task: the running region owns the pool */
    if (n_threads < 0) n_threads = 0;
    if (n_threads > SC_CPU_MAX_THREADS) n_threads = SC_CPU_MAX_THREADS;
    pthread_mutex_lock(&pool.region);
    stop_workers(); /* restarted lazily with the new count */
    pthread_mutex_lock(&pool.lock);
    pool.want = n_threads;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.region);
}

void sc__cpu_parallel_for(int64_t n_tasks, sc_cpu_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || in_region) {
        for (int64_t i = 0; i < n_tasks; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&pool.region);
    ensure_started();
    if (pool.n_workers == 0) {
        pthread_mutex_unlock(&pool.region);
        for (int64_t i = 0; i < n_tasks; i++) fn(ctx, i);
        return;
    }
    in_region = true;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.busy, pool.n_workers, memory_order_relaxed);
    atomic_fetch_add(&pool.gen, 1); /* seq_cst: publishes the job, then the sleepers check */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    run_tasks(fn, ctx, n_tasks);

    bool finished = false;
    for (int i = 0; i < SC_CPU_SPIN && !finished; i++) {
        finished = atomic_load_explicit(&pool.busy, memory_order_acquire) == 0;
        if (!finished) spin_pause(i);
    }
    if (!finished) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.busy) > 0) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    in_region = false;
    pthread_mutex_unlock(&pool.region);
}

int64_t sc__cpu_n_tasks(int64_t n_items, double cost_per_item) {
    const int nt = sc__cpu_n_threads();
    const double total = (double)n_items * cost_per_item;
    if (nt <= 1 || n_items <= 1 || total < SC_CPU_MIN_PARALLEL_WORK) return 1;
    int64_t tasks = (int64_t)nt * 4; /* a few per thread so dynamic hand-out can balance */
    int64_t by_work = (int64_t)(total / SC_CPU_MIN_TASK_WORK);
    if (tasks > by_work) tasks = by_work;
    if (tasks > n_items) tasks = n_items;
    return tasks < 1 ? 1 : tasks;
}

typedef struct rows_ctx {
    int64_t ne1, ne2, n_rows, per_task;
    sc_cpu_row_fn fn;
    void *ctx;
} rows_ctx;

static void rows_task(void *vctx, int64_t task) {
    const rows_ctx *c = vctx;
    const int64_t r0 = task * c->per_task;
    const int64_t r1 = r0 + c->per_task < c->n_rows ? r0 + c->per_task : c->n_rows;
    for (int64_t r = r0; r < r1; r++) c->fn(c->ctx, r % c->ne1, (r / c->ne1) % c->ne2, r / (c->ne1 * c->ne2));
}

void sc__cpu_parallel_rows(const sc_tensor *shape, double cost_per_row, sc_cpu_row_fn fn, void *ctx) {
    rows_ctx c = {.ne1 = shape->ne[1], .ne2 = shape->ne[2], .fn = fn, .ctx = ctx};
    c.n_rows = shape->ne[1] * shape->ne[2] * shape->ne[3];
    const int64_t tasks = sc__cpu_n_tasks(c.n_rows, cost_per_row);
    c.per_task = (c.n_rows + tasks - 1) / tasks;
    sc__cpu_parallel_for((c.n_rows + c.per_task - 1) / c.per_task, rows_task, &c);
}

/* ---- per-thread scratch ------------------------------------------------ */

typedef struct scratch_set {
    void *p[SC_CPU_SCRATCH_SLOTS];
    size_t n[SC_CPU_SCRATCH_SLOTS];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_free(void *p) {
    scratch_set *s = p;
    for (int i = 0; i < SC_CPU_SCRATCH_SLOTS; i++) free(s->p[i]);
    free(s);
}

static void scratch_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

void *sc__cpu_scratch(int slot, size_t bytes) {
    if (slot < 0 || slot >= SC_CPU_SCRATCH_SLOTS) return NULL;
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok) return NULL;
    scratch_set *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->n[slot] < bytes || !s->p[slot]) {
        free(s->p[slot]);
        s->p[slot] = NULL;
        s->n[slot] = 0;
        size_t want = bytes < 4096 ? 4096 : bytes + bytes / 4; /* grow with headroom */
        void *p = NULL;
        if (posix_memalign(&p, 64, want) != 0) return NULL;
        s->p[slot] = p;
        s->n[slot] = want;
    }
    return s->p[slot];
}
