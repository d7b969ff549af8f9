#include "oai_tool_stream.h"

#include <ctype.h>
#include <string.h>
#include <strixcore/plugin.h>

static const char OPEN[] = "<tool_call>";
static const char CLOSE[] = "</tool_call>";
#define OPEN_LEN (sizeof OPEN - 1)
#define CLOSE_LEN (sizeof CLOSE - 1)

static const char *memfind(const char *s, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0) return s + i;
    return NULL;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of tag. */
static size_t tag_prefix_tail(const char *s, size_t n, const char *tag, size_t k)
{
    size_t m = n < k - 1 ? n : k - 1;
    for (; m > 0; m--)
        if (memcmp(s + n - m, tag, m) == 0) return m;
    return 0;
}

/* Drops the first n bytes of b. */
static void buf_consume(oai_buf_t *b, size_t n)
{
    if (n >= b->len) { oai_buf_reset(b); return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void oai_tool_stream_init(oai_tool_stream_t *s, oai_tool_style_t style, const json_t *tools,
                          oai_idgen_t *ids)
{
    memset(s, 0, sizeof *s);
    s->style = style;
    s->tools = tools;
    s->ids = ids;
    oai_buf_init(&s->buf);
    oai_buf_init(&s->ws);
}

void oai_tool_stream_free(oai_tool_stream_t *s)
{
    oai_buf_free(&s->buf);
    oai_buf_free(&s->ws);
}

/* Decided content goes out with its whitespace held: leading whitespace of
 * the whole content is dropped, interior whitespace is released once more
 * text follows it, trailing whitespace never is. */
static int release(oai_tool_stream_t *s, const char *t, size_t n, oai_buf_t *out)
{
    size_t a = 0, e = n;
    while (e > 0 && isspace((unsigned char)t[e - 1])) e--;
    if (e == 0) { /* whitespace only */
        return s->any_content ? oai_buf_append(&s->ws, t, n) : 0;
    }
    if (!s->any_content) {
        while (a < e && isspace((unsigned char)t[a])) a++;
    } else if (s->ws.len) {
        if (oai_buf_append(out, s->ws.data, s->ws.len) < 0) return SC_ENOMEM;
        oai_buf_reset(&s->ws);
    }
    if (oai_buf_append(out, t + a, e - a) < 0) return SC_ENOMEM;
    s->any_content = true;
    return oai_buf_append(&s->ws, t + e, n - e);
}

/* A complete block buf[0..body_len): a call, or verbatim content. */
static int finish_block(oai_tool_stream_t *s, size_t body_len, oai_buf_t *out, json_t *calls)
{
    json_t *call = oai_tools_parse_block(s->style, s->buf.data, body_len, s->tools, s->ids);
    int rc = 0;
    if (call) {
        if (json_array_append_new(calls, call) < 0) return SC_ENOMEM;
        s->n_calls++;
    } else {
        oai_buf_t raw;
        oai_buf_init(&raw);
        rc = oai_buf_append(&raw, OPEN, OPEN_LEN);
        if (rc == 0) rc = oai_buf_append(&raw, s->buf.data, body_len);
        if (rc == 0) rc = oai_buf_append(&raw, CLOSE, CLOSE_LEN);
        if (rc == 0) rc = release(s, raw.data, raw.len, out);
        oai_buf_free(&raw);
    }
    return rc;
}

static int process(oai_tool_stream_t *s, oai_buf_t *out, json_t *calls)
{
    for (;;) {
        if (!s->in_call) {
            const char *o = s->buf.len ? memfind(s->buf.data, s->buf.len, OPEN, OPEN_LEN) : NULL;
            if (o) {
                size_t k = (size_t)(o - s->buf.data);
                if (release(s, s->buf.data, k, out) < 0) return SC_ENOMEM;
                buf_consume(&s->buf, k + OPEN_LEN);
                s->in_call = true;
                s->scanned = 0;
                continue;
            }
            /* Hold back only what might still become "<tool_call>". */
            size_t tail = tag_prefix_tail(s->buf.data ? s->buf.data : "", s->buf.len, OPEN, OPEN_LEN);
            if (s->buf.len > tail) {
                if (release(s, s->buf.data, s->buf.len - tail, out) < 0) return SC_ENOMEM;
                buf_consume(&s->buf, s->buf.len - tail);
            }
            return 0;
        }
        /* In a block: look for the close tag from where the last scan stopped. */
        const char *c = memfind(s->buf.data + s->scanned, s->buf.len - s->scanned, CLOSE, CLOSE_LEN);
        if (!c) {
            s->scanned = s->buf.len > CLOSE_LEN - 1 ? s->buf.len - (CLOSE_LEN - 1) : 0;
            return 0;
        }
        size_t k = (size_t)(c - s->buf.data);
        if (finish_block(s, k, out, calls) < 0) return SC_ENOMEM;
        buf_consume(&s->buf, k + CLOSE_LEN);
        s->in_call = false;
    }
}

int oai_tool_stream_feed(oai_tool_stream_t *s, const char *piece, size_t len, oai_buf_t *content,
                         json_t *calls)
{
    if (len == 0) return 0;
    if (oai_buf_append(&s->buf, piece, len) < 0) return SC_ENOMEM;
    return process(s, content, calls);
}

int oai_tool_stream_flush(oai_tool_stream_t *s, oai_buf_t *content, json_t *calls)
{
    (void)calls;
    int rc = 0;
    if (s->in_call) {
        /* Unterminated block (cut by max_tokens): it is content after all. */
        oai_buf_t raw;
        oai_buf_init(&raw);
        rc = oai_buf_append(&raw, OPEN, OPEN_LEN);
        if (rc == 0 && s->buf.len) rc = oai_buf_append(&raw, s->buf.data, s->buf.len);
        if (rc == 0) rc = release(s, raw.data, raw.len, content);
        oai_buf_free(&raw);
    } else if (s->buf.len) {
        rc = release(s, s->buf.data, s->buf.len, content);
    }
    oai_buf_reset(&s->buf);
    oai_buf_reset(&s->ws); /* trailing whitespace is trimmed */
    s->in_call = false;
    s->scanned = 0;
    return rc;
}
