/*
 * core/src/util.c - small helpers every parser in the core shares: an error
 * message writer that returns the code, and a bounded whole-file read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int sc__errf(char *err, size_t err_len, int code, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

int sc__read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, char *err, size_t err_len) {
    *out = NULL;
    *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sc__errf(err, err_len, errno == ENOENT || errno == ENOTDIR ? SC_ENOENT : SC_EIO, "%s: %s", path,
                        strerror(errno));
    /* Read in chunks up to max_bytes + 1: works for pipes and /proc files
     * too, and a file past the bound is refused without reading it all. */
    size_t cap = 0, len = 0;
    char *buf = NULL;
    int rc = SC_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > max_bytes + 1) ncap = max_bytes + 1;
            if (ncap <= cap) {
                rc = sc__errf(err, err_len, SC_ERANGE, "%s: larger than %zu bytes", path, max_bytes);
                break;
            }
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0) {
            if (ferror(fp)) rc = sc__errf(err, err_len, SC_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(fp);
    if (rc == SC_OK && len > max_bytes) rc = sc__errf(err, err_len, SC_ERANGE, "%s: larger than %zu bytes", path, max_bytes);
    if (rc != SC_OK) {
        free(buf);
        return rc;
    }
    if (!buf) buf = malloc(1);
    if (!buf) return sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", path);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return SC_OK;
}

double sc__now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}
