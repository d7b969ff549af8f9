/* Prometheus text exposition (format 0.0.4) of vLLM's metric names, from a
 * plain stats struct the frontend fills. Labels: model_name, engine. With
 * `llama` set, llama-server's unlabelled llamacpp: metrics follow. */
#ifndef OAI_METRICS_H
#define OAI_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Non-cumulative per-bucket counts; counts has n_bounds + 1 slots, the last
 * one for observations above every bound (+Inf). */
typedef struct {
    const double *bounds;
    size_t n_bounds;
    uint64_t *counts;
    double sum;
} oai_histogram_t;

/* vLLM's bucket boundaries (vllm/v1/metrics/loggers.py). */
extern const double oai_ttft_buckets[];
extern const size_t oai_ttft_n_buckets;
extern const double oai_e2e_buckets[];
extern const size_t oai_e2e_n_buckets;

void oai_histogram_observe(oai_histogram_t *h, double v);

typedef enum {
    OAI_FINISH_STOP = 0, OAI_FINISH_LENGTH, OAI_FINISH_ABORT, OAI_FINISH_COUNT
} oai_finish_t;

typedef struct {
    const char *model_name;
    const char *engine;          /* vLLM: engine index, "0" */
    int64_t num_requests_running;
    int64_t num_requests_waiting;
    double  kv_cache_usage_perc; /* 0..1 */
    uint64_t prompt_tokens_total;
    uint64_t generation_tokens_total;
    uint64_t request_success[OAI_FINISH_COUNT];
    oai_histogram_t ttft;        /* seconds */
    oai_histogram_t e2e;         /* seconds */
    uint64_t num_preemptions_total;
    uint64_t prefix_cache_queries_total; /* prompt tokens looked up */
    uint64_t prefix_cache_hits_total;    /* of which found */
    bool llama;                  /* add llamacpp:prompt_tokens_total, ... */
} oai_metrics_t;

/* malloc'd text, NULL on allocation failure. */
char *oai_metrics_render(const oai_metrics_t *m);
#endif
