/*
 * backends/cpu/cpu.h - the built-in CPU backend, internal interface.
 *
 * Two implementations of every op live here:
 *  - ref_*.c: scalar, single-threaded, written to read like the maths. This is
 *    the oracle that backend-ops compares every backend against.
 *  - fast_*.c: SIMD with run-time CPU feature dispatch, split over a thread
 *    pool. backend-ops checks it against the reference.
 * Both read tensors through tensor->data (host addresses) and nb strides.
 */
#ifndef STRIXCORE_CPU_H
#define STRIXCORE_CPU_H

#include "strixcore/strixcore.h"

/* Compute one node with the scalar reference. Returns SC_ENOTSUP for an op or
 * dtype combination it does not know, SC_EINVAL for malformed inputs. */
int sc__cpu_ref_compute(sc_tensor *node);

/* Compute one node with the fast path (falls back to the reference for
 * combinations without a fast kernel), split over the CPU thread pool. */
int sc__cpu_fast_compute(sc_tensor *node);

/* Whether the CPU backend supports this node (the reference's coverage). */
bool sc__cpu_supports(const sc_tensor *node);

/* Names of the SIMD paths picked at run time (for `strixcore plugins`). */
const char *sc__cpu_features(void);

#endif
