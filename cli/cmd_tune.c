/*
 * cli/cmd_tune.c - `strixcore tune`: tune every kernel shape a model needs
 * ahead of time, and show the tuning table (docs/tuning.md).
 *
 *   strixcore [--backend B] tune MODEL_DIR | ORG/NAME | --synthetic NAME [--weights W]
 *             [--max-model-len 4096] [--max-num-seqs 8] [--max-num-batched-tokens 512]
 *             [--kv-type f32|f16|bf16] [--show]
 *   strixcore [--backend B] tune --show
 *
 * Tuning itself is the core's (core/src/tune.c): with tuning on, the first
 * forward pass that meets a new kernel key times its variants on that pass's
 * real activations. This command only drives forward passes that meet every
 * key serving meets (sc_cli_pretune, which `serve --tune` shares):
 *
 *   prefill   one chunk of P tokens for P = 16, 32, ... up to
 *             max_num_batched_tokens (the engine's prefill chunks)
 *   decode    one step of B sequences for B = 1 .. 8, then 16, 32, ... up to
 *             max_num_seqs (the engine's decode batches)
 *   context   one sequence filled chunk by chunk up to max_model_len, with a
 *             decode step at every power of two (attention at each length
 *             bucket)
 *
 * Keys bucket token counts to powers of two (backends/common/sc_tune_table.h),
 * so these passes cover every shape the engine can run. Progress goes to
 * stderr: passes done, kernels tuned, and the expected time left.
 *
 * Then the in-graph check: each prefill and decode pass is timed whole (the
 * median of 5 runs; decode steps at a context of ~128 tokens) with the
 * tuned choices of the keys it meets and with their defaults. A kernel timed alone cannot see what the default gains
 * inside the graph (a backend fusing it with its neighbours, or a fused
 * norm writing the int8 copy of its input), so where the defaults make the
 * pass faster by more than 2%, those keys keep the default (saved, and
 * marked "in_graph_default" in the cache).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hf_pull.h"
#include "strixcore/model.h"
#include "strixcore/model_synth.h"
#include "strixcore/tuning.h"

typedef struct tune_opts {
    const char *dir, *synthetic, *wquant;
    sc_type weights, kv;
    int max_model_len, max_seqs, max_batched;
    bool show;
} tune_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the passes ----------------------------------------------------------------------------- */
typedef enum pass_kind { PASS_PREFILL, PASS_DECODE, PASS_FILL, PASS_CTX_DECODE } pass_kind;

typedef struct pass {
    pass_kind kind;
    int n;          /* PREFILL: tokens; DECODE: sequences; FILL: tokens appended to seq 0; CTX_DECODE: - */
} pass;

/* The plan: passes in order (FILL passes extend sequence 0 for the CTX ones). */
static int plan(pass *p, int cap, int64_t max_len, int max_seqs, int max_batched) {
    int n = 0;
    for (int P = 16;; P *= 2) {
        const int c = P < max_batched ? P : max_batched;
        if (c > 8 && c < max_len && n < cap) p[n++] = (pass){PASS_PREFILL, c};
        if (P >= max_batched) break;
    }
    for (int B = 1; B <= max_seqs && n < cap; B = B < 8 ? B + 1 : (B * 2 > max_seqs && B < max_seqs ? max_seqs : B * 2))
        p[n++] = (pass){PASS_DECODE, B};
    int64_t len = 1; /* sequence 0 starts with one token (the FILL below) */
    if (n < cap) p[n++] = (pass){PASS_FILL, 1};
    for (int64_t L = 16; L <= max_len && n + 2 < cap; L *= 2) {
        /* fill to L - 1 tokens, then decode one at position L - 1 */
        while (len < L - 1 && n + 2 < cap) {
            const int64_t add = L - 1 - len < max_batched ? L - 1 - len : max_batched;
            p[n++] = (pass){PASS_FILL, (int)add};
            len += add;
        }
        p[n++] = (pass){PASS_CTX_DECODE, 1};
        len++;
    }
    return n;
}

static const char *pass_name(const pass *p, char *buf, size_t len) {
    switch (p->kind) {
    case PASS_PREFILL: snprintf(buf, len, "prefill %d", p->n); break;
    case PASS_DECODE: snprintf(buf, len, "decode x%d", p->n); break;
    case PASS_FILL: snprintf(buf, len, "context +%d", p->n); break;
    default: snprintf(buf, len, "decode at context"); break;
    }
    return buf;
}

static void fill_ids(int32_t *ids, int n, int64_t vocab, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)((s >> 8) % (uint32_t)(vocab > 1 ? vocab : 1));
    }
}

typedef struct progress {
    bool tty, quiet;
    int done, total;
    double t0;
    int64_t tuned;
} progress;

/* The in-graph check's passes. PREFILL: a chunk into an empty sequence 0.
 * DECODE: one step of B sequences that already hold some context
 * (check_ctx tokens, filled by decode_setup, untimed): a decode step at a
 * context of one token would not show what the attention choices cost
 * where a server spends its time. Each run appends one more token. */
static int check_ctx(const sc_model_t *m) {
    const int64_t L = sc_model_max_len(m);
    return (int)(L > 160 ? 128 : (L > 24 ? L - 24 : 1));
}

static int decode_setup(sc_model_t *m, const pass *p, int32_t *ids, int64_t vocab) {
    const int C = check_ctx(m);
    int rc = SC_OK;
    for (int s = 0; s < p->n && rc == SC_OK; s++) {
        rc = sc_model_seq_reset(m, s);
        fill_ids(ids, C, vocab, 11u + (uint32_t)s);
        if (rc == SC_OK) rc = sc_model_forward(m, s, ids, C, NULL, false);
    }
    return rc;
}

static int run_pass(sc_model_t *m, const pass *p, int32_t *ids, int32_t *seq, float *logits, int64_t vocab) {
    fill_ids(ids, p->n, vocab, 7u);
    if (p->kind == PASS_PREFILL) {
        int rc = sc_model_seq_reset(m, 0);
        return rc == SC_OK ? sc_model_forward(m, 0, ids, p->n, logits, false) : rc;
    }
    for (int s = 0; s < p->n; s++) seq[s] = s;
    sc_model_batch b = {.n_tokens = p->n, .tokens = ids, .seq = seq, .logits = NULL};
    return sc_model_forward_batch(m, &b, logits);
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int time_pass(sc_model_t *m, const pass *p, int32_t *ids, int32_t *seq, float *logits, int64_t vocab,
                     double *ms) {
    double t[5];
    for (int r = 0; r < 5; r++) {
        const double t0 = now_s();
        const int rc = run_pass(m, p, ids, seq, logits, vocab);
        if (rc != SC_OK) return rc;
        t[r] = (now_s() - t0) * 1e3;
    }
    qsort(t, 5, sizeof t[0], cmp_d);
    *ms = t[2];
    return SC_OK;
}

/* The in-graph check of one pass (tuning on when called; left on). */
static int check_pass(sc_model_t *m, sc_device_t *dev, const pass *p, int32_t *ids, int32_t *seq, float *logits,
                      int64_t vocab, int64_t *n_reverted, bool quiet) {
    int rc = p->kind == PASS_DECODE ? decode_setup(m, p, ids, vocab) : SC_OK;
    if (rc == SC_OK) rc = sc_device_tuning_record(dev, true);
    if (rc == SC_OK) rc = run_pass(m, p, ids, seq, logits, vocab); /* marks its keys; a warm-up too */
    sc_device_tuning_record(dev, false);
    sc_device_tuning_set_tuning(dev, false); /* no per-node queries while timing */
    int64_t n = 0;
    double tuned = 0, dflt = 0;
    if (rc == SC_OK) rc = time_pass(m, p, ids, seq, logits, vocab, &tuned);
    if (rc == SC_OK) rc = sc_device_tuning_recorded_default(dev, true, false, &n);
    if (rc == SC_OK && n > 0) rc = time_pass(m, p, ids, seq, logits, vocab, &dflt);
    if (n > 0) {
        /* the marks stay until the next record(true): settle the same keys */
        const bool keep_default = rc == SC_OK && dflt < tuned * 0.98;
        const int src = sc_device_tuning_recorded_default(dev, keep_default, keep_default, NULL);
        if (rc == SC_OK) rc = src;
        if (keep_default) *n_reverted += n;
        char what[64];
        if (rc == SC_OK && !quiet)
            fprintf(stderr, "tune: in-graph check, %s: %.3f ms tuned, %.3f ms with the defaults of its %lld tuned keys: %s\n",
                    pass_name(p, what, sizeof what), tuned, dflt, (long long)n,
                    keep_default ? "defaults kept" : "tuned kept");
    }
    sc_device_tuning_set_tuning(dev, true);
    return rc;
}

static void on_tuned(void *user, const char *key, int64_t n, double s) {
    progress *p = user;
    p->tuned = n;
}

static void show_progress(progress *p, const char *what, sc_device_t *dev, bool last) {
    if (p->quiet) return;
    const double el = now_s() - p->t0;
    /* the expected time left: the passes so far at their average cost (later
     * passes meet fewer new keys, so this errs long) */
    const double left = p->done > 0 ? el / p->done * (p->total - p->done) : 0;
    sc_tuning_stats st = {.struct_size = sizeof st};
    sc_device_tuning_stats(dev, &st);
    char bar[32];
    const int w = 24, fill = p->total ? p->done * w / p->total : w;
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    if (p->tty)
        fprintf(stderr, "\r\033[K[%s] %d/%d passes, %lld kernels tuned, %.1f s, ~%.0f s left (%s)%s", bar, p->done,
                p->total, (long long)st.tuned, el, left, what, last ? "\n" : "");
    else
        fprintf(stderr, "tune: [%s] %d/%d passes (%s), %lld kernels tuned, %.1f s, ~%.0f s left\n", bar, p->done,
                p->total, what, (long long)st.tuned, el, left);
}

int sc_cli_pretune(sc_model_t *m, sc_device_t *dev, int max_seqs, int max_batched, bool quiet) {
    const sc_model_config *cfg = sc_model_config_of(m);
    const int64_t max_len = sc_model_max_len(m);
    if (max_batched < 1) max_batched = 512;
    if (max_seqs < 1) max_seqs = 1;
    pass passes[256];
    const int np = plan(passes, 256, max_len, max_seqs, max_batched);
    int max_tok = max_batched > max_seqs ? max_batched : max_seqs;
    if (max_tok < check_ctx(m)) max_tok = check_ctx(m); /* decode_setup's fill */
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_tok), *seq = malloc(sizeof(int32_t) * (size_t)max_tok);
    float *logits = malloc(sizeof(float) * (size_t)cfg->vocab_size * (size_t)max_seqs);
    if (!ids || !seq || !logits) {
        free(ids);
        free(seq);
        free(logits);
        return SC_ENOMEM;
    }
    progress pr = {.tty = isatty(2), .quiet = quiet, .total = np, .t0 = now_s()};
    sc_device_tuning_on_progress(dev, on_tuned, &pr);
    if (!quiet)
        fprintf(stderr, "tune: %d forward passes (prefill chunks to %d tokens, decode batches to %d sequences, "
                        "contexts to %lld)\n", np, max_batched, max_seqs, (long long)max_len);
    int rc = SC_OK;
    char what[64];
    for (int i = 0; i < np && rc == SC_OK; i++) {
        const pass *p = &passes[i];
        switch (p->kind) {
        case PASS_PREFILL:
            fill_ids(ids, p->n, cfg->vocab_size, (uint32_t)i);
            if ((rc = sc_model_seq_reset(m, 0)) == SC_OK) rc = sc_model_forward(m, 0, ids, p->n, logits, false);
            break;
        case PASS_DECODE: {
            for (int s = 0; s < p->n && rc == SC_OK; s++) rc = sc_model_seq_reset(m, s);
            fill_ids(ids, p->n, cfg->vocab_size, (uint32_t)i);
            for (int s = 0; s < p->n; s++) seq[s] = s;
            sc_model_batch b = {.n_tokens = p->n, .tokens = ids, .seq = seq, .logits = NULL};
            if (rc == SC_OK) rc = sc_model_forward_batch(m, &b, logits);
            break;
        }
        case PASS_FILL:
            if (i > 0 && passes[i - 1].kind != PASS_FILL && passes[i - 1].kind != PASS_CTX_DECODE)
                rc = sc_model_seq_reset(m, 0);
            fill_ids(ids, p->n, cfg->vocab_size, (uint32_t)i);
            if (rc == SC_OK) rc = sc_model_forward(m, 0, ids, p->n, logits, false);
            break;
        case PASS_CTX_DECODE:
            fill_ids(ids, 1, cfg->vocab_size, (uint32_t)i);
            rc = sc_model_forward(m, 0, ids, 1, logits, false);
            break;
        }
        pr.done = i + 1;
        show_progress(&pr, pass_name(p, what, sizeof what), dev, i + 1 == np);
    }
    /* the in-graph check of the prefill and decode passes */
    int64_t n_reverted = 0;
    for (int i = 0; i < np && rc == SC_OK; i++)
        if (passes[i].kind == PASS_PREFILL || (passes[i].kind == PASS_DECODE && max_len >= 40))
            rc = check_pass(m, dev, &passes[i], ids, seq, logits, cfg->vocab_size, &n_reverted, quiet);
    if (rc == SC_OK && !quiet)
        fprintf(stderr, "tune: in-graph check done in %.1f s: %lld keys back to their defaults\n", now_s() - pr.t0,
                (long long)n_reverted);
    for (int s = 0; s < max_seqs; s++) sc_model_seq_reset(m, s);
    sc_device_tuning_on_progress(dev, NULL, NULL);
    if (rc == SC_OK) rc = sc_device_tuning_save(dev);
    free(ids);
    free(seq);
    free(logits);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------------- */
static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "strixcore tune: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fputs("usage: strixcore [--backend B] tune MODEL_DIR | ORG/NAME | --synthetic NAME\n"
          "       [--weights f32|f16|bf16|gptq-int4|gptq-int8|awq-int4|ct-w4a16] [--kv-type f32|f16|bf16]\n"
          "       [--max-model-len 4096] [--max-num-seqs 8] [--max-num-batched-tokens 512] [--show]\n"
          "       strixcore [--backend B] tune --show\n",
          stderr);
    return SC_CLI_USAGE;
}

static int parse_args(int argc, char **argv, tune_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = SC_CLI_OK;
        if (strcmp(a, "--show") == 0) {
            o->show = true;
            continue;
        }
        if (a[0] != '-') {
            if (o->dir || o->synthetic) return usage_error("more than one model:", a);
            o->dir = a;
            continue;
        }
        if (!v) return usage_error("option needs a value:", a);
        if (strcmp(a, "--synthetic") == 0) {
            if (o->dir || o->synthetic) return usage_error("more than one model:", v);
            o->synthetic = v;
        } else if (strcmp(a, "--weights") == 0 || strcmp(a, "-w") == 0) {
            if (!strcmp(v, "gptq-int4") || !strcmp(v, "gptq-int8") || !strcmp(v, "awq-int4") || !strcmp(v, "ct-w4a16"))
                o->wquant = v;
            else if ((rc = sc_cli_parse_type(v, &o->weights)) == SC_CLI_OK)
                o->wquant = NULL;
        } else if (strcmp(a, "--kv-type") == 0) {
            rc = sc_cli_parse_type(v, &o->kv);
        } else if (strcmp(a, "--max-model-len") == 0) {
            rc = sc_cli_parse_int(v, 16, 1 << 24, &o->max_model_len);
        } else if (strcmp(a, "--max-num-seqs") == 0) {
            rc = sc_cli_parse_int(v, 1, 1024, &o->max_seqs);
        } else if (strcmp(a, "--max-num-batched-tokens") == 0) {
            rc = sc_cli_parse_int(v, 1, 1 << 20, &o->max_batched);
        } else {
            return usage_error("unknown argument", a);
        }
        if (rc != SC_CLI_OK) return usage_error("bad value for", a);
        i++;
    }
    if (!o->dir && !o->synthetic && !o->show)
        return usage_error("give a MODEL_DIR, ORG/NAME or --synthetic NAME (or --show)", NULL);
    if (o->wquant && !o->synthetic) return usage_error("quantized --weights apply to --synthetic models only, not", o->wquant);
    if (o->max_batched < o->max_seqs)
        return usage_error("--max-num-batched-tokens must be at least --max-num-seqs", NULL);
    return SC_CLI_OK;
}

int sc_cmd_tune(sc_cli *cli, int argc, char **argv) {
    tune_opts o = {.weights = SC_TYPE_BF16, .kv = SC_TYPE_F32, .max_model_len = 4096, .max_seqs = 8,
                   .max_batched = 512};
    int rc = parse_args(argc, argv, &o);
    if (rc != SC_CLI_OK) return rc;
    sc_device_t *dev = sc_cli_pick_device(cli);
    if (!dev) return SC_CLI_FAIL;
    sc_tuning_stats st = {.struct_size = sizeof st};
    if (!o.dir && !o.synthetic) { /* --show */
        if (sc_device_tuning_stats(dev, &st) != SC_OK || sc_device_tuning_print(dev, stdout) != SC_OK) {
            fprintf(stderr, "strixcore tune: no tuning state for %s\n", sc_device_name(dev));
            return SC_CLI_FAIL;
        }
        if (st.file_ignored) printf("  (the cache file was ignored: see the warning above)\n");
        return SC_CLI_OK;
    }
    if (cli->tuning_enabled == 0) {
        fputs("strixcore tune: tuning_enabled is 0: nothing would be used; drop it to tune\n", stderr);
        return SC_CLI_USAGE;
    }
    if (sc_cli_tuning_start(cli, dev, 1) != SC_OK) return SC_CLI_FAIL;

    sc_model_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.struct_size = sizeof mo;
    mo.device = dev;
    mo.weight_type = o.weights;
    mo.kv_type = o.kv;
    mo.seed = 1;
    mo.max_model_len = o.max_model_len;
    mo.max_seqs = o.max_seqs;
    sc_model_t *m = NULL;
    char err[512] = "";
    sc_cli_progress_attach(&mo, o.synthetic ? o.synthetic : o.dir);
    if (o.synthetic)
        rc = sc_model_synthetic_quant(o.synthetic, o.wquant, &mo, &m, err, sizeof err);
    else {
        char *dir = sc_cli_model_path("strixcore tune", o.dir);
        rc = dir ? sc_model_load(dir, &mo, &m, err, sizeof err) : SC_ENOENT;
        free(dir);
    }
    sc_cli_progress_done(&mo);
    if (rc < 0) {
        fprintf(stderr, "strixcore tune: cannot load %s: %s\n", o.synthetic ? o.synthetic : o.dir,
                err[0] ? err : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    const double t0 = now_s();
    rc = sc_cli_pretune(m, dev, o.max_seqs, o.max_batched, false);
    const double secs = now_s() - t0;
    sc_device_tuning_stats(dev, &st);
    if (rc != SC_OK)
        fprintf(stderr, "strixcore tune: stopped: %s (what was tuned so far is kept)\n", sc_strerror(rc));
    printf("tuned %lld kernel keys on %s in %.1f s (%lld variants timed, %lld rejected as wrong); %lld keys in %s\n",
           (long long)st.tuned, sc_device_name(dev), secs, (long long)st.variants_timed, (long long)st.variants_wrong,
           (long long)st.entries, st.path);
    if (o.show) sc_device_tuning_print(dev, stdout);
    sc_model_free(m);
    return rc == SC_OK ? SC_CLI_OK : SC_CLI_FAIL;
}
