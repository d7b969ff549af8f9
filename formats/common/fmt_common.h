/*
 * formats/common/fmt_common.h - helpers shared by the format plugins. This
 * file is compiled into each plugin (plugins link nothing from the core):
 * checkpoint lookups with shape checks that name the module, reading fields
 * of the dense little-endian int32 bitstreams the formats pack codes into,
 * writing SC_TYPE_QG slabs, JSON config access (jansson) and Python-style
 * re.match (PCRE2, anchored at the start like Python's re.match).
 */
#ifndef STRIXCORE_FMT_COMMON_H
#define STRIXCORE_FMT_COMMON_H

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "strixcore/plugin.h"

extern const sc_host_api *fc_host; /* set by fc_plugin_probe/init */

int fc_errf(char *err, size_t err_len, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* <module>.<suffix>: SC_OK, or SC_ENOENT when absent. */
int fc_get(const sc_ckpt_reader *r, const char *module, const char *suffix, sc_ckpt_tensor *t);
/* Check dtype and shape (outermost first); the message reads
 * "<module>: qzeros shape [2, 96] does not match [2, 128]". */
int fc_expect(const sc_ckpt_tensor *t, const char *module, const char *what, const char *dtype, int ndims,
              const int64_t *shape, char *err, size_t err_len);

static inline uint32_t fc_word(const void *data, uint64_t i) {
    uint32_t w;
    memcpy(&w, (const char *)data + i * 4u, 4); /* little-endian host, possibly unaligned */
    return w;
}
/* Field idx (bits wide) of a dense bitstream of int32 words, word j at
 * words[j*stride]: bit offset bits*idx, least significant bit first,
 * possibly straddling two words (3-bit). */
static inline uint32_t fc_field(const void *words, uint64_t stride, uint64_t idx, uint32_t bits) {
    uint64_t bit = idx * bits;
    uint64_t w = bit >> 5;
    uint32_t s = (uint32_t)(bit & 31u);
    uint64_t v = fc_word(words, w * stride) >> s;
    if (s + bits > 32) v |= (uint64_t)fc_word(words, (w + 1) * stride) << (32 - s);
    return (uint32_t)(v & ((1u << bits) - 1u));
}
/* Code k of a QG row (the row starts zeroed). */
static inline void fc_put_code(uint8_t *row, int64_t k, uint32_t bits, uint32_t code) {
    uint64_t bit = (uint64_t)k * bits;
    uint32_t v = code << (bit & 7u);
    row[bit >> 3] |= (uint8_t)v;
    if (v >> 8) row[(bit >> 3) + 1] |= (uint8_t)(v >> 8);
}

/* The one-matrix QG layout the core passed must be what linear_info said. */
int fc_check_layout(const sc_tensor *layout, size_t dst_size, const char *module, int64_t K, int64_t N, uint32_t bits,
                    uint32_t group_size, int has_gidx, char *err, size_t err_len);

/* Integer member (or the first present of two names); dflt when absent. */
int64_t fc_json_int(const json_t *o, const char *key, const char *alt, int64_t dflt);
const char *fc_json_str(const json_t *o, const char *key, const char *alt);
/* Python's re.match(pattern, subject): 1 match, 0 no match, <0 bad pattern. */
int fc_re_match(const char *pattern, const char *subject);

/* f16 bits of a scale stored as dtype ("F16", "BF16", "F32"); SC_ERANGE when
 * it is not exactly representable in f16 (QG scales are f16). */
int fc_scale_f16(const void *data, uint64_t i, const char *dtype, uint16_t *out);

/* probe/init boilerplate: name, description, the format table. */
int fc_probe(const sc_host_api *host, sc_plugin_desc *desc, const char *name, const char *description);
int fc_init(const sc_host_api *host, uint32_t abi_minor, const sc_plugin_iface **iface, void **ctx,
            const sc_format_iface *fmt, sc_plugin_iface *storage);

#endif
