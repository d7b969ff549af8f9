/* HTTP/1.1 server core of the OpenAI-compatible frontend (libuv + http-parser).
 *
 * Single-threaded: every function here runs on the loop thread, except
 * sc_http_post(), which any thread may call to hand work to the loop.
 *
 * Request lifetime: the handler receives an sc_http_req_t that stays valid
 * until the owner finishes it with exactly one sc_http_respond() or
 * sc_http_stream_end() -- even if the client disconnects meanwhile (the
 * disconnect callback fires, later writes fail with SC_EIO, and the final
 * call only frees). Requests on one connection are handed out one at a time,
 * so pipelined requests are answered in order. Errors are negative SC_E*. */
#ifndef SC_HTTP_SERVER_H
#define SC_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <strixcore/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_http_server sc_http_server_t;
typedef struct sc_http_req sc_http_req_t;

/* Zero fields take the defaults in brackets. */
typedef struct sc_http_opts {
    size_t   max_header_bytes;   /* request line + headers [16 KiB] -> 431 */
    size_t   max_body_bytes;     /* decoded body [32 MiB] -> 413 */
    uint32_t header_timeout_ms;  /* from a request's first byte to its end of headers [10000] -> 408 */
    uint32_t read_timeout_ms;    /* longest gap between body bytes [30000] -> 408 */
    uint32_t idle_timeout_ms;    /* keep-alive connection with no request [60000] -> closed */
    int      max_connections;    /* more are answered 503 and closed [1024] */
} sc_http_opts;

typedef struct sc_http_header {
    const char *name;
    const char *value;
} sc_http_header;

typedef void (*sc_http_handler_fn)(sc_http_req_t *req, void *user);
typedef void (*sc_http_disconnect_fn)(sc_http_req_t *req, void *arg);
typedef void (*sc_http_stopped_fn)(sc_http_server_t *srv, void *arg);
typedef void (*sc_http_post_fn)(void *arg);

/* opts may be NULL. The server's uv_async handle is created here, so the loop
 * stays alive until sc_http_server_stop() has completed. */
int  sc_http_server_create(uv_loop_t *loop, const sc_http_opts *opts,
                           sc_http_handler_fn handler, void *user,
                           sc_http_server_t **out);
/* host is a numeric IPv4 or IPv6 address; port 0 picks an ephemeral port. */
int  sc_http_server_listen(sc_http_server_t *srv, const char *host, int port);
/* The bound port, or SC_ESTATE when not listening. */
int  sc_http_server_port(const sc_http_server_t *srv);
/* Graceful stop: no more accepts, idle and half-received connections are
 * closed, requests in flight finish (their connections close afterwards).
 * on_stopped (may be NULL) fires once every handle is closed; after that,
 * sc_http_server_destroy() may be called. A second call is SC_ESTATE. */
int  sc_http_server_stop(sc_http_server_t *srv, sc_http_stopped_fn on_stopped, void *arg);
/* Frees the server. SC_ESTATE (and nothing freed) before stop has completed. */
int  sc_http_server_destroy(sc_http_server_t *srv);
/* Thread-safe: runs fn(arg) on the loop thread soon. SC_ESTATE once the
 * server has stopped (fn will not run); posted work is run, not dropped,
 * when the stop completes. */
int  sc_http_post(sc_http_server_t *srv, sc_http_post_fn fn, void *arg);
uv_loop_t *sc_http_server_loop(const sc_http_server_t *srv);

/* --- request ------------------------------------------------------------ */
const char *sc_http_req_method(const sc_http_req_t *req);   /* "GET", "POST", ... */
const char *sc_http_req_path(const sc_http_req_t *req);     /* raw target before '?' */
const char *sc_http_req_query(const sc_http_req_t *req);    /* after '?', "" if none */
int         sc_http_req_version_minor(const sc_http_req_t *req); /* 0 or 1 (major is 1) */
/* Case-insensitive; the first of repeated headers; NULL when absent. */
const char *sc_http_req_header(const sc_http_req_t *req, const char *name);
size_t      sc_http_req_header_count(const sc_http_req_t *req);
int         sc_http_req_header_at(const sc_http_req_t *req, size_t i,
                                  const char **name, const char **value);
/* The decoded body (Content-Length or chunked), NUL-terminated for convenience. */
const char *sc_http_req_body(const sc_http_req_t *req, size_t *len);
sc_http_server_t *sc_http_req_server(const sc_http_req_t *req);
void  sc_http_req_set_data(sc_http_req_t *req, void *data);
void *sc_http_req_data(const sc_http_req_t *req);
/* Fires at most once, on the loop thread, when the client goes away before
 * the response is finished (so the engine can cancel and free its KV cache).
 * The request stays valid; the owner must still finish it. */
void  sc_http_req_on_disconnect(sc_http_req_t *req, sc_http_disconnect_fn fn, void *arg);
int   sc_http_req_disconnected(const sc_http_req_t *req);

/* --- response ----------------------------------------------------------- */
/* Adds a header to whatever response the request gets later (respond or
 * stream_begin), e.g. CORS headers decided before routing. Copied. SC_EINVAL
 * for names or values with CR/LF, SC_ENOMEM. */
int sc_http_req_add_header(sc_http_req_t *req, const char *name, const char *value);
/* Whole response; body is copied. content_type may be NULL. Header names and
 * values with CR/LF are SC_EINVAL (and the request is not finished). */
int sc_http_respond(sc_http_req_t *req, int status, const char *content_type,
                    const void *body, size_t len,
                    const sc_http_header *extra, size_t n_extra);
/* Streaming: chunked for HTTP/1.1, close-delimited for HTTP/1.0. Each write is
 * copied and sent as one chunk (one SSE frame "data: ...\n\n" per write). */
int sc_http_stream_begin(sc_http_req_t *req, int status, const char *content_type,
                         const sc_http_header *extra, size_t n_extra);
int sc_http_stream_write(sc_http_req_t *req, const void *data, size_t len);
/* Ends the stream and finishes (frees) the request. */
int sc_http_stream_end(sc_http_req_t *req);
/* Bytes queued in the kernel-bound write queue of the request's connection
 * (0 after a disconnect): a producer can throttle on it. */
size_t sc_http_req_write_queue_size(const sc_http_req_t *req);

const char *sc_http_status_text(int status);

#ifdef __cplusplus
}
#endif
#endif
