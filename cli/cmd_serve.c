/*
 * cli/cmd_serve.c - `strixcore serve`: load a model and serve it through a
 * frontend plugin (the OpenAI HTTP API), vLLM-style.
 *
 *   strixcore [--backend ...] serve MODEL_DIR [--host H] [--port P] [--api-key KEY]...
 *       [--api-key-file F] [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N]
 *       [--max-num-batched-tokens N] [--frontend openai] [--compat vllm|llama] [--config deploy.json]
 *
 * The core owns model, tokenizer, template and engine (sc_server_t); the
 * frontend's run() blocks this thread until SIGTERM/SIGINT, which a sigwait
 * thread turns into iface->stop() (never called from a signal handler).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "serve_config.h"
#include "strixcore/serve.h"

static int serve_usage(const char *msg, const char *arg) {
    fprintf(stderr, "strixcore serve: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fputs("usage: strixcore serve MODEL_DIR [--host 0.0.0.0] [--port 8000] [--api-key KEY]... [--api-key-file F]\n"
          "       [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N] [--max-num-batched-tokens N]\n"
          "       [--frontend openai] [--compat vllm|llama] [--tokenizer PATH] [--chat-template PATH]\n"
          "       [--config deploy.json]\n"
          "deploy.json keys: the flags with '_' for '-' (model, port, api_key: [..], max_model_len, ...);\n"
          "flags override the file. STRIXCORE_API_KEY is used when no key is given.\n",
          stderr);
    return SC_CLI_USAGE;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *p = realloc(buf, cap = (len + 4096 + 1) * 2);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* --api-key-file: one key per line; blank lines and '#' comments skipped. */
static int load_key_file(serve_cfg *c, const char *path) {
    char *txt = read_file(path), *save = NULL;
    int first = 0;
    char e[64];
    if (!txt)
        return -1;
    for (char *line = strtok_r(txt, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';
        if (n && line[0] != '#')
            serve_cfg_apply_flag(c, "api-key", line, &first, e, sizeof(e));
    }
    free(txt);
    return 0;
}

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

static int parse_args(int argc, char **argv, serve_cfg *c) {
    const char *config = NULL;
    char err[256] = "";
    int first_key = 1;
    /* pass 1: the file, so that pass 2's flags override it */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
    if (config) {
        char *txt = read_file(config);
        if (!txt) {
            fprintf(stderr, "strixcore serve: cannot read %s\n", config);
            return SC_CLI_FAIL;
        }
        int rc = serve_cfg_apply_json(c, txt, err, sizeof(err));
        free(txt);
        if (rc < 0) {
            fprintf(stderr, "strixcore serve: %s: %s\n", config, err);
            return SC_CLI_USAGE;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (serve_cfg_apply_flag(c, "model", a, &first_key, err, sizeof(err)) != 0)
                return serve_usage("bad model directory", a);
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return serve_usage("help", NULL);
        if (a[1] != '-')
            return serve_usage("unknown argument", a);
        if (i + 1 >= argc)
            return serve_usage("option needs a value:", a);
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            continue;
        int rc = serve_cfg_apply_flag(c, a + 2, v, &first_key, err, sizeof(err));
        if (rc > 0)
            return serve_usage("unknown argument", a);
        if (rc < 0)
            return serve_usage(err[0] ? err : "bad value for", err[0] ? NULL : a);
    }
    if (!c->model)
        return serve_usage("give a MODEL_DIR (or \"model\" in --config)", NULL);
    if (c->api_key_file && load_key_file(c, c->api_key_file) < 0) {
        fprintf(stderr, "strixcore serve: cannot read --api-key-file %s\n", c->api_key_file);
        return SC_CLI_FAIL;
    }
    const char *env = getenv("STRIXCORE_API_KEY");
    if (c->n_api_keys == 0 && env && env[0]) {
        int f = 0;
        serve_cfg_apply_flag(c, "api-key", env, &f, err, sizeof(err));
    }
    return SC_CLI_OK;
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
    pthread_t sigthr;
    bool sig_started = false;
    char err[512] = "", *tok_path = NULL, *settings = NULL;
    int rc, ret = SC_CLI_FAIL;
    sc_device_t *dev;
    sc_registry_t *reg;

    serve_cfg_init(&c);
    if ((rc = parse_args(argc, argv, &c)) != SC_CLI_OK) {
        serve_cfg_free(&c);
        return rc;
    }
    memset(&w, 0, sizeof(w));
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
     * of 256 is far beyond a single iGPU; 8 unless asked. */
    mo.max_seqs = c.max_num_seqs ? c.max_num_seqs : 8;
    sc_cli_progress_attach(&mo, c.model);
    rc = sc_model_load(c.model, &mo, &model, err, sizeof(err));
    sc_cli_progress_done(&mo);
    if (rc < 0) {
        fprintf(stderr, "strixcore serve: cannot load %s: %s\n", c.model, err[0] ? err : sc_strerror(rc));
        goto out;
    }
    if ((rc = sc_generation_config_load(c.model, sc_model_config_of(model), &gen, err, sizeof(err))) < 0) {
        fprintf(stderr, "strixcore serve: %s/generation_config.json: %s\n", c.model, err[0] ? err : sc_strerror(rc));
        goto out;
    }

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only the sigwait thread ever receives them. */
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
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
    if ((rc = sc_server_create(model, tok, tmpl, &gen, &so, &server, err, sizeof(err))) < 0) {
        fprintf(stderr, "strixcore serve: %s\n", err[0] ? err : sc_strerror(rc));
        goto out;
    }
    if (!(settings = serve_cfg_settings_json(&c))) {
        fputs("strixcore serve: out of memory\n", stderr);
        goto out;
    }
    sd_notify_msg("READY=1");
    err[0] = '\0';
    /* A signal that came while the server started: do not start serving. */
    rc = atomic_load(&w.requested) ? SC_OK : w.fe->run(w.fe_ctx, sc_server_api(server), settings, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "strixcore serve: frontend '%s': %s\n", c.frontend, err[0] ? err : sc_strerror(rc));
    else
        ret = SC_CLI_OK;

out:
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
