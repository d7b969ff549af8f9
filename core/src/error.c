/* core/src/error.c - error codes to text, from the one table in plugin.h. */
#include "internal.h"

const char *sc_strerror(int err) {
    switch (err) {
#define SC_X_CASE(name, code, text) case code: return text;
        SC_ERROR_TABLE(SC_X_CASE)
#undef SC_X_CASE
    default: return "unknown error";
    }
}
