/* core/src/text_out.c - token ids -> detokenizer -> stop matcher -> emit. */
#include <stdlib.h>

#include "internal.h"
#include "text_out.h"

/* Text through the stop matcher to emit: 1 once a stop string completed. */
static int put_text(sc_stop_t *stop, const char *text, size_t len, bool final, sc__emit_fn emit, void *user) {
    const char *out;
    size_t out_len;
    int r = final ? sc_stop_flush(stop, &out, &out_len) : sc_stop_feed(stop, text, len, &out, &out_len);
    if (r < 0)
        return r;
    if (out_len > 0) {
        int w = emit(user, out, out_len);
        if (w < 0)
            return w;
    }
    return r == 1;
}

int sc__text_token(sc_detok_t *detok, sc_stop_t *stop, int32_t id, sc__emit_fn emit, void *user) {
    char *piece = NULL;
    size_t len = 0;
    int rc;
    if (!detok)
        return 0;
    if ((rc = sc_detok_push(detok, id, &piece, &len)) < 0)
        return rc;
    rc = len > 0 ? put_text(stop, piece, len, false, emit, user) : 0;
    free(piece);
    return rc;
}

int sc__text_end(sc_detok_t *detok, sc_stop_t *stop, sc__emit_fn emit, void *user) {
    char *piece = NULL;
    size_t len = 0;
    int rc = 0;
    if (detok) {
        if ((rc = sc_detok_flush(detok, &piece, &len)) < 0)
            return rc;
        rc = len > 0 ? put_text(stop, piece, len, false, emit, user) : 0;
        free(piece);
    }
    if (rc == 0)
        rc = put_text(stop, NULL, 0, true, emit, user);
    return rc;
}
