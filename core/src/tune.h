/*
 * core/src/tune.h - the tuner's state inside libstrixcore (one per device
 * that started tuning). tune.c times and chooses; tune_file.c reads and
 * writes the cache file.
 */
#ifndef SC_TUNE_INTERNAL_H
#define SC_TUNE_INTERNAL_H

#include "internal.h"
#include "strixcore/tuning.h"

typedef struct sc_tune_rec {
    char key[SC_TUNE_KEY_LEN];
    char variant[SC_TUNE_NAME_LEN];   /* the choice */
    char def[SC_TUNE_NAME_LEN];       /* the backend's default for this key */
    double us, def_us;                /* median time per run of each (0: not measured) */
    int n_variants;                   /* variants timed (n_wrong of them failed the check) */
    int n_wrong;
    bool failed;                      /* tuning it failed: not retried this process, not saved */
    bool marked;                      /* met by a pass while recording (sc_device_tuning_record) */
    bool reverted;                    /* the default won the in-graph check: kept as the choice */
    bool used;                        /* slot in use */
} sc_tune_rec;

typedef struct sc_tuner {
    int enabled, tuning;
    int timed_batches;
    double batch_us;
    char dir[900];
    char path[1024];
    char device_key[256];
    char backend[32], device[128], driver[64];

    sc_tune_rec *recs;                /* open addressing by key */
    size_t cap, count;
    bool dirty;                       /* changed since the file was written */
    bool save_warned;                 /* a failed write was reported (once) */
    bool recording;                   /* mark the keys passes meet */

    sc_tuning_stats st;
    sc_tuning_progress_fn progress;
    void *progress_user;
} sc_tuner;

/* tune.c */
sc_tune_rec *sc__tune_find(sc_tuner *t, const char *key);
sc_tune_rec *sc__tune_insert(sc_tuner *t, const char *key); /* NULL: out of memory */
/* graph_compute of one split with tuning: new keys are tuned on the way */
int sc__tune_compute(sc_device_t *d, void *stream, sc_tensor **nodes, int n);
bool sc__tune_active(const sc_device_t *d);
void sc__tune_free(sc_device_t *d);

/* tune_file.c */
int sc__tune_file_load(sc_device_t *d, sc_tuner *t);  /* SC_OK also when ignored (warned) */
int sc__tune_file_save(sc_tuner *t);
void sc__tune_device_key(const char *backend, const char *device, const char *driver, char *out, size_t len);

#endif
