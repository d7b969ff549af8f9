/*
 * cli/cmd_bench.c - `strixcore bench`: llama-bench's two numbers for one
 * model, and how close decode comes to the memory bandwidth.
 *
 *   pp<P>: prefill of P tokens into an empty cache, tok/s
 *   tg<N>: N single-token decode steps from an empty cache, tok/s
 *
 * Each test runs -r times after one warmup (a prefill batch and a decode
 * step, as llama-bench does); the table shows mean +- sample stddev.
 * Decode at batch 1 is memory-bound, so tg also gets an achieved bandwidth:
 * sum over the steps of sc_model_decode_bytes (weights read + KV read at
 * that context) divided by the time, set against a read probe of the
 * host memory (core/src/bandwidth.c).
 *
 * Also here: small helpers the model commands share (declared in cli.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hf_pull.h"
#include "strixcore/bandwidth.h"
#include "strixcore/model.h"
#include "strixcore/model_synth.h"

/* ------------------------------------------------------------------------ */
/* shared helpers                                                            */
/* ------------------------------------------------------------------------ */
int sc_cli_parse_int(const char *s, int min, int max, int *out) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return SC_CLI_USAGE;
    *out = (int)v;
    return SC_CLI_OK;
}

int sc_cli_parse_float(const char *s, float *out) {
    char *end;
    float v;
    errno = 0;
    v = strtof(s, &end);
    if (errno || end == s || *end || v != v)
        return SC_CLI_USAGE;
    *out = v;
    return SC_CLI_OK;
}

int sc_cli_parse_type(const char *s, sc_type *out) {
    if (strcmp(s, "f32") == 0)
        *out = SC_TYPE_F32;
    else if (strcmp(s, "f16") == 0)
        *out = SC_TYPE_F16;
    else if (strcmp(s, "bf16") == 0)
        *out = SC_TYPE_BF16;
    else
        return SC_CLI_USAGE;
    return SC_CLI_OK;
}

/* Loading progress: a bar on stderr, only when stderr is a terminal (a log
 * file would fill with carriage returns). */
typedef struct progress_state {
    const char *label;
    int last;          /* last percentage drawn, -1 before the first */
    bool drawn;
} progress_state;

static progress_state g_progress;

static void progress_cb(double fraction, void *user) {
    progress_state *p = user;
    int pct = (int)(fraction * 100.0 + 0.5), fill;
    if (pct < 0)
        pct = 0;
    if (pct > 100)
        pct = 100;
    if (pct == p->last)
        return;
    p->last = pct;
    p->drawn = true;
    fill = pct * 30 / 100;
    fprintf(stderr, "\rloading %.40s [%.*s%*s] %3d%%", p->label, fill, "##############################", 30 - fill,
            "", pct);
    fflush(stderr);
}

void sc_cli_progress_attach(sc_model_opts *mo, const char *label) {
    if (!isatty(STDERR_FILENO))
        return;
    g_progress.label = label;
    g_progress.last = -1;
    g_progress.drawn = false;
    mo->progress = progress_cb;
    mo->progress_user = &g_progress;
}

void sc_cli_progress_done(sc_model_opts *mo) {
    if (mo->progress && g_progress.drawn)
        fputs("\r\033[K", stderr);
    mo->progress = NULL;
}

/* ------------------------------------------------------------------------ */
/* bench                                                                     */
/* ------------------------------------------------------------------------ */
typedef struct bench_opts {
    const char *dir, *synthetic;
    const char *wquant;      /* --weights gptq-int4 etc.: quantized synthetic weights, else NULL */
    int n_prompt, n_gen, reps, threads, batch, probe_mib;
    sc_type weights, kv;
    bool json, probe, warmup;
} bench_opts;

typedef struct bench_test {
    char name[32];
    int n_prompt, n_gen;
    double *ts;              /* tok/s of each repetition */
    double mean, sd;
    double bytes_per_tok;    /* tg: mean bytes read per decode step */
    double gbps;             /* tg: mean achieved bandwidth */
} bench_test;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0.0, q = 0.0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = n ? s / n : 0.0;
    for (int i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0.0;
}

/* Parameters from the shapes (what a checkpoint of this config holds). */
/* Parameters of the model; active: those one token multiplies by (MoE: the
 * experts it is routed to, not all of them; the embedding table is a lookup,
 * the output head a product), so 2 x active is a token's FLOPs. */
static double count_params(const sc_model_config *c, bool active) {
    const double D = (double)c->hidden_size, hd = (double)c->head_dim;
    double n = active ? (double)c->vocab_size * D + D : (double)c->vocab_size * D * (c->tie_word_embeddings ? 1 : 2) + D;
    for (int64_t L = 0; L < c->n_layers; L++) {
        if (sc_model_config_layer_is_linear(c, L)) {
            /* Gated DeltaNet: in_proj_qkvz, in_proj_ba, conv, A_log/dt_bias, norm, out_proj */
            const double nk = (double)c->linear_n_key_heads, nv = (double)c->linear_n_value_heads;
            const double dk = (double)c->linear_key_head_dim, dv = (double)c->linear_value_head_dim;
            const double conv_c = 2 * nk * dk + nv * dv;
            n += D * (conv_c + nv * dv) + D * 2 * nv + conv_c * (double)c->linear_conv_kernel + 2 * nv + dv +
                 nv * dv * D + 2 * D;
        } else {
            /* Qwen3-Next's gated attention: q_proj holds the gate too */
            const double qh = (double)c->n_heads * (c->arch == SC_ARCH_QWEN3_NEXT ? 3 : 2);
            n += D * hd * (qh + 2 * (double)c->n_kv_heads) + 2 * hd + 2 * D;
        }
        if (sc_model_config_layer_is_moe(c, L) && c->shared_expert_intermediate_size > 0)
            n += 3.0 * D * (double)c->shared_expert_intermediate_size + D;
        if (sc_model_config_layer_is_moe(c, L))
            n += (double)(active ? c->n_experts_used : c->n_experts) * 3.0 * D * (double)c->moe_intermediate_size +
                 D * (double)c->n_experts;
        else
            n += 3.0 * D * (double)c->intermediate_size;
    }
    return n;
}

static double param_count(const sc_model_config *c) { return count_params(c, false); }

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "strixcore bench: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fputs("usage: strixcore bench [MODEL_DIR | --synthetic NAME] [-p 512] [-n 128] [-r 5]\n"
          "       [--weights f32|f16|bf16|gptq-int4|gptq-int8|awq-int4|ct-w4a16] [--kv-type f32|f16|bf16] [-o md|json] [--threads N]\n"
          "       [-b BATCH] [--no-warmup] [--no-probe] [--probe-mib 1024]\n",
          stderr);
    return SC_CLI_USAGE;
}

static int parse_args(int argc, char **argv, bench_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        int rc = SC_CLI_OK;
        if (strcmp(a, "--no-probe") == 0) {
            o->probe = false, takes = false;
        } else if (strcmp(a, "--no-warmup") == 0) {
            o->warmup = false, takes = false;
        } else if (a[0] != '-') {
            if (o->dir || o->synthetic)
                return usage_error("more than one model:", a);
            o->dir = a, takes = false;
        } else if (!v) {
            return usage_error("option needs a value:", a);
        } else if (strcmp(a, "--synthetic") == 0) {
            if (o->dir || o->synthetic)
                return usage_error("more than one model:", v);
            o->synthetic = v;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--n-prompt") == 0) {
            rc = sc_cli_parse_int(v, 0, 1 << 20, &o->n_prompt);
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-gen") == 0) {
            rc = sc_cli_parse_int(v, 0, 1 << 20, &o->n_gen);
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--repetitions") == 0) {
            rc = sc_cli_parse_int(v, 1, 1000, &o->reps);
        } else if (strcmp(a, "-b") == 0 || strcmp(a, "--batch") == 0) {
            rc = sc_cli_parse_int(v, 1, 1 << 20, &o->batch);
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0) {
            rc = sc_cli_parse_int(v, 1, 1024, &o->threads);
        } else if (strcmp(a, "--probe-mib") == 0) {
            rc = sc_cli_parse_int(v, 1, 1 << 20, &o->probe_mib);
        } else if (strcmp(a, "--weights") == 0 || strcmp(a, "-w") == 0) {
            if (strcmp(v, "gptq-int4") == 0 || strcmp(v, "gptq-int8") == 0 || strcmp(v, "awq-int4") == 0 ||
                strcmp(v, "ct-w4a16") == 0)
                o->wquant = v; /* quantized synthetic Linear layers (dense parts bf16) */
            else if ((rc = sc_cli_parse_type(v, &o->weights)) == SC_CLI_OK)
                o->wquant = NULL;
        } else if (strcmp(a, "--kv-type") == 0) {
            rc = sc_cli_parse_type(v, &o->kv);
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (strcmp(v, "json") == 0)
                o->json = true;
            else if (strcmp(v, "md") == 0)
                o->json = false;
            else
                return usage_error("-o takes md or json, not", v);
        } else {
            return usage_error("unknown argument", a);
        }
        if (rc != SC_CLI_OK)
            return usage_error("bad value for", a);
        if (takes)
            i++;
    }
    if (!o->dir && !o->synthetic)
        return usage_error("give a MODEL_DIR or --synthetic NAME (qwen3-0.6b, qwen3-14b, qwen3-30b-a3b, qwen3-next-80b-a3b, tiny, tiny-moe, tiny-next)",
                           NULL);
    if (o->n_prompt == 0 && o->n_gen == 0)
        return usage_error("-p 0 and -n 0 leave nothing to measure", NULL);
    if (o->wquant && !o->synthetic)
        return usage_error("quantized --weights apply to --synthetic models only, not", o->wquant);
    return SC_CLI_OK;
}

/* Random but fixed token ids (the same input every run and every build). */
static void fill_tokens(int32_t *ids, int n, int64_t vocab) {
    uint64_t x = 0x5eed;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)vocab);
    }
}

/* Prefill n tokens into an empty sequence 0, batch at a time; logits only
 * for the last batch. Seconds, or a negative error. */
static double run_pp(sc_model_t *m, const int32_t *ids, int n, int batch, float *logits, int *rc) {
    double t0;
    *rc = sc_model_seq_reset(m, 0);
    t0 = now_s();
    for (int pos = 0; *rc >= 0 && pos < n; pos += batch) {
        int k = n - pos < batch ? n - pos : batch;
        *rc = sc_model_forward(m, 0, ids + pos, k, pos + k == n ? logits : NULL, false);
    }
    return now_s() - t0;
}

/* n decode steps from an empty sequence 0. */
static double run_tg(sc_model_t *m, const int32_t *ids, int n, float *logits, int *rc) {
    double t0;
    *rc = sc_model_seq_reset(m, 0);
    t0 = now_s();
    for (int i = 0; *rc >= 0 && i < n; i++)
        *rc = sc_model_forward(m, 0, ids + i, 1, logits, false); /* hot loop */
    return now_s() - t0;
}

static void print_md(const char *model, const char *size, double params, const char *backend,
                     int threads, bench_test *t, int nt) {
    printf("| %-30s | %10s | %10s | %-10s | %7s | %10s | %20s |\n", "model", "size", "params", "backend", "threads",
           "test", "t/s");
    /* widths of the columns above; ':' marks right-aligned ones */
    {
        static const int w[] = {30, 10, 10, 10, 7, 10, 20};
        static const bool right[] = {false, true, true, false, true, true, true};
        for (int c = 0; c < 7; c++) {
            fputs("| ", stdout);
            for (int k = 0; k < w[c] - (right[c] ? 1 : 0); k++)
                fputc('-', stdout);
            fputs(right[c] ? ": " : " ", stdout);
        }
        fputs("|\n", stdout);
    }
    for (int i = 0; i < nt; i++) {
        char ts[64], pr[32];
        snprintf(ts, sizeof(ts), "%.2f ± %.2f", t[i].mean, t[i].sd);
        if (params >= 1e9)
            snprintf(pr, sizeof(pr), "%.2f B", params / 1e9);
        else
            snprintf(pr, sizeof(pr), "%.2f M", params / 1e6);
        /* "±" is two bytes but one column: pad by one more */
        printf("| %-30.30s | %10s | %10s | %-10s | %7d | %10s | %21s |\n", model, size, pr, backend, threads,
               t[i].name, ts);
    }
}

static void print_json(const bench_opts *o, const char *model, uint64_t size, double params, double active,
                       const char *backend,
                       const char *device, int threads, bench_test *t, int nt, const sc_bw_probe *probe,
                       double op_us) {
    printf("{\n  \"model\": ");
    sc_cli_json_string(stdout, model);
    printf(",\n  \"synthetic\": %s,\n  \"size_bytes\": %" PRIu64 ",\n  \"params\": %.0f,\n  \"active_params\": %.0f,"
           "\n  \"backend\": ",
           o->synthetic ? "true" : "false", size, params, active);
    sc_cli_json_string(stdout, backend);
    printf(",\n  \"device\": ");
    sc_cli_json_string(stdout, device);
    printf(",\n  \"threads\": %d,\n  \"weights\": \"%s\",\n  \"kv_type\": \"%s\",\n  \"batch\": %d,\n"
           "  \"repetitions\": %d,\n  \"results\": [",
           threads, o->synthetic ? (o->wquant ? o->wquant : sc_type_name(o->weights)) : "checkpoint", sc_type_name(o->kv), o->batch, o->reps);
    for (int i = 0; i < nt; i++) {
        printf("%s\n    {\"test\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, \"avg_ts\": %.4f, \"stddev_ts\": %.4f, "
               "\"samples_ts\": [",
               i ? "," : "", t[i].name, t[i].n_prompt, t[i].n_gen, t[i].mean, t[i].sd);
        for (int r = 0; r < o->reps; r++)
            printf("%s%.4f", r ? ", " : "", t[i].ts[r]);
        printf("]");
        if (t[i].n_prompt > 0) printf(", \"tflops\": %.4f", 2.0 * active * t[i].mean * 1e-12);
        if (t[i].n_gen > 0) {
            printf(", \"bytes_per_token\": %.0f, \"achieved_gbps\": %.4f", t[i].bytes_per_tok, t[i].gbps);
            if (probe->gbps > 0)
                printf(", \"bandwidth_fraction\": %.4f", t[i].gbps / probe->gbps);
        }
        printf("}");
    }
    printf("\n  ],\n  \"memory_probe\": ");
    if (probe->gbps > 0)
        printf("{\"kind\": \"%s\", \"gbps\": %.4f, \"mean_gbps\": %.4f, \"bytes\": %zu, \"threads\": %d, "
               "\"runs\": %d}",
               probe->threads > 0 ? "cpu-read" : "device-argmax", probe->gbps, probe->mean_gbps, probe->bytes,
               probe->threads, probe->runs);
    else
        printf("null");
    if (op_us > 0) printf(",\n  \"op_latency_us\": %.3f", op_us);
    printf("\n}\n");
}

int sc_cmd_bench(sc_cli *cli, int argc, char **argv) {
    bench_opts o = {.n_prompt = 512, .n_gen = 128, .reps = 5, .batch = 512, .probe_mib = 1024,
                    .weights = SC_TYPE_BF16, .kv = SC_TYPE_F32, .probe = true, .warmup = true};
    sc_model_opts mo;
    sc_model_t *m = NULL;
    sc_device_t *dev;
    sc_device_props props = {.struct_size = sizeof(props)};
    const sc_model_config *cfg;
    bench_test tests[2];
    sc_bw_probe probe;
    double op_us = 0;
    int nt = 0, threads, rc = parse_args(argc, argv, &o), err_rc = SC_OK;
    int32_t *ids = NULL;
    float *logits = NULL;
    uint64_t weight_bytes = 0;
    double params = 0.0, active = 0.0;
    char err[512] = "", size[32], model[160];

    if (rc != SC_CLI_OK)
        return rc;
    memset(tests, 0, sizeof(tests));
    memset(&probe, 0, sizeof(probe));
    if (o.threads > 0)
        sc_cpu_set_threads(o.threads);
    threads = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (!(dev = sc_cli_pick_device(cli)))
        return SC_CLI_FAIL;
    sc_device_get_props(dev, &props);

    memset(&mo, 0, sizeof(mo));
    mo.struct_size = sizeof(mo);
    mo.device = dev;
    mo.weight_type = o.weights;
    mo.kv_type = o.kv;
    mo.seed = 1;
    /* a cache just big enough: both tests start from an empty sequence */
    mo.max_model_len = (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 16;
    sc_cli_progress_attach(&mo, o.synthetic ? o.synthetic : o.dir);
    if (o.synthetic)
        rc = sc_model_synthetic_quant(o.synthetic, o.wquant, &mo, &m, err, sizeof(err));
    else {
        /* a directory, or ORG/NAME[@REV] in the Hugging Face cache */
        char *dir = sc_cli_model_path("strixcore bench", o.dir);
        rc = dir ? sc_model_load(dir, &mo, &m, err, sizeof(err)) : SC_ENOENT;
        free(dir);
    }
    sc_cli_progress_done(&mo);
    if (rc < 0) {
        fprintf(stderr, "strixcore bench: cannot load %s: %s\n", o.synthetic ? o.synthetic : o.dir,
                err[0] ? err : sc_strerror(rc));
        return SC_CLI_FAIL;
    }
    cfg = sc_model_config_of(m);
    if (o.synthetic)
        snprintf(model, sizeof(model), "%s (synthetic, %s)", o.synthetic,
                 o.wquant ? o.wquant : sc_type_name(o.weights));
    else {
        const char *base = strrchr(o.dir, '/');
        snprintf(model, sizeof(model), "%s", base && base[1] ? base + 1 : o.dir);
    }
    sc_cli_format_bytes(sc_model_weight_bytes(m), size, sizeof(size));

    ids = malloc((size_t)(o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) * sizeof(*ids) + sizeof(*ids));
    logits = malloc((size_t)cfg->vocab_size * sizeof(*logits));
    if (!ids || !logits) {
        fputs("strixcore bench: out of memory\n", stderr);
        rc = SC_ENOMEM;
        goto out;
    }
    fill_tokens(ids, (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1, cfg->vocab_size);

    if (o.warmup) {
        if (o.n_prompt > 0)
            run_pp(m, ids, o.n_prompt < o.batch ? o.n_prompt : o.batch, o.batch, logits, &err_rc);
        if (err_rc >= 0 && o.n_gen > 0)
            run_tg(m, ids, 1, logits, &err_rc);
        if (err_rc < 0) {
            rc = err_rc;
            fprintf(stderr, "strixcore bench: warmup failed: %s\n", sc_strerror(rc));
            goto out;
        }
    }
    if (o.n_prompt > 0) {
        bench_test *t = &tests[nt++];
        snprintf(t->name, sizeof(t->name), "pp%d", o.n_prompt);
        t->n_prompt = o.n_prompt;
    }
    if (o.n_gen > 0) {
        bench_test *t = &tests[nt++];
        snprintf(t->name, sizeof(t->name), "tg%d", o.n_gen);
        t->n_gen = o.n_gen;
        /* step i reads the weights and the KV of positions 0..i */
        for (int i = 0; i < o.n_gen; i++)
            t->bytes_per_tok += (double)sc_model_decode_bytes(m, i + 1);
        t->bytes_per_tok /= o.n_gen;
    }
    for (int k = 0; k < nt; k++) {
        bench_test *t = &tests[k];
        double gb = 0.0;
        if (!(t->ts = calloc((size_t)o.reps, sizeof(double)))) {
            rc = SC_ENOMEM;
            goto out;
        }
        for (int r = 0; r < o.reps; r++) {
            double s = t->n_prompt ? run_pp(m, ids, t->n_prompt, o.batch, logits, &err_rc)
                                   : run_tg(m, ids, t->n_gen, logits, &err_rc);
            if (err_rc < 0) {
                rc = err_rc;
                fprintf(stderr, "strixcore bench: %s failed: %s\n", t->name, sc_strerror(rc));
                goto out;
            }
            t->ts[r] = (t->n_prompt + t->n_gen) / s;
            gb += t->bytes_per_tok * t->ts[r] * 1e-9;
            if (!o.json && isatty(STDERR_FILENO))
                fprintf(stderr, "\r%s: run %d/%d: %.2f t/s   ", t->name, r + 1, o.reps, t->ts[r]);
        }
        if (!o.json && isatty(STDERR_FILENO))
            fputs("\r\033[K", stderr);
        mean_sd(t->ts, o.reps, &t->mean, &t->sd);
        t->gbps = gb / o.reps;
    }
    /* the model's memory is given back before the probe takes its buffer */
    weight_bytes = sc_model_weight_bytes(m);
    params = param_count(cfg);
    active = count_params(cfg, true);
    sc_model_free(m);
    m = NULL;
    if (o.probe && o.n_gen > 0) {
        /* the device's own read rate (a GPU's is not the host's) */
        int prc = props.type == SC_DEVICE_CPU ? sc_mem_read_bandwidth((size_t)o.probe_mib << 20, threads, 5, &probe)
                                              : sc_device_read_bandwidth(dev, (size_t)o.probe_mib << 20, 5, &probe);
        if (prc < 0)
            fprintf(stderr, "strixcore bench: memory probe failed: %s\n", sc_strerror(prc));
        /* what each dependent node costs beyond its memory traffic (launch gaps) */
        if (props.type != SC_DEVICE_CPU && (prc = sc_device_op_latency(dev, 0, &op_us)) < 0)
            fprintf(stderr, "strixcore bench: op latency probe failed: %s\n", sc_strerror(prc));
    }

    if (o.json) {
        print_json(&o, model, weight_bytes, params, active, sc_device_backend_name(dev), props.description, threads, tests,
                   nt, &probe, op_us);
    } else {
        print_md(model, size, params, sc_device_backend_name(dev), threads, tests, nt);
        for (int k = 0; k < nt; k++) {
            const bench_test *t = &tests[k];
            if (t->n_prompt > 0)
                printf("\n%s: %.2f TFLOP/s (2 x %.2f B parameters a token multiplies by)\n", t->name,
                       2.0 * active * t->mean * 1e-12, active * 1e-9);
            if (!t->n_gen)
                continue;
            printf("\n%s: %.2f MB read per token (weights + KV), achieved %.2f GB/s\n", t->name,
                   t->bytes_per_tok * 1e-6, t->gbps);
            if (probe.gbps > 0 && props.type == SC_DEVICE_CPU) {
                printf("memory read probe (CPU, %d threads, %zu MiB, best of %d): %.2f GB/s; %s reaches %.1f%%\n",
                       probe.threads, probe.bytes >> 20, probe.runs, probe.gbps, t->name, 100.0 * t->gbps / probe.gbps);
            } else if (probe.gbps > 0) {
                printf("memory read probe (%s, ARGMAX over %zu MiB, best of %d): %.2f GB/s; %s reaches %.1f%%\n",
                       sc_device_name(dev), probe.bytes >> 20, probe.runs, probe.gbps, t->name,
                       100.0 * t->gbps / probe.gbps);
            }
        }
        if (op_us > 0)
            printf("dependent-op latency (%s, chain of 256 SCALE nodes): %.2f us per node\n", sc_device_name(dev),
                   op_us);
    }
    rc = SC_OK;
out:
    sc_model_free(m);
    for (int k = 0; k < 2; k++)
        free(tests[k].ts);
    free(ids);
    free(logits);
    return rc < 0 ? SC_CLI_FAIL : SC_CLI_OK;
}
