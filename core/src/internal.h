/*
 * core/src/internal.h - structures shared inside libstrixcore.
 * Not installed. Functions named sc__* are internal but not static.
 */
#ifndef STRIXCORE_INTERNAL_H
#define STRIXCORE_INTERNAL_H

#include "strixcore/strixcore.h"

#define SC_UNUSED(x) (void)(x)
#define SC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SC_ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define SC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* A loaded plugin (or the built-in CPU backend). */
typedef struct sc_plugin_entry {
    sc_plugin_record rec;
    void *handle;                     /* dlopen handle; NULL for built-ins */
    const sc_plugin_iface *iface;
    const sc_backend_iface *backend;  /* iface->backend, checked */
    const sc_format_iface *format;    /* iface->format, checked (format plugins) */
    const sc_frontend_iface *frontend;/* iface->frontend, checked (frontend plugins) */
    void *ctx;                        /* plugin context from init */
} sc_plugin_entry;

struct sc_device {
    sc_plugin_entry *plugin;
    const sc_backend_iface *be;
    int index;                        /* device index within the plugin */
    void *dev;                        /* plugin's device handle */
    void *stream;                     /* default stream (created lazily) */
    sc_device_props props;
    char name[64];
    int score;                        /* probe score of its plugin */
    struct sc_tuner *tuner;           /* kernel tuning (tune.h); NULL until sc_device_tuning_start */
};

struct sc_buffer {
    sc_device_t *dev;
    void *handle;                     /* plugin buffer handle */
    void *base;                       /* device address of byte 0 */
    void *host;                       /* host mapping or NULL */
    size_t size;
    size_t alignment;
};

/* The host-API table handed to plugins. */
const sc_host_api *sc__host_api(void);

/* True when the backend iface has a usable (non-NULL, inside struct_size) member. */
#define SC_BE_HAS(be, fn) (SC_HAS_FIELD(be, sc_backend_iface, fn) && (be)->fn != NULL)

/* Create a device object for index i of a backend plugin entry. */
int sc__device_open(sc_plugin_entry *pe, int index, sc_device_t **out);
void sc__device_close(sc_device_t *d);
int sc__device_stream(sc_device_t *d, void **stream);

/* ctx internals used by tensor builders */
sc_tensor *sc__ctx_new(sc_ctx_t *ctx, sc_type type, int ndims, const int64_t *ne);
void sc__ctx_fail(sc_ctx_t *ctx, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write a message into err (if given) and return code: `return sc__errf(...)`. */
int sc__errf(char *err, size_t err_len, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Read a whole file (NUL-terminated copy in *out, free()) of at most max_bytes. */
int sc__read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, char *err, size_t err_len);
/* CLOCK_MONOTONIC in microseconds (timings in debug logs). */
double sc__now_us(void);
/* Drop the process's pages of a tensor range inside st's mmaps once it has
 * been uploaded (lowers RSS while loading; reads still work). */
struct sc_safetensors;
void sc__safetensors_release(const struct sc_safetensors *st, const void *data, size_t nbytes);

/* Set default contiguous strides for t (non-QG types). */
void sc__tensor_set_strides(sc_tensor *t);

/* sc_graph_expand without marking t an output: t and its sources go into the
 * graph now (ahead of what is expanded later), and t's memory may be reused
 * after its last reader. For a model to order independent nodes together. */
int sc__graph_expand_node(sc_graph_t *g, sc_tensor *t);

#endif

/* ------------------------------------------------------------------------ */
/* plugin loader (plugin_loader.c), used by registry.c                       */
/* ------------------------------------------------------------------------ */
/* dlopen `path`, resolve the two entry symbols, run the probe and agree the
 * ABI minor. Fills pe->rec either way. SC_OK: pe->handle is open and the
 * probe passed (the caller then checks the score and calls sc__plugin_init).
 * On failure the record says REJECTED and nothing is left open. */
int sc__plugin_open(sc_plugin_entry *pe, const char *path);
/* The loaded format plugin whose detect claims quant_json with the highest
 * score, or NULL; `methods` gets the quant_methods all of them handle. */
const sc_plugin_entry *sc__registry_format_for(const sc_registry_t *reg, const char *quant_json, char *methods,
                                               size_t methods_len);
/* Call the plugin's init with the agreed minor and validate its tables. On
 * failure the plugin is shut down (only if init succeeded) and closed. */
int sc__plugin_init(sc_plugin_entry *pe);
/* Fill pe as the built-in backend `name` (path "(built-in)") and validate be.
 * `table` is storage for its plugin table and must live as long as pe. */
int sc__plugin_builtin(sc_plugin_entry *pe, sc_plugin_iface *table, const char *name,
                       const char *description, const sc_backend_iface *be, int score);
/* Shutdown hook (once, only if init succeeded) then dlclose. Idempotent. */
void sc__plugin_close(sc_plugin_entry *pe);
/* Mark pe `status` with error `err` and a reason. Logged as a warning, except
 * an UNUSABLE with err == SC_OK (a zero probe score: an answer, not a failure). */
void sc__plugin_fail(sc_plugin_entry *pe, sc_plugin_status status, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
