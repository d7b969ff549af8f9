/*
 * strixcore/bandwidth.h - how fast this machine's memory can be read: the
 * ceiling that batch-1 decode (memory-bound) is measured against.
 */
#ifndef STRIXCORE_BANDWIDTH_H
#define STRIXCORE_BANDWIDTH_H

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_bw_probe {
    double gbps;        /* best run, 1e9 bytes per second */
    double mean_gbps;   /* mean over the runs */
    size_t bytes;       /* buffer size read per run */
    int threads;
    int runs;
} sc_bw_probe;

/* Read a buffer of `bytes` (0 = 1 GiB: far past any last-level cache) with
 * n_threads threads (0 = one per online core), each summing its own slice,
 * `runs` times (0 = 5); the best run is the figure (the others lost time to
 * other processes). SC_ENOMEM when the buffer cannot be had. */
SC_API int sc_mem_read_bandwidth(size_t bytes, int n_threads, int runs, sc_bw_probe *out);

/* The same for a device: the CPU device's is sc_mem_read_bandwidth with
 * every core; another device's reads a `bytes` f32 matrix on the device with
 * one graph of four independent ARGMAX nodes (read-only, 4 bytes written per
 * 256 KiB row), best of `runs` (0 = 5) after one warm-up. SC_ENOTSUP when
 * the device lacks ARGMAX, SC_ENOMEM when the buffer cannot be had. threads
 * is 0 then. */
SC_API int sc_device_read_bandwidth(sc_device_t *dev, size_t bytes, int runs, sc_bw_probe *out);

/* The cost of one dependent op on a device: a graph of `chain` (0 = 256)
 * SCALE nodes over 1024 floats, each reading the one before, timed end to
 * end (best of 5 after a warm-up) and divided by the chain length. The work
 * is nothing, so this is what every node of a decode graph pays on top of
 * its memory traffic: launch, the barrier between dependent dispatches and
 * the drain before it (on a GPU), plus the graph's share of submission. */
SC_API int sc_device_op_latency(sc_device_t *dev, int chain, double *us_per_op);

#ifdef __cplusplus
}
#endif
#endif
