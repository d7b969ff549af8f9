/* tests/formats/fmt_pack.c - see fmt_pack.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt_pack.h"

static uint32_t g_state = 1;
void fp_seed(uint32_t s) { g_state = s ? s : 1; }
uint32_t fp_rand(void) {
    g_state ^= g_state << 13;
    g_state ^= g_state >> 17;
    g_state ^= g_state << 5;
    return g_state;
}
uint16_t fp_scale(void) {
    /* f16 with exponent in [-8, -4] and the 3 low mantissa bits clear: a bf16 too */
    uint16_t e = (uint16_t)(15 - 8 + fp_rand() % 5), m = (uint16_t)((fp_rand() % 128) << 3);
    return (uint16_t)(e << 10 | m);
}
float fp_round_f16(float x) { return sc_f16_to_f32(sc_f32_to_f16(x)); }
float fp_round_bf16(float x) { return sc_bf16_to_f32(sc_f32_to_bf16(x)); }

void fp_put(uint32_t *words, uint64_t stride, uint64_t idx, uint32_t bits, uint32_t v) {
    uint64_t bit = idx * bits, w = bit >> 5;
    uint32_t s = (uint32_t)(bit & 31u);
    uint64_t m = ((uint64_t)((1u << bits) - 1u)) << s, vv = (uint64_t)v << s;
    words[w * stride] = (uint32_t)((words[w * stride] & ~m) | (vv & m));
    if (s + bits > 32) {
        m >>= 32;
        vv >>= 32;
        words[(w + 1) * stride] = (uint32_t)((words[(w + 1) * stride] & ~m) | (vv & m));
    }
}

void fp_add(fp_ckpt *c, const char *name, sc_st_dtype dt, int ndims, int64_t d0, int64_t d1, const void *data,
            size_t nbytes) {
    assert_true(c->n < 32);
    int i = c->n++;
    snprintf(c->names[i], sizeof c->names[i], "%s", name);
    c->shapes[i][0] = d0;
    c->shapes[i][1] = d1;
    void *copy = malloc(nbytes);
    assert_non_null(copy);
    memcpy(copy, data, nbytes);
    c->t[i] = (sc_st_write_tensor){c->names[i], dt, ndims, c->shapes[i], copy, nbytes};
}

void fp_write(fp_ckpt *c, const char *qjson) {
    char path[160];
    snprintf(c->dir, sizeof c->dir, "/tmp/sc_fmt_XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(path, sizeof path, "%s/model.safetensors", c->dir);
    assert_int_equal(sc_safetensors_write(path, c->t, c->n, NULL), SC_OK);
    snprintf(path, sizeof path, "%s/config.json", c->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"architectures\": [\"Qwen3ForCausalLM\"], \"quantization_config\": %s}\n", qjson);
    fclose(f);
}

void fp_free(fp_ckpt *c) {
    char path[160];
    for (int i = 0; i < c->n; i++) free((void *)c->t[i].data);
    if (c->dir[0]) {
        snprintf(path, sizeof path, "%s/model.safetensors", c->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/config.json", c->dir);
        unlink(path);
        rmdir(c->dir);
    }
    memset(c, 0, sizeof *c);
}

void fp_open_ckpt(fp_open *o, const char *dir) {
    memset(o, 0, sizeof *o);
    const char *paths[] = {SC_FORMAT_PLUGIN_DIR, NULL};
    sc_registry_opts ro = {.struct_size = sizeof ro, .no_env = true, .no_default_paths = true, .search_paths = paths};
    assert_int_equal(sc_registry_create(&ro, &o->reg), SC_OK);
    assert_int_equal(sc_safetensors_open(dir, &o->st, o->err, sizeof o->err), SC_OK);
    assert_int_equal(sc__quant_config_json(dir, &o->qjson, o->err, sizeof o->err), SC_OK);
    assert_non_null(o->qjson);
    o->rc = sc__qformat_open(o->reg, o->qjson, o->st, &o->f, o->err, sizeof o->err);
}

void fp_close(fp_open *o) {
    sc__qformat_close(o->f);
    sc_safetensors_close(o->st);
    sc_registry_destroy(o->reg);
    free(o->qjson);
}

int fp_convert(fp_open *o, const char *module, sc_tensor *t, uint8_t **slab) {
    sc_linear_desc d;
    *slab = NULL;
    int rc = sc__qformat_info(o->f, module, &d, o->err, sizeof o->err);
    if (rc != SC_OK) return rc;
    if (!d.quantized) return 1;
    memset(t, 0, sizeof *t);
    t->ne[0] = d.K;
    t->ne[1] = d.N;
    t->ne[2] = t->ne[3] = 1;
    assert_int_equal(sc_quant_layout(t, d.bits, d.group_size, d.has_gidx != 0), SC_OK);
    t->quant.flags |= d.quant_flags;
    *slab = calloc(1, t->nb[2]);
    assert_non_null(*slab);
    return sc__qformat_convert(o->f, module, *slab, t->nb[2], t, o->err, sizeof o->err);
}
