/*
 * core/src/tune_file.c - the tuning cache file (strixcore/tuning.h).
 *
 *   <dir>/<device-key>.json
 *   {
 *     "format": "strixcore-tuning", "version": 1,
 *     "device_key": "vulkan-nvidia-h200-nvidia-580.159.04-0.1.0",
 *     "backend": "vulkan", "device": "NVIDIA H200", "driver": "NVIDIA 580.159.04",
 *     "strixcore": "0.1.0",
 *     "results": {
 *       "<key>": {"variant": "gemv.nr4", "us": 11.9, "default": "gemv", "default_us": 14.2,
 *                 "variants": 6, "wrong": 0},
 *       ...
 *     }
 *   }
 *
 * The device key names the backend, the device, its driver and the strixcore
 * version, so that a driver or strixcore upgrade starts a fresh file instead
 * of trusting old measurements. Loading checks all of it: a file that does
 * not parse (corrupt, truncated), is another program's, or was written for
 * another device, driver or version (a copied or stale file) is ignored with
 * a warning, and rewritten once something new is tuned. An entry whose
 * variant the backend refuses (SC_ENOENT: a kernel that no longer exists) is
 * dropped with a warning; the rest are used.
 *
 * Writing is atomic: <file>.tmp.<pid> is written, fsync'd and renamed over
 * the file, so a crash or a full disk leaves the old file whole. Two
 * processes tuning the same device at once: the last writer's table wins.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tune.h"

#define TUNE_FORMAT "strixcore-tuning"
#define TUNE_VERSION 1
#define TUNE_MAX_FILE (64u << 20)

/* lowercase [a-z0-9.] words joined by '-' */
static void sanitize_append(char *out, size_t len, const char *s) {
    size_t n = strlen(out);
    bool dash = n > 0 && out[n - 1] == '-';
    for (; *s && n + 1 < len; s++) {
        const unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '.') {
            out[n++] = (char)tolower(c);
            dash = false;
        } else if (!dash && n > 0) {
            out[n++] = '-';
            dash = true;
        }
    }
    out[n] = '\0';
}

void sc__tune_device_key(const char *backend, const char *device, const char *driver, char *out, size_t len) {
    if (!len) return;
    out[0] = '\0';
    const char *parts[4] = {backend, device && *device ? device : "device", driver && *driver ? driver : "nodriver",
                            SC_VERSION_STRING};
    for (int i = 0; i < 4; i++) {
        sanitize_append(out, len > 200 ? 200 : len, parts[i]);
        size_t n = strlen(out);
        if (i < 3 && n > 0 && out[n - 1] != '-' && n + 1 < len) {
            out[n] = '-';
            out[n + 1] = '\0';
        }
    }
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '-') out[--n] = '\0';
}

static const char *str_of(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double num_of(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    const double d = json_is_number(v) ? json_number_value(v) : 0;
    return isfinite(d) && d >= 0 ? d : 0;
}

static void ignore(sc_tuner *t, const char *why) {
    t->st.file_ignored = true;
    sc_log(SC_LOG_WARN, "tuning", "ignoring %s: %s; tuning starts from the backend's defaults", t->path, why);
}

int sc__tune_file_load(sc_device_t *d, sc_tuner *t) {
    FILE *f = fopen(t->path, "rb");
    if (!f) {
        if (errno != ENOENT) ignore(t, strerror(errno));
        return SC_OK;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > TUNE_MAX_FILE) {
        fclose(f);
        ignore(t, "not a regular file of at most 64 MiB");
        return SC_OK;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    char why[512];
    if (!root) {
        snprintf(why, sizeof why, "not valid JSON (line %d: %s)", je.line, je.text);
        ignore(t, why);
        return SC_OK;
    }
    const char *fmt = str_of(root, "format"), *key = str_of(root, "device_key"), *ver = str_of(root, "strixcore");
    json_t *version = json_object_get(root, "version"), *results = json_object_get(root, "results");
    if (!json_is_object(root) || !fmt || strcmp(fmt, TUNE_FORMAT) != 0) {
        ignore(t, "not a strixcore tuning file");
    } else if (!json_is_integer(version) || json_integer_value(version) != TUNE_VERSION) {
        ignore(t, "a tuning file version this strixcore does not read");
    } else if (!key || strcmp(key, t->device_key) != 0) {
        snprintf(why, sizeof why, "written for device key '%.200s', this is '%.200s'", key ? key : "?", t->device_key);
        ignore(t, why);
    } else if (!ver || strcmp(ver, SC_VERSION_STRING) != 0) {
        snprintf(why, sizeof why, "written by strixcore %.64s, this is %s", ver ? ver : "?", SC_VERSION_STRING);
        ignore(t, why);
    } else if (!json_is_object(results)) {
        ignore(t, "no \"results\" object");
    } else {
        const char *k;
        json_t *e;
        json_object_foreach(results, k, e) {
            const char *variant = str_of(e, "variant"), *def = str_of(e, "default");
            if (!json_is_object(e) || !variant || strlen(k) >= SC_TUNE_KEY_LEN || !*variant ||
                strlen(variant) >= SC_TUNE_NAME_LEN) {
                sc_log(SC_LOG_WARN, "tuning", "%s: entry '%.80s' is malformed: skipped", t->path, k);
                t->st.dropped++;
                continue;
            }
            const int rc = sc_device_tune_set(d, k, variant);
            if (rc != SC_OK) {
                sc_log(SC_LOG_WARN, "tuning", "%s: %s's variant '%s' is unknown to the %s backend (%s): dropped", t->path,
                       k, variant, t->backend, sc_strerror(rc));
                t->st.dropped++;
                t->dirty = true; /* the next write leaves it out */
                continue;
            }
            sc_tune_rec *r = sc__tune_insert(t, k);
            if (!r) {
                json_decref(root);
                return SC_ENOMEM;
            }
            snprintf(r->variant, sizeof r->variant, "%s", variant);
            snprintf(r->def, sizeof r->def, "%s", def && strlen(def) < SC_TUNE_NAME_LEN ? def : "");
            r->us = num_of(e, "us");
            r->def_us = num_of(e, "default_us");
            r->n_variants = (int)num_of(e, "variants");
            r->n_wrong = (int)num_of(e, "wrong");
            r->reverted = json_is_true(json_object_get(e, "in_graph_default"));
            t->st.loaded++;
        }
    }
    json_decref(root);
    return SC_OK;
}

/* mkdir -p */
static int make_dirs(const char *dir) {
    char p[900];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) return SC_EIO;
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return SC_EIO;
    return SC_OK;
}

int sc__tune_file_save(sc_tuner *t) {
    json_t *root = json_object(), *results = json_object();
    if (!root || !results) {
        json_decref(root);
        json_decref(results);
        return SC_ENOMEM;
    }
    json_object_set_new(root, "format", json_string(TUNE_FORMAT));
    json_object_set_new(root, "version", json_integer(TUNE_VERSION));
    json_object_set_new(root, "device_key", json_string(t->device_key));
    json_object_set_new(root, "backend", json_string(t->backend));
    json_object_set_new(root, "device", json_string(t->device));
    json_object_set_new(root, "driver", json_string(t->driver));
    json_object_set_new(root, "strixcore", json_string(SC_VERSION_STRING));
    for (size_t i = 0; i < t->cap; i++) {
        const sc_tune_rec *r = &t->recs[i];
        if (!r->used || r->failed) continue;
        json_t *e = json_pack("{s:s, s:f, s:s, s:f, s:i, s:i, s:b}", "variant", r->variant, "us", r->us, "default",
                              r->def, "default_us", r->def_us, "variants", r->n_variants, "wrong", r->n_wrong,
                              "in_graph_default", r->reverted);
        if (!e || json_object_set_new(results, r->key, e) != 0) {
            json_decref(root);
            json_decref(results);
            return SC_ENOMEM;
        }
    }
    json_object_set_new(root, "results", results);
    int rc = make_dirs(t->dir);
    if (rc != SC_OK) {
        json_decref(root);
        return rc;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", t->path, (long)getpid());
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        json_decref(root);
        return SC_EIO;
    }
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text) {
        close(fd);
        unlink(tmp);
        return SC_ENOMEM;
    }
    const size_t len = strlen(text);
    size_t off = 0;
    while (off < len) {
        const ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(text);
    const bool ok = off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (close(fd) != 0 || !ok || rename(tmp, t->path) != 0) {
        unlink(tmp);
        return SC_EIO;
    }
    t->dirty = false;
    return SC_OK;
}
