#include "oai_reasoning.h"

#include <string.h>
#include <strixcore/plugin.h>

static const char OPEN_TAG[] = "<think>";
static const char CLOSE_TAG[] = "</think>";

void oai_reasoning_init(oai_reasoning_t *r, bool in_reasoning)
{
    r->state = in_reasoning ? OAI_RS_REASONING : OAI_RS_BEFORE;
    r->n_held = 0;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of tag. */
static size_t partial_suffix(const char *s, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t k = (n < tl - 1 ? n : tl - 1); k > 0; k--)
        if (memcmp(s + n - k, tag, k) == 0) return k;
    return 0;
}

static const char *find(const char *s, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t i = 0; i + tl <= n; i++)
        if (s[i] == tag[0] && memcmp(s + i, tag, tl) == 0) return s + i;
    return NULL;
}

/* Scans s (held bytes + piece, processed as one span) until the state is
 * final or s is used up. */
static int scan(oai_reasoning_t *r, const char *s, size_t n, oai_buf_t *content,
                oai_buf_t *reasoning)
{
    int rc;
    while (n > 0) {
        if (r->state == OAI_RS_CONTENT) return oai_buf_append(content, s, n);
        const char *tag = r->state == OAI_RS_BEFORE ? OPEN_TAG : CLOSE_TAG;
        oai_buf_t *out = r->state == OAI_RS_BEFORE ? content : reasoning;
        const char *hit = find(s, n, tag);
        if (hit) {
            if ((rc = oai_buf_append(out, s, (size_t)(hit - s))) < 0) return rc;
            size_t used = (size_t)(hit - s) + strlen(tag);
            s += used;
            n -= used;
            r->state = r->state == OAI_RS_BEFORE ? OAI_RS_REASONING : OAI_RS_CONTENT;
            continue;
        }
        size_t keep = partial_suffix(s, n, tag);
        if ((rc = oai_buf_append(out, s, n - keep)) < 0) return rc;
        memcpy(r->held, s + n - keep, keep);
        r->n_held = keep;
        return 0;
    }
    return 0;
}

int oai_reasoning_feed(oai_reasoning_t *r, const char *piece, size_t len,
                       oai_buf_t *content, oai_buf_t *reasoning)
{
    if (r->n_held == 0) return scan(r, piece, len, content, reasoning);
    /* Join held bytes with the piece so a tag cut across pieces is seen
     * whole. Pieces are token-sized, so copying them is cheap. */
    oai_buf_t tmp;
    oai_buf_init(&tmp);
    int rc = oai_buf_append(&tmp, r->held, r->n_held);
    if (rc == 0) rc = oai_buf_append(&tmp, piece, len);
    r->n_held = 0;
    if (rc == 0) rc = scan(r, tmp.data, tmp.len, content, reasoning);
    oai_buf_free(&tmp);
    return rc;
}

int oai_reasoning_flush(oai_reasoning_t *r, oai_buf_t *content, oai_buf_t *reasoning)
{
    oai_buf_t *out = r->state == OAI_RS_REASONING ? reasoning : content;
    int rc = oai_buf_append(out, r->held, r->n_held);
    r->n_held = 0;
    return rc;
}
