#include "oai_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oai_buf.h"

const double oai_ttft_buckets[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                   0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
                                   640.0, 2560.0};
const size_t oai_ttft_n_buckets = sizeof oai_ttft_buckets / sizeof oai_ttft_buckets[0];
const double oai_e2e_buckets[] = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
                                  30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
                                  7680.0};
const size_t oai_e2e_n_buckets = sizeof oai_e2e_buckets / sizeof oai_e2e_buckets[0];

void oai_histogram_observe(oai_histogram_t *h, double v)
{
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i]) i++; /* le: v <= bound */
    h->counts[i]++;
    h->sum += v;
}

/* Python float repr, as prometheus_client prints values: "5.0", "0.001",
 * "+Inf". Shortest %g that round-trips, with ".0" added to integers. */
static void fmt_value(char *out, size_t cap, double v)
{
    if (isinf(v)) { snprintf(out, cap, v > 0 ? "+Inf" : "-Inf"); return; }
    if (isnan(v)) { snprintf(out, cap, "NaN"); return; }
    /* Python's repr switches to exponent notation only from 1e16 on. */
    if (v == floor(v) && fabs(v) < 1e16) { snprintf(out, cap, "%.1f", v); return; }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, v);
        if (strtod(out, NULL) == v) break;
    }
    if (!strpbrk(out, ".eEn")) strncat(out, ".0", cap - strlen(out) - 1);
}

typedef struct {
    oai_buf_t b;
    int err;
    char engine[200];     /* escaped label values */
    char model_name[200];
} out_t;

static void put(out_t *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) { o->err = 1; return; }
    if (oai_buf_append(&o->b, tmp, (size_t)n) < 0) o->err = 1;
}

/* Label values escape \, " and newline per the exposition format. */
static void escape(char *out, size_t cap, const char *s)
{
    size_t j = 0;
    for (; s && *s && j + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') { out[j++] = '\\'; out[j++] = *s; }
        else if (*s == '\n') { out[j++] = '\\'; out[j++] = 'n'; }
        else out[j++] = *s;
    }
    out[j] = '\0';
}

static void header(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(out_t *o, const char *name, const char *extra, double v)
{
    char val[64];
    fmt_value(val, sizeof val, v);
    /* prometheus_client's generate_latest sorts labels by name:
     * engine < finished_reason < le < model_name. extra starts with ','. */
    put(o, "%s{engine=\"%s\"%s,model_name=\"%s\"} %s\n", name, o->engine,
        extra ? extra : "", o->model_name, val);
}

static void histogram(out_t *o, const char *name, const char *help, const oai_histogram_t *h)
{
    char n_bucket[128], n_count[128], n_sum[128], le[96], val[64];
    snprintf(n_bucket, sizeof n_bucket, "%s_bucket", name);
    snprintf(n_count, sizeof n_count, "%s_count", name);
    snprintf(n_sum, sizeof n_sum, "%s_sum", name);
    header(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cum += h->counts ? h->counts[i] : 0;
        fmt_value(val, sizeof val, i < h->n_bounds ? h->bounds[i] : INFINITY);
        snprintf(le, sizeof le, ",le=\"%s\"", val);
        sample(o, n_bucket, le, (double)cum);
    }
    sample(o, n_count, NULL, (double)cum);
    sample(o, n_sum, NULL, h->sum);
}

char *oai_metrics_render(const oai_metrics_t *m)
{
    out_t o;
    memset(&o, 0, sizeof o);
    oai_buf_init(&o.b);
    escape(o.model_name, sizeof o.model_name, m->model_name);
    escape(o.engine, sizeof o.engine, m->engine ? m->engine : "0");

    header(&o, "vllm:num_requests_running", "gauge",
           "Number of requests in model execution batches.");
    sample(&o, "vllm:num_requests_running", NULL, (double)m->num_requests_running);
    header(&o, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
    sample(&o, "vllm:num_requests_waiting", NULL, (double)m->num_requests_waiting);
    header(&o, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
    sample(&o, "vllm:kv_cache_usage_perc", NULL, m->kv_cache_usage_perc);
    /* The deprecated name, still read by older dashboards. */
    header(&o, "vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.");
    sample(&o, "vllm:gpu_cache_usage_perc", NULL, m->kv_cache_usage_perc);
    /* Counters: prometheus_client names HELP/TYPE with the _total suffix. */
    header(&o, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
    sample(&o, "vllm:prompt_tokens_total", NULL, (double)m->prompt_tokens_total);
    header(&o, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
    sample(&o, "vllm:generation_tokens_total", NULL, (double)m->generation_tokens_total);
    header(&o, "vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.");
    sample(&o, "vllm:num_preemptions_total", NULL, (double)m->num_preemptions_total);
    header(&o, "vllm:prefix_cache_queries_total", "counter",
           "Prefix cache queries, in terms of number of queried tokens.");
    sample(&o, "vllm:prefix_cache_queries_total", NULL, (double)m->prefix_cache_queries_total);
    header(&o, "vllm:prefix_cache_hits_total", "counter",
           "Prefix cache hits, in terms of number of cached tokens.");
    sample(&o, "vllm:prefix_cache_hits_total", NULL, (double)m->prefix_cache_hits_total);
    header(&o, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
    static const char *const reasons[OAI_FINISH_COUNT] = {"stop", "length", "abort"};
    for (int i = 0; i < OAI_FINISH_COUNT; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, ",finished_reason=\"%s\"", reasons[i]);
        sample(&o, "vllm:request_success_total", extra, (double)m->request_success[i]);
    }
    histogram(&o, "vllm:time_to_first_token_seconds",
              "Histogram of time to first token in seconds.", &m->ttft);
    histogram(&o, "vllm:e2e_request_latency_seconds",
              "Histogram of e2e request latency in seconds.", &m->e2e);
    if (m->llama) {
        /* llama-server prints these without labels. */
        put(&o, "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
                "# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total %llu\n",
            (unsigned long long)m->prompt_tokens_total);
        put(&o, "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.\n"
                "# TYPE llamacpp:tokens_predicted_total counter\nllamacpp:tokens_predicted_total %llu\n",
            (unsigned long long)m->generation_tokens_total);
        put(&o, "# HELP llamacpp:requests_processing Number of requests processing.\n"
                "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing %lld\n",
            (long long)m->num_requests_running);
        put(&o, "# HELP llamacpp:requests_deferred Number of requests deferred.\n"
                "# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred %lld\n",
            (long long)m->num_requests_waiting);
    }
    if (o.err) { oai_buf_free(&o.b); return NULL; }
    return o.b.data;
}
