/*
 * core/src/log.c - leveled logging, as text lines or JSON lines.
 *
 * One process-wide logger: level, format and an optional sink. The default
 * sink writes to stderr. Messages are formatted into a bounded buffer, so a
 * hostile format argument can truncate a line but never overrun memory.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static sc_log_level g_level = SC_LOG_WARN;
static sc_log_format g_format = SC_LOG_TEXT;
static sc_log_sink g_sink = NULL;
static void *g_sink_user = NULL;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sc_log_set_level(sc_log_level level) { g_level = level; }
sc_log_level sc_log_get_level(void) { return g_level; }
void sc_log_set_format(sc_log_format format) { g_format = format; }

void sc_log_set_sink(sc_log_sink sink, void *user) {
    pthread_mutex_lock(&g_lock);
    g_sink = sink;
    g_sink_user = user;
    pthread_mutex_unlock(&g_lock);
}

int sc_log_level_parse(const char *s, sc_log_level *out) {
    if (!s || !out) return SC_EINVAL;
    for (int i = 0; i < (int)SC_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (sc_log_level)i;
            return SC_OK;
        }
    }
    if (strcmp(s, "warning") == 0) { *out = SC_LOG_WARN; return SC_OK; }
    return SC_EINVAL;
}

/* Write s as a JSON string body (without quotes), escaping as RFC 8259 asks. */
static void json_escape(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
}

static void default_sink(sc_log_level level, const char *who, const char *msg) {
    const char *lname = (level >= 0 && level <= SC_LOG_DEBUG) ? level_names[level] : "?";
    flockfile(stderr);
    if (g_format == SC_LOG_JSON) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(stderr, "{\"ts\":%lld.%03ld,\"level\":\"%s\",\"who\":\"", (long long)ts.tv_sec,
                ts.tv_nsec / 1000000, lname);
        json_escape(stderr, who ? who : "");
        fputs("\",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "strixcore %s [%s] %s\n", lname, who ? who : "-", msg);
    }
    funlockfile(stderr);
}

void sc_logv(sc_log_level level, const char *who, const char *fmt, va_list ap) {
    if (level > g_level || !fmt) return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&g_lock);
    sc_log_sink sink = g_sink;
    void *user = g_sink_user;
    pthread_mutex_unlock(&g_lock);
    if (sink) sink(level, who, msg, user);
    else default_sink(level, who, msg);
}

void sc_log(sc_log_level level, const char *who, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sc_logv(level, who, fmt, ap);
    va_end(ap);
}
