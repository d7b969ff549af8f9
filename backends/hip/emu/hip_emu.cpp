/*
 * backends/hip/emu/hip_emu.cpp - runtime of the EMU target of kernels/sc_hip.h:
 * runs kernels/<family>.hip compiled as host C++ (-DSC_HIP_EMU, see sc_hip_emu.h) so
 * CI without a GPU executes every kernel. Linked with the kernels into
 * libstrixcore-hip-emu.so; the HIP plugin reaches the C API at the bottom of
 * this file through dlopen/dlsym.
 *
 * Design:
 *   - A launch hands out its blocks, in order, to a small pool of host threads
 *     (SC_HIP_EMU_THREADS, default min(nproc, 4); 1 = serial). The calling
 *     thread is one of them. The launch returns when every block is done.
 *   - A host thread runs one block at a time: every GPU thread is a fiber with
 *     its own 64 KiB stack (with a guard page), allocated once per host
 *     thread and reused across blocks and launches. Fibers switch
 *     cooperatively: one runs until it reaches a sync point (__syncthreads, a
 *     shuffle) or returns, then the next ready fiber of the block runs, round
 *     robin. The last thread to reach a barrier releases it and goes on.
 *   - The switch is ~20 lines of x86-64 asm (callee-saved registers, MXCSR and
 *     the x87 control word); other architectures use <ucontext.h>. Under
 *     AddressSanitizer every switch is announced with
 *     __sanitizer_start/finish_switch_fiber.
 *   - Sync points: __syncthreads waits for every thread of the block that has
 *     not returned. A shuffle is a rendezvous of the warp's live lanes (the
 *     32 consecutive linear thread ids): each lane writes its value into the
 *     warp's exchange buffer, waits until all live lanes have written, then
 *     reads. The buffer is double-buffered by rendezvous generation, which
 *     does what a second rendezvous after the read would do (no lane can
 *     write generation g+2 before every lane has read g) at half the switches.
 *   - When no fiber of a block can run and some have not returned, lanes of
 *     one warp wait at different kinds of sync point (the only way to get
 *     there); the launch fails with a "divergent sync" error, the abandoned
 *     fibers are dropped and the next launch starts clean.
 *
 * Not emulated: the GPU's weak memory model, timing, dynamic shared memory,
 * warp sizes other than 32. Nothing here calls abort() or exit(), and no
 * global constructor runs besides the kernels' registry nodes.
 */
#include "sc_hip_emu.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) && !defined(SC_HIP_EMU_UCONTEXT)
#define SC_EMU_ASM_SWITCH 1
#else
#define SC_EMU_ASM_SWITCH 0
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SC_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SC_EMU_ASAN 1
#endif
#endif
#ifndef SC_EMU_ASAN
#define SC_EMU_ASAN 0
#endif
#if SC_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
/* For the two functions at the bottom of every fiber, which never return:
 * no redzones left poisoned on a stack that is reused, no frames left
 * allocated in ASan's fake stack. */
#define SC_EMU_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define SC_EMU_NO_ASAN
#endif

#define SC_EMU_API extern "C" __attribute__((visibility("default")))

enum {
    MAX_THREADS = 1024, /* a block, as on every GPU we target */
    WARP = 32,
    MAX_WARPS = MAX_THREADS / WARP,
    STACK_SIZE = 64 * 1024,
    MAX_ARGS = 4096, /* CUDA's kernel parameter limit */
    MAX_HOST_THREADS = 64,
    MSG_LEN = 256,
};

/* fiber states */
enum { F_READY, F_BAR, F_WARP, F_DONE };

/* ---- context switch ------------------------------------------------------- */
#if SC_EMU_ASM_SWITCH
struct Ctx {
    void *sp;
};
/* sc_emu_ctx_swap(save, load): push the callee-saved registers, MXCSR and the
 * x87 control word (the ABI says they are preserved across calls), store rsp
 * in *save, load rsp = load, pop the same and return into the other context. */
extern "C" SC_EMU_HIDDEN void sc_emu_ctx_swap(void **save, void *load);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl sc_emu_ctx_swap\n"
        ".hidden sc_emu_ctx_swap\n"
        ".type sc_emu_ctx_swap,@function\n"
        "sc_emu_ctx_swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $16, %rsp\n"
        "  stmxcsr 8(%rsp)\n"
        "  fnstcw (%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr 8(%rsp)\n"
        "  fldcw (%rsp)\n"
        "  addq $16, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size sc_emu_ctx_swap,.-sc_emu_ctx_swap\n");

static inline void ctx_swap(Ctx *from, Ctx *to) { sc_emu_ctx_swap(&from->sp, to->sp); }

/* A fresh context that "returns" into fn with rsp % 16 == 8, as after a call;
 * fn must never return (its own return address is 0). The FP control state
 * is the current thread's, as a new thread would inherit it. */
static bool ctx_make(Ctx *c, char *lo, size_t size, void (*fn)(void)) {
    uint64_t *top = (uint64_t *)(void *)(lo + size); /* 16-byte aligned */
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    top[-1] = 0;               /* fn's return address */
    top[-2] = (uint64_t)fn;    /* where the swap's ret goes */
    for (int i = 3; i <= 8; i++) top[-i] = 0; /* rbp rbx r12 r13 r14 r15 */
    top[-9] = mxcsr;
    top[-10] = fpucw;
    c->sp = &top[-10];
    return true;
}
#else
struct Ctx {
    ucontext_t uc;
};
static inline void ctx_swap(Ctx *from, Ctx *to) { swapcontext(&from->uc, &to->uc); }
static bool ctx_make(Ctx *c, char *lo, size_t size, void (*fn)(void)) {
    if (getcontext(&c->uc) != 0) return false;
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, fn, 0);
    return true;
}
#endif

/* ---- per host thread state ---------------------------------------------------- */
struct Fiber {
    sc_emu_ids ids; /* what threadIdx & co read (sc_emu_cur points here) */
    Ctx ctx;
    char *stack; /* lowest byte of its STACK_SIZE bytes */
    unsigned lin; /* linear thread id in the block */
    unsigned char state;
#if SC_EMU_ASAN
    /* ASan's fake stack (detect_stack_use_after_return) of this fiber, kept
     * from one thread to the next: making a new one per GPU thread costs an
     * mmap and munmap each */
    void *fake;
    bool stale; /* abandoned in a failed launch: frames left on its stacks */
#endif
};

struct Warp {
    unsigned alive;   /* lanes that exist and have not returned */
    unsigned arrived; /* lanes waiting at the current rendezvous */
    unsigned gen;     /* rendezvous generation; selects the buffer */
    uint32_t mask[2]; /* lanes that wrote buffer g in its generation */
    uint32_t val[2][WARP];
    unsigned short wait[WARP]; /* fibers waiting, in arrival order */
};

struct Job;

struct Slot {
    Fiber fib[MAX_THREADS];
    Warp warp[MAX_WARPS];
    unsigned short rq[MAX_THREADS]; /* ready ring: each fiber at most once */
    unsigned rq_head, rq_n;
    unsigned short bar[MAX_THREADS]; /* fibers waiting at __syncthreads */
    unsigned bar_n;
    unsigned n, alive; /* threads in the block, not yet returned */
    Fiber *cur;
    Ctx main; /* the host thread's own context, running block_run */
    char *stacks;
    size_t stacks_len, stride;
    unsigned guarded; /* fibers with stack + guard page set up */
    const Job *job;
    int err; /* deadlock seen in the current block */
    char msg[MSG_LEN];
#if SC_EMU_ASAN
    const void *main_lo; /* the main context's stack, learned at the first switch */
    size_t main_size;
    void *main_fake;
    bool from_main;
    bool dirty; /* fibers were abandoned (deadlock) */
#endif
};

struct Job {
    const sc_emu_kernel_reg *k;
    const void *args;
    unsigned grid[3], block[3], n;
    uint64_t nblocks;
    uint64_t next; /* atomic: next block to hand out */
    int failed;    /* atomic: stop handing out blocks */
    int rc;        /* first error (under g_mu) */
    char msg[MSG_LEN];
};

/* The fiber running on this host thread. Defined here, declared in the header. */
__thread const sc_emu_ids *sc_emu_cur = nullptr;
static __thread Slot *tl_slot = nullptr;

static void fiber_main(void);

/* ---- scheduling --------------------------------------------------------------- */
static inline void rq_push(Slot *s, unsigned i) {
    s->rq[(s->rq_head + s->rq_n++) % MAX_THREADS] = (unsigned short)i;
}

static void bar_release(Slot *s) {
    for (unsigned i = 0; i < s->bar_n; i++) {
        s->fib[s->bar[i]].state = F_READY;
        rq_push(s, s->bar[i]);
    }
    s->bar_n = 0;
}

static void warp_release(Slot *s, Warp *w) {
    for (unsigned i = 0; i < w->arrived; i++) {
        s->fib[w->wait[i]].state = F_READY;
        rq_push(s, w->wait[i]);
    }
    w->arrived = 0;
    w->gen++;
    /* every live lane has read generation gen-2 (it had to, to get here) */
    w->mask[w->gen & 1] = 0;
}

static void set_msg(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(char *dst, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, MSG_LEN, fmt, ap);
    va_end(ap);
}

/* No fiber can run but some have not returned. Every live lane of a warp
 * waiting at a shuffle would have completed it, and all live threads at
 * __syncthreads would have released it: so some warp has lanes at both. */
static void deadlock(Slot *s) {
    const sc_emu_uint3 b = s->fib[0].ids.bid;
    s->err = -EDEADLK;
#if SC_EMU_ASAN
    s->dirty = true;
#endif
    for (unsigned w = 0; w * WARP < s->n; w++) {
        int at_shfl = -1, at_bar = -1;
        for (unsigned i = w * WARP; i < s->n && i < (w + 1) * WARP; i++) {
            if (s->fib[i].state == F_WARP && at_shfl < 0) at_shfl = (int)(i - w * WARP);
            if (s->fib[i].state == F_BAR && at_bar < 0) at_bar = (int)(i - w * WARP);
        }
        if (at_shfl >= 0 && at_bar >= 0) {
            set_msg(s->msg,
                    "kernel %s: divergent sync in block (%u,%u,%u), warp %u: lane %d waits at a warp shuffle, "
                    "lane %d at __syncthreads",
                    s->job->k->name, b.x, b.y, b.z, w, at_shfl, at_bar);
            return;
        }
    }
    set_msg(s->msg, "kernel %s: block (%u,%u,%u) deadlocked (%u of %u threads waiting)", s->job->k->name, b.x, b.y,
            b.z, s->alive, s->n);
}

/* The next fiber to run, or nullptr for the block's main context (all done,
 * or deadlock, recorded in s->err). */
static Fiber *pick_next(Slot *s) {
    if (s->rq_n) {
        Fiber *f = &s->fib[s->rq[s->rq_head]];
        s->rq_head = (s->rq_head + 1) % MAX_THREADS;
        s->rq_n--;
        return f;
    }
    if (s->alive) deadlock(s);
    return nullptr;
}

/* Switch from the running context (fake: where its ASan fake stack is kept)
 * to `to`, announcing it to ASan; returns when someone switches back. */
static void switch_to(Ctx *from, void **fake, Ctx *to, const void *to_lo, size_t to_size) {
#if SC_EMU_ASAN
    __sanitizer_start_switch_fiber(fake, to_lo, to_size);
    ctx_swap(from, to);
    __sanitizer_finish_switch_fiber(*fake, nullptr, nullptr);
#else
    (void)fake;
    (void)to_lo;
    (void)to_size;
    ctx_swap(from, to);
#endif
}

#if SC_EMU_ASAN
#define FAKE(x) (&(x)->fake)
#define MAIN_STACK(s) (s)->main_lo, (s)->main_size
#define FAKE_MAIN(s) (&(s)->main_fake)
#else
#define FAKE_MAIN(s) nullptr
#define FAKE(x) nullptr
#define MAIN_STACK(s) nullptr, 0
#endif

/* The running fiber waits (its state is set): run the next one. */
static void wait_here(Slot *s, Fiber *me) {
    Fiber *next = pick_next(s);
    if (next) {
        s->cur = next;
        sc_emu_cur = &next->ids;
        switch_to(&me->ctx, FAKE(me), &next->ctx, next->stack, STACK_SIZE);
    } else {
        switch_to(&me->ctx, FAKE(me), &s->main, MAIN_STACK(s)); /* deadlock: never comes back */
    }
}

[[noreturn]] SC_EMU_NO_ASAN static void fiber_exit(Slot *s) {
    Fiber *me = s->cur;
    Warp *w = &s->warp[me->lin / WARP];
    me->state = F_DONE;
    s->alive--;
    w->alive--;
    /* the returned thread no longer counts at its warp's rendezvous and at
     * the barrier: they may be complete now */
    if (w->arrived && w->arrived == w->alive) warp_release(s, w);
    if (s->bar_n && s->bar_n == s->alive) bar_release(s);
    Fiber *next = pick_next(s);
    Ctx *to = next ? &next->ctx : &s->main;
#if SC_EMU_ASAN
    /* keep the fake stack for the next thread on this fiber (all its frames
     * were freed as the kernel returned) */
    __sanitizer_start_switch_fiber(&me->fake, next ? (const void *)next->stack : s->main_lo,
                                   next ? (size_t)STACK_SIZE : s->main_size);
#endif
    if (next) {
        s->cur = next;
        sc_emu_cur = &next->ids;
    }
    ctx_swap(&me->ctx, to);
    __builtin_unreachable(); /* nobody switches to a finished fiber */
}

SC_EMU_NO_ASAN static void fiber_main(void) {
    Slot *s = tl_slot;
#if SC_EMU_ASAN
    Fiber *me = s->cur;
    const void *from_lo = nullptr;
    size_t from_size = 0;
    __sanitizer_finish_switch_fiber(me->fake, &from_lo, &from_size);
    if (s->from_main) { /* the first fiber of a block is entered from the main context */
        s->main_lo = from_lo;
        s->main_size = from_size;
        s->from_main = false;
    }
    if (me->stale) { /* let ASan collect the fake frames of the abandoned thread */
        __asan_handle_no_return();
        me->stale = false;
    }
#endif
    s->job->k->thunk(s->job->args);
    fiber_exit(s);
}

/* ---- what the kernels call ------------------------------------------------------- */
extern "C" void sc_emu_syncthreads(void) {
    Slot *s = tl_slot;
    Fiber *me = s->cur;
    if (s->bar_n + 1 >= s->alive) { /* the last one: release the others and go on */
        bar_release(s);
        return;
    }
    me->state = F_BAR;
    s->bar[s->bar_n++] = (unsigned short)me->lin;
    wait_here(s, me);
}

extern "C" uint32_t sc_emu_shfl(uint32_t v, int arg, int xor_mode) {
    Slot *s = tl_slot;
    Fiber *me = s->cur;
    unsigned lane = me->lin % WARP;
    Warp *w = &s->warp[me->lin / WARP];
    unsigned g = w->gen & 1;
    w->val[g][lane] = v;
    w->mask[g] |= 1u << lane;
    if (w->arrived + 1 >= w->alive) {
        warp_release(s, w);
    } else {
        me->state = F_WARP;
        w->wait[w->arrived++] = (unsigned short)me->lin;
        wait_here(s, me);
    }
    /* xor beyond the warp reads the own value (as CUDA and HIP do); an index
     * wraps modulo 32; a lane that did not take part (returned, or beyond the
     * block) reads as 0 */
    unsigned src = xor_mode ? lane ^ (unsigned)arg : (unsigned)arg % WARP;
    if (src >= WARP) src = lane;
    return (w->mask[g] >> src & 1u) ? w->val[g][src] : 0u;
}

/* ---- kernel registry (filled by the kernels' constructors, then read-only) --------- */
static sc_emu_kernel_reg *g_kernels = nullptr;
static sc_emu_kernel_reg **g_kernels_tail = &g_kernels;

extern "C" void sc_emu_register(sc_emu_kernel_reg *r) {
    for (sc_emu_kernel_reg *o = g_kernels; o; o = o->next)
        if (strcmp(o->name, r->name) == 0) o->dup = r->dup = 1;
    r->next = nullptr;
    *g_kernels_tail = r;
    g_kernels_tail = &r->next;
}

/* ---- blocks ----------------------------------------------------------------------- */
static Slot *slot_new(void) {
    Slot *s = (Slot *)calloc(1, sizeof(Slot));
    if (!s) return nullptr;
    long pg = sysconf(_SC_PAGESIZE);
    s->stride = STACK_SIZE + (size_t)(pg > 0 ? pg : 4096);
    s->stacks_len = s->stride * MAX_THREADS;
    /* address space only: a stack's pages appear when touched */
    void *m = mmap(nullptr, s->stacks_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        free(s);
        return nullptr;
    }
    s->stacks = (char *)m;
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        s->fib[i].lin = i;
        s->fib[i].stack = s->stacks + i * s->stride + (s->stride - STACK_SIZE);
    }
    return s;
}

static void slot_free(Slot *s) {
    if (!s) return;
    munmap(s->stacks, s->stacks_len);
    free(s);
}

/* Guard pages below the first n stacks (an overflow faults instead of writing
 * into the neighbouring fiber's stack). */
static int slot_guard(Slot *s, unsigned n) {
    for (; s->guarded < n; s->guarded++)
        if (mprotect(s->stacks + s->guarded * s->stride, s->stride - STACK_SIZE, PROT_NONE) != 0) return -ENOMEM;
    return 0;
}

static void block_run(Slot *s, uint64_t b) {
    const Job *j = s->job;
    const unsigned n = j->n;
    const sc_emu_uint3 bid = {(unsigned)(b % j->grid[0]), (unsigned)(b / j->grid[0] % j->grid[1]),
                              (unsigned)(b / ((uint64_t)j->grid[0] * j->grid[1]))};
    for (unsigned i = 0; i < n; i++) {
        Fiber *f = &s->fib[i];
        f->ids.bid = bid;
        f->state = F_READY;
        if (!ctx_make(&f->ctx, f->stack, STACK_SIZE, fiber_main)) {
            s->err = -ENOMEM;
            set_msg(s->msg, "kernel %s: cannot make a fiber context", j->k->name);
            return;
        }
    }
    for (unsigned w = 0; w * WARP < n; w++) {
        Warp *wp = &s->warp[w];
        wp->alive = n - w * WARP < (unsigned)WARP ? n - w * WARP : (unsigned)WARP;
        wp->arrived = 0;
        wp->gen = 0;
        wp->mask[0] = wp->mask[1] = 0;
    }
    s->n = s->alive = n;
    s->bar_n = 0;
    s->rq_head = 0;
    s->rq_n = 0;
    for (unsigned i = 1; i < n; i++) rq_push(s, i);
    s->cur = &s->fib[0];
    sc_emu_cur = &s->fib[0].ids;
#if SC_EMU_ASAN
    s->from_main = true;
#endif
    switch_to(&s->main, FAKE_MAIN(s), &s->fib[0].ctx, s->fib[0].stack, STACK_SIZE);
    /* back here when every thread returned, or on deadlock (s->err) */
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* pool state and job errors */

static void job_fail(Job *j, int rc, const char *msg) {
    pthread_mutex_lock(&g_mu);
    if (!j->rc) {
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", msg);
    }
    pthread_mutex_unlock(&g_mu);
    __atomic_store_n(&j->failed, 1, __ATOMIC_SEQ_CST);
}

/* Run blocks of j on this host thread until none are left. */
static void slot_run(Slot *s, Job *j) {
    tl_slot = s;
    s->job = j;
    s->err = 0;
    int rc = slot_guard(s, j->n);
    if (rc) {
        job_fail(j, rc, "cannot set up the fiber stacks (mprotect)");
        return;
    }
    /* the ids that stay the same for every block of the launch */
    const sc_emu_uint3 bdim = {j->block[0], j->block[1], j->block[2]};
    const sc_emu_uint3 gdim = {j->grid[0], j->grid[1], j->grid[2]};
    for (unsigned i = 0; i < j->n; i++) {
        sc_emu_ids *id = &s->fib[i].ids;
        id->tid.x = i % bdim.x;
        id->tid.y = i / bdim.x % bdim.y;
        id->tid.z = i / (bdim.x * bdim.y);
        id->bdim = bdim;
        id->gdim = gdim;
    }
    while (!__atomic_load_n(&j->failed, __ATOMIC_RELAXED)) {
        uint64_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (b >= j->nblocks) break;
        block_run(s, b);
        if (s->err) {
            job_fail(j, s->err, s->msg);
            s->err = 0;
            break;
        }
    }
#if SC_EMU_ASAN
    if (s->dirty) { /* abandoned fibers left poisoned frames on their stacks */
        for (unsigned i = 0; i < j->n; i++) {
            __asan_unpoison_memory_region(s->fib[i].stack, STACK_SIZE);
            s->fib[i].stale = true;
        }
        s->dirty = false;
    }
#endif
    sc_emu_cur = nullptr;
    tl_slot = nullptr;
}

/* ---- host thread pool ----------------------------------------------------------------
 * Started at the first launch (no global constructor); stopped by the
 * destructor when the shared object is unloaded or the process exits. */
static pthread_mutex_t g_launch_mu = PTHREAD_MUTEX_INITIALIZER; /* one launch at a time */
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static int g_nthreads;          /* host threads for blocks, the caller included; 0: not set up */
static int g_nworkers;          /* pool threads running (slot 1..g_nworkers) */
static pid_t g_pid;             /* after fork() the child has no workers */
static pthread_t g_th[MAX_HOST_THREADS];
static Slot *g_slot[MAX_HOST_THREADS];
static unsigned g_gen;          /* bumped for each job handed to the pool */
static unsigned g_gen0[MAX_HOST_THREADS]; /* g_gen when worker i was created */
static int g_want, g_running, g_quit;
static Job *g_job;

static void *worker_main(void *arg) {
    const int idx = (int)(intptr_t)arg;
    pthread_mutex_lock(&g_mu);
    unsigned seen = g_gen0[idx]; /* not g_gen: a job may have been posted before this thread ran */
    for (;;) {
        while (!g_quit && g_gen == seen) pthread_cond_wait(&g_work, &g_mu);
        if (g_quit) break;
        seen = g_gen;
        if (idx > g_want) continue; /* a small launch: not needed */
        Job *j = g_job;
        pthread_mutex_unlock(&g_mu);
        slot_run(g_slot[idx], j);
        pthread_mutex_lock(&g_mu);
        if (--g_running == 0) pthread_cond_signal(&g_done);
    }
    pthread_mutex_unlock(&g_mu);
    return nullptr;
}

static int default_threads(void) {
    int n = 0;
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0) n = CPU_COUNT(&cs);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n < 4 ? n : 4;
}

/* Under g_launch_mu. Fewer threads than asked for (no memory, no threads)
 * is not an error; no slot for the caller is. */
static int pool_start(void) {
    if (g_nthreads && g_pid != getpid()) g_nworkers = 0; /* forked: the threads stayed in the parent */
    if (!g_nthreads) {
        int n = default_threads();
        const char *e = getenv("SC_HIP_EMU_THREADS");
        if (e && *e) {
            char *end;
            long v = strtol(e, &end, 10);
            if (*end == '\0' && v >= 1) n = v > MAX_HOST_THREADS ? MAX_HOST_THREADS : (int)v;
        }
        g_nthreads = n;
    }
    g_pid = getpid();
    if (!g_slot[0] && !(g_slot[0] = slot_new())) return -ENOMEM;
    if (g_quit || g_nworkers + 1 >= g_nthreads) return 0; /* g_quit: a launch after pool_stop runs serially */
    /* workers take no signals: they belong to the application's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (g_nworkers + 1 < g_nthreads) {
        int i = g_nworkers + 1;
        if (!g_slot[i] && !(g_slot[i] = slot_new())) break;
        g_gen0[i] = g_gen; /* g_gen changes only under g_launch_mu, held here */
        if (pthread_create(&g_th[i], nullptr, worker_main, (void *)(intptr_t)i) != 0) break;
        g_nworkers = i;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    g_nthreads = g_nworkers + 1;
    return 0;
}

__attribute__((destructor)) static void pool_stop(void) {
    pthread_mutex_lock(&g_mu);
    g_quit = 1;
    pthread_cond_broadcast(&g_work);
    pthread_mutex_unlock(&g_mu);
    if (g_pid == getpid())
        for (int i = 1; i <= g_nworkers; i++) pthread_join(g_th[i], nullptr);
    for (int i = 0; i < MAX_HOST_THREADS; i++) {
        slot_free(g_slot[i]);
        g_slot[i] = nullptr;
    }
    g_nworkers = 0;
}

/* ---- C API ------------------------------------------------------------------------------ */
static int fail(char *err, size_t err_len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_len, int rc, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Returns 0, or a negative errno with a message in err:
 *   -ENOENT   unknown kernel
 *   -EINVAL   bad launch: args size differs from the kernel's sizeof(args_t),
 *             block threads 0 or over the kernel's maximum or 1024, a grid
 *             dimension 0, a kernel name defined twice
 *   -EDEADLK  divergent sync (lanes of a warp at different sync points)
 *   -ENOMEM   no memory for fibers / stacks */
SC_EMU_API int sc_emu_launch(const char *kernel, const unsigned grid[3], const unsigned block[3], const void *args,
                             size_t args_size, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!kernel || !grid || !block) return fail(err, err_len, -EINVAL, "sc_emu_launch: null argument");
    const sc_emu_kernel_reg *k = g_kernels;
    while (k && strcmp(k->name, kernel) != 0) k = k->next;
    if (!k) return fail(err, err_len, -ENOENT, "unknown kernel '%s'", kernel);
    if (k->dup) return fail(err, err_len, -EINVAL, "kernel '%s' is defined more than once", kernel);
    if (args_size != k->args_size)
        return fail(err, err_len, -EINVAL, "kernel %s: args size %zu, the kernel's args struct is %zu bytes", kernel,
                    args_size, k->args_size);
    if (args_size && !args) return fail(err, err_len, -EINVAL, "kernel %s: args is null", kernel);
    uint64_t n = (uint64_t)block[0] * block[1] * block[2]; /* each <= 2^32: the product of two can't overflow */
    if (block[0] > MAX_THREADS || block[1] > MAX_THREADS || block[2] > MAX_THREADS || n == 0 || n > MAX_THREADS ||
        n > k->max_threads)
        return fail(err, err_len, -EINVAL, "kernel %s: block %ux%ux%u: threads must be 1..%u", kernel, block[0],
                    block[1], block[2], k->max_threads < MAX_THREADS ? k->max_threads : (unsigned)MAX_THREADS);
    if (!grid[0] || !grid[1] || !grid[2])
        return fail(err, err_len, -EINVAL, "kernel %s: grid %ux%ux%u has a zero dimension", kernel, grid[0], grid[1],
                    grid[2]);
    uint64_t nb = (uint64_t)grid[0] * grid[1];
    if (nb > UINT64_MAX / grid[2]) return fail(err, err_len, -EINVAL, "kernel %s: grid too large", kernel);
    nb *= grid[2];

    /* the args, aligned for any args_t; the kernels copy them per thread */
    alignas(64) unsigned char abuf[MAX_ARGS];
    if (args_size) memcpy(abuf, args, args_size);

    Job j;
    memset(&j, 0, sizeof j);
    j.k = k;
    j.args = abuf;
    for (int i = 0; i < 3; i++) {
        j.grid[i] = grid[i];
        j.block[i] = block[i];
    }
    j.n = (unsigned)n;
    j.nblocks = nb;

    pthread_mutex_lock(&g_launch_mu);
    int rc = pool_start();
    if (rc) {
        pthread_mutex_unlock(&g_launch_mu);
        return fail(err, err_len, rc, "kernel %s: no memory for the fibers", kernel);
    }
    int nw = nb - 1 < (uint64_t)g_nworkers ? (int)(nb - 1) : g_nworkers;
    if (nw > 0) {
        pthread_mutex_lock(&g_mu);
        g_job = &j;
        g_want = nw;
        g_running = nw;
        g_gen++;
        pthread_cond_broadcast(&g_work);
        pthread_mutex_unlock(&g_mu);
    }
    slot_run(g_slot[0], &j);
    if (nw > 0) {
        pthread_mutex_lock(&g_mu);
        while (g_running) pthread_cond_wait(&g_done, &g_mu);
        g_job = nullptr;
        pthread_mutex_unlock(&g_mu);
    }
    pthread_mutex_unlock(&g_launch_mu);
    if (j.rc) return fail(err, err_len, j.rc, "%s", j.msg);
    return 0;
}

SC_EMU_API int sc_emu_kernel_count(void) {
    int n = 0;
    for (const sc_emu_kernel_reg *k = g_kernels; k; k = k->next) n++;
    return n;
}

SC_EMU_API const char *sc_emu_kernel_name(int i) {
    const sc_emu_kernel_reg *k = g_kernels;
    for (; k && i > 0; i--) k = k->next;
    return i == 0 && k ? k->name : nullptr;
}
