/* HTTP/1.1 server core: one libuv TCP handle + one timer per connection,
 * http-parser for framing. See http_server.h for the lifetime rules. */
#include "http_server.h"

#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- growable byte buffer, always NUL-terminated ------------------------- */
typedef struct sbuf { char *p; size_t len, cap; } sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) return SC_EOVERFLOW;
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) return SC_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}
static const char *sbuf_str(const sbuf *b) { return b->p ? b->p : ""; }
static void sbuf_free(sbuf *b) { free(b->p); b->p = NULL; b->len = b->cap = 0; }

typedef struct hdr { sbuf name, value; } hdr;

typedef struct conn conn;

struct sc_http_req {
    conn *c;               /* NULL-safe only through the dead/closing flags of c */
    sbuf method, url, path, query, body;
    hdr *hdrs;
    size_t n_hdrs, cap_hdrs;
    sbuf resp_hdrs;        /* "Name: value\r\n" lines added by sc_http_req_add_header */
    int minor;
    int keep_alive;        /* from the request; the response may still close */
    int is_head;
    int streaming;         /* stream_begin done */
    int chunked;           /* stream uses chunked encoding */
    int disconnected;
    int dispatched;
    sc_http_disconnect_fn on_disc;
    void *on_disc_arg;
    void *data;
};

enum cstate { C_IDLE, C_HEADERS, C_BODY, C_ACTIVE, C_CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    sc_http_server_t *srv;
    conn *prev, *next;
    http_parser parser;
    enum cstate state;
    sbuf pending;          /* received, not yet parsed */
    sc_http_req_t *cur;    /* being parsed */
    sc_http_req_t *active; /* handed to the handler, not finished */
    size_t header_bytes;
    int last_was_value;
    int msg_done;          /* set by on_message_complete */
    int err_status;        /* set by a parser callback to reject the request */
    int reading;
    int in_process;
    int close_after_write; /* no more requests: close once writes drain */
    int writes_pending;
    int handles_open;      /* tcp + timer until their close callbacks ran */
    int closing;
    int dead;              /* handles closed, freed when active is finished */
};

struct sc_http_server {
    uv_loop_t *loop;
    sc_http_opts o;
    sc_http_handler_fn handler;
    void *user;
    uv_tcp_t listener;
    int listening, listener_open;
    int port;
    conn *conns;
    int n_conns;
    int stopping, stopped;
    sc_http_stopped_fn on_stopped;
    void *on_stopped_arg;
    uv_async_t async;
    int async_open;        /* guarded by mu: sc_http_post may run elsewhere */
    uv_mutex_t mu;
    struct post { sc_http_post_fn fn; void *arg; struct post *next; } *posts, *posts_tail;
};

const char *sc_http_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return "Unknown";
    }
}

/* --- request objects ------------------------------------------------------ */
static void req_free(sc_http_req_t *r)
{
    if (!r) return;
    sbuf_free(&r->method); sbuf_free(&r->url); sbuf_free(&r->path);
    sbuf_free(&r->query); sbuf_free(&r->body); sbuf_free(&r->resp_hdrs);
    for (size_t i = 0; i < r->n_hdrs; i++) {
        sbuf_free(&r->hdrs[i].name);
        sbuf_free(&r->hdrs[i].value);
    }
    free(r->hdrs);
    free(r);
}

const char *sc_http_req_method(const sc_http_req_t *r) { return sbuf_str(&r->method); }
const char *sc_http_req_path(const sc_http_req_t *r) { return sbuf_str(&r->path); }
const char *sc_http_req_query(const sc_http_req_t *r) { return sbuf_str(&r->query); }
int sc_http_req_version_minor(const sc_http_req_t *r) { return r->minor; }
size_t sc_http_req_header_count(const sc_http_req_t *r) { return r->n_hdrs; }
void sc_http_req_set_data(sc_http_req_t *r, void *d) { r->data = d; }
void *sc_http_req_data(const sc_http_req_t *r) { return r->data; }
int sc_http_req_disconnected(const sc_http_req_t *r) { return r->disconnected; }
sc_http_server_t *sc_http_req_server(const sc_http_req_t *r) { return r->c->srv; }

const char *sc_http_req_header(const sc_http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_hdrs; i++)
        if (strcasecmp(sbuf_str(&r->hdrs[i].name), name) == 0)
            return sbuf_str(&r->hdrs[i].value);
    return NULL;
}

int sc_http_req_header_at(const sc_http_req_t *r, size_t i, const char **n, const char **v)
{
    if (i >= r->n_hdrs) return SC_ERANGE;
    if (n) *n = sbuf_str(&r->hdrs[i].name);
    if (v) *v = sbuf_str(&r->hdrs[i].value);
    return 0;
}

const char *sc_http_req_body(const sc_http_req_t *r, size_t *len)
{
    if (len) *len = r->body.len;
    return sbuf_str(&r->body);
}

void sc_http_req_on_disconnect(sc_http_req_t *r, sc_http_disconnect_fn fn, void *arg)
{
    r->on_disc = fn;
    r->on_disc_arg = arg;
}

size_t sc_http_req_write_queue_size(const sc_http_req_t *r)
{
    if (r->disconnected || r->c->closing) return 0;
    return r->c->tcp.write_queue_size;
}

/* --- connection plumbing --------------------------------------------------- */
static void conn_process(conn *c);
static void conn_close(conn *c);
static void srv_maybe_finish_stop(sc_http_server_t *s);

static void conn_free(conn *c)
{
    req_free(c->cur);
    sbuf_free(&c->pending);
    free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles_open > 0) return;
    sc_http_server_t *s = c->srv;
    if (c->prev) c->prev->next = c->next; else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    c->dead = 1;
    /* An unfinished request keeps the memory alive: its owner still holds it. */
    if (!c->active) conn_free(c);
    srv_maybe_finish_stop(s);
}

static void req_mark_disconnected(sc_http_req_t *r)
{
    if (r->disconnected) return;
    r->disconnected = 1;
    if (r->on_disc) r->on_disc(r, r->on_disc_arg);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    c->state = C_CLOSING;
    uv_timer_stop(&c->timer);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->handles_open = 2;
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    /* After uv_close so a finish from inside the callback sees c->closing. */
    if (c->active) req_mark_disconnected(c->active);
}

static void linger_timeout(uv_timer_t *t) { conn_close(t->data); }

static void shutdown_done(uv_shutdown_t *sr, int status)
{
    conn *c = sr->data;
    free(sr);
    if (c->closing) return;
    if (status < 0) { conn_close(c); return; }
    /* Lingering close: keep reading (and discarding, see read_cb) for a moment so
     * unread request bytes do not make the kernel answer with RST, which can
     * destroy the error response before the client reads it. */
    uv_timer_start(&c->timer, linger_timeout, 500, 0);
}

static void conn_finish_writes(conn *c)
{
    if (c->closing || c->writes_pending > 0 || !c->close_after_write) return;
    if (c->state == C_ACTIVE) return;     /* response still being produced */
    c->state = C_CLOSING;
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (!sr) { conn_close(c); return; }
    sr->data = c;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, shutdown_done) < 0) {
        free(sr);
        conn_close(c);
    }
}

typedef struct wreq { uv_write_t w; conn *c; char data[]; } wreq;

static void write_done(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    free(wr);
    c->writes_pending--;
    if (status < 0) { conn_close(c); return; }
    conn_finish_writes(c);
}

/* Queues up to three pieces as one write (copied, so callers need not keep them). */
static int conn_write3(conn *c, const void *a, size_t na, const void *b, size_t nb,
                       const void *d, size_t nd)
{
    if (c->closing) return SC_EIO;
    if (na > SIZE_MAX / 4 || nb > SIZE_MAX / 4 || nd > SIZE_MAX / 4) return SC_EOVERFLOW;
    wreq *wr = malloc(sizeof *wr + na + nb + nd);
    if (!wr) return SC_ENOMEM;
    wr->c = c;
    if (na) memcpy(wr->data, a, na);
    if (nb) memcpy(wr->data + na, b, nb);
    if (nd) memcpy(wr->data + na + nb, d, nd);
    uv_buf_t buf = uv_buf_init(wr->data, (unsigned)(na + nb + nd));
    if (na + nb + nd > UINT_MAX) { free(wr); return SC_EOVERFLOW; }
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, write_done);
    if (rc < 0) {
        free(wr);
        conn_close(c);
        return SC_EIO;
    }
    c->writes_pending++;
    return 0;
}

/* Rejects the request being parsed: answer, then close (framing is lost). */
static void conn_fail(conn *c, int status)
{
    if (c->closing || c->close_after_write) return;
    char head[256];
    const char *txt = sc_http_status_text(status);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, txt, strlen(txt) + 1, txt);
    uv_timer_stop(&c->timer);
    c->state = C_IDLE;
    c->close_after_write = 1;
    c->pending.len = 0;
    if (conn_write3(c, head, (size_t)n, NULL, 0, NULL, 0) == 0)
        conn_finish_writes(c);
}

/* --- timers ------------------------------------------------------------------ */
static void conn_timeout(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->state == C_HEADERS || c->state == C_BODY) conn_fail(c, 408);
    else if (c->state == C_IDLE) conn_close(c);
}

static void timer_set(conn *c, uint32_t ms)
{
    uv_timer_start(&c->timer, conn_timeout, ms, 0);
}

/* --- http-parser callbacks ---------------------------------------------------- */
static int hdr_budget(conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->o.max_header_bytes) {
        c->err_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    req_free(c->cur);
    c->cur = calloc(1, sizeof *c->cur);
    if (!c->cur) { c->err_status = 503; return -1; }
    c->cur->c = c;
    c->header_bytes = 0;
    c->last_was_value = 0;
    c->state = C_HEADERS;
    /* Fixed deadline from the first byte, so a slow drip cannot extend it. */
    timer_set(c, c->srv->o.header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (hdr_budget(c, n)) return -1;
    return sbuf_add(&c->cur->url, at, n) ? (c->err_status = 503, -1) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    sc_http_req_t *r = c->cur;
    if (hdr_budget(c, n + 4)) return -1;   /* + ": " and CRLF */
    if (c->last_was_value || r->n_hdrs == 0) {
        if (r->n_hdrs == r->cap_hdrs) {
            size_t cap = r->cap_hdrs ? r->cap_hdrs * 2 : 16;
            hdr *h = realloc(r->hdrs, cap * sizeof *h);
            if (!h) { c->err_status = 503; return -1; }
            r->hdrs = h;
            r->cap_hdrs = cap;
        }
        memset(&r->hdrs[r->n_hdrs++], 0, sizeof(hdr));
        c->last_was_value = 0;
    }
    return sbuf_add(&r->hdrs[r->n_hdrs - 1].name, at, n) ? (c->err_status = 503, -1) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    sc_http_req_t *r = c->cur;
    if (hdr_budget(c, n)) return -1;
    c->last_was_value = 1;
    if (r->n_hdrs == 0) { c->err_status = 400; return -1; }
    /* http-parser lets some control bytes through in values; reject them here
     * (HTAB is allowed by RFC 9110 field-value). */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)at[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) { c->err_status = 400; return -1; }
    }
    return sbuf_add(&r->hdrs[r->n_hdrs - 1].value, at, n) ? (c->err_status = 503, -1) : 0;
}

#define TCHARS "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    sc_http_req_t *r = c->cur;
    sc_http_server_t *s = c->srv;
    if (p->http_major != 1) { c->err_status = 400; return -1; }
    /* Field names must be RFC 9110 tokens; http-parser lets spaces through
     * ("Bad Header: x"), a classic request-smuggling vector. */
    for (size_t i = 0; i < r->n_hdrs; i++) {
        const sbuf *nm = &r->hdrs[i].name;
        if (nm->len == 0 || strspn(nm->p, TCHARS) != nm->len) { c->err_status = 400; return -1; }
    }
    const char *m = http_method_str((enum http_method)p->method);
    if (sbuf_add(&r->method, m, strlen(m))) { c->err_status = 503; return -1; }
    r->minor = p->http_minor;
    r->is_head = p->method == HTTP_HEAD;
    r->keep_alive = http_should_keep_alive(p);
    const char *u = sbuf_str(&r->url);
    const char *q = strchr(u, '?');
    size_t plen = q ? (size_t)(q - u) : r->url.len;
    if (sbuf_add(&r->path, u, plen) || sbuf_add(&r->query, q ? q + 1 : "", q ? strlen(q + 1) : 0)) {
        c->err_status = 503;
        return -1;
    }
    int has_body = (p->flags & F_CHUNKED) || (p->content_length != ULLONG_MAX && p->content_length > 0);
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        p->content_length > (uint64_t)s->o.max_body_bytes) {
        c->err_status = 413;   /* known up front: refuse before reading it */
        return -1;
    }
    const char *exp = sc_http_req_header(r, "Expect");
    if (exp) {
        if (strcasecmp(exp, "100-continue") != 0) { c->err_status = 417; return -1; }
        if (p->http_minor >= 1 && has_body && !s->stopping) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write3(c, cont, sizeof cont - 1, NULL, 0, NULL, 0);
        }
    }
    c->state = C_BODY;
    timer_set(c, s->o.read_timeout_ms);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->cur->body.len + n > c->srv->o.max_body_bytes) { c->err_status = 413; return -1; }
    return sbuf_add(&c->cur->body, at, n) ? (c->err_status = 503, -1) : 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    c->msg_done = 1;
    /* Stop here: the rest of the buffer belongs to the next (pipelined)
     * request, which is parsed only once this one is answered. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Most bytes buffered while a request is in flight before reading pauses. */
#define PENDING_CAP ((size_t)256 * 1024)

static void alloc_cb(uv_handle_t *h, size_t sugg, uv_buf_t *buf)
{
    static char slab[64 * 1024];   /* single-threaded loop: data is copied out in read_cb */
    (void)h; (void)sugg;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (nread == 0) return;
    if (nread < 0) {          /* EOF or error: the client is gone */
        conn_close(c);
        return;
    }
    if (c->close_after_write || c->state == C_CLOSING) return;   /* draining */
    if (sbuf_add(&c->pending, buf->base, (size_t)nread)) { conn_fail(c, 503); return; }
    if (c->state == C_BODY) timer_set(c, c->srv->o.read_timeout_ms);
    if (c->state == C_ACTIVE) {
        if (c->pending.len > PENDING_CAP) { uv_read_stop(st); c->reading = 0; }
        return;
    }
    conn_process(c);
}

static void conn_process(conn *c)
{
    if (c->in_process) return;   /* re-entered from a synchronous finish */
    c->in_process = 1;
    sc_http_server_t *s = c->srv;
    while (!c->closing && !c->close_after_write && !c->active && c->pending.len > 0) {
        c->msg_done = 0;
        c->err_status = 0;
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->pending.p, c->pending.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
        } else if (e != HPE_OK) {
            int st = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
            conn_fail(c, st);
            break;
        }
        if (n > c->pending.len) n = c->pending.len;
        memmove(c->pending.p, c->pending.p + n, c->pending.len - n);
        c->pending.len -= n;
        if (c->pending.p) c->pending.p[c->pending.len] = '\0';
        if (!c->msg_done) break;   /* need more bytes */
        sc_http_req_t *r = c->cur;
        c->cur = NULL;
        uv_timer_stop(&c->timer);
        c->state = C_ACTIVE;
        c->active = r;
        r->dispatched = 1;
        if (!r->keep_alive || s->stopping) c->close_after_write = 1;
        s->handler(r, s->user);   /* may finish r synchronously */
    }
    if (!c->closing && !c->active && !c->close_after_write) {
        if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
            c->reading = 1;
        if (c->state == C_IDLE || c->state == C_ACTIVE) {
            c->state = C_IDLE;
            if (s->stopping && c->pending.len == 0) conn_close(c);
            else timer_set(c, s->o.idle_timeout_ms);
        }
    }
    c->in_process = 0;
}

/* The owner is done with r: free it and move the connection on. */
static void req_finish(sc_http_req_t *r)
{
    conn *c = r->c;
    c->active = NULL;
    req_free(r);
    if (c->dead) { conn_free(c); return; }
    if (c->closing) return;
    c->state = C_IDLE;
    if (c->close_after_write) { conn_finish_writes(c); return; }
    if (!c->in_process) conn_process(c);
}

/* --- responses ------------------------------------------------------------------ */
static int hdr_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

static int build_head(sc_http_req_t *r, sbuf *h, int status, const char *ctype,
                      const sc_http_header *extra, size_t n_extra, int64_t clen)
{
    conn *c = r->c;
    char line[160];
    if (status < 100 || status > 999) return SC_EINVAL;
    if (ctype && !hdr_ok(ctype)) return SC_EINVAL;
    for (size_t i = 0; i < n_extra; i++)
        if (!hdr_ok(extra[i].name) || !hdr_ok(extra[i].value) || !extra[i].name[0]) return SC_EINVAL;
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, sc_http_status_text(status));
    int rc = sbuf_add(h, line, (size_t)n);
    if (ctype) {
        rc |= sbuf_add(h, "Content-Type: ", 14);
        rc |= sbuf_add(h, ctype, strlen(ctype));
        rc |= sbuf_add(h, "\r\n", 2);
    }
    if (clen >= 0) {
        n = snprintf(line, sizeof line, "Content-Length: %lld\r\n", (long long)clen);
        rc |= sbuf_add(h, line, (size_t)n);
    } else if (r->chunked) {
        rc |= sbuf_add(h, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (c->close_after_write) rc |= sbuf_add(h, "Connection: close\r\n", 19);
    else if (r->minor == 0) rc |= sbuf_add(h, "Connection: keep-alive\r\n", 24);
    if (r->resp_hdrs.len) rc |= sbuf_add(h, r->resp_hdrs.p, r->resp_hdrs.len);
    for (size_t i = 0; i < n_extra; i++) {
        rc |= sbuf_add(h, extra[i].name, strlen(extra[i].name));
        rc |= sbuf_add(h, ": ", 2);
        rc |= sbuf_add(h, extra[i].value, strlen(extra[i].value));
        rc |= sbuf_add(h, "\r\n", 2);
    }
    rc |= sbuf_add(h, "\r\n", 2);
    return rc ? SC_ENOMEM : 0;
}

int sc_http_req_add_header(sc_http_req_t *r, const char *name, const char *value)
{
    if (!r || !name || !name[0] || !hdr_ok(name) || !hdr_ok(value) || strchr(name, ':')) return SC_EINVAL;
    size_t old = r->resp_hdrs.len;
    int rc = sbuf_add(&r->resp_hdrs, name, strlen(name));
    rc |= sbuf_add(&r->resp_hdrs, ": ", 2);
    rc |= sbuf_add(&r->resp_hdrs, value, strlen(value));
    rc |= sbuf_add(&r->resp_hdrs, "\r\n", 2);
    if (rc) {   /* leave no half header behind */
        r->resp_hdrs.len = old;
        if (r->resp_hdrs.p) r->resp_hdrs.p[old] = '\0';
        return SC_ENOMEM;
    }
    return 0;
}

int sc_http_respond(sc_http_req_t *r, int status, const char *ctype, const void *body,
                    size_t len, const sc_http_header *extra, size_t n_extra)
{
    if (!r || r->streaming || (len && !body)) return SC_EINVAL;
    if (r->disconnected || r->c->closing) { req_finish(r); return SC_EIO; }
    sbuf h = {0};
    int rc = build_head(r, &h, status, ctype, extra, n_extra, (int64_t)len);
    if (rc) { sbuf_free(&h); return rc; }
    /* HEAD and 1xx/204/304 carry no body, though Content-Length is kept. */
    int nobody = r->is_head || status < 200 || status == 204 || status == 304;
    rc = conn_write3(r->c, h.p, h.len, body, nobody ? 0 : len, NULL, 0);
    sbuf_free(&h);
    req_finish(r);
    return rc;
}

int sc_http_stream_begin(sc_http_req_t *r, int status, const char *ctype,
                         const sc_http_header *extra, size_t n_extra)
{
    if (!r || r->streaming) return SC_EINVAL;
    if (r->disconnected || r->c->closing) return SC_EIO;
    /* HTTP/1.0 has no chunked encoding: the end of the body is the close. */
    r->chunked = r->minor >= 1;
    if (!r->chunked) r->c->close_after_write = 1;
    sbuf h = {0};
    int rc = build_head(r, &h, status, ctype, extra, n_extra, -1);
    if (rc == 0) rc = conn_write3(r->c, h.p, h.len, NULL, 0, NULL, 0);
    sbuf_free(&h);
    if (rc == 0) r->streaming = 1;
    return rc;
}

int sc_http_stream_write(sc_http_req_t *r, const void *data, size_t len)
{
    if (!r || !r->streaming || (len && !data)) return SC_EINVAL;
    if (r->disconnected || r->c->closing) return SC_EIO;
    if (len == 0 || r->is_head) return 0;   /* a 0-size chunk would end the body */
    if (!r->chunked) return conn_write3(r->c, data, len, NULL, 0, NULL, 0);
    char pre[24];
    int n = snprintf(pre, sizeof pre, "%zx\r\n", len);
    return conn_write3(r->c, pre, (size_t)n, data, len, "\r\n", 2);
}

int sc_http_stream_end(sc_http_req_t *r)
{
    if (!r) return SC_EINVAL;
    int rc = 0;
    if (!r->streaming) rc = SC_EINVAL;
    else if (r->disconnected || r->c->closing) rc = SC_EIO;
    else if (r->chunked && !r->is_head) rc = conn_write3(r->c, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
    /* Finished even on error: the caller must not touch r afterwards. */
    req_finish(r);
    return rc;
}

/* --- server -------------------------------------------------------------------- */
static void on_connection(uv_stream_t *ls, int status)
{
    sc_http_server_t *s = ls->data;
    if (status < 0 || s->stopping) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) return;   /* the connection stays in the backlog; retried on the next event */
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) { conn_close(c); return; }
    uv_tcp_nodelay(&c->tcp, 1);   /* SSE frames are small and latency-bound */
    if (s->n_conns > s->o.max_connections) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        conn_fail(c, 503);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) { conn_close(c); return; }
    c->reading = 1;
    c->state = C_IDLE;
    timer_set(c, s->o.idle_timeout_ms);
}

static void run_posts(sc_http_server_t *s)
{
    uv_mutex_lock(&s->mu);
    struct post *p = s->posts;
    s->posts = s->posts_tail = NULL;
    uv_mutex_unlock(&s->mu);
    while (p) {
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

static void async_cb(uv_async_t *a) { run_posts(a->data); }

int sc_http_server_create(uv_loop_t *loop, const sc_http_opts *opts, sc_http_handler_fn handler,
                          void *user, sc_http_server_t **out)
{
    if (!loop || !handler || !out) return SC_EINVAL;
    *out = NULL;
    sc_http_server_t *s = calloc(1, sizeof *s);
    if (!s) return SC_ENOMEM;
    if (opts) s->o = *opts;
    if (!s->o.max_header_bytes) s->o.max_header_bytes = 16 * 1024;
    if (!s->o.max_body_bytes) s->o.max_body_bytes = (size_t)32 * 1024 * 1024;
    if (!s->o.header_timeout_ms) s->o.header_timeout_ms = 10000;
    if (!s->o.read_timeout_ms) s->o.read_timeout_ms = 30000;
    if (!s->o.idle_timeout_ms) s->o.idle_timeout_ms = 60000;
    if (s->o.max_connections <= 0) s->o.max_connections = 1024;
    s->loop = loop;
    s->handler = handler;
    s->user = user;
    if (uv_mutex_init(&s->mu) < 0) { free(s); return SC_ENOMEM; }
    if (uv_async_init(loop, &s->async, async_cb) < 0) {
        uv_mutex_destroy(&s->mu);
        free(s);
        return SC_EIO;
    }
    s->async.data = s;
    s->async_open = 1;
    *out = s;
    return 0;
}

int sc_http_server_listen(sc_http_server_t *s, const char *host, int port)
{
    if (!s || !host || port < 0 || port > 65535) return SC_EINVAL;
    if (s->listening || s->stopping) return SC_ESTATE;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return SC_EINVAL;
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc == 0) {
        struct sockaddr_storage b;
        int blen = sizeof b;
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&b, &blen);
        if (rc == 0)
            s->port = b.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&b)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&b)->sin_port);
    }
    if (rc < 0) {
        /* The handle is closed by stop (it is already initialised). */
        s->listening = 0;
        return rc == UV_EADDRINUSE || rc == UV_EACCES ? SC_ESTATE : SC_EIO;
    }
    s->listening = 1;
    return 0;
}

int sc_http_server_port(const sc_http_server_t *s)
{
    return s && s->listening ? s->port : SC_ESTATE;
}

uv_loop_t *sc_http_server_loop(const sc_http_server_t *s) { return s->loop; }

static void async_closed(uv_handle_t *h)
{
    sc_http_server_t *s = h->data;
    s->stopped = 1;
    if (s->on_stopped) s->on_stopped(s, s->on_stopped_arg);
}

static void listener_closed(uv_handle_t *h)
{
    sc_http_server_t *s = h->data;
    s->listener_open = 0;
    srv_maybe_finish_stop(s);
}

static void srv_maybe_finish_stop(sc_http_server_t *s)
{
    if (!s->stopping || s->listener_open || s->n_conns > 0) return;
    uv_mutex_lock(&s->mu);
    if (!s->async_open) { uv_mutex_unlock(&s->mu); return; }
    s->async_open = 0;
    uv_mutex_unlock(&s->mu);
    run_posts(s);   /* posted before the stop: run, not dropped */
    uv_close((uv_handle_t *)&s->async, async_closed);
}

int sc_http_server_stop(sc_http_server_t *s, sc_http_stopped_fn on_stopped, void *arg)
{
    if (!s) return SC_EINVAL;
    if (s->stopping) return SC_ESTATE;
    s->stopping = 1;
    s->on_stopped = on_stopped;
    s->on_stopped_arg = arg;
    if (s->listener_open) {
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, listener_closed);
    }
    for (conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->active) c->close_after_write = 1;   /* finish it, then close */
        else if (!c->close_after_write) conn_close(c);
    }
    srv_maybe_finish_stop(s);
    return 0;
}

int sc_http_server_destroy(sc_http_server_t *s)
{
    if (!s) return 0;
    if (!s->stopped) return SC_ESTATE;
    run_posts(s);
    uv_mutex_destroy(&s->mu);
    free(s);
    return 0;
}

int sc_http_post(sc_http_server_t *s, sc_http_post_fn fn, void *arg)
{
    if (!s || !fn) return SC_EINVAL;
    struct post *p = malloc(sizeof *p);
    if (!p) return SC_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    uv_mutex_lock(&s->mu);
    if (!s->async_open) {
        uv_mutex_unlock(&s->mu);
        free(p);
        return SC_ESTATE;
    }
    if (s->posts_tail) s->posts_tail->next = p; else s->posts = p;
    s->posts_tail = p;
    uv_async_send(&s->async);   /* under mu: the handle cannot be closing */
    uv_mutex_unlock(&s->mu);
    return 0;
}
