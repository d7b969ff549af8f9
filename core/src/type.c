/* core/src/type.c - dtype and op names and sizes. */
#include "internal.h"

static const char *const op_names[SC_OP_COUNT] = {
#define SC_X_NAME(name) #name,
    SC_OP_TABLE(SC_X_NAME)
#undef SC_X_NAME
};

const char *sc_op_name(int32_t op) {
    if (op < 0 || op >= SC_OP_COUNT) return "UNKNOWN";
    return op_names[op];
}

const char *sc_type_name(int32_t type) {
    switch (type) {
    case SC_TYPE_F32: return "f32";
    case SC_TYPE_F16: return "f16";
    case SC_TYPE_BF16: return "bf16";
    case SC_TYPE_I32: return "i32";
    case SC_TYPE_I8: return "i8";
    case SC_TYPE_QG: return "qg";
    default: return "unknown";
    }
}

size_t sc_type_size(int32_t type) {
    switch (type) {
    case SC_TYPE_F32: case SC_TYPE_I32: return 4;
    case SC_TYPE_F16: case SC_TYPE_BF16: return 2;
    case SC_TYPE_I8: return 1;
    default: return 0; /* QG has no per-element size; unknown types neither */
    }
}
