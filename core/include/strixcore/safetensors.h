/*
 * strixcore/safetensors.h - read-only, validated access to safetensors
 * checkpoints (one file, or shards listed in model.safetensors.index.json).
 *
 * Files are mmap'd; tensor data is never copied by the reader. Every header
 * is validated before any tensor is exposed: header length bound, JSON,
 * known dtype, shape x dtype size == byte length, offsets inside the file,
 * no overlapping ranges. Errors name the file and the tensor.
 */
#ifndef STRIXCORE_SAFETENSORS_H
#define STRIXCORE_SAFETENSORS_H

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_ST_MAX_DIMS 8

typedef enum sc_st_dtype {
    SC_ST_F64, SC_ST_F32, SC_ST_F16, SC_ST_BF16, SC_ST_I64, SC_ST_I32, SC_ST_I16, SC_ST_I8,
    SC_ST_U8, SC_ST_BOOL, SC_ST_F8_E4M3, SC_ST_F8_E5M2, SC_ST_U16, SC_ST_U32, SC_ST_U64,
    SC_ST_DTYPE_COUNT
} sc_st_dtype;

typedef struct sc_st_tensor {
    const char *name;
    sc_st_dtype dtype;
    int ndims;
    int64_t shape[SC_ST_MAX_DIMS];   /* as in the file: outermost first (PyTorch order) */
    const void *data;                /* inside the mmap */
    size_t nbytes;
    const char *file;                /* path of the shard holding it */
} sc_st_tensor;

typedef struct sc_safetensors sc_safetensors_t;

/* path: a .safetensors file, a model.safetensors.index.json, or a directory
 * holding either. On error returns SC_E* and writes "file: tensor: reason". */
SC_API int sc_safetensors_open(const char *path, sc_safetensors_t **out, char *err, size_t err_len);
SC_API void sc_safetensors_close(sc_safetensors_t *st);
SC_API int sc_safetensors_count(const sc_safetensors_t *st);
SC_API const sc_st_tensor *sc_safetensors_at(const sc_safetensors_t *st, int i);
SC_API const sc_st_tensor *sc_safetensors_find(const sc_safetensors_t *st, const char *name);
SC_API const char *sc_st_dtype_name(sc_st_dtype dt);
SC_API size_t sc_st_dtype_size(sc_st_dtype dt);
/* Total bytes of tensor data over all shards. */
SC_API uint64_t sc_safetensors_total_bytes(const sc_safetensors_t *st);

/* Writer (for synthetic checkpoints, tests and fixtures): tensors as given. */
typedef struct sc_st_write_tensor {
    const char *name;
    sc_st_dtype dtype;
    int ndims;
    const int64_t *shape;            /* outermost first */
    const void *data;
    size_t nbytes;
} sc_st_write_tensor;
SC_API int sc_safetensors_write(const char *path, const sc_st_write_tensor *ts, int n, const char *metadata_json);

#ifdef __cplusplus
}
#endif
#endif
