/*
 * core/src/plugin_loader.c - load one plugin: dlopen, probe, negotiate, init.
 *
 * The order of checks follows the Vulkan loader: nothing of the plugin runs
 * before both entry symbols are found, init runs only after the ABI major
 * matched and a minor was agreed, and every table the plugin hands back is
 * checked against its struct_size before a single member is called.
 * Any failure leaves a reason in the record and closes the object; the
 * process keeps running (registry.c just moves on to the next file).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void sc__plugin_fail(sc_plugin_entry *pe, sc_plugin_status status, int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pe->rec.reason, sizeof(pe->rec.reason), fmt, ap);
    va_end(ap);
    pe->rec.status = status;
    pe->rec.error = err;
    /* A zero probe score is an answer, not a failure: info, not warn. */
    if (status == SC_PLUGIN_REJECTED)
        sc_log(SC_LOG_WARN, "plugins", "%s: %s", pe->rec.path, pe->rec.reason);
    else
        sc_log(err ? SC_LOG_WARN : SC_LOG_INFO, "plugins", "%s: unusable: %s", pe->rec.path, pe->rec.reason);
}

/* dlsym hands back an object pointer; callers copy it into a function
 * pointer with memcpy, the strictly portable spelling of that cast. */
static void *plugin_sym(void *handle, const char *name) {
    dlerror();
    return dlsym(handle, name);
}

static const char *dl_error(void) {
    const char *e = dlerror();
    return e ? e : "no error text";
}

/* A plugin may fill a char array to the brim; cut it so it is a C string.
 * Returns true when the array had no terminator. */
static bool force_nul(char *s, size_t n) {
    if (memchr(s, '\0', n) != NULL)
        return false;
    s[n - 1] = '\0';
    return true;
}

static void close_handle(sc_plugin_entry *pe) {
    if (pe->handle)
        dlclose(pe->handle);
    pe->handle = NULL;
}

static bool kind_known(int32_t kind) {
    return kind == SC_PLUGIN_BACKEND || kind == SC_PLUGIN_FORMAT || kind == SC_PLUGIN_FRONTEND;
}

int sc__plugin_open(sc_plugin_entry *pe, const char *path) {
    sc_plugin_probe_fn probe;
    sc_plugin_desc desc;
    void *sym;
    bool cut;
    int rc;

    memset(pe, 0, sizeof(*pe));
    if (strlen(path) >= sizeof(pe->rec.path)) {
        snprintf(pe->rec.path, sizeof(pe->rec.path), "%.*s...", (int)sizeof(pe->rec.path) - 4, path);
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_ERANGE, "path too long");
        return SC_ERANGE;
    }
    strcpy(pe->rec.path, path);

    dlerror();
    pe->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!pe->handle) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EPLUGIN, "cannot load: %s", dl_error());
        return SC_EPLUGIN;
    }

    /* Both symbols must exist before any plugin code runs. */
    const char *names[2] = {SC_PLUGIN_PROBE_SYMBOL, SC_PLUGIN_INIT_SYMBOL};
    for (int i = 0; i < 2; i++) {
        if (!plugin_sym(pe->handle, names[i])) {
            sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EPLUGIN, "missing symbol %s: %s", names[i],
                            dl_error());
            close_handle(pe);
            return SC_EPLUGIN;
        }
    }
    sym = plugin_sym(pe->handle, SC_PLUGIN_PROBE_SYMBOL);
    memcpy(&probe, &sym, sizeof(probe));

    memset(&desc, 0, sizeof(desc));
    desc.struct_size = sizeof(desc);
    desc.abi_minor = SC_ABI_MINOR;
    rc = probe(sc__host_api(), &desc);

    /* Terminate every string before anything (logging included) reads it. */
    cut = force_nul(desc.name, sizeof(desc.name));
    cut |= force_nul(desc.version, sizeof(desc.version));
    cut |= force_nul(desc.description, sizeof(desc.description));
    cut |= force_nul(desc.reason, sizeof(desc.reason));
    desc.struct_size = sizeof(desc);
    pe->rec.desc = desc;
    if (cut)
        sc_log(SC_LOG_WARN, "plugins", "%s: probe left strings unterminated; truncated", path);

    if (rc < 0) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EPLUGIN, "probe failed: %s", sc_strerror(rc));
        close_handle(pe);
        return SC_EPLUGIN;
    }
    if (desc.abi_major != SC_ABI_MAJOR) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "ABI major %u, core speaks %u",
                        (unsigned)desc.abi_major, (unsigned)SC_ABI_MAJOR);
        close_handle(pe);
        return SC_EABI;
    }
    /* The probe was offered our highest minor and may only lower it. */
    if (desc.abi_minor > SC_ABI_MINOR) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI,
                        "ABI minor %u is newer than the core's %u (the probe must answer <= the offered minor)",
                        (unsigned)desc.abi_minor, (unsigned)SC_ABI_MINOR);
        close_handle(pe);
        return SC_EABI;
    }
    /* Agreed minor = min(plugin's, core's); the check above makes that the plugin's. */
    pe->rec.abi_minor = desc.abi_minor;
    if (!kind_known(desc.kind)) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "unknown plugin kind %d", (int)desc.kind);
        close_handle(pe);
        return SC_EABI;
    }
    if (desc.name[0] == '\0') {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EPLUGIN, "probe gave an empty plugin name");
        close_handle(pe);
        return SC_EPLUGIN;
    }
    pe->rec.status = SC_PLUGIN_LOADED; /* provisional: init has not run yet */
    return SC_OK;
}

/* Name of the first required backend member that is absent, or NULL.
 * *past is set when it lies beyond struct_size rather than being NULL. */
static const char *backend_missing(const sc_backend_iface *be, bool *past) {
#define SC_REQUIRE(m)                                       \
    do {                                                    \
        if (!SC_HAS_FIELD(be, sc_backend_iface, m)) {       \
            *past = true;                                   \
            return #m;                                      \
        }                                                   \
        if (be->m == NULL)                                  \
            return #m;                                      \
    } while (0)
    SC_REQUIRE(device_count);
    SC_REQUIRE(device_props);
    SC_REQUIRE(device_open);
    SC_REQUIRE(device_close);
    SC_REQUIRE(buffer_type_props);
    SC_REQUIRE(buffer_alloc);
    SC_REQUIRE(buffer_free);
    SC_REQUIRE(buffer_write);
    SC_REQUIRE(buffer_read);
    SC_REQUIRE(supports_op);
    SC_REQUIRE(stream_create);
    SC_REQUIRE(stream_destroy);
    SC_REQUIRE(graph_compute);
#undef SC_REQUIRE
    return NULL;
}

/* Name of the first required format member that is absent (NULL: none). */
static const char *format_missing(const sc_format_iface *f, bool *past) {
#define SC_REQUIRE(m)                                       \
    do {                                                    \
        if (!SC_HAS_FIELD(f, sc_format_iface, m)) {         \
            *past = true;                                   \
            return #m;                                      \
        }                                                   \
        if (f->m == NULL)                                   \
            return #m;                                      \
    } while (0)
    SC_REQUIRE(detect);
    SC_REQUIRE(open);
    SC_REQUIRE(linear_info);
    SC_REQUIRE(linear_convert);
    SC_REQUIRE(close);
#undef SC_REQUIRE
    return NULL;
}

/* A format plugin speaks ABI minor >= 1 and hands back a complete table. */
static int check_format(sc_plugin_entry *pe) {
    const sc_plugin_iface *pi = pe->iface;
    const char *missing;
    bool past = false;
    if (pe->rec.abi_minor < 1) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "format plugins need ABI minor >= 1 (agreed %u)",
                        (unsigned)pe->rec.abi_minor);
        return SC_EABI;
    }
    if (!pi->format) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "format plugin returned no format table");
        return SC_EABI;
    }
    missing = format_missing(pi->format, &past);
    if (missing && past) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI,
                        "short format table: required member %s lies past struct_size %zu", missing,
                        pi->format->struct_size);
        return SC_EABI;
    }
    if (missing) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "format table: required member %s is NULL", missing);
        return SC_EABI;
    }
    pe->format = pi->format;
    return SC_OK;
}

/* Name of the first required frontend member that is absent (NULL: none). */
static const char *frontend_missing(const sc_frontend_iface *f, bool *past) {
#define SC_REQUIRE(m)                                       \
    do {                                                    \
        if (!SC_HAS_FIELD(f, sc_frontend_iface, m)) {       \
            *past = true;                                   \
            return #m;                                      \
        }                                                   \
        if (f->m == NULL)                                   \
            return #m;                                      \
    } while (0)
    SC_REQUIRE(run);
    SC_REQUIRE(stop);
#undef SC_REQUIRE
    return NULL;
}

/* A frontend plugin speaks ABI minor >= 2 (sc_serve_api appeared there) and
 * hands back a table with both run and stop. */
static int check_frontend(sc_plugin_entry *pe) {
    const sc_plugin_iface *pi = pe->iface;
    const char *missing;
    bool past = false;
    if (pe->rec.abi_minor < 2) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "frontend plugins need ABI minor >= 2 (agreed %u)",
                        (unsigned)pe->rec.abi_minor);
        return SC_EABI;
    }
    if (!pi->frontend) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "frontend plugin returned no frontend table");
        return SC_EABI;
    }
    missing = frontend_missing(pi->frontend, &past);
    if (missing && past) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI,
                        "short frontend table: required member %s lies past struct_size %zu", missing,
                        pi->frontend->struct_size);
        return SC_EABI;
    }
    if (missing) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "frontend table: required member %s is NULL", missing);
        return SC_EABI;
    }
    pe->frontend = pi->frontend;
    return SC_OK;
}

static void log_degraded(const sc_plugin_entry *pe) {
    const sc_backend_iface *be = pe->backend;
    const char *who = pe->rec.desc.name;
    /* The core checks each optional member with SC_BE_HAS before calling. */
    if (!SC_BE_HAS(be, buffer_host_ptr))
        sc_log(SC_LOG_INFO, "plugins", "%s: degraded: no buffer_host_ptr (copies go through buffer_read/write)", who);
    if (!SC_BE_HAS(be, buffer_clear))
        sc_log(SC_LOG_INFO, "plugins", "%s: degraded: no buffer_clear", who);
    if (!SC_BE_HAS(be, offload_op))
        sc_log(SC_LOG_INFO, "plugins", "%s: degraded: no offload_op", who);
    if (!SC_BE_HAS(be, stream_sync))
        sc_log(SC_LOG_INFO, "plugins", "%s: degraded: no stream_sync", who);
}

/* Validate the tables init returned. On failure pe is marked REJECTED; the
 * caller closes it (init succeeded, so the shutdown hook runs). */
static int check_tables(sc_plugin_entry *pe) {
    const sc_plugin_iface *pi = pe->iface;
    size_t need = offsetof(sc_plugin_iface, shutdown) + sizeof(pi->shutdown);
    const char *missing;
    bool past = false;

    if (pe->rec.desc.kind == SC_PLUGIN_BACKEND)
        need = offsetof(sc_plugin_iface, backend) + sizeof(pi->backend);
    else if (pe->rec.desc.kind == SC_PLUGIN_FORMAT)
        need = offsetof(sc_plugin_iface, format) + sizeof(pi->format);
    else if (pe->rec.desc.kind == SC_PLUGIN_FRONTEND)
        need = offsetof(sc_plugin_iface, frontend) + sizeof(pi->frontend);
    if (pi->struct_size < need) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "short plugin table (struct_size %zu, need %zu)",
                        pi->struct_size, need);
        return SC_EABI;
    }
    if (pi->kind != pe->rec.desc.kind) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "plugin table kind %d differs from the probed kind %d",
                        (int)pi->kind, (int)pe->rec.desc.kind);
        return SC_EABI;
    }
    if (pi->kind == SC_PLUGIN_FORMAT)
        return check_format(pe);
    if (pi->kind == SC_PLUGIN_FRONTEND)
        return check_frontend(pe);

    if (!pi->backend) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "backend plugin returned no backend table");
        return SC_EABI;
    }
    missing = backend_missing(pi->backend, &past);
    if (missing && past) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI,
                        "short backend table: required member %s lies past struct_size %zu",
                        missing, pi->backend->struct_size);
        return SC_EABI;
    }
    if (missing) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "backend table: required member %s is NULL", missing);
        return SC_EABI;
    }
    pe->backend = pi->backend;
    log_degraded(pe);
    return SC_OK;
}

int sc__plugin_init(sc_plugin_entry *pe) {
    const sc_plugin_iface *iface = NULL;
    sc_plugin_init_fn init;
    void *ctx = NULL;
    void *sym;
    int rc;

    sym = plugin_sym(pe->handle, SC_PLUGIN_INIT_SYMBOL);
    memcpy(&init, &sym, sizeof(init));
    rc = init(sc__host_api(), pe->rec.abi_minor, &iface, &ctx);
    if (rc < 0) {
        /* libuv's contract: a failed call fires no callbacks, so no shutdown
         * even if the plugin filled *iface before failing. */
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EPLUGIN, "init failed: %s", sc_strerror(rc));
        close_handle(pe);
        return SC_EPLUGIN;
    }
    if (!iface) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "init returned a NULL plugin table");
        close_handle(pe);
        return SC_EABI;
    }
    pe->iface = iface;
    pe->ctx = ctx;
    rc = check_tables(pe);
    if (rc < 0) {
        sc__plugin_close(pe);
        return rc;
    }
    pe->rec.status = SC_PLUGIN_LOADED;
    return SC_OK;
}

int sc__plugin_builtin(sc_plugin_entry *pe, sc_plugin_iface *table, const char *name,
                       const char *description, const sc_backend_iface *be, int score) {
    int rc;

    memset(pe, 0, sizeof(*pe));
    snprintf(pe->rec.path, sizeof(pe->rec.path), "(built-in)");
    pe->rec.desc.struct_size = sizeof(pe->rec.desc);
    pe->rec.desc.abi_major = SC_ABI_MAJOR;
    pe->rec.desc.abi_minor = SC_ABI_MINOR;
    pe->rec.desc.kind = SC_PLUGIN_BACKEND;
    pe->rec.desc.score = score;
    snprintf(pe->rec.desc.name, sizeof(pe->rec.desc.name), "%s", name);
    snprintf(pe->rec.desc.version, sizeof(pe->rec.desc.version), "%s", SC_VERSION_STRING);
    snprintf(pe->rec.desc.description, sizeof(pe->rec.desc.description), "%s", description);
    pe->rec.abi_minor = SC_ABI_MINOR;
    if (!be) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EABI, "built-in backend has no table");
        return SC_EABI;
    }
    /* The built-in backend has no init: the caller owns its plugin table
     * (one per registry, so registries on several threads never share it). */
    memset(table, 0, sizeof(*table));
    table->struct_size = sizeof(*table);
    table->kind = SC_PLUGIN_BACKEND;
    table->backend = be;
    pe->iface = table;
    rc = check_tables(pe);
    if (rc < 0) {
        pe->iface = NULL;
        return rc;
    }
    pe->rec.status = SC_PLUGIN_LOADED;
    return SC_OK;
}

void sc__plugin_close(sc_plugin_entry *pe) {
    const sc_plugin_iface *pi = pe->iface;
    /* iface is only ever set after a successful init: the hook runs once. */
    if (pi && SC_HAS_FIELD(pi, sc_plugin_iface, shutdown) && pi->shutdown)
        pi->shutdown(pe->ctx);
    pe->iface = NULL;
    pe->backend = NULL;
    pe->format = NULL;
    pe->frontend = NULL;
    pe->ctx = NULL;
    close_handle(pe);
}
