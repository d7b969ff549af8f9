/* HTTP server core tests: the server runs on its own loop thread on
 * 127.0.0.1 (ephemeral port); clients are raw blocking sockets with receive
 * timeouts, so every wait is bounded. Prints "N passed, M failed". */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int n_pass, n_fail;
#define CHECK(cond) do { if (cond) n_pass++; else { n_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

/* --- server side (loop thread) ------------------------------------------------ */
static uv_loop_t loop;
static sc_http_server_t *srv;
static int port;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;
static atomic_int disc_fired, stopped_fired, handled;

typedef struct sse { uv_timer_t t; sc_http_req_t *req; int i, n, per_tick; } sse;

static void sse_closed(uv_handle_t *h) { free(h->data); }

static void sse_tick(uv_timer_t *t)
{
    sse *s = t->data;
    for (int k = 0; k < s->per_tick && s->i < s->n; k++, s->i++) {
        char frame[64];
        int n = snprintf(frame, sizeof frame, "data: {\"i\":%d}\n\n", s->i);
        if (sc_http_stream_write(s->req, frame, (size_t)n) < 0) { s->i = s->n; break; }
    }
    if (s->i >= s->n) {
        if (!sc_http_req_disconnected(s->req))
            sc_http_stream_write(s->req, "data: [DONE]\n\n", 14);
        sc_http_stream_end(s->req);
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, sse_closed);
    }
}

static void hang_disc(sc_http_req_t *req, void *arg)
{
    atomic_fetch_add(&disc_fired, 1);
    sc_http_stream_end(req);   /* the owner frees at once, as the engine would */
}

static void handler(sc_http_req_t *req, void *user)
{
    const char *path = sc_http_req_path(req);
    atomic_fetch_add(&handled, 1);
    if (strcmp(path, "/hello") == 0) {
        sc_http_respond(req, 200, "text/plain", "hello", 5, NULL, 0);
    } else if (strcmp(path, "/echo") == 0) {
        size_t len;
        const char *body = sc_http_req_body(req, &len);
        const char *x = sc_http_req_header(req, "x-TEST");
        sc_http_header h[2] = {{"X-Echo", x ? x : "-"}, {"X-Query", sc_http_req_query(req)}};
        sc_http_respond(req, 200, "application/octet-stream", body, len, h, 2);
    } else if (strcmp(path, "/sse") == 0 || strcmp(path, "/sse-slow") == 0) {
        sse *s = calloc(1, sizeof *s);
        int slow = path[4] == '-';
        s->req = req;
        s->n = slow ? 30 : 100;
        s->per_tick = slow ? 1 : 7;
        uv_timer_init(&loop, &s->t);
        s->t.data = s;
        sc_http_stream_begin(req, 200, "text/event-stream", NULL, 0);
        uv_timer_start(&s->t, sse_tick, 1, slow ? 20 : 1);
    } else if (strcmp(path, "/hang") == 0) {
        sc_http_req_on_disconnect(req, hang_disc, NULL);
        sc_http_stream_begin(req, 200, "text/event-stream", NULL, 0);
        sc_http_stream_write(req, "data: first\n\n", 13);
    } else {
        sc_http_respond(req, 404, "text/plain", "no", 2, NULL, 0);
    }
}

static void on_stopped(sc_http_server_t *s, void *arg) { atomic_store(&stopped_fired, 1); }
static void do_stop(void *arg) { sc_http_server_stop(srv, on_stopped, NULL); }

static void *server_main(void *arg)
{
    sc_http_opts o = {0};
    o.max_header_bytes = 4096;
    o.max_body_bytes = 64 * 1024;
    o.header_timeout_ms = 400;
    o.read_timeout_ms = 400;
    int rc = uv_loop_init(&loop);
    if (rc == 0) rc = sc_http_server_create(&loop, &o, handler, NULL, &srv);
    if (rc == 0) rc = sc_http_server_listen(srv, "127.0.0.1", 0);
    pthread_mutex_lock(&mu);
    port = rc == 0 ? sc_http_server_port(srv) : -1;
    ready = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    if (rc != 0) return NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    sc_http_server_destroy(srv);
    uv_loop_close(&loop);
    return NULL;
}

/* --- client side ---------------------------------------------------------------- */
typedef struct client { int fd; char buf[1 << 20]; size_t len; } client;

static client *cl_open(void)
{
    client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {3, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) { close(c->fd); free(c); return NULL; }
    return c;
}
static void cl_close(client *c) { if (c) { close(c->fd); free(c); } }
static void cl_send(client *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w; n -= (size_t)w;
    }
}
static void cl_sends(client *c, const char *s) { cl_send(c, s, strlen(s)); }
/* More bytes into the buffer; 0 on EOF/timeout/error. */
static int cl_fill(client *c)
{
    if (c->len >= sizeof c->buf - 1) return 0;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (r <= 0) return 0;
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    return 1;
}
static void cl_consume(client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->buf[c->len] = '\0';
}

typedef struct resp { int status; char head[4096]; char *body; size_t blen; } resp;

static const char *find_hdr(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') return p + 3 + nl;
    return NULL;
}

/* Reads one response (Content-Length, chunked, or until close). 0 on success. */
static int cl_resp(client *c, resp *r)
{
    memset(r, 0, sizeof *r);
    char *e;
    while (!(e = strstr(c->buf, "\r\n\r\n")))
        if (!cl_fill(c)) return -1;
    size_t hl = (size_t)(e - c->buf) + 4;
    if (hl >= sizeof r->head) return -1;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    cl_consume(c, hl);
    if (r->status == 100) return cl_resp(c, r);
    const char *cl = find_hdr(r->head, "Content-Length");
    const char *te = find_hdr(r->head, "Transfer-Encoding");
    r->body = malloc(sizeof c->buf);
    if (cl) {
        size_t n = strtoul(cl, NULL, 10);
        while (c->len < n) if (!cl_fill(c)) return -1;
        memcpy(r->body, c->buf, n);
        r->blen = n;
        cl_consume(c, n);
    } else if (te && strstr(te, "chunked")) {
        for (;;) {
            char *le;
            while (!(le = strstr(c->buf, "\r\n"))) if (!cl_fill(c)) return -1;
            size_t n = strtoul(c->buf, NULL, 16);
            size_t skip = (size_t)(le - c->buf) + 2;
            while (c->len < skip + n + 2) if (!cl_fill(c)) return -1;
            memcpy(r->body + r->blen, c->buf + skip, n);
            r->blen += n;
            cl_consume(c, skip + n + 2);
            if (n == 0) break;
        }
    } else {
        while (cl_fill(c)) {}
        memcpy(r->body, c->buf, c->len);
        r->blen = c->len;
        cl_consume(c, c->len);
    }
    r->body[r->blen] = '\0';
    return 0;
}
static void resp_free(resp *r) { free(r->body); r->body = NULL; }

/* True when the server closed the connection (EOF within the receive timeout). */
static int cl_closed(client *c)
{
    char b[256];
    for (int i = 0; i < 100; i++) {
        ssize_t r = recv(c->fd, b, sizeof b, 0);
        if (r == 0) return 1;
        if (r < 0) return errno == ECONNRESET;
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int simple(const char *req, int *status)
{
    client *c = cl_open();
    if (!c) return -1;
    cl_sends(c, req);
    resp r;
    int rc = cl_resp(c, &r);
    *status = r.status;
    if (rc == 0 && !cl_closed(c)) rc = -2;   /* errors must close */
    resp_free(&r);
    cl_close(c);
    return rc;
}

/* --- tests ------------------------------------------------------------------------ */
static void t_get(void)
{
    client *c = cl_open();
    CHECK(c != NULL);
    if (!c) return;
    cl_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    resp r;
    CHECK(cl_resp(c, &r) == 0);
    CHECK(r.status == 200);
    CHECK(r.blen == 5 && memcmp(r.body, "hello", 5) == 0);
    resp_free(&r);
    cl_close(c);
}

static void t_post_echo_and_keepalive(void)
{
    client *c = cl_open();
    cl_sends(c, "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nContent-Length: 11\r\n\r\nhello world");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200);
    CHECK(r.blen == 11 && memcmp(r.body, "hello world", 11) == 0);
    CHECK(strstr(r.head, "X-Echo: yes") != NULL);
    CHECK(strstr(r.head, "X-Query: a=1") != NULL);
    resp_free(&r);
    /* second request on the same connection (keep-alive) */
    cl_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_resp(c, &r) == 0 && r.status == 200 && r.blen == 5);
    resp_free(&r);
    cl_close(c);
}

static void t_chunked_body(void)
{
    client *c = cl_open();
    cl_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n");
    usleep(20000);   /* split across reads */
    cl_sends(c, "6\r\n world\r\n0\r\n\r\n");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200);
    CHECK(r.blen == 11 && memcmp(r.body, "hello world", 11) == 0);
    resp_free(&r);
    cl_close(c);
}

static void t_expect_continue(void)
{
    client *c = cl_open();
    cl_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    while (!strstr(c->buf, "\r\n\r\n")) if (!cl_fill(c)) break;
    CHECK(strncmp(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    cl_sends(c, "abc");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200 && r.blen == 3);
    resp_free(&r);
    cl_close(c);
}

static void t_pipelined(void)
{
    client *c = cl_open();
    cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                "GET /sse HTTP/1.1\r\n\r\n"
                "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nthree");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.blen == 3 && memcmp(r.body, "one", 3) == 0);
    resp_free(&r);
    CHECK(cl_resp(c, &r) == 0 && strstr(r.body, "data: {\"i\":99}") != NULL);
    resp_free(&r);
    CHECK(cl_resp(c, &r) == 0 && r.blen == 5 && memcmp(r.body, "three", 5) == 0);
    resp_free(&r);
    cl_close(c);
}

static void t_http10(void)
{
    client *c = cl_open();
    cl_sends(c, "GET /hello HTTP/1.0\r\n\r\n");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200 && r.blen == 5);
    CHECK(cl_closed(c));
    resp_free(&r);
    cl_close(c);
    c = cl_open();   /* 1.0 stream: close-delimited, no chunking */
    cl_sends(c, "GET /sse HTTP/1.0\r\n\r\n");
    CHECK(cl_resp(c, &r) == 0 && find_hdr(r.head, "Transfer-Encoding") == NULL);
    CHECK(strstr(r.body, "data: [DONE]\n\n") != NULL);
    resp_free(&r);
    cl_close(c);
}

static void t_errors(void)
{
    int st = 0;
    CHECK(simple("POST /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n", &st) == 0 && st == 413);
    {   /* chunked over the limit */
        client *c = cl_open();
        cl_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        char chunk[8200];
        memset(chunk, 'a', sizeof chunk);
        memcpy(chunk, "2000\r\n", 6);
        memcpy(chunk + 6 + 0x2000, "\r\n", 2);
        for (int i = 0; i < 10; i++) cl_send(c, chunk, 6 + 0x2000 + 2);
        resp r;
        CHECK(cl_resp(c, &r) == 0 && r.status == 413);
        resp_free(&r);
        cl_close(c);
    }
    char big[8192];
    int n = snprintf(big, sizeof big, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'b', 6000);
    strcpy(big + n + 6000, "\r\n\r\n");
    CHECK(simple(big, &st) == 0 && st == 431);
    CHECK(simple("GARBAGE\r\n\r\n", &st) == 0 && st == 400);
    CHECK(simple("GET /hello HTTP/1.1 extra\r\n\r\n", &st) == 0 && st == 400);
    CHECK(simple("GET /hello HTTP/1.1\r\nBad Header: x\r\n\r\n", &st) == 0 && st == 400);
    CHECK(simple("GET /hello HTTP/1.1\r\nNoColon\r\n\r\n", &st) == 0 && st == 400);
    CHECK(simple("GET /hello HTTP/1.1\r\nX: a\001b\r\n\r\n", &st) == 0 && st == 400);
    CHECK(simple("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", &st) == 0 && st == 400);
    CHECK(simple("POST /echo HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", &st) == 0 && st == 417);
    /* the server survived all of that */
    CHECK(simple("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", &st) == 0 && st == 200);
}

static void t_slow_client(void)
{
    client *slow = cl_open();
    double t0 = now_ms();
    cl_sends(slow, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Half");
    /* meanwhile another client is served */
    client *c = cl_open();
    cl_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200);
    resp_free(&r);
    cl_close(c);
    /* the slow one drips a byte every 100 ms: the header deadline still holds */
    for (int i = 0; i < 3; i++) { usleep(100000); cl_sends(slow, "x"); }
    CHECK(cl_resp(slow, &r) == 0 && r.status == 408);
    double dt = now_ms() - t0;
    CHECK(dt >= 350 && dt < 2000);
    CHECK(cl_closed(slow));
    resp_free(&r);
    cl_close(slow);
}

static void t_disconnect(void)
{
    int before = atomic_load(&disc_fired);
    client *c = cl_open();
    cl_sends(c, "GET /hang HTTP/1.1\r\n\r\n");
    while (!strstr(c->buf, "data: first")) if (!cl_fill(c)) break;
    CHECK(strstr(c->buf, "data: first") != NULL);
    cl_close(c);
    for (int i = 0; i < 200 && atomic_load(&disc_fired) == before; i++) usleep(10000);
    CHECK(atomic_load(&disc_fired) == before + 1);
}

static void t_sse(void)
{
    client *c = cl_open();
    cl_sends(c, "GET /sse HTTP/1.1\r\n\r\n");
    resp r;
    CHECK(cl_resp(c, &r) == 0 && r.status == 200);
    CHECK(strstr(r.head, "Transfer-Encoding: chunked") != NULL);
    CHECK(strstr(r.head, "Content-Type: text/event-stream") != NULL);
    /* the frames, in order, byte for byte */
    char *p = r.body;
    int ok = 1;
    for (int i = 0; i < 100 && ok; i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "data: {\"i\":%d}\n\n", i);
        ok = strncmp(p, want, (size_t)n) == 0;
        p += n;
    }
    CHECK(ok && strcmp(p, "data: [DONE]\n\n") == 0);
    resp_free(&r);
    cl_close(c);
}

static void t_post_from_thread(void);
static atomic_int posted;
static void post_fn(void *arg) { atomic_fetch_add(&posted, *(int *)arg); }
static void t_post_from_thread(void)
{
    static int one = 1;
    for (int i = 0; i < 50; i++) CHECK(sc_http_post(srv, post_fn, &one) == 0);
    for (int i = 0; i < 200 && atomic_load(&posted) < 50; i++) usleep(5000);
    CHECK(atomic_load(&posted) == 50);
}

static void t_graceful_stop(pthread_t th)
{
    client *idle = cl_open();
    client *c = cl_open();
    cl_sends(c, "GET /sse-slow HTTP/1.1\r\n\r\n");
    while (!strstr(c->buf, "data: {\"i\":1}")) if (!cl_fill(c)) break;
    CHECK(sc_http_post(srv, do_stop, NULL) == 0);
    /* the stream in flight completes, then the connection closes */
    resp r;
    CHECK(cl_resp(c, &r) == 0 && strstr(r.body, "data: {\"i\":29}") && strstr(r.body, "[DONE]"));
    CHECK(cl_closed(c));
    CHECK(cl_closed(idle));
    resp_free(&r);
    cl_close(c);
    cl_close(idle);
    for (int i = 0; i < 300 && !atomic_load(&stopped_fired); i++) usleep(10000);
    CHECK(atomic_load(&stopped_fired));
    pthread_join(th, NULL);   /* returns: the stop closed every handle */
    CHECK(cl_open() == NULL);   /* nobody listens any more */
}

static void t_ipv6_and_api(void)
{
    uv_loop_t l;
    sc_http_server_t *s = NULL;
    CHECK(uv_loop_init(&l) == 0);
    CHECK(sc_http_server_create(&l, NULL, handler, NULL, &s) == 0);
    CHECK(sc_http_server_port(s) == SC_ESTATE);
    CHECK(sc_http_server_listen(s, "not-an-ip", 0) == SC_EINVAL);
    int rc = sc_http_server_listen(s, "::1", 0);
    if (rc == 0) CHECK(sc_http_server_port(s) > 0);
    else fprintf(stderr, "note: ::1 unavailable (%d), IPv6 listen not tested\n", rc);
    CHECK(sc_http_server_destroy(s) == SC_ESTATE);
    CHECK(sc_http_server_stop(s, NULL, NULL) == 0);
    CHECK(sc_http_server_stop(s, NULL, NULL) == SC_ESTATE);
    uv_run(&l, UV_RUN_DEFAULT);
    CHECK(sc_http_server_destroy(s) == 0);
    CHECK(uv_loop_close(&l) == 0);
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, server_main, NULL);
    pthread_mutex_lock(&mu);
    while (!ready) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (port <= 0) {
        fprintf(stderr, "server did not start\n");
        pthread_join(th, NULL);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    t_get();
    t_post_echo_and_keepalive();
    t_chunked_body();
    t_expect_continue();
    t_pipelined();
    t_http10();
    t_errors();
    t_slow_client();
    t_disconnect();
    t_sse();
    t_post_from_thread();
    t_graceful_stop(th);
    t_ipv6_and_api();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
