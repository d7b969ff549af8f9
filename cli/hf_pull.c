/*
 * cli/hf_pull.c - `strixcore pull ORG/NAME[@REV]`: download a model from the
 * Hugging Face hub into the cache huggingface_hub shares (see docs/models.md).
 *
 *   GET  {endpoint}/api/models/{repo}/revision/{rev}  -> "sha", "siblings"
 *   HEAD {endpoint}/{repo}/resolve/{commit}/{path}    -> X-Repo-Commit, etag, size
 *   GET  the same URL, following redirects (LFS files live elsewhere), with
 *        Range: bytes=N- to resume blobs/<etag>.<8hex>.incomplete
 *
 * then blobs/<etag>, snapshots/<commit>/<path> -> ../../blobs/<etag> and
 * refs/<rev>, the way huggingface_hub lays them out, so either can use what
 * the other wrote.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "hf_pull.h"
#include "strixcore/hf_cache.h"

#define HF_PATH_MAX 4096

typedef struct hf_client {
    const char *cmd;
    char endpoint[1024];
    struct curl_slist *headers; /* Authorization, Accept-Encoding */
    bool tty;
    long connect_timeout, download_timeout;
} hf_client;

/* The response headers we read, reset at each new status line (redirects). */
typedef struct hf_meta {
    long status;
    char commit[64];
    char etag[160];        /* ETag */
    char linked_etag[160]; /* X-Linked-Etag */
    int64_t linked_size, content_length;
    char location[2048];
} hf_meta;

/* --------------------------------------------------------------------- */
/* small helpers                                                          */
/* --------------------------------------------------------------------- */

/* snprintf that says when it truncated: -1 (paths must not be cut short). */
static int pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void trim(char *s) {
    size_t n = strlen(s), i = 0;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

/* Percent-encode s (RFC 3986 unreserved kept, '/' too when keep_slash). */
static int url_quote(const char *s, bool keep_slash, char *out, size_t len) {
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (o + (keep ? 1 : 3) >= len)
            return -1;
        if (keep)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, len - o, "%%%02X", c);
    }
    out[o] = '\0';
    return 0;
}

static int mkdirs(const char *path) {
    char tmp[HF_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

static bool is_sha256(const char *s) {
    size_t n = strlen(s);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    return true;
}

/* An etag is used as a file name: it must be a plain name. */
static bool etag_ok(const char *s) {
    if (!s[0] || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* Files strixcore reads: weights, configs, tokenizers (vLLM's allow_patterns). */
static bool wanted(const char *path) {
    const char *base = strrchr(path, '/');
    size_t n = strlen(path);
    base = base ? base + 1 : path;
#define ENDS(suf) (n >= sizeof(suf) - 1 && strcmp(path + n - (sizeof(suf) - 1), suf) == 0)
    if (ENDS(".safetensors") || ENDS(".json") || ENDS(".model") || ENDS(".tiktoken") || ENDS(".jinja"))
        return true;
#undef ENDS
    return strcmp(base, "merges.txt") == 0 || strncmp(base, "vocab.", 6) == 0;
}

/* A sibling name becomes a path under snapshots/<commit>/: no escaping it. */
static bool rel_path_ok(const char *p) {
    if (!p[0] || p[0] == '/' || strlen(p) > 1024)
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n + (e ? 1 : 0);
    }
    for (; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

/* --------------------------------------------------------------------- */
/* HTTP                                                                   */
/* --------------------------------------------------------------------- */

static void copy_value(char *dst, size_t len, const char *v, size_t n) {
    while (n > 0 && isspace((unsigned char)*v))
        v++, n--;
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *user) {
    hf_meta *m = user;
    size_t n = size * nitems;
    const char *colon = memchr(line, ':', n);
    char v[2048];
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        long st = 0;
        const char *sp = memchr(line, ' ', n);
        if (sp)
            st = strtol(sp + 1, NULL, 10);
        memset(m, 0, sizeof(*m));
        m->status = st;
        m->linked_size = m->content_length = -1;
        return n;
    }
    if (!colon)
        return n;
    copy_value(v, sizeof(v), colon + 1, n - (size_t)(colon + 1 - line));
#define IS(name) ((size_t)(colon - line) == sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0)
    if (IS("x-repo-commit"))
        pathf(m->commit, sizeof(m->commit), "%s", v);
    else if (IS("etag"))
        pathf(m->etag, sizeof(m->etag), "%s", v);
    else if (IS("x-linked-etag"))
        pathf(m->linked_etag, sizeof(m->linked_etag), "%s", v);
    else if (IS("x-linked-size"))
        m->linked_size = strtoll(v, NULL, 10);
    else if (IS("content-length"))
        m->content_length = strtoll(v, NULL, 10);
    else if (IS("location"))
        snprintf(m->location, sizeof(m->location), "%s", v);
#undef IS
    return n;
}

typedef struct membuf {
    char *p;
    size_t n;
} membuf;

static size_t on_body_mem(char *data, size_t size, size_t nitems, void *user) {
    membuf *b = user;
    size_t n = size * nitems;
    char *p;
    if (b->n + n > (64u << 20))
        return 0; /* an API answer this big is not one */
    if (!(p = realloc(b->p, b->n + n + 1)))
        return 0;
    memcpy(p + b->n, data, n);
    b->p = p;
    b->n += n;
    p[b->n] = '\0';
    return n;
}

static CURL *easy(const hf_client *c, const char *url, hf_meta *m) {
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "strixcore/" SC_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, m);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* a stalled transfer fails instead of hanging (HF_HUB_DOWNLOAD_TIMEOUT) */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->download_timeout);
    memset(m, 0, sizeof(*m));
    m->linked_size = m->content_length = -1;
    return h;
}

/* A message for a failed request; false when the status is fine. */
static bool http_error(const hf_client *c, const char *what, const char *repo, const char *rev, long status) {
    if (status >= 200 && status < 400)
        return false;
    if (status == 401 || status == 403)
        fprintf(stderr,
                "%s: %s: access denied (HTTP %ld): the repo %s is private or gated; set HF_TOKEN (or "
                "$HF_HOME/token) to a token that has access to it\n",
                c->cmd, what, status, repo);
    else if (status == 404)
        fprintf(stderr, "%s: %s: not found (HTTP 404): no repo %s or no revision '%s' at %s\n", c->cmd, what, repo,
                rev, c->endpoint);
    else
        fprintf(stderr, "%s: %s: HTTP %ld from %s\n", c->cmd, what, status, c->endpoint);
    return true;
}

static void curl_fail(const hf_client *c, const char *what, CURLcode rc, const char *url) {
    fprintf(stderr, "%s: %s: %s (%s)%s\n", c->cmd, what, curl_easy_strerror(rc), url,
            rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT
                ? "; check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only"
                : "");
}

/* --------------------------------------------------------------------- */
/* one file                                                               */
/* --------------------------------------------------------------------- */

typedef struct progress {
    const hf_client *c;
    const char *name;
    curl_off_t base, total; /* bytes already on disk; expected size or -1 */
    double last;
} progress;

/* sc_cli_format_bytes, with 0 as "0 B" (it means "unknown" there). */
static void fmt_bytes(int64_t n, char *buf, size_t len) {
    if (n <= 0)
        snprintf(buf, len, "0 B");
    else
        sc_cli_format_bytes((uint64_t)n, buf, len);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void draw(progress *p, curl_off_t have, bool final) {
    char a[32], b[32];
    int width = 30, fill;
    double t = now_s();
    if (!final && t - p->last < 0.1)
        return;
    p->last = t;
    fmt_bytes(have, a, sizeof(a));
    if (p->total > 0) {
        fill = (int)((double)have * width / (double)p->total);
        if (fill > width)
            fill = width;
        fmt_bytes(p->total, b, sizeof(b));
        fprintf(stderr, "\r  %-40.40s [%.*s%*s] %3d%% %s / %s\033[K", p->name, fill,
                "##############################", width - fill, "", (int)(100.0 * (double)have / (double)p->total),
                a, b);
    } else {
        fprintf(stderr, "\r  %-40.40s %s\033[K", p->name, a);
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    progress *p = user;
    (void)dltotal, (void)ultotal, (void)ulnow;
    draw(p, p->base + dlnow, false);
    return 0;
}

/* blobs/<etag>.<8hex>.incomplete (or <etag>.incomplete) left by an earlier
 * run, ours or huggingface_hub's, else a new name. */
static void incomplete_name(const char *blobs, const char *etag, char *out, size_t len) {
    DIR *d = opendir(blobs);
    struct dirent *e;
    size_t el = strlen(etag);
    if (d) {
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n >= el + 11 && strncmp(e->d_name, etag, el) == 0 && e->d_name[el] == '.' &&
                strcmp(e->d_name + n - 11, ".incomplete") == 0) {
                pathf(out, len, "%s/%s", blobs, e->d_name);
                closedir(d);
                return;
            }
        }
        closedir(d);
    }
    pathf(out, len, "%s/%s.%08x.incomplete", blobs, etag,
          ((unsigned)time(NULL) * 2654435761u) ^ ((unsigned)getpid() * 40503u));
}

/* GET url into `part`, appending from its current size. */
static int download(const hf_client *c, const char *url, const char *part, const char *name, int64_t size) {
    hf_meta m;
    progress pr;
    CURL *h;
    CURLcode rc;
    FILE *f;
    int64_t have = file_size(part);
    char range[64];
    if (have < 0)
        have = 0;
    if (size >= 0 && have > size)
        have = 0; /* not a prefix of this file: start over */
    if (!(f = fopen(part, have > 0 ? "ab" : "wb"))) {
        fprintf(stderr, "%s: cannot write %s: %s\n", c->cmd, part, strerror(errno));
        return -1;
    }
    if (!(h = easy(c, url, &m))) {
        fclose(f);
        return -1;
    }
    memset(&pr, 0, sizeof(pr));
    pr.c = c, pr.name = name, pr.base = have, pr.total = size;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    if (have > 0) {
        snprintf(range, sizeof(range), "%" PRId64 "-", have);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    if (c->tty) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &pr);
    }
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK && have > 0 && m.status == 200) {
        /* the server ignored the Range: the body is the whole file */
        curl_easy_cleanup(h);
        fclose(f);
        if (!(f = fopen(part, "wb")))
            return -1;
        if (!(h = easy(c, url, &m))) {
            fclose(f);
            return -1;
        }
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
        pr.base = 0;
        rc = curl_easy_perform(h);
    }
    curl_easy_cleanup(h);
    if (fclose(f) != 0 && rc == CURLE_OK) {
        fprintf(stderr, "%s: cannot write %s: %s\n", c->cmd, part, strerror(errno));
        return -1;
    }
    if (c->tty)
        draw(&pr, file_size(part), true);
    if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && m.status == 416)) {
        unlink(part); /* the partial file does not fit this blob */
        fprintf(stderr, "%s: %s: the server refused to resume; run the pull again to start it over\n", c->cmd,
                name);
        return -1;
    }
    if (rc != CURLE_OK) {
        if (rc == CURLE_HTTP_RETURNED_ERROR)
            fprintf(stderr, "%s: %s: HTTP %ld\n", c->cmd, name, m.status);
        else
            curl_fail(c, name, rc, url);
        if (file_size(part) > 0)
            fprintf(stderr, "%s: %s: kept %" PRId64 " bytes in %s; run the pull again to resume\n", c->cmd, name,
                    file_size(part), part);
        return -1;
    }
    return 0;
}

/* ../../blobs/<etag>, one more ../ per directory in path */
static void link_target(const char *path, const char *etag, char *out, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(out, len, "../../");
    for (const char *p = path; *p; p++)
        if (*p == '/' && o + 3 < len)
            o += (size_t)snprintf(out + o, len - o, "../");
    snprintf(out + o, len - o, "blobs/%s", etag);
}

static int make_link(const hf_client *c, const char *snap, const char *path, const char *etag) {
    char link[HF_PATH_MAX], target[HF_PATH_MAX], cur[HF_PATH_MAX], dir[HF_PATH_MAX];
    ssize_t n;
    char *slash;
    if (pathf(link, sizeof(link), "%s/%s", snap, path) < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", link);
    if ((slash = strrchr(dir, '/')))
        *slash = '\0';
    link_target(path, etag, target, sizeof(target));
    if ((n = readlink(link, cur, sizeof(cur) - 1)) >= 0) {
        cur[n] = '\0';
        if (strcmp(cur, target) == 0)
            return 0;
    }
    if (mkdirs(dir) < 0) {
        fprintf(stderr, "%s: cannot create %s: %s\n", c->cmd, dir, strerror(errno));
        return -1;
    }
    unlink(link);
    if (symlink(target, link) < 0) {
        fprintf(stderr, "%s: cannot link %s: %s\n", c->cmd, link, strerror(errno));
        return -1;
    }
    return 0;
}

/* Write `commit` to refs/<rev> through a temporary file and a rename. */
static int write_ref(const hf_client *c, const char *repo_dir, const char *rev, const char *commit) {
    char ref[HF_PATH_MAX], tmp[HF_PATH_MAX + 32], dir[HF_PATH_MAX], *slash;
    FILE *f;
    if (pathf(ref, sizeof(ref), "%s/refs/%s", repo_dir, rev) < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", ref);
    if ((slash = strrchr(dir, '/')))
        *slash = '\0';
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", ref, (int)getpid());
    if (mkdirs(dir) < 0 || !(f = fopen(tmp, "w"))) {
        fprintf(stderr, "%s: cannot write %s: %s\n", c->cmd, ref, strerror(errno));
        return -1;
    }
    fputs(commit, f);
    if (fclose(f) != 0 || rename(tmp, ref) < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", c->cmd, ref, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The etag as huggingface_hub stores it: W/ and quotes stripped. */
static void clean_etag(const char *raw, char *out, size_t len) {
    const char *s = raw;
    size_t n;
    if (strncmp(s, "W/", 2) == 0)
        s += 2;
    if (*s == '"')
        s++;
    n = strlen(s);
    if (n > 0 && s[n - 1] == '"')
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* HEAD the file (following only relative redirects), then fetch its blob
 * unless the cache has it; link it into the snapshot. */
static int pull_file(const hf_client *c, const char *repo, const char *rev, const char *commit,
                     const char *repo_dir, const char *path, int *n_downloaded) {
    char qpath[2048], url[4096], blobs[HF_PATH_MAX], blob[HF_PATH_MAX], part[HF_PATH_MAX], snap[HF_PATH_MAX];
    char etag[160], sum[65];
    hf_meta m;
    int64_t size;
    CURL *h;
    CURLcode rc;

    if (url_quote(path, true, qpath, sizeof(qpath)) < 0)
        return -1;
    snprintf(url, sizeof(url), "%s/%s/resolve/%s/%s", c->endpoint, repo, commit, qpath);
    for (int hops = 0;; hops++) {
        if (!(h = easy(c, url, &m)))
            return -1;
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        rc = curl_easy_perform(h);
        curl_easy_cleanup(h);
        if (rc != CURLE_OK) {
            curl_fail(c, path, rc, url);
            return -1;
        }
        /* a relative Location is the hub itself (a renamed repo): ask it; an
         * absolute one is where an LFS file's bytes are: the metadata is here */
        if (m.status >= 300 && m.status < 400 && m.location[0] == '/' && m.location[1] != '/' && !m.linked_etag[0] &&
            hops < 5) {
            const char *scheme_end = strstr(c->endpoint, "://");
            const char *host_end = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
            int host_len = host_end ? (int)(host_end - c->endpoint) : (int)strlen(c->endpoint);
            char next[4096];
            snprintf(next, sizeof(next), "%.*s%s", host_len, c->endpoint, m.location);
            snprintf(url, sizeof(url), "%s", next);
            continue;
        }
        break;
    }
    if (http_error(c, path, repo, rev, m.status))
        return -1;
    clean_etag(m.linked_etag[0] ? m.linked_etag : m.etag, etag, sizeof(etag));
    if (!etag_ok(etag)) {
        fprintf(stderr, "%s: %s: the server sent no usable ETag (is HF_ENDPOINT=%s a Hugging Face hub?)\n", c->cmd,
                path, c->endpoint);
        return -1;
    }
    size = m.linked_size >= 0 ? m.linked_size : (m.status < 300 ? m.content_length : -1);
    if (pathf(blobs, sizeof(blobs), "%s/blobs", repo_dir) < 0 || pathf(blob, sizeof(blob), "%s/%s", blobs, etag) < 0)
        return -1;
    if (file_size(blob) >= 0 && (size < 0 || file_size(blob) == size)) {
        if (!c->tty)
            fprintf(stderr, "  %s: in the cache\n", path);
    } else {
        if (mkdirs(blobs) < 0) {
            fprintf(stderr, "%s: cannot create %s: %s\n", c->cmd, blobs, strerror(errno));
            return -1;
        }
        incomplete_name(blobs, etag, part, sizeof(part));
        /* GET the resolve URL again: libcurl follows the redirect itself */
        snprintf(url, sizeof(url), "%s/%s/resolve/%s/%s", c->endpoint, repo, commit, qpath);
        if (download(c, url, part, path, size) < 0)
            return -1;
        if (size >= 0 && file_size(part) != size) {
            fprintf(stderr, "%s: %s: got %" PRId64 " bytes, expected %" PRId64 "; run the pull again to resume\n",
                    c->cmd, path, file_size(part), size);
            return -1;
        }
        if (is_sha256(etag)) {
            if (sc_sha256_file(part, sum) < 0 || strcmp(sum, etag) != 0) {
                fprintf(stderr, "%s: %s: sha256 %s does not match the hub's %s; the download was removed\n",
                        c->cmd, path, sum, etag);
                unlink(part);
                return -1;
            }
        }
        if (rename(part, blob) < 0) {
            fprintf(stderr, "%s: cannot rename %s: %s\n", c->cmd, part, strerror(errno));
            return -1;
        }
        (*n_downloaded)++;
        if (!c->tty) {
            char b[32];
            fmt_bytes(file_size(blob), b, sizeof(b));
            fprintf(stderr, "  %s: downloaded %s%s\n", path, b, is_sha256(etag) ? ", sha256 ok" : "");
        }
    }
    pathf(snap, sizeof(snap), "%s/snapshots/%s", repo_dir, commit);
    return make_link(c, snap, path, etag);
}

/* --------------------------------------------------------------------- */
/* the repo                                                               */
/* --------------------------------------------------------------------- */

static char *read_token(void) {
    const char *v = getenv("HF_TOKEN");
    char path[HF_PATH_MAX], buf[512];
    FILE *f;
    size_t n;
    if (v && v[0]) {
        snprintf(buf, sizeof(buf), "%s", v);
        trim(buf);
        return buf[0] ? strdup(buf) : NULL;
    }
    if ((v = getenv("HF_TOKEN_PATH")) && v[0])
        snprintf(path, sizeof(path), "%s", v);
    else if (sc_hf_home(path, sizeof(path) - 8) == SC_OK)
        strcat(path, "/token");
    else
        return NULL;
    if (!(f = fopen(path, "r")))
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    trim(buf);
    return buf[0] ? strdup(buf) : NULL;
}

static long env_seconds(const char *name, long def) {
    const char *v = getenv(name);
    char *end;
    double d;
    if (!v || !v[0])
        return def;
    d = strtod(v, &end);
    return *end || d < 1 || d > 86400 ? def : (long)d;
}

static int client_init(hf_client *c, const char *cmd) {
    const char *ep = getenv("HF_ENDPOINT");
    char *token;
    size_t n;
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", ep && ep[0] ? ep : "https://huggingface.co");
    n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    c->tty = isatty(STDERR_FILENO) != 0;
    c->connect_timeout = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    c->download_timeout = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
    c->headers = curl_slist_append(NULL, "Accept-Encoding: identity");
    if ((token = read_token())) {
        size_t len = strlen(token) + 32;
        char *hdr = malloc(len);
        if (hdr) {
            snprintf(hdr, len, "Authorization: Bearer %s", token);
            c->headers = curl_slist_append(c->headers, hdr);
            free(hdr);
        }
        free(token);
    }
    return c->headers ? 0 : -1;
}

static bool curl_ready(void) {
    static int state; /* 0 untried, 1 ok, -1 failed */
    if (!state)
        state = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 1 : -1;
    return state > 0;
}

int sc_cli_hf_pull(const char *cmd, const char *repo, const char *rev, char **snapshot) {
    hf_client c;
    hf_meta m;
    membuf body = {0};
    char qrev[512], url[4096], repo_dir[HF_PATH_MAX], snap[HF_PATH_MAX], commit[64], err[HF_PATH_MAX + 256];
    json_t *root = NULL, *sib;
    json_error_t jerr;
    CURL *h;
    CURLcode rc;
    int ret = SC_CLI_FAIL, n_files = 0, n_downloaded = 0;
    size_t i;

    *snapshot = NULL;
    if (!rev || !rev[0])
        rev = "main";
    if (sc_hf_repo_dir(repo, repo_dir, sizeof(repo_dir)) < 0) {
        fprintf(stderr, "%s: '%s' is not a repo id (ORG/NAME), or HOME and HF_HOME are unset\n", cmd, repo);
        return SC_CLI_FAIL;
    }
    if (sc_hf_offline()) {
        if (sc_hf_snapshot_dir(repo, rev, snap, sizeof(snap), err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: HF_HUB_OFFLINE is set and %s\n", cmd, err);
            return SC_CLI_FAIL;
        }
        *snapshot = strdup(snap);
        return *snapshot ? SC_CLI_OK : SC_CLI_FAIL;
    }
    if (!curl_ready() || client_init(&c, cmd) < 0) {
        fprintf(stderr, "%s: cannot initialise libcurl\n", cmd);
        return SC_CLI_FAIL;
    }
    if (url_quote(rev, false, qrev, sizeof(qrev)) < 0)
        goto out;
    snprintf(url, sizeof(url), "%s/api/models/%s/revision/%s", c.endpoint, repo, qrev);
    if (!(h = easy(&c, url, &m)))
        goto out;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_mem);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        curl_fail(&c, "listing the files", rc, url);
        goto out;
    }
    if (http_error(&c, "listing the files", repo, rev, m.status))
        goto out;
    root = json_loadb(body.p ? body.p : "", body.n, 0, &jerr);
    if (!json_is_object(root) || !json_is_string(json_object_get(root, "sha")) ||
        !json_is_array(json_object_get(root, "siblings"))) {
        fprintf(stderr, "%s: %s did not answer with a file list (is HF_ENDPOINT a Hugging Face hub?)\n", cmd, url);
        goto out;
    }
    snprintf(commit, sizeof(commit), "%s", json_string_value(json_object_get(root, "sha")));
    if (strlen(commit) != 40 || strspn(commit, "0123456789abcdef") != 40) {
        fprintf(stderr, "%s: %s answered a malformed commit sha\n", cmd, url);
        goto out;
    }
    fprintf(stderr, "%s: %s@%s is commit %s\n", cmd, repo, rev, commit);
    json_array_foreach(json_object_get(root, "siblings"), i, sib) {
        const char *path = json_string_value(json_object_get(sib, "rfilename"));
        if (!path || !wanted(path))
            continue;
        if (!rel_path_ok(path)) {
            fprintf(stderr, "%s: skipping a file with an unsafe name\n", cmd);
            continue;
        }
        n_files++;
        if (pull_file(&c, repo, rev, commit, repo_dir, path, &n_downloaded) < 0)
            goto out;
    }
    if (n_files == 0) {
        fprintf(stderr, "%s: %s@%s has no safetensors, json or tokenizer files\n", cmd, repo, rev);
        goto out;
    }
    pathf(snap, sizeof(snap), "%s/snapshots/%s", repo_dir, commit);
    if (strcmp(rev, commit) != 0 && write_ref(&c, repo_dir, rev, commit) < 0)
        goto out;
    fprintf(stderr, "%s: %d file%s, %d downloaded, in %s\n", cmd, n_files, n_files == 1 ? "" : "s", n_downloaded,
            snap);
    if ((*snapshot = strdup(snap)))
        ret = SC_CLI_OK;
out:
    json_decref(root);
    free(body.p);
    curl_slist_free_all(c.headers);
    return ret;
}

/* --------------------------------------------------------------------- */
/* model arguments and the command                                        */
/* --------------------------------------------------------------------- */

char *sc_cli_model_path(const char *cmd, const char *arg) {
    char repo[256], rev[256], snap[HF_PATH_MAX], err[HF_PATH_MAX + 256], *out = NULL;
    struct stat st;
    int rc;
    if (stat(arg, &st) == 0 || sc_hf_repo_parse(arg, repo, sizeof(repo), rev, sizeof(rev)) < 0)
        return strdup(arg); /* a path: the loaders report what is wrong with it */
    rc = sc_hf_snapshot_dir(repo, rev, snap, sizeof(snap), err, sizeof(err));
    if (rc == SC_OK)
        return strdup(snap);
    if (sc_hf_offline()) {
        fprintf(stderr, "%s: %s is not a directory, and %s (HF_HUB_OFFLINE is set: not downloading)\n", cmd, arg,
                err);
        return NULL;
    }
    fprintf(stderr, "%s: %s is not a local path or a cached model: pulling the Hugging Face repo %s@%s "
                    "(HF_HUB_OFFLINE=1 prevents this)\n",
            cmd, arg, repo, rev);
    if (sc_cli_hf_pull(cmd, repo, rev, &out) != SC_CLI_OK)
        return NULL;
    return out;
}

static int pull_usage(FILE *f, const char *why) {
    if (why)
        fprintf(stderr, "strixcore pull: %s\n", why);
    fputs("usage: strixcore pull ORG/NAME[@REV]\n"
          "  download *.safetensors, *.json and tokenizer files into the Hugging Face cache\n"
          "  ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) and print the snapshot path\n"
          "environment: HF_ENDPOINT, HF_TOKEN (or $HF_HOME/token), HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE\n",
          f);
    return SC_CLI_USAGE;
}

int sc_cmd_pull(sc_cli *cli, int argc, char **argv) {
    char repo[256], rev[256], *snap = NULL;
    int rc;
    (void)cli;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        pull_usage(stdout, NULL);
        return SC_CLI_OK;
    }
    if (argc != 2)
        return pull_usage(stderr, "give one ORG/NAME[@REV]");
    if (sc_hf_repo_parse(argv[1], repo, sizeof(repo), rev, sizeof(rev)) < 0)
        return pull_usage(stderr, "not a repo id of the form ORG/NAME[@REV]");
    rc = sc_cli_hf_pull("strixcore pull", repo, rev, &snap);
    if (rc == SC_CLI_OK)
        printf("%s\n", snap);
    free(snap);
    return rc;
}
