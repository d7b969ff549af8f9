/*
 * cli/cmd_serve.c - `strixcore serve`: load a model and serve it through a
 * frontend plugin (the OpenAI HTTP API), vLLM-style.
 *
 *   strixcore [--backend ...] serve MODEL_DIR [--host H] [--port P] [--api-key KEY...] [OPTIONS]
 *   strixcore serve --config deploy.json [OPTIONS]       (flags override the file)
 *   strixcore serve ... --print-config                   (resolved settings as JSON; no load)
 *
 * The settings (every flag, its JSON key, kind and default) live in one
 * table in serve_config.c; `strixcore serve --help` prints it.
 *
 * The core owns model, tokenizer, template and engine (sc_server_t); the
 * frontend's run() blocks this thread until SIGTERM/SIGINT, which a sigwait
 * thread turns into iface->stop() (never called from a signal handler).
 *
 * systemd (Type=notify, or Podman's Notify=true): STATUS= while loading,
 * READY=1 only once the model is loaded *and* the frontend accepts
 * connections on host:port (a probe thread checks, since run() blocks and
 * the plugin ABI has no "listening" callback), STOPPING=1 on SIGTERM.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "strixcore/tuning.h"
#include "hf_pull.h"
#include "serve_config.h"
#include "strixcore/serve.h"

/* systemd's sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET
 * ('@' = Linux abstract namespace). Failures are ignored: not under systemd. */
static void sd_notify_msg(const char *msg) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t n;
    int fd;
    if (!path || (path[0] != '/' && path[0] != '@') || (n = strlen(path)) >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        sc_log(SC_LOG_DEBUG, "serve", "sd_notify failed");
    close(fd);
}

typedef struct sig_waiter {
    sigset_t set;
    const sc_frontend_iface *fe;
    void *fe_ctx;
    atomic_int done;        /* run() returned: the next signal only ends this thread */
    atomic_int requested;   /* a stop arrived (maybe before run() started) */
} sig_waiter;

static void *sig_thread(void *arg) {
    sig_waiter *w = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&w->set, &sig) != 0)
            continue;
        if (atomic_load(&w->done))
            return NULL;
        atomic_store(&w->requested, 1);
        fprintf(stderr, "strixcore serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        sd_notify_msg("STOPPING=1");
        w->fe->stop(w->fe_ctx);
    }
}


static int load_template(const serve_cfg *c, sc_chat_template_t **out) {
    int rc = sc_cli_load_template("serve", c->chat_template, c->model, out);
    if (rc == SC_OK && !*out)
        fprintf(stderr, "strixcore serve: %s has no chat template: chat requests will fail\n", c->model);
    return rc;
}

/* ---- readiness ---------------------------------------------------------- */

/* Whether something accepts TCP connections on host:port (the wildcard
 * addresses are probed through loopback). Non-blocking, 200 ms at most
 * per address. */
static bool port_listening(const char *host, int port) {
    struct addrinfo hints, *res = NULL;
    char ps[16];
    bool ok = false;
    const char *h = host ? host : "";
    if (!h[0] || strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0)
        h = "::1";
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(h, ps, &hints, &res) != 0)
        return false;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int e = 0;
            socklen_t el = sizeof(e);
            if (poll(&pf, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
                ok = true;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

/* Sends READY=1 once the frontend listens; ends when it has, or on stop. */
typedef struct ready_probe {
    const serve_cfg *c;
    const char *name;
    atomic_int stop;
    atomic_int *stopping;   /* a SIGTERM came: never READY after STOPPING */
} ready_probe;

static void *ready_thread(void *arg) {
    ready_probe *r = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (!atomic_load(&r->stop)) {
        if (port_listening(r->c->host, r->c->port)) {
            char msg[600];
            if (atomic_load(r->stopping))
                return NULL;
            snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving %s on %s:%d", r->name,
                     r->c->host && r->c->host[0] ? r->c->host : "0.0.0.0", r->c->port);
            sd_notify_msg(msg);
            sc_log(SC_LOG_DEBUG, "serve", "sent READY=1 to $NOTIFY_SOCKET");
            return NULL;
        }
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* The load's progress as STATUS= lines (each percent), chained to the
 * terminal's progress bar; each also extends systemd's start timeout by
 * 2 minutes, so a slow but moving load is not killed by TimeoutStartSec. */
typedef struct load_status {
    sc_progress_fn next;
    void *next_user;
    int last;
} load_status;

static void load_status_cb(double fraction, void *user) {
    load_status *ls = user;
    int pct = (int)(fraction * 100.0);
    if (pct != ls->last) {
        char msg[96];
        ls->last = pct;
        snprintf(msg, sizeof(msg), "STATUS=loading the model: %d%%\nEXTEND_TIMEOUT_USEC=120000000", pct);
        sd_notify_msg(msg);
    }
    if (ls->next)
        ls->next(fraction, ls->next_user);
}

/* ---- settings -> core options -------------------------------------------- */

static sc_type kv_type_of(const char *s) {
    if (s && strcmp(s, "float16") == 0)
        return SC_TYPE_F16;
    if (s && strcmp(s, "bfloat16") == 0)
        return SC_TYPE_BF16;
    return SC_TYPE_F32; /* auto, float32 */
}

/* generation_config: auto = MODEL_DIR/generation_config.json; vllm = its
 * eos ids only, vLLM's sampling defaults (as vLLM's --generation-config
 * vllm); otherwise a directory to read generation_config.json from. */
static int load_generation_config(const serve_cfg *c, const sc_model_t *model, sc_generation_config *gen) {
    const char *g = c->generation_config ? c->generation_config : "auto";
    bool vllm = strcmp(g, "vllm") == 0;
    const char *dir = vllm || strcmp(g, "auto") == 0 ? c->model : g;
    char err[512] = "";
    int rc = sc_generation_config_load(dir, sc_model_config_of(model), gen, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strixcore serve: %s/generation_config.json: %s\n", dir, err[0] ? err : sc_strerror(rc));
        return rc;
    }
    if (vllm) {
        gen->do_sample = true;
        gen->temperature = 1.0f;
        gen->top_k = 0;
        gen->top_p = 1.0f;
        gen->min_p = 0.0f;
        gen->repetition_penalty = 1.0f;
    }
    return SC_OK;
}

int sc_cmd_serve(sc_cli *cli, int argc, char **argv) {
    serve_cfg c;
    sc_tokenizer_t *tok = NULL;
    sc_chat_template_t *tmpl = NULL;
    sc_model_t *model = NULL;
    sc_server_t *server = NULL;
    sc_generation_config gen;
    sc_model_opts mo;
    sc_server_opts so;
    sig_waiter w;
    ready_probe rp;
    load_status ls;
    pthread_t sigthr, readythr;
    bool sig_started = false, ready_started = false;
    char err[512] = "", *tok_path = NULL, *settings = NULL;
    unsigned actions = 0;
    int rc, ret = SC_CLI_FAIL;
    sc_device_t *dev;
    sc_registry_t *reg;

    serve_cfg_init(&c);
    rc = serve_cfg_parse_args(&c, argc, argv, &actions, err, sizeof(err));
    if (rc == SERVE_CFG_OK && (actions & SERVE_ACT_HELP)) {
        serve_cfg_usage(stdout);
        serve_cfg_free(&c);
        return SC_CLI_OK;
    }
    if (rc != SERVE_CFG_OK) {
        fprintf(stderr, "strixcore serve: %s\n", err);
        if (rc == SERVE_CFG_USAGE)
            fputs("(`strixcore serve MODEL_DIR --help` lists the options)\n", stderr);
        serve_cfg_free(&c);
        return rc == SERVE_CFG_USAGE ? SC_CLI_USAGE : SC_CLI_FAIL;
    }
    if (actions & SERVE_ACT_PRINT_CONFIG) {
        char *txt = serve_cfg_resolved_json(&c);
        if (txt)
            printf("%s\n", txt);
        free(txt);
        serve_cfg_free(&c);
        return txt ? SC_CLI_OK : SC_CLI_FAIL;
    }
    /* ORG/NAME[@REV] that is not a local path: the Hugging Face cache's
     * snapshot, downloaded first unless HF_HUB_OFFLINE (before the signal
     * mask below, so that Ctrl-C stops a download). The API names the model
     * by its repo id, as vLLM does. */
    {
        char *dir = sc_cli_model_path("strixcore serve", c.model);
        if (!dir) {
            serve_cfg_free(&c);
            return SC_CLI_FAIL;
        }
        if (strcmp(dir, c.model) != 0 && !c.served_model_name)
            c.served_model_name = c.model;
        else
            free(c.model);
        c.model = dir;
    }
    memset(&w, 0, sizeof(w));
    /* Block the stop signals before any plugin can start a thread (a Vulkan
     * driver starts its own at load), so every thread inherits the mask and
     * only the sigwait thread below ever receives them. */
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    /* the frontend first: a missing plugin should not cost a model load */
    if (!(reg = sc_cli_registry(cli)))
        goto out;
    if (!(w.fe = sc_registry_frontend(reg, c.frontend, &w.fe_ctx))) {
        fprintf(stderr,
                "strixcore serve: no frontend plugin named '%s' is loaded (see `strixcore plugins`; it is "
                "built as libstrixcore-%s.so in the plugin directory)\n",
                c.frontend, c.frontend);
        goto out;
    }
    if (!(dev = sc_cli_pick_device(cli)))
        goto out;
    tok_path = c.tokenizer ? strdup(c.tokenizer) : sc_cli_dir_file(c.model, "tokenizer.json");
    if (!tok_path) {
        fprintf(stderr, "strixcore serve: no tokenizer.json in %s (give --tokenizer PATH)\n", c.model);
        goto out;
    }
    if ((rc = sc_tokenizer_load(tok_path, &tok, err, sizeof(err))) < 0) {
        fprintf(stderr, "strixcore serve: %s: %s\n", tok_path, err[0] ? err : sc_strerror(rc));
        goto out;
    }
    if (load_template(&c, &tmpl) < 0)
        goto out;
    memset(&mo, 0, sizeof(mo));
    mo.struct_size = sizeof(mo);
    mo.device = dev;
    mo.registry = reg;
    mo.max_model_len = c.max_model_len;
    /* KV sequences: one per concurrently running request. vLLM's default
     * of 256 is far beyond a single iGPU; 8 unless asked (the table's default). */
    mo.max_seqs = c.max_num_seqs;
    mo.block_size = c.block_size;
    mo.kv_type = kv_type_of(c.kv_cache_dtype);
    mo.kv_cache_bytes = (uint64_t)c.kv_cache_memory_bytes;
    sc_cli_progress_attach(&mo, c.model);
    memset(&ls, 0, sizeof(ls));
    ls.last = -1;
    ls.next = mo.progress;
    ls.next_user = mo.progress_user;
    mo.progress = load_status_cb;
    mo.progress_user = &ls;
    sd_notify_msg("STATUS=loading the model");
    rc = sc_model_load(c.model, &mo, &model, err, sizeof(err));
    mo.progress = ls.next;
    mo.progress_user = ls.next_user;
    sc_cli_progress_done(&mo);
    if (rc < 0) {
        fprintf(stderr, "strixcore serve: cannot load %s: %s\n", c.model, err[0] ? err : sc_strerror(rc));
        goto out;
    }
    if (load_generation_config(&c, model, &gen) < 0)
        goto out;
    if (c.tune) {
        /* before listening: no request waits on tuning */
        sd_notify_msg("STATUS=tuning kernels");
        sc_tuning_stats st0 = {.struct_size = sizeof st0};
        sc_device_tuning_stats(dev, &st0); /* whether tuning stays on while serving (--tuning) */
        if (sc_cli_tuning_start(cli, dev, 1) == SC_OK) {
            rc = sc_cli_pretune(model, dev, mo.max_seqs, c.max_num_batched_tokens ? c.max_num_batched_tokens : 512,
                                false);
            if (rc != SC_OK)
                fprintf(stderr, "strixcore serve: tuning stopped: %s (serving on what was tuned)\n", sc_strerror(rc));
            sc_device_tuning_set_tuning(dev, st0.tuning != 0);
        }
    }

    /* A server must not die of SIGPIPE: a write to a client (or a log pipe)
     * that went away fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    /* the stop signals are blocked (above): only this thread takes them */
    if (pthread_create(&sigthr, NULL, sig_thread, &w) != 0) {
        fputs("strixcore serve: cannot start the signal thread\n", stderr);
        goto out;
    }
    sig_started = true;

    memset(&so, 0, sizeof(so));
    so.struct_size = sizeof(so);
    so.model_name = c.served_model_name ? c.served_model_name : c.model;
    so.model_dir = c.model;
    so.max_num_seqs = mo.max_seqs;
    so.max_num_batched_tokens = c.max_num_batched_tokens;
    so.prefix_caching = c.enable_prefix_caching ? 1 : -1;
    so.max_waiting = c.max_waiting_requests;
    if ((rc = sc_server_create(model, tok, tmpl, &gen, &so, &server, err, sizeof(err))) < 0) {
        fprintf(stderr, "strixcore serve: %s\n", err[0] ? err : sc_strerror(rc));
        goto out;
    }
    if (!(settings = serve_cfg_settings_json(&c))) {
        fputs("strixcore serve: out of memory\n", stderr);
        goto out;
    }
    /* READY=1 once the frontend listens. Something else already on the
     * port would answer the probe: then no READY (the frontend's listen
     * fails and the service fails, as it should). */
    memset(&rp, 0, sizeof(rp));
    rp.c = &c;
    rp.name = so.model_name;
    rp.stopping = &w.requested;
    if (getenv("NOTIFY_SOCKET")) {
        if (port_listening(c.host, c.port))
            fprintf(stderr, "strixcore serve: warning: something already listens on port %d\n", c.port);
        else if (pthread_create(&readythr, NULL, ready_thread, &rp) == 0)
            ready_started = true;
        sd_notify_msg("STATUS=starting the frontend");
    }
    err[0] = '\0';
    /* A signal that came while the server started: do not start serving. */
    rc = atomic_load(&w.requested) ? SC_OK : w.fe->run(w.fe_ctx, sc_server_api(server), settings, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "strixcore serve: frontend '%s': %s\n", c.frontend, err[0] ? err : sc_strerror(rc));
    else
        ret = SC_CLI_OK;

out:
    if (ready_started) {
        atomic_store(&rp.stop, 1);
        pthread_join(readythr, NULL);
    }
    if (sig_started) {
        atomic_store(&w.done, 1);
        pthread_kill(sigthr, SIGTERM); /* blocked, so it reaches sigwait, which now just returns */
        pthread_join(sigthr, NULL);
    }
    sc_server_destroy(server);
    free(settings);
    free(tok_path);
    sc_model_free(model);
    sc_chat_template_free(tmpl);
    sc_tokenizer_free(tok);
    serve_cfg_free(&c);
    return ret;
}
