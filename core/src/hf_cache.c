/*
 * core/src/hf_cache.c - repo id -> snapshot directory in the Hugging Face
 * cache (huggingface_hub's layout and environment; no network).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "strixcore/hf_cache.h"

static bool name_ok(const char *s, size_t n) {
    if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return !(n >= 2 && s[n - 1] == '.' && s[n - 2] == '.');
}

/* A revision: a branch, tag, commit or refs/pr/N; no "..", no leading '/'. */
static bool rev_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 200 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "..") || strstr(s, "//"))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr("-_./+", c))
            return false;
    }
    return true;
}

int sc_hf_repo_parse(const char *s, char *repo, size_t repo_len, char *rev, size_t rev_len) {
    const char *slash, *at, *end;
    if (!s)
        return SC_EINVAL;
    slash = strchr(s, '/');
    if (!slash)
        return SC_EINVAL;
    at = strchr(slash + 1, '@');
    end = at ? at : s + strlen(s);
    if (!name_ok(s, (size_t)(slash - s)) || !name_ok(slash + 1, (size_t)(end - slash - 1)))
        return SC_EINVAL;
    if (at && !rev_ok(at + 1))
        return SC_EINVAL;
    if (repo) {
        if ((size_t)(end - s) + 1 > repo_len)
            return SC_ERANGE;
        memcpy(repo, s, (size_t)(end - s));
        repo[end - s] = '\0';
    }
    if (rev) {
        const char *r = at ? at + 1 : "main";
        if (strlen(r) + 1 > rev_len)
            return SC_ERANGE;
        strcpy(rev, r);
    }
    return SC_OK;
}

bool sc_hf_is_repo_id(const char *s) {
    return sc_hf_repo_parse(s, NULL, 0, NULL, 0) == SC_OK;
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    if (!v)
        return false;
    return strcasecmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
           strcasecmp(v, "on") == 0;
}

bool sc_hf_offline(void) {
    return env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
}

static int put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? SC_ERANGE : SC_OK;
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

int sc_hf_home(char *buf, size_t len) {
    const char *v;
    if ((v = env_nonempty("HF_HOME")))
        return put(buf, len, "%s", v);
    if ((v = env_nonempty("XDG_CACHE_HOME")))
        return put(buf, len, "%s/huggingface", v);
    if ((v = env_nonempty("HOME")))
        return put(buf, len, "%s/.cache/huggingface", v);
    return SC_ENOENT;
}

int sc_hf_hub_cache(char *buf, size_t len) {
    const char *v;
    char home[4096];
    int rc;
    if ((v = env_nonempty("HF_HUB_CACHE")) || (v = env_nonempty("HUGGINGFACE_HUB_CACHE")))
        return put(buf, len, "%s", v);
    if ((rc = sc_hf_home(home, sizeof(home))) < 0)
        return rc;
    return put(buf, len, "%s/hub", home);
}

int sc_hf_repo_dir(const char *repo, char *buf, size_t len) {
    char cache[4096];
    const char *slash;
    int rc;
    if (!repo || !(slash = strchr(repo, '/')) || sc_hf_repo_parse(repo, NULL, 0, NULL, 0) < 0 || strchr(repo, '@'))
        return SC_EINVAL;
    if ((rc = sc_hf_hub_cache(cache, sizeof(cache))) < 0)
        return rc;
    /* huggingface_hub's repo_folder_name: "models--" + repo with '/' -> "--" */
    return put(buf, len, "%s/models--%.*s--%s", cache, (int)(slash - repo), repo, slash + 1);
}

static bool is_commit(const char *s) {
    size_t n = strlen(s);
    if (n != 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int sc_hf_snapshot_dir(const char *repo, const char *rev, char *buf, size_t len, char *err, size_t err_len) {
    char dir[4096], ref[4400], commit[64] = "";
    int rc;
    if (err && err_len)
        err[0] = '\0';
    if (!rev || !rev[0])
        rev = "main";
    if (!rev_ok(rev)) {
        if (err)
            snprintf(err, err_len, "'%s' is not a valid revision", rev);
        return SC_EINVAL;
    }
    if ((rc = sc_hf_repo_dir(repo, dir, sizeof(dir))) < 0) {
        if (err)
            snprintf(err, err_len, "cannot place %s in the Hugging Face cache (%s)", repo ? repo : "(null)",
                     rc == SC_ENOENT ? "set HF_HOME or HOME" : sc_strerror(rc));
        return rc;
    }
    if (is_commit(rev)) {
        snprintf(commit, sizeof(commit), "%s", rev);
    } else {
        FILE *f;
        size_t n;
        snprintf(ref, sizeof(ref), "%s/refs/%s", dir, rev);
        if (!(f = fopen(ref, "r"))) {
            if (err)
                snprintf(err, err_len, "%s@%s is not in the Hugging Face cache (no %s)", repo, rev, ref);
            return SC_ENOENT;
        }
        n = fread(commit, 1, sizeof(commit) - 1, f);
        fclose(f);
        commit[n] = '\0';
        while (n > 0 && isspace((unsigned char)commit[n - 1]))
            commit[--n] = '\0';
        if (!is_commit(commit)) {
            if (err)
                snprintf(err, err_len, "%s does not hold a commit sha", ref);
            return SC_EFORMAT;
        }
    }
    if ((rc = put(buf, len, "%s/snapshots/%s", dir, commit)) < 0)
        return rc;
    if (!is_dir(buf)) {
        if (err)
            snprintf(err, err_len, "%s@%s is not in the Hugging Face cache (no %s)", repo, rev, buf);
        return SC_ENOENT;
    }
    return SC_OK;
}
