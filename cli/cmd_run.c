/*
 * cli/cmd_run.c - `strixcore run`: one prompt, or a chat on the terminal.
 *
 *   strixcore run MODEL_DIR -p "Why is the sky blue?"     one answer, streamed
 *   strixcore run MODEL_DIR                               chat REPL on stdin
 *
 * The checkpoint directory supplies everything a Hugging Face user expects to
 * be picked up: config.json and the safetensors (the model),
 * tokenizer.json, tokenizer_config.json's chat_template (or
 * chat_template.jinja), and generation_config.json (default sampling and eos
 * ids). Flags override the defaults. Model text goes to stdout, everything
 * else (progress, timings, errors) to stderr, so `run ... > out.txt` keeps
 * only the answer.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hf_pull.h"
#include "strixcore/chat_template.h"
#include "strixcore/generate.h"

/* ------------------------------------------------------------------------ */
/* options                                                                   */
/* ------------------------------------------------------------------------ */
#define RUN_MAX_STOP 16

typedef struct run_opts {
    const char *dir, *prompt, *system, *tokenizer, *template_path;
    int n_predict, max_model_len, threads;
    int think;              /* -1 unset (the template's default), 0, 1 */
    bool chat, ignore_eos, seed_set;
    sc_type kv;
    /* which sampling flags were given: they override generation_config.json */
    bool set_temp, set_top_k, set_top_p, set_min_p, set_rep;
    sc_sampler_params sp;
    const char *stop[RUN_MAX_STOP];
    int n_stop;
} run_opts;

static int run_usage(const char *msg, const char *arg) {
    fprintf(stderr, "strixcore run: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fputs("usage: strixcore run MODEL_DIR [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
          "       [--repeat-penalty R] [--presence-penalty P] [--frequency-penalty F] [--seed S]\n"
          "       [--stop STR]... [--max-model-len N] [--no-chat] [--system TEXT] [--think | --no-think]\n"
          "       [--tokenizer PATH] [--chat-template PATH] [--kv-type f32|f16|bf16] [--threads N] [--ignore-eos]\n"
          "without -p: a chat on stdin; /reset forgets the conversation, /exit or end of input quits\n",
          stderr);
    return SC_CLI_USAGE;
}

static int parse_run_args(int argc, char **argv, run_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = SC_CLI_OK;
        if (a[0] != '-') {
            if (o->dir)
                return run_usage("more than one model directory:", a);
            o->dir = a;
            continue;
        }
        if (strcmp(a, "--no-chat") == 0) {
            o->chat = false;
            continue;
        } else if (strcmp(a, "--think") == 0) {
            o->think = 1;
            continue;
        } else if (strcmp(a, "--no-think") == 0) {
            o->think = 0;
            continue;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            o->ignore_eos = true;
            continue;
        }
        if (!v)
            return run_usage("option needs a value:", a);
        i++;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0)
            o->prompt = v;
        else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0 || strcmp(a, "--max-tokens") == 0)
            rc = sc_cli_parse_int(v, 0, 1 << 30, &o->n_predict);
        else if (strcmp(a, "--temp") == 0 || strcmp(a, "--temperature") == 0)
            rc = sc_cli_parse_float(v, &o->sp.temperature), o->set_temp = true;
        else if (strcmp(a, "--top-k") == 0)
            rc = sc_cli_parse_int(v, -1, 1 << 30, &o->sp.top_k), o->set_top_k = true;
        else if (strcmp(a, "--top-p") == 0)
            rc = sc_cli_parse_float(v, &o->sp.top_p), o->set_top_p = true;
        else if (strcmp(a, "--min-p") == 0)
            rc = sc_cli_parse_float(v, &o->sp.min_p), o->set_min_p = true;
        else if (strcmp(a, "--repeat-penalty") == 0 || strcmp(a, "--repetition-penalty") == 0)
            rc = sc_cli_parse_float(v, &o->sp.repetition_penalty), o->set_rep = true;
        else if (strcmp(a, "--presence-penalty") == 0)
            rc = sc_cli_parse_float(v, &o->sp.presence_penalty);
        else if (strcmp(a, "--frequency-penalty") == 0)
            rc = sc_cli_parse_float(v, &o->sp.frequency_penalty);
        else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            o->sp.seed = strtoull(v, &end, 0);
            rc = errno || end == v || *end ? SC_CLI_USAGE : SC_CLI_OK;
            o->seed_set = true;
        } else if (strcmp(a, "--stop") == 0) {
            if (o->n_stop == RUN_MAX_STOP)
                return run_usage("too many --stop strings (16 at most)", NULL);
            o->stop[o->n_stop++] = v;
        } else if (strcmp(a, "--max-model-len") == 0 || strcmp(a, "-c") == 0)
            rc = sc_cli_parse_int(v, 1, 1 << 30, &o->max_model_len);
        else if (strcmp(a, "--system") == 0)
            o->system = v;
        else if (strcmp(a, "--tokenizer") == 0)
            o->tokenizer = v;
        else if (strcmp(a, "--chat-template") == 0)
            o->template_path = v;
        else if (strcmp(a, "--kv-type") == 0)
            rc = sc_cli_parse_type(v, &o->kv);
        else if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0)
            rc = sc_cli_parse_int(v, 1, 1024, &o->threads);
        else
            return run_usage("unknown argument", a);
        if (rc != SC_CLI_OK)
            return run_usage("bad value for", a);
    }
    if (!o->dir)
        return run_usage("give a MODEL_DIR (a Hugging Face checkpoint directory) or a repo id ORG/NAME[@REV]", NULL);
    return SC_CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* the session: model, tokenizer, template, conversation                    */
/* ------------------------------------------------------------------------ */
typedef struct run_msg {
    const char *role;
    char *content;
} run_msg;

typedef struct run_session {
    run_opts *o;
    sc_model_t *model;
    sc_tokenizer_t *tok;
    sc_chat_template_t *tmpl;   /* NULL: raw completion */
    sc_generation_config gen;
    sc_gen_params gp;
    sc_gen_cache cache;
    run_msg *msgs;
    int n_msgs, cap_msgs;
    char *reply;                /* the answer being streamed, kept for the history */
    size_t reply_len, reply_cap;
    bool ends_newline;
} run_session;

/* SIGINT during a generation stops that generation (the REPL goes on);
 * elsewhere it keeps its default meaning. */
static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static int on_text(const char *text, size_t len, void *user) {
    run_session *s = user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (s->reply_len + len + 1 > s->reply_cap) {
        size_t cap = (s->reply_len + len + 1) * 2;
        char *p = realloc(s->reply, cap);
        if (!p)
            return 1;
        s->reply = p;
        s->reply_cap = cap;
    }
    memcpy(s->reply + s->reply_len, text, len);
    s->reply_len += len;
    s->reply[s->reply_len] = '\0';
    s->ends_newline = text[len - 1] == '\n';
    return g_interrupted ? 1 : 0;
}

static int on_token(int32_t id, void *user) {
    (void)id;
    (void)user;
    return g_interrupted ? 1 : 0;
}

/* Text of a token (for the template's bos_token / eos_token), or "". */
static char *token_text(const sc_tokenizer_t *tok, int32_t id) {
    size_t len = 0;
    const char *b = id >= 0 ? sc_tokenizer_token_bytes(tok, id, &len) : NULL;
    char *s = malloc(len + 1);
    if (s) {
        if (b)
            memcpy(s, b, len);
        s[len] = '\0';
    }
    return s;
}

/* The template's variables as JSON. */
static char *chat_vars(run_session *s) {
    char *buf = NULL, *bos = token_text(s->tok, s->gen.bos_token_id),
         *eos = token_text(s->tok, s->gen.n_eos ? s->gen.eos_ids[0] : -1);
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || !bos || !eos) {
        if (f)
            fclose(f);
        free(buf);
        free(bos);
        free(eos);
        return NULL;
    }
    fputs("{\"messages\": [", f);
    for (int i = 0; i < s->n_msgs; i++) {
        fprintf(f, "%s{\"role\": \"%s\", \"content\": ", i ? ", " : "", s->msgs[i].role);
        sc_cli_json_string(f, s->msgs[i].content);
        fputc('}', f);
    }
    fputs("], \"add_generation_prompt\": true", f);
    if (s->o->think >= 0)
        fprintf(f, ", \"enable_thinking\": %s", s->o->think ? "true" : "false");
    fputs(", \"bos_token\": ", f);
    sc_cli_json_string(f, bos);
    fputs(", \"eos_token\": ", f);
    sc_cli_json_string(f, eos);
    fputc('}', f);
    fclose(f);
    free(bos);
    free(eos);
    return buf;
}

static int add_msg(run_session *s, const char *role, const char *content, size_t len) {
    char *c;
    if (s->n_msgs == s->cap_msgs) {
        int cap = s->cap_msgs ? s->cap_msgs * 2 : 8;
        run_msg *p = realloc(s->msgs, (size_t)cap * sizeof(*p));
        if (!p)
            return SC_ENOMEM;
        s->msgs = p;
        s->cap_msgs = cap;
    }
    if (!(c = malloc(len + 1)))
        return SC_ENOMEM;
    memcpy(c, content, len);
    c[len] = '\0';
    s->msgs[s->n_msgs].role = role;
    s->msgs[s->n_msgs].content = c;
    s->n_msgs++;
    return SC_OK;
}

static void clear_msgs(run_session *s) {
    for (int i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].content);
    s->n_msgs = 0;
    if (s->o->system)
        add_msg(s, "system", s->o->system, strlen(s->o->system));
}

/* One answer: the conversation so far (or the raw text) -> ids -> stream. */
static int answer(run_session *s, const char *raw) {
    char *text = NULL, err[512] = "";
    size_t text_len = 0, n_ids = 0;
    int32_t *ids = NULL;
    sc_gen_result res;
    struct sigaction sa, old;
    int rc;

    if (s->tmpl) {
        char *vars = chat_vars(s);
        if (!vars) {
            fputs("strixcore run: out of memory\n", stderr);
            return SC_CLI_FAIL;
        }
        rc = sc_chat_template_render(s->tmpl, vars, &text, &text_len, err, sizeof(err));
        free(vars);
        if (rc < 0) {
            fprintf(stderr, "strixcore run: chat template: %s\n", err[0] ? err : sc_strerror(rc));
            return SC_CLI_FAIL;
        }
    } else {
        text = strdup(raw);
        text_len = text ? strlen(text) : 0;
    }
    if (!text)
        return SC_CLI_FAIL;
    rc = sc_tokenizer_encode(s->tok, text, text_len, true, &ids, &n_ids);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "strixcore run: cannot tokenize the prompt: %s\n", sc_strerror(rc));
        return SC_CLI_FAIL;
    }

    s->reply_len = 0;
    s->ends_newline = true;
    g_interrupted = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    rc = sc_generate(s->model, s->tok, ids, n_ids, &s->gp, &s->cache, &res, err, sizeof(err));
    sigaction(SIGINT, &old, NULL);
    free(ids);
    if (!s->ends_newline)
        fputc('\n', stdout);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "strixcore run: %s\n", err[0] ? err : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    if (res.n_cached > 0)
        fprintf(stderr, "prompt: %lld tokens (%lld cached), %.2f tok/s; generated: %lld tokens, %.2f tok/s",
                (long long)res.n_prompt, (long long)res.n_cached, res.prefill_tps, (long long)res.n_generated,
                res.decode_tps);
    else
        fprintf(stderr, "prompt: %lld tokens, %.2f tok/s; generated: %lld tokens, %.2f tok/s",
                (long long)res.n_prompt, res.prefill_tps, (long long)res.n_generated, res.decode_tps);
    fprintf(stderr, " (%s)\n", res.finish == SC_FINISH_ABORT ? "interrupted" : sc_finish_name(res.finish));
    if (s->tmpl && add_msg(s, "assistant", s->reply ? s->reply : "", s->reply_len) < 0)
        return SC_CLI_FAIL;
    return SC_CLI_OK;
}

/* The REPL: one line is one user turn. */
static int repl(run_session *s) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool tty = isatty(STDIN_FILENO);
    int rc = SC_CLI_OK;

    if (tty)
        fprintf(stderr, "chat with %s: /reset forgets the conversation, /exit or Ctrl-D quits, Ctrl-C stops an "
                        "answer\n",
                s->o->dir);
    for (;;) {
        if (tty) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        if ((n = getline(&line, &cap, stdin)) < 0)
            break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0)
            break;
        if (strcmp(line, "/reset") == 0) {
            clear_msgs(s);
            s->cache.n = 0;
            sc_model_seq_reset(s->model, 0);
            if (tty)
                fputs("(conversation cleared)\n", stderr);
            continue;
        }
        if (s->tmpl && add_msg(s, "user", line, (size_t)n) < 0) {
            rc = SC_CLI_FAIL;
            break;
        }
        if ((rc = answer(s, line)) != SC_CLI_OK) {
            /* a failed turn is dropped from the history; the chat goes on */
            if (s->tmpl && s->n_msgs > 0 && strcmp(s->msgs[s->n_msgs - 1].role, "user") == 0)
                free(s->msgs[--s->n_msgs].content);
            if (!tty)
                break;
            rc = SC_CLI_OK;
        }
    }
    free(line);
    if (tty && n < 0)
        fputc('\n', stderr);
    return rc;
}


static int load_template(run_session *s) {
    int rc = sc_cli_load_template("run", s->o->template_path, s->o->dir, &s->tmpl);
    if (rc < 0)
        return SC_CLI_FAIL;
    if (!s->tmpl)
        fprintf(stderr, "strixcore run: %s has no chat template: the prompt is used as raw text (--no-chat)\n",
                s->o->dir);
    return SC_CLI_OK;
}

static int load_session(sc_cli *cli, run_session *s) {
    run_opts *o = s->o;
    sc_model_opts mo;
    sc_device_t *dev;
    char err[512] = "", *tok_path;
    int rc;

    if (o->threads > 0)
        sc_cpu_set_threads(o->threads);
    if (!(dev = sc_cli_pick_device(cli)))
        return SC_CLI_FAIL;
    /* the tokenizer first: it is quick, and its absence should not cost a model load */
    tok_path = o->tokenizer ? strdup(o->tokenizer) : sc_cli_dir_file(o->dir, "tokenizer.json");
    if (!tok_path) {
        fprintf(stderr, "strixcore run: no tokenizer.json in %s (give --tokenizer PATH)\n", o->dir);
        return SC_CLI_FAIL;
    }
    rc = sc_tokenizer_load(tok_path, &s->tok, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strixcore run: %s: %s\n", tok_path, err[0] ? err : sc_strerror(rc));
        free(tok_path);
        return SC_CLI_FAIL;
    }
    free(tok_path);
    if (o->chat && load_template(s) != SC_CLI_OK)
        return SC_CLI_FAIL;

    memset(&mo, 0, sizeof(mo));
    mo.struct_size = sizeof(mo);
    mo.device = dev;
    mo.max_model_len = o->max_model_len;
    mo.kv_type = o->kv;
    sc_cli_progress_attach(&mo, o->dir);
    rc = sc_model_load(o->dir, &mo, &s->model, err, sizeof(err));
    sc_cli_progress_done(&mo);
    if (rc < 0) {
        fprintf(stderr, "strixcore run: cannot load %s: %s\n", o->dir, err[0] ? err : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    rc = sc_generation_config_load(o->dir, sc_model_config_of(s->model), &s->gen, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strixcore run: %s/generation_config.json: %s\n", o->dir, err[0] ? err : sc_strerror(rc));
        return SC_CLI_FAIL;
    }

    /* sampling: generation_config.json, then the flags */
    sc_gen_params_default(&s->gp);
    sc_sampler_params_from_gen(&s->gp.sampling, &s->gen);
    if (o->set_temp)
        s->gp.sampling.temperature = o->sp.temperature;
    if (o->set_top_k)
        s->gp.sampling.top_k = o->sp.top_k;
    if (o->set_top_p)
        s->gp.sampling.top_p = o->sp.top_p;
    if (o->set_min_p)
        s->gp.sampling.min_p = o->sp.min_p;
    if (o->set_rep)
        s->gp.sampling.repetition_penalty = o->sp.repetition_penalty;
    s->gp.sampling.presence_penalty = o->sp.presence_penalty;
    s->gp.sampling.frequency_penalty = o->sp.frequency_penalty;
    /* no --seed: a different answer each run, as with any chat tool */
    s->gp.sampling.seed = o->seed_set ? o->sp.seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    sc_log(SC_LOG_INFO, "run",
           "sampling: temperature %g, top_k %d, top_p %g, min_p %g, repetition %g, presence %g, frequency %g, "
           "seed %llu",
           s->gp.sampling.temperature, s->gp.sampling.top_k, s->gp.sampling.top_p, s->gp.sampling.min_p,
           s->gp.sampling.repetition_penalty, s->gp.sampling.presence_penalty, s->gp.sampling.frequency_penalty,
           (unsigned long long)s->gp.sampling.seed);
    if ((rc = sc_sampler_params_check(&s->gp.sampling, err, sizeof(err))) < 0) {
        fprintf(stderr, "strixcore run: %s\n", err);
        return SC_CLI_USAGE;
    }
    s->gp.max_tokens = o->n_predict;
    s->gp.stop = o->stop;
    s->gp.n_stop = o->n_stop;
    s->gp.eos_ids = s->gen.eos_ids;
    s->gp.n_eos = s->gen.n_eos;
    s->gp.ignore_eos = o->ignore_eos;
    s->gp.on_text = on_text;
    s->gp.on_token = on_token;
    s->gp.user = s;
    clear_msgs(s);
    return SC_CLI_OK;
}

static void free_session(run_session *s) {
    for (int i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].content);
    free(s->msgs);
    free(s->reply);
    sc_gen_cache_free(&s->cache);
    sc_chat_template_free(s->tmpl);
    sc_tokenizer_free(s->tok);
    sc_model_free(s->model);
}

int sc_cmd_run(sc_cli *cli, int argc, char **argv) {
    run_opts o;
    run_session s;
    char *dir;
    int rc;

    memset(&o, 0, sizeof(o));
    o.chat = true;
    o.think = -1;
    o.kv = SC_TYPE_F32;
    sc_sampler_params_default(&o.sp);
    if ((rc = parse_run_args(argc, argv, &o)) != SC_CLI_OK)
        return rc;
    /* a directory, or ORG/NAME[@REV] in the Hugging Face cache */
    if (!(dir = sc_cli_model_path("strixcore run", o.dir)))
        return SC_CLI_FAIL;
    o.dir = dir;
    memset(&s, 0, sizeof(s));
    s.o = &o;
    rc = load_session(cli, &s);
    if (rc == SC_CLI_OK) {
        if (o.prompt) {
            if (s.tmpl)
                rc = add_msg(&s, "user", o.prompt, strlen(o.prompt)) < 0 ? SC_CLI_FAIL : SC_CLI_OK;
            if (rc == SC_CLI_OK)
                rc = answer(&s, o.prompt);
        } else {
            rc = repl(&s);
        }
    }
    free_session(&s);
    free(dir);
    return rc;
}
