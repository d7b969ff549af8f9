/* Growable byte buffer used by the incremental splitters (reasoning, SSE). */
#ifndef OAI_BUF_H
#define OAI_BUF_H
#include <stddef.h>

typedef struct {
    char  *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} oai_buf_t;

void oai_buf_init(oai_buf_t *b);
void oai_buf_free(oai_buf_t *b);
void oai_buf_reset(oai_buf_t *b);
/* Returns 0 or SC_ENOMEM (the buffer is left unchanged on failure). */
int  oai_buf_append(oai_buf_t *b, const char *s, size_t n);
#endif
