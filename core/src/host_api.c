/*
 * core/src/host_api.c - the host-API table handed to every plugin.
 *
 * Plugins are dlopen()ed with RTLD_LOCAL and link nothing from the core, so
 * every core service they may use is reached through this one table. It is
 * static and immutable: plugins may keep the pointer for their whole life.
 */
#include <stdlib.h>

#include "internal.h"

/* posix_memalign wants a power of two that is a multiple of sizeof(void *);
 * plugins pass things like 16 or 64, so round small alignments up and refuse
 * malformed ones instead of handing back memory with the wrong alignment. */
static void *host_aligned_alloc(size_t alignment, size_t size) {
    void *p = NULL;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return NULL;
    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0)
        return NULL;
    return p;
}

/* posix_memalign memory is released with free(); the separate entry point
 * exists so a future core may use another allocator without an ABI change. */
static void host_aligned_free(void *p) { free(p); }

static void *host_malloc(size_t size) { return malloc(size); }
static void *host_calloc(size_t n, size_t size) { return calloc(n, size); }
static void host_free(void *p) { free(p); }

static const sc_host_api sc_host_table = {
    .struct_size = sizeof(sc_host_api),
    .abi_major = SC_ABI_MAJOR,
    .abi_minor = SC_ABI_MINOR,
    .core_version = SC_VERSION_STRING,

    .log = sc_log,
    .logv = sc_logv,

    .malloc = host_malloc,
    .calloc = host_calloc,
    .free = host_free,
    .aligned_alloc = host_aligned_alloc,
    .aligned_free = host_aligned_free,

    .strerror = sc_strerror,
    .type_name = sc_type_name,
    .op_name = sc_op_name,
    .type_size = sc_type_size,
    .tensor_nelements = sc_tensor_nelements,
    .tensor_nbytes = sc_tensor_nbytes,
    .tensor_is_contiguous = sc_tensor_is_contiguous,

    .f16_to_f32 = sc_f16_to_f32,
    .f32_to_f16 = sc_f32_to_f16,
    .bf16_to_f32 = sc_bf16_to_f32,
    .f32_to_bf16 = sc_f32_to_bf16,

    .quant_dequant_row = sc_quant_dequant_row,
};

const sc_host_api *sc__host_api(void) { return &sc_host_table; }
