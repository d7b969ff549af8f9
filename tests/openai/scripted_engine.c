/*
 * tests/openai/scripted_engine.c - the OpenAI frontend plugin over a scripted
 * fake engine, so the server path can be tested end to end with model output
 * chosen by the test (the tiny random-weight fixture never emits a tool call).
 *
 *   scripted_engine PLUGIN.so [SETTINGS_JSON]
 *
 * loads PLUGIN.so (libstrixcore-openai.so) with dlopen, hands it a fake
 * sc_serve_api and calls frontend->run(SETTINGS_JSON) (the frontend's object
 * of the serve configuration: host, port, api_keys, tool_call_parser, ...)
 * until SIGTERM / SIGINT, which call frontend->stop() from a sigwait thread
 * as `strixcore serve` does. Exit status 0 after a graceful stop, 1 on error.
 *
 * The script: every request outputs text that comes from the request itself,
 * so one server serves every test case.
 *
 *   Tokenizer: bytes. Token id = byte value (0..255); detokenize maps ids
 *   back to bytes. Special tokens do not exist.
 *
 *   Chat template (apply_chat_template) renders
 *       <|piece=N|><|delay_ms=N|><|eos=separate|><|script|>TEXT<|/script|>
 *   (directives only when set) then "<think>\n" when asked, where TEXT is the
 *   content of the LAST user message (a string, or its text parts joined) and
 *   the directives come from chat_template_kwargs:
 *       script_piece     bytes per output (0: the whole script at once; default 4)
 *       script_delay_ms  pause before each output (default 1)
 *       script_eos       "separate": the finish comes as an extra output with
 *                        empty text (a real EOS token); default: on the last piece
 *       prompt_ends_in_think  true: the prompt ends with "<think>\n" (the plugin
 *                        then starts the output as reasoning, as with Qwen3's
 *                        thinking templates)
 *
 *   Engine (submit): the prompt's bytes are parsed the same way, so a
 *   /v1/completions prompt can carry the same directives and marker:
 *       "<|piece=3|><|script|>output text"
 *   The script is the text after the first "<|script|>" up to "<|/script|>"
 *   (or the end); without the marker the output is the whole prompt. It is
 *   sent in pieces of N bytes (never splitting a UTF-8 character), one
 *   sc_serve_output per piece, from the engine thread: token = the piece's
 *   first byte, completion_tokens counting pieces, finish EOS on the last (or
 *   on an extra empty output with eos=separate). max_tokens counts pieces: a
 *   script longer than that ends with finish LENGTH. cancel() ends a request
 *   with one SC_SERVE_ABORT output (token -1, empty text), as the core does,
 *   and logs "scripted_engine: cancel <id>" on stderr. Logprobs, when asked,
 *   are -0.5 for the token and two alternatives.
 *
 *   stats(): running = requests not yet finished; counters as the core's.
 *
 * One engine thread steps every request (each on its own schedule), like the
 * continuous-batching worker: on_output is never called on the caller's thread
 * nor under the engine's lock. At exit every unfinished request is aborted
 * and the engine thread is joined before the plugin is shut down.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strixcore/plugin.h"

#define MAX_MODEL_LEN 65536
#define DEFAULT_PIECE 4
#define DEFAULT_DELAY_MS 1

/* ------------------------------------------------------------ host table */

static const char *host_strerror(int err) {
    switch (err) {
#define SC_X_CASE(name, code, text) case code: return text;
        SC_ERROR_TABLE(SC_X_CASE)
#undef SC_X_CASE
    }
    return "unknown error";
}

static void host_logv(sc_log_level level, const char *who, const char *fmt, va_list ap) {
    static const char *names[] = { "error", "warn", "info", "debug" };
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "[%s] %s: %s\n", (unsigned)level < 4 ? names[level] : "?", who ? who : "", line);
}

static void host_log(sc_log_level level, const char *who, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    host_logv(level, who, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- engine */

typedef struct job {
    struct job *next;
    uint64_t id;
    sc_serve_output_fn on_output;
    void *user;
    char *script;        /* owned */
    size_t len, pos;
    size_t piece;        /* 0: whole */
    int delay_ms;
    bool eos_separate;
    bool cancelled;      /* under engine.mu */
    int32_t logprobs;
    int64_t n_prompt, max_tokens, n_generated;
    uint64_t due_ns;     /* CLOCK_MONOTONIC */
} job_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    job_t *jobs;         /* unfinished requests */
    bool quit;           /* abort everything left, then return */
    uint64_t next_id;
    int32_t running;
    uint64_t prompt_tokens, generation_tokens, finished, cancels;
    uint64_t ended_stop, ended_length, ended_abort; /* by finished_reason, as the core counts */
} engine = { .mu = PTHREAD_MUTEX_INITIALIZER, .next_id = 1 };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *memfind(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; s && i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return s + i;
    return NULL;
}

/* Reads the directive <|NAME=VALUE|> from text[0..n); copies VALUE. */
static bool directive(const char *text, size_t n, const char *name, char *val, size_t cap) {
    char open[64];
    snprintf(open, sizeof open, "<|%s=", name);
    const char *d = memfind(text, n, open);
    if (!d) return false;
    const char *v = d + strlen(open);
    const char *e = memfind(v, (size_t)(text + n - v), "|>");
    if (!e || (size_t)(e - v) >= cap) return false;
    memcpy(val, v, (size_t)(e - v));
    val[e - v] = '\0';
    return true;
}

/* The job's script and settings from the prompt's bytes. */
static int job_parse(job_t *j, const char *text, size_t n) {
    const char *mark = memfind(text, n, "<|script|>");
    const char *head_end = mark ? mark : text;
    size_t head = (size_t)(head_end - text);
    const char *s = mark ? mark + strlen("<|script|>") : text;
    const char *end = memfind(s, (size_t)(text + n - s), "<|/script|>");
    size_t len = end ? (size_t)(end - s) : (size_t)(text + n - s);
    char v[32];
    j->piece = DEFAULT_PIECE;
    j->delay_ms = DEFAULT_DELAY_MS;
    if (directive(text, head, "piece", v, sizeof v)) j->piece = (size_t)strtoul(v, NULL, 10);
    if (directive(text, head, "delay_ms", v, sizeof v)) j->delay_ms = atoi(v);
    if (directive(text, head, "eos", v, sizeof v)) j->eos_separate = strcmp(v, "separate") == 0;
    if (j->delay_ms < 0) j->delay_ms = 0;
    j->script = malloc(len + 1);
    if (!j->script) return SC_ENOMEM;
    memcpy(j->script, s, len);
    j->script[len] = '\0';
    j->len = len;
    return SC_OK;
}

/* Bytes in the next piece: at least one whole UTF-8 character. */
static size_t piece_len(const job_t *j) {
    size_t left = j->len - j->pos;
    size_t k = j->piece == 0 || j->piece > left ? left : j->piece;
    while (j->pos + k < j->len && ((unsigned char)j->script[j->pos + k] & 0xC0) == 0x80) k++;
    return k;
}

static void job_unlink(job_t *j) {
    for (job_t **pp = &engine.jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) { *pp = j->next; return; }
}

/* Emits the job's next output (called with engine.mu held; drops it around
 * on_output). Frees the job after its final output. */
static void job_step(job_t *j) {
    sc_serve_output o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.request_id = j->id;
    o.prompt_tokens = j->n_prompt;
    o.cached_tokens = 0;
    int32_t top_ids[2];
    float top_lp[2] = { -0.5f, -1.5f };
    if (j->cancelled || engine.quit) {
        o.token = -1;
        o.text = "";
        o.finish = SC_SERVE_ABORT;
    } else {
        size_t k = piece_len(j);
        o.text = j->script + j->pos;
        o.text_len = k;
        o.token = k ? (unsigned char)j->script[j->pos] : 0; /* the empty script's EOS: token 0 */
        j->pos += k;
        j->n_generated++;
        engine.generation_tokens++;
        if (j->pos >= j->len && !(j->eos_separate && k > 0)) o.finish = SC_SERVE_EOS;
        else if (j->max_tokens > 0 && j->n_generated >= j->max_tokens) o.finish = SC_SERVE_LENGTH;
        else o.finish = SC_SERVE_RUNNING;
        if (j->logprobs >= 0) {
            o.logprob = -0.5f;
            top_ids[0] = o.token;
            top_ids[1] = 'x';
            o.n_top = j->logprobs < 2 ? j->logprobs : 2;
            o.top_ids = top_ids;
            o.top_logprobs = top_lp;
        }
        j->due_ns = now_ns() + (uint64_t)j->delay_ms * 1000000u;
    }
    o.completion_tokens = j->n_generated;
    bool final = o.finish != SC_SERVE_RUNNING;
    if (final) {
        job_unlink(j);
        engine.running--;
        engine.finished++;
        if (o.finish == SC_SERVE_LENGTH) engine.ended_length++;
        else if (o.finish == SC_SERVE_EOS || o.finish == SC_SERVE_STOP) engine.ended_stop++;
        else engine.ended_abort++;
    }
    pthread_mutex_unlock(&engine.mu);
    j->on_output(j->user, &o);
    if (final) {
        free(j->script);
        free(j);
    }
    pthread_mutex_lock(&engine.mu);
}

static void *engine_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&engine.mu);
    for (;;) {
        if (engine.quit && !engine.jobs) break;
        job_t *next = NULL;
        for (job_t *j = engine.jobs; j; j = j->next) {
            if (j->cancelled || engine.quit) { next = j; break; }
            if (!next || j->due_ns < next->due_ns) next = j;
        }
        if (!next) {
            pthread_cond_wait(&engine.cv, &engine.mu);
            continue;
        }
        uint64_t now = now_ns();
        if (!next->cancelled && !engine.quit && next->due_ns > now) {
            struct timespec ts = { (time_t)(next->due_ns / 1000000000u), (long)(next->due_ns % 1000000000u) };
            pthread_cond_timedwait(&engine.cv, &engine.mu, &ts);
            continue;
        }
        job_step(next);
    }
    pthread_mutex_unlock(&engine.mu);
    return NULL;
}

/* -------------------------------------------------------- sc_serve_api */

static int api_tokenize(void *ctx, const char *text, size_t len, bool parse_special, int32_t **ids, size_t *n_ids) {
    (void)ctx;
    (void)parse_special;
    if ((!text && len) || !ids || !n_ids) return SC_EINVAL;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return SC_ENOMEM;
    for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
    *n_ids = len;
    return SC_OK;
}

static int api_detokenize(void *ctx, const int32_t *ids, size_t n, bool skip_special, char **text, size_t *len) {
    (void)ctx;
    (void)skip_special;
    if ((!ids && n) || !text || !len) return SC_EINVAL;
    *text = malloc(n + 1);
    if (!*text) return SC_ENOMEM;
    for (size_t i = 0; i < n; i++) (*text)[i] = ids[i] >= 0 && ids[i] < 256 ? (char)ids[i] : '?';
    (*text)[n] = '\0';
    *len = n;
    return SC_OK;
}

/* The last user message's text: a string, or its text parts joined. */
static char *last_user_text(const json_t *messages) {
    const json_t *content = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0) content = json_object_get(m, "content");
    }
    if (json_is_string(content)) return strdup(json_string_value(content));
    size_t cap = 1, n = 0;
    char *out = calloc(1, 1);
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (!t || !out) continue;
        size_t k = strlen(t);
        char *grown = realloc(out, cap + k);
        if (!grown) { free(out); return NULL; }
        out = grown;
        memcpy(out + n, t, k + 1);
        n += k;
        cap += k;
    }
    return out;
}

static int api_apply_chat_template(void *ctx, const char *vars_json, char **text, size_t *len, char *err,
                                   size_t err_len) {
    (void)ctx;
    json_error_t je;
    json_t *vars = vars_json ? json_loads(vars_json, 0, &je) : NULL;
    if (!json_is_object(vars)) {
        json_decref(vars);
        snprintf(err, err_len, "template variables are not a JSON object");
        return SC_EINVAL;
    }
    char *script = last_user_text(json_object_get(vars, "messages"));
    char head[256] = "";
    size_t h = 0;
    json_t *v;
    if (json_is_integer(v = json_object_get(vars, "script_piece")))
        h += (size_t)snprintf(head + h, sizeof head - h, "<|piece=%lld|>", (long long)json_integer_value(v));
    if (json_is_integer(v = json_object_get(vars, "script_delay_ms")))
        h += (size_t)snprintf(head + h, sizeof head - h, "<|delay_ms=%lld|>", (long long)json_integer_value(v));
    if (json_is_string(v = json_object_get(vars, "script_eos")))
        h += (size_t)snprintf(head + h, sizeof head - h, "<|eos=%.32s|>", json_string_value(v));
    bool think = json_is_true(json_object_get(vars, "prompt_ends_in_think"));
    json_decref(vars);
    if (!script) {
        snprintf(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    size_t n = strlen(head) + strlen(script) + 64;
    char *out = malloc(n);
    if (!out) {
        free(script);
        snprintf(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    int k = snprintf(out, n, "%s<|script|>%s<|/script|>%s", head, script, think ? "<think>\n" : "");
    free(script);
    *text = out;
    *len = (size_t)k;
    return SC_OK;
}

static int api_submit(void *ctx, const sc_serve_request *req, uint64_t *request_id, char *err, size_t err_len) {
    (void)ctx;
    if (!req || !req->prompt || req->n_prompt == 0 || !req->on_output) {
        snprintf(err, err_len, "empty prompt");
        return SC_EINVAL;
    }
    job_t *j = calloc(1, sizeof *j);
    char *text = malloc(req->n_prompt);
    if (!j || !text) {
        free(j);
        free(text);
        return SC_ENOMEM;
    }
    for (size_t i = 0; i < req->n_prompt; i++) text[i] = (char)req->prompt[i];
    int rc = job_parse(j, text, req->n_prompt);
    free(text);
    if (rc != SC_OK) {
        free(j);
        return rc;
    }
    j->on_output = req->on_output;
    j->user = req->user;
    j->n_prompt = (int64_t)req->n_prompt;
    j->max_tokens = req->max_tokens;
    j->logprobs = SC_HAS_FIELD(req, sc_serve_request, logprobs) ? req->logprobs : -1;
    j->due_ns = now_ns() + (uint64_t)j->delay_ms * 1000000u;
    pthread_mutex_lock(&engine.mu);
    if (engine.quit) {
        pthread_mutex_unlock(&engine.mu);
        free(j->script);
        free(j);
        snprintf(err, err_len, "the engine is stopping");
        return SC_ESTATE;
    }
    j->id = engine.next_id++;
    *request_id = j->id;
    j->next = engine.jobs;
    engine.jobs = j;
    engine.running++;
    engine.prompt_tokens += req->n_prompt;
    pthread_cond_signal(&engine.cv);
    pthread_mutex_unlock(&engine.mu);
    return SC_OK;
}

static int api_cancel(void *ctx, uint64_t request_id) {
    (void)ctx;
    int rc = SC_ENOENT;
    pthread_mutex_lock(&engine.mu);
    for (job_t *j = engine.jobs; j; j = j->next) {
        if (j->id != request_id) continue;
        if (!j->cancelled) {
            j->cancelled = true;
            engine.cancels++;
            fprintf(stderr, "scripted_engine: cancel %llu\n", (unsigned long long)request_id);
        }
        rc = SC_OK;
        pthread_cond_signal(&engine.cv);
        break;
    }
    pthread_mutex_unlock(&engine.mu);
    return rc;
}

static void api_stats(void *ctx, sc_serve_stats *out) {
    (void)ctx;
    size_t sz = out->struct_size;
    memset(out, 0, sz < sizeof *out ? sz : sizeof *out);
    out->struct_size = sz;
    pthread_mutex_lock(&engine.mu);
    out->running = engine.running;
    out->waiting = 0;
    out->kv_blocks_free = 64;
    out->kv_blocks_total = 64;
    out->prompt_tokens = engine.prompt_tokens;
    out->generation_tokens = engine.generation_tokens;
    out->finished = engine.finished;
    if (SC_HAS_FIELD(out, sc_serve_stats, ended_abort)) { /* one snapshot with running */
        out->ended_stop = engine.ended_stop;
        out->ended_length = engine.ended_length;
        out->ended_abort = engine.ended_abort;
    }
    pthread_mutex_unlock(&engine.mu);
    if (SC_HAS_FIELD(out, sc_serve_stats, block_size)) {
        out->max_num_seqs = 16;
        out->block_size = 16;
    }
}

/* ------------------------------------------------------------ signals */

typedef struct {
    sigset_t set;
    const sc_frontend_iface *fe;
    void *fe_ctx;
    atomic_int done;      /* run() returned: the next signal only ends the thread */
    atomic_int requested; /* a stop came, maybe before run() started */
} sig_waiter_t;

static void *sig_main(void *arg) {
    sig_waiter_t *w = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&w->set, &sig) != 0) continue;
        if (atomic_load(&w->done)) return NULL;
        atomic_store(&w->requested, 1);
        fprintf(stderr, "scripted_engine: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        w->fe->stop(w->fe_ctx);
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PLUGIN.so [SETTINGS_JSON]\n", argv[0]);
        return 2;
    }
    static sc_host_api host = {
        .struct_size = sizeof host, .abi_major = SC_ABI_MAJOR, .abi_minor = 2, .core_version = "scripted",
        .log = host_log, .logv = host_logv, .malloc = malloc, .calloc = calloc, .free = free,
        .strerror = host_strerror,
    };
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "scripted_engine: %s\n", dlerror());
        return 1;
    }
    sc_plugin_probe_fn probe = (sc_plugin_probe_fn)dlsym(h, "strixcore_plugin_probe");
    sc_plugin_init_fn init = (sc_plugin_init_fn)dlsym(h, "strixcore_plugin_init");
    sc_plugin_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.abi_minor = 2;
    const sc_plugin_iface *ifc = NULL;
    void *ctx = NULL;
    if (!probe || !init || probe(&host, &desc) != SC_OK || desc.kind != SC_PLUGIN_FRONTEND || desc.score <= 0 ||
        init(&host, 2, &ifc, &ctx) != SC_OK || !ifc || !ifc->frontend) {
        fprintf(stderr, "scripted_engine: %s is not a usable frontend plugin\n", argv[1]);
        dlclose(h);
        return 1;
    }

    /* As `strixcore serve`: no death by SIGPIPE, and the stop signals go to
     * one sigwait thread (blocked before any thread starts). */
    signal(SIGPIPE, SIG_IGN);
    static sig_waiter_t w;
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    w.fe = ifc->frontend;
    w.fe_ctx = ctx;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&engine.cv, &ca);
    pthread_condattr_destroy(&ca);

    pthread_t sig_thr, eng_thr;
    bool sig_started = pthread_create(&sig_thr, NULL, sig_main, &w) == 0;
    bool eng_started = sig_started && pthread_create(&eng_thr, NULL, engine_main, NULL) == 0;
    int ret = 1;
    if (eng_started) {
        static sc_serve_api api = {
            .struct_size = sizeof api, .ctx = NULL, .model_name = "scripted", .max_model_len = MAX_MODEL_LEN,
            .generation_defaults_json = "{\"temperature\": 0.0}", .tokenize = api_tokenize,
            .detokenize = api_detokenize, .apply_chat_template = api_apply_chat_template, .submit = api_submit,
            .cancel = api_cancel, .stats = api_stats,
        };
        char err[512] = "";
        const char *settings = argc > 2 ? argv[2] : "{\"host\":\"127.0.0.1\",\"port\":8000}";
        int rc = atomic_load(&w.requested) ? SC_OK : ifc->frontend->run(ctx, &api, settings, err, sizeof err);
        if (rc != SC_OK) fprintf(stderr, "scripted_engine: run: %s\n", err[0] ? err : host_strerror(rc));
        else ret = 0;
    } else {
        fprintf(stderr, "scripted_engine: cannot start a thread\n");
    }

    /* Abort whatever is left (the frontend cancelled its requests while
     * stopping; their aborts may still be pending) and wait for the engine. */
    if (eng_started) {
        pthread_mutex_lock(&engine.mu);
        engine.quit = true;
        pthread_cond_signal(&engine.cv);
        pthread_mutex_unlock(&engine.mu);
        pthread_join(eng_thr, NULL);
    }
    if (sig_started) {
        atomic_store(&w.done, 1);
        pthread_kill(sig_thr, SIGTERM); /* blocked: sigwait takes it and the thread returns */
        pthread_join(sig_thr, NULL);
    }
    pthread_cond_destroy(&engine.cv);
    fprintf(stderr, "scripted_engine: stopped (%llu requests, %llu cancelled)\n",
            (unsigned long long)engine.finished, (unsigned long long)engine.cancels);
    ifc->shutdown(ctx);
    dlclose(h);
    return ret;
}
