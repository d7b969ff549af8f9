/* tests/formats/fmt_pack.h - reference packers and a tiny checkpoint harness. */
#ifndef FMT_PACK_H
#define FMT_PACK_H
#include <stdint.h>

#include "qformat.h"

/* Set field idx (bits wide) of a dense LE bitstream of int32 words, word j at
 * words[j*stride] (the inverse of the plugins' reader). */
void fp_put(uint32_t *words, uint64_t stride, uint64_t idx, uint32_t bits, uint32_t v);
uint32_t fp_rand(void);
void fp_seed(uint32_t s);
/* A random f16 scale in [2^-8, 2^-3), exactly representable in bf16 too. */
uint16_t fp_scale(void);
float fp_round_f16(float x);
float fp_round_bf16(float x);

/* A checkpoint under construction: up to 32 tensors, copied. */
typedef struct fp_ckpt {
    sc_st_write_tensor t[32];
    int64_t shapes[32][2];
    char names[32][160];
    int n;
    char dir[64];
} fp_ckpt;
void fp_add(fp_ckpt *c, const char *name, sc_st_dtype dt, int ndims, int64_t d0, int64_t d1, const void *data,
            size_t nbytes);
/* Write dir/model.safetensors and dir/config.json {"quantization_config": qjson}. */
void fp_write(fp_ckpt *c, const char *qjson);
void fp_free(fp_ckpt *c);

/* Open the checkpoint through the format plugins of the build tree. */
typedef struct fp_open {
    sc_registry_t *reg;
    sc_safetensors_t *st;
    sc_qformat *f;
    char *qjson;
    char err[512];
    int rc;
} fp_open;
void fp_open_ckpt(fp_open *o, const char *dir);
void fp_close(fp_open *o);
/* Convert `module` into a QG matrix; out: malloc'd slab, *t its layout. */
int fp_convert(fp_open *o, const char *module, sc_tensor *t, uint8_t **slab);
#endif
