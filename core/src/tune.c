/*
 * core/src/tune.c - the kernel tuner (strixcore/tuning.h).
 *
 * The scheduler hands every split of a device that tunes to
 * sc__tune_compute instead of the backend's graph_compute. It asks the
 * backend about each node (tune_query). For a key the table does not hold
 * yet it first computes the nodes before it, so that the node's inputs are
 * the real activations of this forward pass, then tunes the node:
 *
 *   for each variant v (the default first):
 *     tune_set(key, v); fill the output with 0xFF (NaN in every float type,
 *     so an element a variant never writes cannot pass); run the node once;
 *     read the output: the default's is the reference, any other must agree
 *     with it (nmse <= SC_TUNE_NMSE and finite wherever the reference is);
 *     time one run, then repeat the node B times per graph_compute (B chosen
 *     so that a batch lasts ~batch_us: launch costs count as they do in a
 *     real graph) in one warm-up and `timed_batches` timed batches; the
 *     variant's time is the median batch's time per run.
 *   tune_set(key, fastest correct), where a variant other than the default
 *   must beat it by SC_TUNE_MARGIN (3%: noise and in-graph effects such as
 *   fusion with neighbours favour the default); run the node once more (its
 *   output is what the rest of the graph reads), and go on with the next
 *   nodes.
 *
 * Caches: repeating one node reads the same weights every time, and a
 * matrix of a few MB then comes from the GPU's L2 (50 MB on an H200, 32 MB
 * of Infinity Cache on Strix Halo) instead of memory, which favours the
 * compute-heavy variants a decode step would not. The repeats therefore
 * cycle through copies of the weight (src[0] with SC_TENSOR_WEIGHT) spread
 * over SC_TUNE_ROTATE_BYTES, as TunableOp's rotating buffers do; a weight
 * that large already streams from memory on its own.
 *
 * A variant that fails to run or disagrees is never chosen. A key whose
 * default cannot run (SC_ERANGE on bad ids: the op's own error) is not
 * tuned; the error goes back to the caller as graph_compute would return it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

#define SC_TUNE_NMSE 1e-3          /* a correct variant: int8 activations measure ~1.5e-5, wrong ones ~1 */
#define SC_TUNE_MAX_BATCH 256
#define SC_TUNE_ROTATE_BYTES ((size_t)256 << 20) /* weight copies cycled through while timing: past any cache */
#define SC_TUNE_MAX_ROTATE 32
#define SC_TUNE_MARGIN 0.03        /* a variant must beat the default by this fraction to replace it */

/* ---- the table ------------------------------------------------------------------------------ */
static uint64_t key_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static sc_tune_rec *slot(const sc_tuner *t, const char *key) {
    size_t i = (size_t)key_hash(key) & (t->cap - 1);
    while (t->recs[i].used && strcmp(t->recs[i].key, key) != 0) i = (i + 1) & (t->cap - 1);
    return &t->recs[i];
}

sc_tune_rec *sc__tune_find(sc_tuner *t, const char *key) {
    if (!t->cap) return NULL;
    sc_tune_rec *r = slot(t, key);
    return r->used ? r : NULL;
}

sc_tune_rec *sc__tune_insert(sc_tuner *t, const char *key) {
    if (strlen(key) >= SC_TUNE_KEY_LEN) return NULL;
    sc_tune_rec *r = sc__tune_find(t, key);
    if (r) return r;
    if ((t->count + 1) * 2 > t->cap) {
        const size_t ncap = t->cap ? t->cap * 2 : 128, ocap = t->cap;
        sc_tune_rec *old = t->recs, *nr = calloc(ncap, sizeof *nr);
        if (!nr) return NULL;
        t->recs = nr;
        t->cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].used) *slot(t, old[i].key) = old[i];
        free(old);
    }
    r = slot(t, key);
    memset(r, 0, sizeof *r);
    r->used = true;
    snprintf(r->key, sizeof r->key, "%s", key);
    t->count++;
    return r;
}

/* ---- options -------------------------------------------------------------------------------- */
static int env_flag(const char *name, int dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcasecmp(v, "no")) return 0;
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcasecmp(v, "yes")) return 1;
    sc_log(SC_LOG_WARN, "tuning", "%s=%s is neither 0 nor 1: using %d", name, v, dflt);
    return dflt;
}

/* the cache directory: dir, STRIXCORE_TUNING_DIR, XDG_CACHE_HOME/strixcore/tuning, HOME/.cache/... */
static int cache_dir(const char *dir, char *out, size_t len) {
    const char *e;
    int n;
    if (dir && *dir) n = snprintf(out, len, "%s", dir);
    else if ((e = getenv("STRIXCORE_TUNING_DIR")) && *e) n = snprintf(out, len, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/') n = snprintf(out, len, "%s/strixcore/tuning", e);
    else if ((e = getenv("HOME")) && *e) n = snprintf(out, len, "%s/.cache/strixcore/tuning", e);
    else n = snprintf(out, len, "/tmp/strixcore-tuning");
    return n > 0 && (size_t)n < len ? SC_OK : SC_EOVERFLOW;
}

int sc_device_tuning_path(const sc_device_t *dev, const char *dir, char *key, size_t key_len, char *path,
                          size_t path_len) {
    if (!dev || !key || !path || !key_len || !path_len) return SC_EINVAL;
    char d[900];
    int rc = cache_dir(dir, d, sizeof d);
    if (rc != SC_OK) return rc;
    sc__tune_device_key(sc_device_backend_name(dev), dev->props.description, dev->props.driver, key, key_len);
    const int n = snprintf(path, path_len, "%s/%s.json", d, key);
    return n > 0 && (size_t)n < path_len ? SC_OK : SC_EOVERFLOW;
}

void sc__tune_free(sc_device_t *d) {
    if (!d || !d->tuner) return;
    free(d->tuner->recs);
    free(d->tuner);
    d->tuner = NULL;
}

int sc_device_tuning_start(sc_device_t *dev, const sc_tuning_opts *opts, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!dev) return SC_EINVAL;
    sc_tuning_opts o = {0};
    if (opts) memcpy(&o, opts, opts->struct_size && opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    else o.enabled = o.tuning = -1;
    sc_tuner *t = calloc(1, sizeof *t);
    if (!t) {
        if (err) snprintf(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    t->enabled = o.enabled >= 0 ? !!o.enabled : env_flag("STRIXCORE_TUNING_ENABLED", 1);
    t->tuning = o.tuning >= 0 ? !!o.tuning : env_flag("STRIXCORE_TUNING", 0);
    if (!t->enabled && t->tuning) {
        sc_log(SC_LOG_WARN, "tuning", "tuning is on but using tuned results is off (STRIXCORE_TUNING_ENABLED=0): "
                                      "nothing is tuned");
        t->tuning = 0;
    }
    t->timed_batches = o.timed_batches > 0 && o.timed_batches <= 1000 ? o.timed_batches : 5;
    t->batch_us = o.batch_us > 0 && o.batch_us <= 1e7 ? o.batch_us : 300;
    snprintf(t->backend, sizeof t->backend, "%s", sc_device_backend_name(dev));
    snprintf(t->device, sizeof t->device, "%s", dev->props.description);
    snprintf(t->driver, sizeof t->driver, "%s", dev->props.driver);
    int rc = cache_dir(o.dir, t->dir, sizeof t->dir);
    if (rc == SC_OK) rc = sc_device_tuning_path(dev, o.dir, t->device_key, sizeof t->device_key, t->path, sizeof t->path);
    if (rc != SC_OK) {
        if (err) snprintf(err, err_len, "the tuning cache path is too long");
        free(t);
        return SC_EINVAL;
    }
    t->st.struct_size = sizeof t->st;
    snprintf(t->st.path, sizeof t->st.path, "%s", t->path);
    snprintf(t->st.device_key, sizeof t->st.device_key, "%s", t->device_key);

    /* the old table's choices go: the backend returns to its defaults */
    if (dev->tuner) {
        for (size_t i = 0; i < dev->tuner->cap; i++)
            if (dev->tuner->recs[i].used) sc_device_tune_set(dev, dev->tuner->recs[i].key, NULL);
        sc__tune_free(dev);
    }
    const bool can = SC_BE_HAS(dev->be, tune_query) && SC_BE_HAS(dev->be, tune_set);
    if (!can && t->tuning)
        sc_log(SC_LOG_INFO, "tuning", "%s: the %s backend has no tunable kernels", sc_device_name(dev), t->backend);
    if (t->enabled && can) {
        rc = sc__tune_file_load(dev, t);
        if (rc != SC_OK) {
            if (err) snprintf(err, err_len, "loading %s: %s", t->path, sc_strerror(rc));
            free(t->recs);
            free(t);
            return rc;
        }
    }
    dev->tuner = t;
    if (t->st.loaded || t->tuning)
        sc_log(SC_LOG_INFO, "tuning", "%s: %lld tuned choices from %s%s", sc_device_name(dev),
               (long long)t->st.loaded, t->path, t->tuning ? "; tuning new shapes" : "");
    return SC_OK;
}

int sc_device_tuning_save(sc_device_t *dev) {
    if (!dev || !dev->tuner) return SC_EINVAL;
    if (!dev->tuner->dirty) return SC_OK;
    return sc__tune_file_save(dev->tuner);
}

int sc_device_tuning_set_tuning(sc_device_t *dev, bool on) {
    if (!dev || !dev->tuner) return SC_EINVAL;
    if (on && !dev->tuner->enabled) return SC_ESTATE;
    dev->tuner->tuning = on;
    return SC_OK;
}

void sc_device_tuning_on_progress(sc_device_t *dev, sc_tuning_progress_fn fn, void *user) {
    if (!dev || !dev->tuner) return;
    dev->tuner->progress = fn;
    dev->tuner->progress_user = user;
}

int sc_device_tuning_stats(const sc_device_t *dev, sc_tuning_stats *out) {
    if (!dev || !out) return SC_EINVAL;
    const size_t want = out->struct_size && out->struct_size < sizeof *out ? out->struct_size : sizeof *out;
    sc_tuning_stats s;
    memset(&s, 0, sizeof s);
    if (dev->tuner) {
        s = dev->tuner->st;
        s.enabled = dev->tuner->enabled;
        s.tuning = dev->tuner->tuning;
        s.entries = 0;
        for (size_t i = 0; i < dev->tuner->cap; i++)
            s.entries += dev->tuner->recs[i].used && !dev->tuner->recs[i].failed;
    }
    s.struct_size = want;
    memcpy(out, &s, want);
    return SC_OK;
}

static int rec_cmp(const void *a, const void *b) {
    return strcmp((*(const sc_tune_rec *const *)a)->key, (*(const sc_tune_rec *const *)b)->key);
}

int sc_device_tuning_print(const sc_device_t *dev, FILE *f) {
    if (!dev || !f) return SC_EINVAL;
    const sc_tuner *t = dev->tuner;
    if (!t) return SC_ESTATE;
    size_t n = 0;
    const sc_tune_rec **v = malloc((t->count + 1) * sizeof *v);
    if (!v) return SC_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->recs[i].used && !t->recs[i].failed) v[n++] = &t->recs[i];
    qsort(v, n, sizeof *v, rec_cmp);
    fprintf(f, "tuning table of %s (%s)\n  file: %s\n  %zu keys\n", sc_device_name(dev), t->device_key, t->path, n);
    if (n) fprintf(f, "  %-70s %-22s %10s %-22s %10s %7s\n", "key", "variant", "us", "default", "us", "speedup");
    for (size_t i = 0; i < n; i++) {
        char sp[16] = "-";
        if (v[i]->us > 0 && v[i]->def_us > 0) snprintf(sp, sizeof sp, "%.2fx", v[i]->def_us / v[i]->us);
        fprintf(f, "  %-70s %-22s %10.2f %-22s %10.2f %7s\n", v[i]->key, v[i]->variant, v[i]->us, v[i]->def,
                v[i]->def_us, sp);
    }
    free(v);
    return SC_OK;
}

int sc_device_tuning_record(sc_device_t *dev, bool on) {
    if (!dev || !dev->tuner) return SC_EINVAL;
    sc_tuner *t = dev->tuner;
    if (on)
        for (size_t i = 0; i < t->cap; i++) t->recs[i].marked = false;
    t->recording = on;
    return SC_OK;
}

int sc_device_tuning_recorded_default(sc_device_t *dev, bool use_default, bool keep, int64_t *n_keys) {
    if (!dev || !dev->tuner) return SC_EINVAL;
    sc_tuner *t = dev->tuner;
    int64_t n = 0;
    int rc = SC_OK;
    for (size_t i = 0; i < t->cap; i++) {
        sc_tune_rec *r = &t->recs[i];
        if (!r->used || !r->marked || r->failed || !r->def[0] || !strcmp(r->def, r->variant)) continue;
        const int src = sc_device_tune_set(dev, r->key, use_default ? r->def : r->variant);
        if (src != SC_OK) {
            rc = src;
            continue;
        }
        n++;
        if (use_default && keep) {
            snprintf(r->variant, sizeof r->variant, "%s", r->def);
            r->us = r->def_us;
            r->reverted = true;
            t->dirty = true;
            t->st.reverted++;
        }
    }
    if (n_keys) *n_keys = n;
    if (t->dirty && keep) {
        const int src = sc__tune_file_save(t);
        if (rc == SC_OK) rc = src;
    }
    return rc;
}

bool sc__tune_active(const sc_device_t *d) {
    return d && d->tuner && d->tuner->enabled && d->tuner->tuning && SC_BE_HAS(d->be, tune_query) &&
           SC_BE_HAS(d->be, tune_set);
}

/* ---- tuning one node ------------------------------------------------------------------------ */
static int sync_stream(sc_device_t *d, void *stream) {
    return SC_BE_HAS(d->be, stream_sync) ? d->be->stream_sync(stream) : SC_OK;
}

static int run_n(sc_device_t *d, void *stream, sc_tensor **batch, int n) {
    int rc = d->be->graph_compute(stream, batch, n);
    int src = sync_stream(d, stream);
    return rc != SC_OK ? rc : src;
}

static double elem(int32_t type, const void *p, size_t i) {
    switch (type) {
    case SC_TYPE_F32: {
        float f;
        memcpy(&f, (const char *)p + 4 * i, 4);
        return f;
    }
    case SC_TYPE_F16: {
        uint16_t h;
        memcpy(&h, (const char *)p + 2 * i, 2);
        return sc_f16_to_f32(h);
    }
    default: {
        uint16_t h;
        memcpy(&h, (const char *)p + 2 * i, 2);
        return sc_bf16_to_f32(h);
    }
    }
}

/* nmse of got against ref; INFINITY when got is not finite where ref is */
static double nmse(int32_t type, const void *ref, const void *got, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double r = elem(type, ref, i), g = elem(type, got, i);
        if (!isfinite(r)) continue;
        if (!isfinite(g)) return INFINITY;
        num += (g - r) * (g - r);
        den += r * r;
    }
    return den > 0 ? num / den : (num > 0 ? INFINITY : 0);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct tune_bufs {
    void *ref, *got, *poison;
    sc_tensor **batch;
    double *times;
    /* weight rotation: n_rot copies of the node reading copies of src[0] */
    sc_buffer_t *rot_buf;
    sc_tensor *rot_w, *rot_n;
    int n_rot;
} tune_bufs;

/* Copies of node's weight in one new buffer, and of the node reading them.
 * Leaves b->n_rot 0 (time the node itself) when the weight is large, not a
 * weight, or memory is short. */
static void rotation_setup(sc_device_t *d, sc_tensor *node, tune_bufs *b) {
    sc_tensor *w = node->src[0];
    if (!w || !(w->flags & SC_TENSOR_WEIGHT) || w->view_src || !w->buffer) return;
    const size_t wb = sc_tensor_nbytes(w);
    if (wb == 0 || wb * 2 > SC_TUNE_ROTATE_BYTES) return;
    int n = (int)(SC_TUNE_ROTATE_BYTES / wb);
    if (n > SC_TUNE_MAX_ROTATE) n = SC_TUNE_MAX_ROTATE;
    void *host = malloc(wb);
    b->rot_w = calloc((size_t)n, sizeof *b->rot_w);
    b->rot_n = calloc((size_t)n, sizeof *b->rot_n);
    const size_t al = sc_buffer_alignment(w->buffer) ? sc_buffer_alignment(w->buffer) : 256;
    const size_t stride = (wb + al - 1) / al * al;
    bool ok = host && b->rot_w && b->rot_n && sc_tensor_get(w, host, 0, wb) == SC_OK &&
              sc_buffer_create(d, stride * (size_t)n, &b->rot_buf) == SC_OK;
    for (int i = 0; ok && i < n; i++) {
        b->rot_w[i] = *w;
        b->rot_w[i].buffer = NULL;
        b->rot_w[i].data = NULL;
        ok = sc_tensor_alloc(b->rot_buf, &b->rot_w[i], (size_t)i * stride) == SC_OK &&
             sc_tensor_set(&b->rot_w[i], host, 0, wb) == SC_OK;
        b->rot_n[i] = *node;
        b->rot_n[i].src[0] = &b->rot_w[i];
    }
    free(host);
    if (ok) {
        b->n_rot = n;
        return;
    }
    sc_buffer_destroy(b->rot_buf);
    b->rot_buf = NULL;
}

/* Time variant `name` on node (the check run already done). 0 on failure. */
static int time_variant(sc_device_t *d, sc_tuner *t, void *stream, sc_tensor *node, tune_bufs *b, double *us) {
    double t0 = sc__now_us();
    int rc = run_n(d, stream, &node, 1);
    if (rc != SC_OK) return rc;
    const double one = sc__now_us() - t0;
    int B = (int)(t->batch_us / (one > 1 ? one : 1));
    if (B < 1) B = 1;
    if (B > SC_TUNE_MAX_BATCH) B = SC_TUNE_MAX_BATCH;
    for (int i = 0; i < B; i++) b->batch[i] = b->n_rot ? &b->rot_n[i % b->n_rot] : node;
    if ((rc = run_n(d, stream, b->batch, B)) != SC_OK) return rc; /* warm-up */
    for (int r = 0; r < t->timed_batches; r++) {
        t0 = sc__now_us();
        if ((rc = run_n(d, stream, b->batch, B)) != SC_OK) return rc;
        b->times[r] = (sc__now_us() - t0) / B;
    }
    qsort(b->times, (size_t)t->timed_batches, sizeof *b->times, cmp_double);
    *us = b->times[t->timed_batches / 2];
    return SC_OK;
}

/* Poison the output, run once, read it into dst. */
static int check_run(sc_device_t *d, void *stream, sc_tensor *node, tune_bufs *b, size_t nbytes, void *dst) {
    int rc = sc_tensor_set(node, b->poison, 0, nbytes);
    if (rc == SC_OK) rc = run_n(d, stream, &node, 1);
    if (rc == SC_OK) rc = sc_tensor_get(node, dst, 0, nbytes);
    return rc;
}

static int tune_node(sc_device_t *d, void *stream, sc_tensor *node, const sc_tune_info *info) {
    sc_tuner *t = d->tuner;
    const double t_start = sc__now_us();
    sc_tune_rec *rec = sc__tune_insert(t, info->key);
    if (!rec) return SC_ENOMEM;
    const int32_t type = node->type;
    const size_t nbytes = sc_tensor_nbytes(node);
    if ((type != SC_TYPE_F32 && type != SC_TYPE_F16 && type != SC_TYPE_BF16) || !node->buffer || nbytes == 0) {
        rec->failed = true; /* outputs the check cannot compare: left at the default */
        return run_n(d, stream, &node, 1);
    }
    const size_t n_el = nbytes / sc_type_size(type);
    tune_bufs b;
    memset(&b, 0, sizeof b);
    b.ref = malloc(nbytes);
    b.got = malloc(nbytes);
    b.poison = malloc(nbytes);
    b.batch = malloc(SC_TUNE_MAX_BATCH * sizeof(sc_tensor *));
    b.times = malloc((size_t)t->timed_batches * sizeof(double));
    int rc = SC_OK;
    if (!b.ref || !b.got || !b.poison || !b.batch || !b.times) {
        rc = SC_ENOMEM;
        goto out;
    }
    memset(b.poison, 0xFF, nbytes);
    rotation_setup(d, node, &b);

    const int def = info->default_variant;
    int best = -1, n_wrong = 0;
    double best_us = INFINITY, def_us = 0;
    for (int k = 0; k < info->n_variants; k++) {
        const int v = k == 0 ? def : (k <= def ? k - 1 : k); /* the default first, then the rest in order */
        const char *name = info->variants[v];
        if ((rc = sc_device_tune_set(d, info->key, name)) != SC_OK) {
            sc_log(SC_LOG_WARN, "tuning", "%s: %s refused its own variant %s: %s", sc_device_name(d), info->key, name,
                   sc_strerror(rc));
            if (v == def) goto out;
            rc = SC_OK;
            n_wrong++;
            continue;
        }
        rc = check_run(d, stream, node, &b, nbytes, v == def ? b.ref : b.got);
        if (rc != SC_OK) {
            if (v == def) goto out; /* the op itself fails (SC_ERANGE, ...): not ours to tune */
            sc_log(SC_LOG_WARN, "tuning", "%s: %s variant %s failed to run: %s (never chosen)", sc_device_name(d),
                   info->key, name, sc_strerror(rc));
            rc = SC_OK;
            n_wrong++;
            continue;
        }
        if (v != def) {
            const double e = nmse(type, b.ref, b.got, n_el);
            if (!(e <= SC_TUNE_NMSE)) {
                sc_log(SC_LOG_WARN, "tuning", "%s: %s variant %s disagrees with the default %s (nmse %.3g): never chosen",
                       sc_device_name(d), info->key, name, info->variants[def], e);
                n_wrong++;
                continue;
            }
        }
        double us = 0;
        if ((rc = time_variant(d, t, stream, node, &b, &us)) != SC_OK) {
            if (v == def) goto out;
            rc = SC_OK;
            n_wrong++;
            continue;
        }
        t->st.variants_timed++;
        sc_log(SC_LOG_DEBUG, "tuning", "%s: %s %s %.2f us", sc_device_name(d), info->key, name, us);
        if (v == def) def_us = us;
        if (v == def ? us < best_us : us < best_us && us < def_us * (1 - SC_TUNE_MARGIN)) {
            best_us = us;
            best = v;
        }
    }
    if (best < 0) best = def;
    if ((rc = sc_device_tune_set(d, info->key, info->variants[best])) != SC_OK) goto out;
    if ((rc = run_n(d, stream, &node, 1)) != SC_OK) goto out; /* the output the graph goes on with */
    snprintf(rec->variant, sizeof rec->variant, "%s", info->variants[best]);
    snprintf(rec->def, sizeof rec->def, "%s", info->variants[def]);
    rec->us = isfinite(best_us) ? best_us : 0;
    rec->def_us = def_us;
    rec->n_variants = info->n_variants;
    rec->n_wrong = n_wrong;
    t->dirty = true;
    t->st.tuned++;
    t->st.variants_wrong += n_wrong;
    const double secs = (sc__now_us() - t_start) * 1e-6;
    t->st.tuning_s += secs;
    sc_log(SC_LOG_INFO, "tuning", "%s: %s -> %s (%.2f us; default %s %.2f us; %d variants, %d wrong)",
           sc_device_name(d), info->key, rec->variant, rec->us, rec->def, rec->def_us, info->n_variants, n_wrong);
    if (t->progress) t->progress(t->progress_user, info->key, t->st.tuned, secs);
out:
    if (rc != SC_OK) {
        rec->failed = true;
        sc_device_tune_set(d, info->key, NULL);
        t->st.tuning_s += (sc__now_us() - t_start) * 1e-6;
    }
    free(b.ref);
    free(b.got);
    free(b.poison);
    free(b.batch);
    free(b.times);
    sc_buffer_destroy(b.rot_buf);
    free(b.rot_w);
    free(b.rot_n);
    return rc;
}

int sc__tune_compute(sc_device_t *d, void *stream, sc_tensor **nodes, int n) {
    sc_tuner *t = d->tuner;
    int start = 0, rc = SC_OK;
    for (int i = 0; i < n; i++) {
        sc_tensor *node = nodes[i];
        if (node->op == SC_OP_VIEW || node->op == SC_OP_NONE) continue;
        sc_tune_info info;
        if (sc_device_tune_query(d, node, &info) != SC_OK || info.n_variants < 2) continue;
        sc_tune_rec *known = sc__tune_find(t, info.key);
        if (known) {
            known->marked |= t->recording;
            continue;
        }
        /* the nodes before it first: its inputs are this pass's activations */
        if (i > start && (rc = run_n(d, stream, nodes + start, i - start)) != SC_OK) return rc;
        start = i + 1;
        if ((rc = tune_node(d, stream, node, &info)) != SC_OK) return rc;
        sc_tune_rec *r = sc__tune_find(t, info.key);
        if (r) r->marked |= t->recording;
    }
    if (start < n) rc = d->be->graph_compute(stream, nodes + start, n - start);
    if (t->dirty) {
        const int src = sc__tune_file_save(t);
        if (src != SC_OK && !t->save_warned)
            sc_log(SC_LOG_WARN, "tuning", "cannot write %s: %s (the choices stay in use in this process)", t->path,
                   sc_strerror(src));
        t->save_warned |= src != SC_OK;
    }
    return rc;
}
