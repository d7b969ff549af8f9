/*
 * cli/util.c - output helpers for the commands.
 *
 * Plugin names, descriptions and reasons come from third-party code, so
 * they are treated as untrusted bytes: JSON output is always valid UTF-8 and
 * text output never passes terminal control characters through.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static int utf8_len(const unsigned char *s) {
    int n;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void sc_cli_json_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', f);
    while (*p) {
        int n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f); /* not UTF-8: replacement character */
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, (size_t)n, f);
            p += n;
            continue;
        }
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
        p++;
    }
    fputc('"', f);
}

void sc_cli_text(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        fputc((*p < 0x20 || *p == 0x7f) ? '?' : *p, f);
}

void sc_cli_format_bytes(uint64_t n, char *buf, size_t len) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    if (n == 0) {
        snprintf(buf, len, "unknown");
        return;
    }
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

const char *sc_cli_device_type_name(int32_t type) {
    switch (type) {
    case SC_DEVICE_CPU: return "cpu";
    case SC_DEVICE_GPU: return "gpu";
    case SC_DEVICE_IGPU: return "igpu";
    case SC_DEVICE_ACCEL: return "accel";
    default: return "unknown";
    }
}

const char *sc_cli_plugin_kind_name(int32_t kind) {
    switch (kind) {
    case SC_PLUGIN_BACKEND: return "backend";
    case SC_PLUGIN_FORMAT: return "format";
    case SC_PLUGIN_FRONTEND: return "frontend";
    default: return "unknown";
    }
}

const char *sc_cli_plugin_status_name(sc_plugin_status status) {
    switch (status) {
    case SC_PLUGIN_LOADED: return "loaded";
    case SC_PLUGIN_UNUSABLE: return "unusable";
    case SC_PLUGIN_REJECTED: return "rejected";
    default: return "unknown";
    }
}

char *sc_cli_dir_file(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s", dir, name);
        if (access(p, R_OK) != 0) {
            free(p);
            p = NULL;
        }
    }
    return p;
}

int sc_cli_load_template(const char *cmd, const char *path, const char *dir, sc_chat_template_t **out) {
    /* chat_template.jinja wins over tokenizer_config.json, as in transformers */
    static const char *const candidates[] = {"chat_template.jinja", "tokenizer_config.json"};
    char err[512] = "";
    int rc;
    *out = NULL;
    if (path) {
        rc = sc_chat_template_load(path, out, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "strixcore %s: %s: %s\n", cmd, path, err[0] ? err : sc_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char *p = sc_cli_dir_file(dir, candidates[i]);
        if (!p)
            continue;
        rc = sc_chat_template_load(p, out, err, sizeof(err));
        if (rc != SC_ENOENT && rc < 0)
            fprintf(stderr, "strixcore %s: %s: %s\n", cmd, p, err[0] ? err : sc_strerror(rc));
        free(p);
        if (rc != SC_ENOENT)
            return rc;
    }
    return SC_OK;
}
