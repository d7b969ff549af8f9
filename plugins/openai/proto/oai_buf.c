#include "oai_buf.h"

#include <stdlib.h>
#include <string.h>
#include <strixcore/plugin.h>

void oai_buf_init(oai_buf_t *b) { b->data = NULL; b->len = 0; b->cap = 0; }
void oai_buf_free(oai_buf_t *b) { free(b->data); oai_buf_init(b); }
void oai_buf_reset(oai_buf_t *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

int oai_buf_append(oai_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return SC_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
