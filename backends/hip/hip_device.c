/*
 * backends/hip/hip_device.c - opening a device and loading its kernels.
 *
 * AMD: the plugin embeds one code object per kernels/<name>.hip file and target
 * (gfx1151, gfx1150, gfx1100). The HIP runtime refuses a code object built
 * for another ISA, so each file's objects are tried in the plugin's order
 * and the first that loads fixes the device's arch for the rest; no device
 * property struct (whose layout changed between ROCm releases) is read.
 * NVIDIA: every *.fatbin / *.cubin in $STRIXCORE_HIP_NVIDIA_DIR, else
 * <plugin dir>/hip/nvidia/ (scripts/gpu-check.sh builds them with nvcc).
 * EMU: the emulator library holds every kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_device.h"

static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

int hip_dev_function(hip_dev *d, const char *name, void **fn) {
    uint32_t h = hash_name(name) & (HIP_FN_CACHE - 1);
    int rc = SC_ENOENT;
    pthread_mutex_lock(&d->fn_mu);
    for (uint32_t i = 0; i < HIP_FN_CACHE; i++) {
        hip_fn_slot *s = &d->fns[(h + i) & (HIP_FN_CACHE - 1)];
        if (s->name[0] == '\0') {
            /* not cached: ask every module */
            for (int m = 0; m < d->n_modules && rc != SC_OK; m++)
                rc = d->rt->module_function(d->rt, d->modules[m], name, fn);
            if (rc == SC_OK && strlen(name) < sizeof(s->name)) {
                snprintf(s->name, sizeof(s->name), "%s", name);
                s->fn = *fn;
            }
            break;
        }
        if (strcmp(s->name, name) == 0) {
            *fn = s->fn;
            rc = SC_OK;
            break;
        }
    }
    pthread_mutex_unlock(&d->fn_mu);
    return rc;
}

static int add_module(hip_dev *d, const void *image, size_t size, char *why) {
    void *m = NULL;
    if (d->n_modules >= HIP_MAX_MODULES) {
        snprintf(why, HIP_RT_WHY, "more than %d kernel modules", HIP_MAX_MODULES);
        return SC_ERANGE;
    }
    int rc = d->rt->module_load(d->rt, image, size, &m, why);
    if (rc == SC_OK) d->modules[d->n_modules++] = m;
    return rc;
}

static bool is_gfx11(const char *arch) { return strncmp(arch, "gfx11", 5) == 0; }

/* hip_code_objects lists every file for one arch, then the next arch. */
static int load_amd(hip_dev *d) {
    char why[HIP_RT_WHY] = "";
    const char *arch = NULL;
    int hip_n_code_objects = 0;
    const hip_code_object *hip_code_objects = hip_code_objects_list(&hip_n_code_objects);
    for (int i = 0; i < hip_n_code_objects && !arch; i++) {
        const hip_code_object *co = &hip_code_objects[i];
        if (i > 0 && strcmp(hip_code_objects[i - 1].arch, co->arch) == 0) continue; /* first of each arch */
        if (add_module(d, co->data, co->size, why) != SC_OK) continue;             /* another ISA */
        arch = co->arch;
        for (int j = i + 1; j < hip_n_code_objects && strcmp(hip_code_objects[j].arch, arch) == 0; j++) {
            if (add_module(d, hip_code_objects[j].data, hip_code_objects[j].size, why) != SC_OK) {
                HIP_LOG(SC_LOG_ERROR, "%s: kernels/%s.hip for %s does not load: %s", d->name,
                        hip_code_objects[j].file, arch, why);
                return SC_EBACKEND;
            }
        }
    }
    if (!arch) {
        HIP_LOG(SC_LOG_ERROR, "%s: none of the plugin's %d code objects loads on this GPU (built for %s; rebuild "
                "with -DSTRIXCORE_HIP_ARCHS=<your gfx target>): %s", d->name, hip_n_code_objects,
                SC_HIP_ARCH_LIST, why[0] ? why : "no code objects built in");
        return SC_ENOTSUP;
    }
    HIP_LOG(SC_LOG_INFO, "%s: running the %s code objects", d->name, arch);
    snprintf(d->caps.arch, sizeof(d->caps.arch), "%s", arch);
    d->caps.wmma = is_gfx11(arch);
    d->caps.igpu = d->caps.igpu || strcmp(arch, "gfx1151") == 0 || strcmp(arch, "gfx1150") == 0;
    return SC_OK;
}

static int load_file(hip_dev *d, const char *path) {
    char why[HIP_RT_WHY] = "";
    FILE *f = fopen(path, "rb");
    long n;
    void *buf = NULL;
    int rc = SC_EIO;
    if (!f) return SC_EIO;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = hip_host->malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n)
        rc = add_module(d, buf, (size_t)n, why);
    fclose(f);
    hip_host->free(buf);
    if (rc != SC_OK) HIP_LOG(SC_LOG_ERROR, "%s: %s: %s", d->name, path, why[0] ? why : "cannot read");
    return rc;
}

static int load_nvidia(hip_dev *d) {
    char dir[1200];
    const char *env = getenv("STRIXCORE_HIP_NVIDIA_DIR");
    struct dirent *e;
    DIR *dp;
    if (env && *env) snprintf(dir, sizeof(dir), "%s", env);
    else snprintf(dir, sizeof(dir), "%s/hip/nvidia", d->pl->dir);
    dp = opendir(dir);
    if (!dp) {
        HIP_LOG(SC_LOG_ERROR, "%s: no NVIDIA kernel images in %s (build them with nvcc: scripts/gpu-check.sh hip)",
                d->name, dir);
        return SC_ENOTSUP;
    }
    int rc = SC_OK;
    while ((e = readdir(dp)) != NULL && rc == SC_OK) {
        size_t n = strlen(e->d_name);
        char path[1500];
        if (!((n > 7 && strcmp(e->d_name + n - 7, ".fatbin") == 0) || (n > 6 && strcmp(e->d_name + n - 6, ".cubin") == 0)))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        rc = load_file(d, path);
    }
    closedir(dp);
    if (rc == SC_OK && d->n_modules == 0) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s holds no .fatbin/.cubin kernel images", d->name, dir);
        rc = SC_ENOTSUP;
    }
    return rc;
}

int hip_dev_create(hip_plugin *pl, int index, hip_dev **out) {
    char why[HIP_RT_WHY] = "";
    hip_rt_dev_info info;
    hip_dev *d = hip_host->calloc(1, sizeof(*d));
    int rc;
    if (!d) return SC_ENOMEM;
    d->pl = pl;
    d->rt = &pl->rt;
    d->index = index;
    snprintf(d->name, sizeof(d->name), "hip%d", index);
    pthread_mutex_init(&d->fn_mu, NULL);
    pthread_mutex_init(&d->io_mu, NULL);
    sc_tune_table_init(&d->tune);
    rc = d->rt->device_use(d->rt, index, why);
    if (rc == SC_OK) rc = d->rt->device_info(d->rt, index, &info, why);
    if (rc == SC_OK) rc = d->rt->stream_create(d->rt, &d->io_stream, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: %s", d->name, why);
        hip_dev_destroy(d);
        return rc;
    }
    d->caps.platform = pl->rt.platform;
    d->caps.compute_units = info.compute_units;
    d->caps.igpu = info.integrated;
    snprintf(d->caps.arch, sizeof(d->caps.arch), "%s", info.arch);
    switch (pl->rt.platform) {
    case HIP_PLAT_AMD: rc = load_amd(d); break;
    case HIP_PLAT_NVIDIA: rc = load_nvidia(d); break;
    case HIP_PLAT_EMU: rc = add_module(d, NULL, 0, why); break;
    default: rc = SC_EINVAL; break;
    }
    if (rc != SC_OK) {
        hip_dev_destroy(d);
        return rc;
    }
    HIP_LOG(SC_LOG_INFO, "%s: %s, %s, %d kernel module%s%s", d->name, info.name, d->caps.arch, d->n_modules,
            d->n_modules == 1 ? "" : "s", d->caps.wmma ? ", WMMA" : "");
    *out = d;
    return SC_OK;
}

void hip_dev_sync_all(hip_dev *d) {
    pthread_mutex_lock(&d->io_mu);
    if (d->io_stream) d->rt->stream_sync(d->rt, d->io_stream, NULL);
    pthread_mutex_unlock(&d->io_mu);
}

void hip_dev_destroy(hip_dev *d) {
    if (!d) return;
    for (int m = 0; m < d->n_modules; m++) d->rt->module_unload(d->rt, d->modules[m]);
    if (d->io_stream) d->rt->stream_destroy(d->rt, d->io_stream);
    pthread_mutex_destroy(&d->fn_mu);
    pthread_mutex_destroy(&d->io_mu);
    sc_tune_table_free(&d->tune);
    hip_host->free(d);
}

const hip_dev_caps *hip_caps(const hip_dev *d) { return &d->caps; }
