/*
 * strixcore/tuning.h - runtime kernel tuning with a persistent cache (what
 * PyTorch TunableOp does for vLLM).
 *
 * A backend names, for each tunable node, a key (op family, types, sizes)
 * and the variants that can compute it (plugin.h: tune_query / tune_set).
 * With tuning on, the first time the scheduler meets a key on a device it
 * times every variant on that node's real inputs (a warm-up, then the median
 * of several timed batches), checks each variant's output against the
 * default variant's, and keeps the fastest correct one. Results are kept
 * per device, driver and strixcore version in
 *
 *     $STRIXCORE_TUNING_DIR, else $XDG_CACHE_HOME/strixcore/tuning,
 *     else ~/.cache/strixcore/tuning          / <device-key>.json
 *
 * written atomically (a temporary file, fsync, rename), and loaded when the
 * device starts tuning (sc_device_tuning_start). A file that does not parse,
 * that was written for another device, driver or strixcore version, or that
 * names variants the backend no longer has, is ignored (entry by entry for
 * unknown variants) with a warning.
 *
 * Controls, modelled on PyTorch TunableOp (environment, overridden by the
 * options below, which the CLI sets from flags and config keys):
 *   STRIXCORE_TUNING_ENABLED=0|1  use tuned results (default 1)
 *   STRIXCORE_TUNING=0|1          tune shapes not in the cache as they are met
 *                                 (default 0; needs ENABLED). Off, tuning never
 *                                 runs inside a request: `strixcore tune MODEL`
 *                                 or `serve --tune` tune before serving.
 *   STRIXCORE_TUNING_DIR          the cache directory
 */
#ifndef STRIXCORE_TUNING_H
#define STRIXCORE_TUNING_H

#include <stdio.h>

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_tuning_opts {
    size_t struct_size;
    int enabled;           /* -1: STRIXCORE_TUNING_ENABLED (default 1); 0; 1 */
    int tuning;            /* -1: STRIXCORE_TUNING (default 0); 0; 1 */
    const char *dir;       /* NULL: STRIXCORE_TUNING_DIR, XDG_CACHE_HOME, HOME as above */
    int timed_batches;     /* 0: 5 (the median of these is a variant's time) */
    double batch_us;       /* 0: 300: each timed batch repeats the node to last about this long */
} sc_tuning_opts;

typedef struct sc_tuning_stats {
    size_t struct_size;
    int enabled, tuning;
    int64_t entries;          /* choices in the table now */
    int64_t loaded;           /* read from the cache file and installed */
    int64_t dropped;          /* cache entries the backend refused (unknown variant or key) */
    int64_t tuned;            /* keys tuned by this process */
    int64_t variants_timed;
    int64_t variants_wrong;   /* variants whose output disagreed with the default's: never chosen */
    double tuning_s;          /* seconds spent tuning */
    bool file_ignored;        /* the cache file was corrupt, foreign or stale */
    int64_t reverted;         /* keys set back to the default by an in-graph check */
    char path[1024];          /* the cache file */
    char device_key[256];
} sc_tuning_stats;

/* Read the options (environment for -1 fields), load the device's cache
 * file and install its choices (when enabled). A missing file is not an
 * error; an unreadable or bad one is ignored with a warning. Calling it
 * again re-reads the file with the new options. err gets a message on the
 * rare hard failures (SC_ENOMEM, SC_EINVAL). */
SC_API int sc_device_tuning_start(sc_device_t *dev, const sc_tuning_opts *opts, char *err, size_t err_len);
/* Write the table if it changed since the last write (atomically). */
SC_API int sc_device_tuning_save(sc_device_t *dev);
SC_API int sc_device_tuning_stats(const sc_device_t *dev, sc_tuning_stats *out);
/* Turn tuning of new keys on or off for this device (sc_device_tuning_start first). */
SC_API int sc_device_tuning_set_tuning(sc_device_t *dev, bool on);
/* Print the table: one line per key with its choice, time and speed-up. */
SC_API int sc_device_tuning_print(const sc_device_t *dev, FILE *f);
/* The device key and the cache file path the options give, without loading. */
SC_API int sc_device_tuning_path(const sc_device_t *dev, const char *dir, char *key, size_t key_len, char *path,
                                 size_t path_len);
/* The in-graph check (cli/cmd_tune.c): a node timed alone does not see
 * what its neighbours gain from the default kernel (fusion, int8 copies a
 * fused kernel writes for the next one), so `strixcore tune` times whole
 * passes with the tuned choices and with the defaults.
 * record(on): from now on mark every tuned key a pass meets (tuning must be
 * on; turning it on clears the marks). recorded_default(use_default, keep):
 * install the default (or back the tuned choice) for every marked key;
 * keep: make the default the choice (saved, counted in stats.reverted). */
SC_API int sc_device_tuning_record(sc_device_t *dev, bool on);
SC_API int sc_device_tuning_recorded_default(sc_device_t *dev, bool use_default, bool keep, int64_t *n_keys);
/* Called for every key tuned (progress reports): key, n-th key of this
 * process, seconds it took. NULL: none. */
typedef void (*sc_tuning_progress_fn)(void *user, const char *key, int64_t n_tuned, double seconds);
SC_API void sc_device_tuning_on_progress(sc_device_t *dev, sc_tuning_progress_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif /* STRIXCORE_TUNING_H */
