/*
 * core/src/registry.c - the plugin search path, the plugin records and the
 * device list.
 *
 * Search order: the built-in CPU backend, then the install and build-tree
 * plugin directories, then STRIXCORE_PLUGIN_PATH, then opts->search_paths
 * (config file / CLI). The first plugin to claim a name keeps it. A bad
 * entry or a bad plugin is logged, recorded and skipped: creating a registry
 * never fails because of what is on disk.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpu.h"
#include "internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct sc_reg_plugin {
    sc_plugin_entry pe;      /* devices point here; the address never moves */
    sc_plugin_iface builtin; /* plugin-table storage for the built-in backend */
    char *real;              /* realpath of the file (NULL for the built-in) */
} sc_reg_plugin;

struct sc_registry {
    sc_reg_plugin **plugins; /* in load order, rejected ones included */
    int n_plugins, cap_plugins;
    sc_device_t **devices;
    int n_devices, cap_devices;
};

/* Make room for one more element in the growable array *arr_p (any
 * pointer-to-T variable, T of size elem). The pointer goes through memcpy so
 * that no T ** is ever accessed as a void **. On failure nothing changes. */
static int grow_impl(void *arr_p, int *cap, int n, size_t elem) {
    void *arr, *na;
    int ncap;
    if (n < *cap)
        return SC_OK;
    ncap = *cap ? *cap * 2 : 8;
    memcpy(&arr, arr_p, sizeof(arr));
    na = realloc(arr, (size_t)ncap * elem);
    if (!na)
        return SC_ENOMEM;
    memcpy(arr_p, &na, sizeof(na));
    *cap = ncap;
    return SC_OK;
}
#define grow(arr_p, cap, n) grow_impl((arr_p), (cap), (n), sizeof(**(arr_p)))

static bool name_taken(const sc_registry_t *reg, const char *name, const char **by) {
    for (int i = 0; i < reg->n_plugins; i++) {
        const sc_plugin_record *r = &reg->plugins[i]->pe.rec;
        if (r->status == SC_PLUGIN_LOADED && strcmp(r->desc.name, name) == 0) {
            *by = r->path;
            return true;
        }
    }
    return false;
}

/* Open every device of an initialised backend. A plugin left with no
 * device is unusable here and is shut down again. */
static void open_devices(sc_registry_t *reg, sc_plugin_entry *pe) {
    char first_err[256] = "";
    int n = pe->backend->device_count(pe->ctx);
    int opened = 0;

    if (n <= 0) {
        sc__plugin_fail(pe, SC_PLUGIN_UNUSABLE, SC_ENOENT, "no devices (device_count returned %d)", n);
        sc__plugin_close(pe);
        return;
    }
    for (int i = 0; i < n; i++) {
        sc_device_t *d = NULL;
        int rc = grow(&reg->devices, &reg->cap_devices, reg->n_devices);
        if (rc == SC_OK)
            rc = sc__device_open(pe, i, &d);
        if (rc < 0) {
            sc_log(SC_LOG_WARN, "plugins", "%s: device %d failed to open: %s", pe->rec.path, i, sc_strerror(rc));
            if (!first_err[0])
                snprintf(first_err, sizeof(first_err), "device %d failed to open: %s", i, sc_strerror(rc));
            continue;
        }
        reg->devices[reg->n_devices++] = d;
        opened++;
    }
    pe->rec.n_devices = opened;
    if (opened == 0) {
        sc__plugin_fail(pe, SC_PLUGIN_UNUSABLE, SC_EBACKEND, "%s", first_err);
        sc__plugin_close(pe);
    } else if (first_err[0]) {
        /* Usable, but say why some devices are missing. */
        snprintf(pe->rec.reason, sizeof(pe->rec.reason), "%s", first_err);
    }
}

/* The built-in CPU backend: always first, always score 1 (the last resort). */
static int add_builtin_cpu(sc_registry_t *reg) {
    char desc[128];
    sc_reg_plugin *rp = calloc(1, sizeof(*rp));
    int rc;

    if (!rp)
        return SC_ENOMEM;
    snprintf(desc, sizeof(desc), "built-in CPU backend (%s)", sc__cpu_features());
    rc = sc__plugin_builtin(&rp->pe, &rp->builtin, "cpu", desc, sc_cpu_backend_iface(), 1);
    if (rc == SC_OK)
        rc = grow(&reg->plugins, &reg->cap_plugins, reg->n_plugins);
    if (rc < 0) {
        free(rp);
        return rc;
    }
    reg->plugins[reg->n_plugins++] = rp;
    open_devices(reg, &rp->pe);
    return rp->pe.rec.n_devices > 0 ? SC_OK : SC_EBACKEND;
}

/* Returns SC_OK when the plugin loaded or is merely unusable here, the
 * record's error when it was rejected. A file already tried (the same real
 * path reached twice) is not loaded again; the first outcome is returned. */
int sc_registry_load(sc_registry_t *reg, const char *path) {
    sc_reg_plugin *rp;
    sc_plugin_entry *pe;
    const char *by;
    char *real;
    int rc;

    if (!reg || !path || !path[0])
        return SC_EINVAL;
    real = realpath(path, NULL);
    if (!real)
        real = strdup(path); /* dlopen will say what is wrong with it */
    if (!real)
        return SC_ENOMEM;
    for (int i = 0; i < reg->n_plugins; i++) {
        const sc_reg_plugin *seen = reg->plugins[i];
        if (seen->real && strcmp(seen->real, real) == 0) {
            sc_log(SC_LOG_DEBUG, "plugins", "%s: already tried as %s, skipped", path, seen->pe.rec.path);
            free(real);
            return seen->pe.rec.status == SC_PLUGIN_REJECTED ? seen->pe.rec.error : SC_OK;
        }
    }
    if (grow(&reg->plugins, &reg->cap_plugins, reg->n_plugins) < 0 || !(rp = calloc(1, sizeof(*rp)))) {
        free(real);
        return SC_ENOMEM;
    }
    pe = &rp->pe;

    rc = sc__plugin_open(pe, path);
    if (rc == SC_OK && name_taken(reg, pe->rec.desc.name, &by)) {
        sc__plugin_fail(pe, SC_PLUGIN_REJECTED, SC_EINVAL, "duplicate plugin name \"%s\" (already loaded from %s)",
                        pe->rec.desc.name, by);
        sc__plugin_close(pe);
        rc = SC_EINVAL;
    }
    if (rc == SC_OK && pe->rec.desc.score <= 0) {
        /* Unusable on this machine: never initialised, unloaded at once. */
        sc__plugin_fail(pe, SC_PLUGIN_UNUSABLE, SC_OK, "%s",
                        pe->rec.desc.reason[0] ? pe->rec.desc.reason : "probe scored 0 on this machine");
        sc__plugin_close(pe);
        rc = SC_ENOTSUP;
    }
    if (rc == SC_OK)
        rc = sc__plugin_init(pe);
    if (rc == SC_OK && pe->backend)
        open_devices(reg, pe);
    if (pe->rec.status == SC_PLUGIN_LOADED)
        sc_log(SC_LOG_INFO, "plugins", "%s: loaded %s %s (ABI %u.%u, score %d, %d device%s)", path,
               pe->rec.desc.name, pe->rec.desc.version, (unsigned)pe->rec.desc.abi_major,
               (unsigned)pe->rec.abi_minor, (int)pe->rec.desc.score, pe->rec.n_devices,
               pe->rec.n_devices == 1 ? "" : "s");
    rp->real = real;
    reg->plugins[reg->n_plugins++] = rp;
    return pe->rec.status == SC_PLUGIN_REJECTED ? pe->rec.error : SC_OK;
}

static bool is_so_name(const char *name) {
    size_t n = strlen(name);
    return n > 3 && name[0] != '.' && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every *.so in dir, in sorted order so that name clashes resolve the
 * same way on every machine. */
static void scan_dir(sc_registry_t *reg, const char *dir) {
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d) {
        sc_log(SC_LOG_WARN, "plugins", "%s: cannot read directory: %s", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *s;
        if (!is_so_name(e->d_name))
            continue;
        if (grow(&names, &cap, n) < 0 || !(s = strdup(e->d_name))) {
            sc_log(SC_LOG_ERROR, "plugins", "%s: out of memory while scanning", dir);
            break;
        }
        names[n++] = s;
    }
    closedir(d);
    if (n > 1)
        qsort(names, (size_t)n, sizeof(*names), cmp_str);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof(path))
            sc_log(SC_LOG_WARN, "plugins", "%s/%s: path too long, skipped", dir, names[i]);
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            sc_registry_load(reg, path);
        free(names[i]);
    }
    free(names);
}

/* One search-path entry: a directory to scan or a single .so file. `origin`
 * says where it came from for the log. Missing default directories are
 * normal (nothing installed yet) and only logged at debug level. */
static void add_entry(sc_registry_t *reg, const char *entry, const char *origin, bool quiet_missing);

/* <dir of libstrixcore.so>/strixcore/plugins: finds the plugins of an install
 * that was moved or made with `cmake --install --prefix` after configuring. */
/* Returns true when that directory exists, i.e. this core runs from an
 * install (then the build tree's plugin dir is not searched). */
static bool add_relocated_dir(sc_registry_t *reg) {
    Dl_info info;
    if (!dladdr((void *)&sc_registry_create, &info) || !info.dli_fname) return false;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return false;
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%.*s/strixcore/plugins", (int)(slash - info.dli_fname), info.dli_fname);
    if (n <= 0 || (size_t)n >= sizeof dir) return false;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    add_entry(reg, dir, "library-relative plugin dir", true);
    return true;
}

static void add_entry(sc_registry_t *reg, const char *entry, const char *origin, bool quiet_missing) {
    struct stat st;
    if (!entry[0])
        return;
    if (stat(entry, &st) != 0) {
        sc_log(quiet_missing ? SC_LOG_DEBUG : SC_LOG_WARN, "plugins", "%s: %s entry skipped: %s", entry, origin,
               strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode))
        scan_dir(reg, entry);
    else if (S_ISREG(st.st_mode) && is_so_name(strrchr(entry, '/') ? strrchr(entry, '/') + 1 : entry))
        sc_registry_load(reg, entry);
    else
        sc_log(SC_LOG_WARN, "plugins", "%s: %s entry skipped: not a directory or a .so file", entry, origin);
}

/* STRIXCORE_PLUGIN_PATH: colon-separated directories or .so files. */
static void add_env_path(sc_registry_t *reg) {
    const char *env = getenv("STRIXCORE_PLUGIN_PATH");
    char *copy, *save = NULL;
    if (!env || !env[0])
        return;
    copy = strdup(env);
    if (!copy)
        return;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
        add_entry(reg, tok, "STRIXCORE_PLUGIN_PATH", false);
    free(copy);
}

int sc_registry_create(const sc_registry_opts *opts, sc_registry_t **out) {
    sc_registry_t *reg;
    int rc;

    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (opts && opts->struct_size == 0) {
        sc_log(SC_LOG_ERROR, "plugins", "sc_registry_opts.struct_size is not set");
        return SC_EINVAL;
    }
    reg = calloc(1, sizeof(*reg));
    if (!reg)
        return SC_ENOMEM;
    rc = add_builtin_cpu(reg);
    if (rc < 0) {
        sc_log(SC_LOG_ERROR, "plugins", "built-in CPU backend failed: %s", sc_strerror(rc));
        sc_registry_destroy(reg);
        return rc;
    }
    if (!(SC_HAS_FIELD(opts, sc_registry_opts, no_default_paths) && opts->no_default_paths)) {
        /* Run from an install: its own plugins. Run from the build tree: the
         * freshly built plugins first, so an older install cannot shadow them. */
        bool installed = add_relocated_dir(reg);
#ifdef SC_PLUGIN_BUILD_DIR
        if (!installed) add_entry(reg, SC_PLUGIN_BUILD_DIR, "build-tree plugin dir", true);
#endif
#ifdef SC_PLUGIN_INSTALL_DIR
        add_entry(reg, SC_PLUGIN_INSTALL_DIR, "install plugin dir", true);
#endif
    }
    if (!(SC_HAS_FIELD(opts, sc_registry_opts, no_env) && opts->no_env))
        add_env_path(reg);
    if (SC_HAS_FIELD(opts, sc_registry_opts, search_paths) && opts->search_paths) {
        for (const char *const *p = opts->search_paths; *p; p++)
            add_entry(reg, *p, "search path", false);
    }
    *out = reg;
    return SC_OK;
}

void sc_registry_destroy(sc_registry_t *reg) {
    if (!reg)
        return;
    /* Devices (and their streams) go before the plugins that own them. */
    for (int i = reg->n_devices - 1; i >= 0; i--)
        sc__device_close(reg->devices[i]);
    for (int i = reg->n_plugins - 1; i >= 0; i--) {
        sc__plugin_close(&reg->plugins[i]->pe);
        free(reg->plugins[i]->real);
        free(reg->plugins[i]);
    }
    free(reg->devices);
    free(reg->plugins);
    free(reg);
}

int sc_registry_plugin_count(const sc_registry_t *reg) { return reg ? reg->n_plugins : 0; }

const sc_plugin_record *sc_registry_plugin(const sc_registry_t *reg, int i) {
    if (!reg || i < 0 || i >= reg->n_plugins)
        return NULL;
    return &reg->plugins[i]->pe.rec;
}

int sc_registry_device_count(const sc_registry_t *reg) { return reg ? reg->n_devices : 0; }

sc_device_t *sc_registry_device(const sc_registry_t *reg, int i) {
    if (!reg || i < 0 || i >= reg->n_devices)
        return NULL;
    return reg->devices[i];
}

sc_device_t *sc_registry_find_device(const sc_registry_t *reg, const char *name) {
    if (!reg || !name || !name[0])
        return NULL;
    for (int i = 0; i < reg->n_devices; i++)
        if (strcmp(reg->devices[i]->name, name) == 0)
            return reg->devices[i];
    /* A backend name stands for its first device ("hip" -> "hip0"). */
    for (int i = 0; i < reg->n_devices; i++)
        if (strcmp(reg->devices[i]->plugin->rec.desc.name, name) == 0)
            return reg->devices[i];
    return NULL;
}

sc_device_t *sc_registry_pick(const sc_registry_t *reg, const char *backend) {
    sc_device_t *best = NULL;
    if (!reg)
        return NULL;
    if (backend && strcmp(backend, "auto") != 0)
        return sc_registry_find_device(reg, backend);
    /* Highest score; ties go to the earlier device, so the CPU (first,
     * score 1) only loses to a plugin that claims to be better than it. */
    for (int i = 0; i < reg->n_devices; i++)
        if (!best || reg->devices[i]->score > best->score)
            best = reg->devices[i];
    return best;
}

/* The loaded format plugin that claims quant_json with the highest detect
 * score (ties: the earlier one), or NULL. `methods` receives the
 * comma-separated quant_method names of every loaded format plugin, for the
 * "unknown quant_method" message. */
const sc_plugin_entry *sc__registry_format_for(const sc_registry_t *reg, const char *quant_json, char *methods,
                                               size_t methods_len) {
    const sc_plugin_entry *best = NULL;
    int best_score = 0;
    size_t o = 0;
    if (methods && methods_len) methods[0] = '\0';
    for (int i = 0; reg && i < reg->n_plugins; i++) {
        const sc_plugin_entry *pe = &reg->plugins[i]->pe;
        if (pe->rec.status != SC_PLUGIN_LOADED || !pe->format) continue;
        const sc_format_iface *f = pe->format;
        if (methods && o < methods_len) {
            const char *m = SC_HAS_FIELD(f, sc_format_iface, methods) && f->methods ? f->methods : pe->rec.desc.name;
            int k = snprintf(methods + o, methods_len - o, "%s%s", o ? ", " : "", m);
            if (k > 0) o += (size_t)k;
        }
        int score = 0;
        if (f->detect(pe->ctx, quant_json, &score) == SC_OK && score > best_score) {
            best = pe;
            best_score = score;
        }
    }
    return best;
}

const sc_frontend_iface *sc_registry_frontend(const sc_registry_t *reg, const char *name, void **ctx) {
    if (ctx) *ctx = NULL;
    if (!reg || !name) return NULL;
    for (int i = 0; i < reg->n_plugins; i++) {
        const sc_plugin_entry *pe = &reg->plugins[i]->pe;
        if (pe->rec.status != SC_PLUGIN_LOADED || !pe->frontend) continue;
        if (strcmp(pe->rec.desc.name, name) != 0) continue;
        if (ctx) *ctx = pe->ctx;
        return pe->frontend;
    }
    return NULL;
}
