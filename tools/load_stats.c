/*
 * tools/load_stats.c - load a checkpoint directory on the CPU and report
 * what it costs: tensor bytes on disk, resident memory after the load and
 * its ratio to the disk size, peak resident memory, load time, weight and
 * KV-cache bytes.
 *
 *   load_stats [--max-len N] DIR
 *
 * RSS and peak come from VmRSS / VmHWM in /proc/self/status (Linux).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strixcore/model.h"
#include "strixcore/safetensors.h"

static long long status_kb(const char *key) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long long v = -1;
    size_t n = strlen(key);
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, key, n) && line[n] == ':') v = atoll(line + n + 1);
    if (fp) fclose(fp);
    return v;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define GIB (1024.0 * 1024.0 * 1024.0)

int main(int argc, char **argv) {
    const char *dir = NULL;
    long long max_len = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-len") && i + 1 < argc) max_len = atoll(argv[++i]);
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else dir = NULL, i = argc;
    }
    if (!dir) {
        fprintf(stderr, "usage: load_stats [--max-len N] DIR\n");
        return 2;
    }
    char err[1024] = "";
    sc_safetensors_t *st = NULL;
    int rc = sc_safetensors_open(dir, &st, err, sizeof err);
    if (rc != SC_OK) {
        fprintf(stderr, "load_stats: %s\n", err);
        return 1;
    }
    const unsigned long long disk = (unsigned long long)sc_safetensors_total_bytes(st);
    sc_safetensors_close(st);

    const long long rss0 = status_kb("VmRSS");
    sc_model_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.max_model_len = max_len;
    o.max_seqs = 1;
    sc_model_t *m = NULL;
    const double t0 = now();
    rc = sc_model_load(dir, &o, &m, err, sizeof err);
    const double t1 = now();
    if (rc != SC_OK) {
        fprintf(stderr, "load_stats: %s: %s\n", dir, err);
        return 1;
    }
    const long long rss = status_kb("VmRSS"), hwm = status_kb("VmHWM");
    const long long anon = status_kb("RssAnon"), file = status_kb("RssFile");
    const unsigned long long wb = (unsigned long long)sc_model_weight_bytes(m);
    const unsigned long long kv = (unsigned long long)(sc_model_decode_bytes(m, max_len) - sc_model_decode_bytes(m, 0));
    printf("checkpoint          %s\n", dir);
    printf("safetensors bytes   %llu (%.3f GiB)\n", disk, disk / GIB);
    printf("weight bytes        %llu (%.3f GiB, %.4fx disk)\n", wb, wb / GIB, (double)wb / (double)disk);
    printf("kv cache            %llu bytes (%lld tokens x 1 sequence, f32)\n", kv, max_len);
    printf("rss before load     %.3f GiB\n", rss0 * 1024.0 / GIB);
    printf("rss after load      %.3f GiB (anon %.3f, file %.3f)\n", rss * 1024.0 / GIB, anon * 1024.0 / GIB,
           file * 1024.0 / GIB);
    printf("rss / disk          %.4f\n", rss * 1024.0 / (double)disk);
    printf("peak rss (VmHWM)    %.3f GiB (%.4fx disk)\n", hwm * 1024.0 / GIB, hwm * 1024.0 / (double)disk);
    printf("load time           %.2f s\n", t1 - t0);
    sc_model_free(m);
    return 0;
}
