/*
 * tests/unit/test_safetensors.c - the safetensors reader and writer: round
 * trips of every dtype, every header the reader must refuse (with the code
 * and a message naming the file and tensor), every truncation of a small
 * file, and sharded checkpoints (index + shards) good and bad.
 *
 * Fixtures are built at test time in a mkdtemp directory: valid files with
 * sc_safetensors_write, corrupt ones with raw byte writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "strixcore/safetensors.h"

static char g_dir[256];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    snprintf(g_dir, sizeof(g_dir), "%s/sc_st_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) { return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_str(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* A file whose 8-byte length prefix says `hlen`, followed by `header` (its
 * real length may differ) and `data_len` bytes of data. */
static void write_raw_len(const char *path, uint64_t hlen, const char *header, size_t data_len) {
    size_t n = strlen(header);
    uint8_t *buf = calloc(1, 8 + n + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    write_bytes(path, buf, 8 + n + data_len);
    free(buf);
}

static void write_raw(const char *path, const char *header, size_t data_len) {
    write_raw_len(path, strlen(header), header, data_len);
}

static sc_safetensors_t *open_ok(const char *path) {
    sc_safetensors_t *st = NULL;
    char err[512] = "untouched";
    int rc = sc_safetensors_open(path, &st, err, sizeof(err));
    if (rc != SC_OK) fail_msg("open %s failed (%s): %s", path, sc_strerror(rc), err);
    assert_non_null(st);
    assert_string_equal(err, "");
    return st;
}

/* Open must fail with `code`, no handle, and an error containing every
 * non-NULL string in the list. */
static void open_bad(const char *path, int code, const char *s1, const char *s2, const char *s3) {
    sc_safetensors_t *st = (sc_safetensors_t *)(uintptr_t)1;
    char err[1024] = "";
    int rc = sc_safetensors_open(path, &st, err, sizeof(err));
    if (rc != code) fail_msg("%s: expected %s, got %s: %s", path, sc_strerror(code), sc_strerror(rc), err);
    assert_null(st);
    if (getenv("SC_TEST_VERBOSE")) printf("  %s: %s\n", sc_strerror(rc), err);
    const char *want[] = {s1, s2, s3};
    for (int i = 0; i < 3; i++)
        if (want[i] && !strstr(err, want[i])) fail_msg("error \"%s\" does not contain \"%s\"", err, want[i]);
}

/* ------------------------------------------------------------------------ */

static void test_dtypes(void **state) {
    static const char *names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
                                  "U8", "BOOL", "F8_E4M3", "F8_E5M2", "U16", "U32", "U64"};
    static const size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1, 1, 1, 2, 4, 8};
    for (int i = 0; i < SC_ST_DTYPE_COUNT; i++) {
        assert_string_equal(sc_st_dtype_name((sc_st_dtype)i), names[i]);
        assert_int_equal(sc_st_dtype_size((sc_st_dtype)i), sizes[i]);
    }
    assert_string_equal(sc_st_dtype_name(SC_ST_DTYPE_COUNT), "unknown");
    assert_int_equal(sc_st_dtype_size((sc_st_dtype)-1), 0);
}

/* One tensor per dtype (shapes of 0..3 dims), plus an empty one. */
static void test_roundtrip_every_dtype(void **state) {
    enum { N = SC_ST_DTYPE_COUNT + 1 };
    sc_st_write_tensor ts[N];
    int64_t shapes[N][3];
    uint8_t *bufs[N];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        sc_st_dtype dt = i < SC_ST_DTYPE_COUNT ? (sc_st_dtype)i : SC_ST_F32;
        int nd = i % 4;
        size_t nel = 1;
        for (int d = 0; d < nd; d++) nel *= (size_t)(shapes[i][d] = 1 + (i + d) % 3);
        if (i == SC_ST_DTYPE_COUNT) nd = 2, shapes[i][0] = 4, shapes[i][1] = 0, nel = 0; /* empty tensor */
        size_t nb = nel * sc_st_dtype_size(dt);
        bufs[i] = malloc(nb ? nb : 1);
        for (size_t b = 0; b < nb; b++) bufs[i][b] = (uint8_t)(i * 31 + b * 7 + 1);
        snprintf(names[i], sizeof(names[i]), "model.t%d.%s", i, sc_st_dtype_name(dt));
        ts[i] = (sc_st_write_tensor){names[i], dt, nd, shapes[i], bufs[i], nb};
    }
    const char *path = tpath("all.safetensors");
    assert_int_equal(sc_safetensors_write(path, ts, N, "{\"format\": \"pt\", \"note\": \"x\"}"), SC_OK);

    /* The reference layout: 8-byte aligned data region. */
    FILE *f = fopen(path, "rb");
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, f), 8);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    assert_int_equal(hlen % 8, 0);

    sc_safetensors_t *st = open_ok(path);
    assert_int_equal(sc_safetensors_count(st), N);
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        const sc_st_tensor *t = sc_safetensors_find(st, names[i]);
        assert_non_null(t);
        assert_string_equal(t->name, names[i]);
        assert_int_equal(t->dtype, ts[i].dtype);
        assert_int_equal(t->ndims, ts[i].ndims);
        for (int d = 0; d < t->ndims; d++) assert_int_equal(t->shape[d], shapes[i][d]);
        assert_int_equal(t->nbytes, ts[i].nbytes);
        if (t->nbytes) assert_memory_equal(t->data, bufs[i], t->nbytes);
        /* largest dtype first means every tensor is aligned to its element */
        assert_int_equal((uintptr_t)t->data % sc_st_dtype_size(t->dtype), 0);
        assert_string_equal(t->file, path);
        total += t->nbytes;
    }
    assert_int_equal(sc_safetensors_total_bytes(st), total);
    /* at(): data-offset order within the file */
    for (int i = 1; i < N; i++)
        assert_true((const uint8_t *)sc_safetensors_at(st, i)->data >= (const uint8_t *)sc_safetensors_at(st, i - 1)->data);
    assert_null(sc_safetensors_at(st, N));
    assert_null(sc_safetensors_at(st, -1));
    assert_null(sc_safetensors_find(st, "model.t0"));
    assert_null(sc_safetensors_find(st, ""));
    sc_safetensors_close(st);
    for (int i = 0; i < N; i++) free(bufs[i]);
}

/* Thousands of tensors: every one found through the hash. */
static void test_many_tensors(void **state) {
    enum { N = 5000 };
    sc_st_write_tensor *ts = calloc(N, sizeof(*ts));
    char (*names)[64] = calloc(N, 64);
    static const int64_t shape[1] = {2};
    uint16_t *vals = calloc(N * 2, sizeof(uint16_t));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 64, "model.layers.%d.mlp.experts.%d.up_proj.weight", i / 128, i % 128);
        vals[2 * i] = (uint16_t)i, vals[2 * i + 1] = (uint16_t)~i;
        ts[i] = (sc_st_write_tensor){names[i], SC_ST_BF16, 1, shape, &vals[2 * i], 4};
    }
    assert_int_equal(sc_safetensors_write(tpath("many.safetensors"), ts, N, NULL), SC_OK);
    sc_safetensors_t *st = open_ok(tpath("many.safetensors"));
    assert_int_equal(sc_safetensors_count(st), N);
    for (int i = 0; i < N; i++) {
        const sc_st_tensor *t = sc_safetensors_find(st, names[i]);
        assert_non_null(t);
        assert_memory_equal(t->data, &vals[2 * i], 4);
    }
    assert_int_equal(sc_safetensors_total_bytes(st), 4 * N);
    sc_safetensors_close(st);
    free(ts), free(names), free(vals);
}

static void test_valid_edge_cases(void **state) {
    sc_safetensors_t *st;
    /* no tensors at all, only metadata; header padded with spaces */
    write_raw(tpath("empty.safetensors"), "{\"__metadata__\": {\"a\": \"b\"}}     ", 0);
    st = open_ok(tpath("empty.safetensors"));
    assert_int_equal(sc_safetensors_count(st), 0);
    assert_null(sc_safetensors_find(st, "x"));
    sc_safetensors_close(st);
    /* empty tensors may sit anywhere, even inside another's range; holes
     * and trailing bytes are tolerated; unknown entry keys are ignored */
    write_raw(tpath("edge.safetensors"),
              "{\"b\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [4, 4]},"
              " \"a\": {\"dtype\": \"I8\", \"shape\": [8], \"data_offsets\": [0, 8], \"extra\": 1},"
              " \"c\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [12, 13]}}",
              20);
    st = open_ok(tpath("edge.safetensors"));
    assert_int_equal(sc_safetensors_count(st), 3);
    assert_string_equal(sc_safetensors_at(st, 0)->name, "a");
    assert_string_equal(sc_safetensors_at(st, 1)->name, "b");
    assert_string_equal(sc_safetensors_at(st, 2)->name, "c");
    assert_int_equal(sc_safetensors_find(st, "c")->ndims, 0);
    assert_int_equal(sc_safetensors_total_bytes(st), 9);
    sc_safetensors_close(st);
}

static void test_bad_headers(void **state) {
    static const struct {
        const char *header;
        size_t data_len;
        int code;
        const char *tensor; /* must appear in the error (or NULL) */
        const char *msg;
    } cases[] = {
        {"{", 0, SC_EFORMAT, NULL, "not valid JSON"},
        {"{\"a\": 1,\n \"b\": }", 0, SC_EFORMAT, NULL, "line 2"},
        {"[1, 2]", 0, SC_EFORMAT, NULL, "not a JSON object"},
        {"", 0, SC_EFORMAT, NULL, "JSON"},
        {"{\"w\": 5}", 0, SC_EFORMAT, "w", "not an object"},
        {"{\"w\": {\"dtype\": \"F4\", \"shape\": [2], \"data_offsets\": [0, 1]}}", 1, SC_ENOTSUP, "w", "F4"},
        {"{\"w\": {\"dtype\": 3, \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "dtype"},
        {"{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "dtype"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": 2, \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "shape"},
        {"{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "shape"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "shape[0]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1, 2.0], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "shape[1]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "shape[0]"},
        {"{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}}", 1, SC_ENOTSUP, "w",
         "dims"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 8], \"data_offsets\": [0, 8]}}", 8,
         SC_EOVERFLOW, "w", "overflow"},
        {"{\"w\": {\"dtype\": \"F64\", \"shape\": [4611686018427387904], \"data_offsets\": [0, 8]}}", 8, SC_EOVERFLOW,
         "w", "overflow"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, SC_EFORMAT, "w", "span"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, SC_EFORMAT, "w", "begin"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 8, SC_EFORMAT, "w", "data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8, 9]}}", 8, SC_EFORMAT, "w",
         "data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}", 8, SC_EFORMAT, "w",
         "data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0.0, 8]}}", 8, SC_EFORMAT, "w",
         "data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": \"0-8\"}}", 8, SC_EFORMAT, "w",
         "data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 8, SC_ETRUNC, "w", "truncated"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 15, SC_ETRUNC, "w", "truncated"},
        {"{\"first\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"second\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
         12, SC_EFORMAT, "second", "overlaps tensor first"},
        {"{\"a\": {\"dtype\": \"U8\", \"shape\": [16], \"data_offsets\": [0, 16]},"
         " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [4, 6]}}",
         16, SC_EFORMAT, "b", "overlaps tensor a"},
        {"{\"same\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]},"
         " \"same2\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}",
         2, SC_EFORMAT, "same2", "overlaps tensor same"},
        {"{\"model.layers.17.self_attn.q_proj.weight\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
         " \"model.layers.17.self_attn.q_proj.weight\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
         2, SC_EFORMAT, "model.layers.17.self_attn.q_proj.weight", "duplicate"},
        {"{\"q\\\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
         " \"q\\\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
         2, SC_EFORMAT, "q\\\"x", "duplicate"},
        {"{\"__metadata__\": [\"a\"]}", 0, SC_EFORMAT, "__metadata__", "object"},
        {"{\"__metadata__\": {\"format\": 1}}", 0, SC_EFORMAT, "format", "not a string"},
        {"{\"w\\u0000x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1, SC_EFORMAT, NULL, "JSON"},
        {"{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}} trailing", 1, SC_EFORMAT, NULL, "JSON"},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        char name[64];
        snprintf(name, sizeof(name), "bad%02zu.safetensors", i);
        const char *p = tpath(name);
        write_raw(p, cases[i].header, cases[i].data_len);
        open_bad(p, cases[i].code, name, cases[i].tensor, cases[i].msg);
    }
}

static void test_bad_lengths(void **state) {
    const char *p = tpath("len.safetensors");
    write_bytes(p, "\x02\0\0", 3);
    open_bad(p, SC_ETRUNC, "len.safetensors", "shorter than", NULL);
    write_bytes(p, "", 0);
    open_bad(p, SC_ETRUNC, "len.safetensors", NULL, NULL);
    write_raw_len(p, (uint64_t)200 << 20, "{}", 0); /* over the 100 MiB cap */
    open_bad(p, SC_EFORMAT, "len.safetensors", "limit", NULL);
    write_raw_len(p, UINT64_MAX, "{}", 0);
    open_bad(p, SC_EFORMAT, "len.safetensors", "limit", NULL);
    write_raw_len(p, 1000, "{}", 0); /* more than the file holds */
    open_bad(p, SC_ETRUNC, "len.safetensors", "truncated", NULL);
    write_raw_len(p, 0, "", 0);
    open_bad(p, SC_EFORMAT, "len.safetensors", "JSON", NULL);
}

/* Every proper prefix of a valid file is refused (never a crash, never a
 * tensor pointing past the end). */
static void test_every_truncation(void **state) {
    static const int64_t s1[2] = {3, 5}, s2[1] = {7};
    float a[15];
    uint8_t b[7];
    for (int i = 0; i < 15; i++) a[i] = (float)i;
    for (int i = 0; i < 7; i++) b[i] = (uint8_t)i;
    sc_st_write_tensor ts[2] = {{"a.weight", SC_ST_F32, 2, s1, a, sizeof(a)}, {"b.bias", SC_ST_U8, 1, s2, b, 7}};
    const char *full = tpath("full.safetensors"), *cut = tpath("cut.safetensors");
    assert_int_equal(sc_safetensors_write(full, ts, 2, "{\"format\":\"pt\"}"), SC_OK);
    FILE *f = fopen(full, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 100 && n < sizeof(buf));
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, buf, len);
        sc_safetensors_t *st = (sc_safetensors_t *)(uintptr_t)1;
        char err[512] = "";
        int rc = sc_safetensors_open(cut, &st, err, sizeof(err));
        if (rc >= 0) fail_msg("prefix of %zu/%zu bytes was accepted", len, n);
        assert_null(st);
        assert_non_null(strstr(err, "cut.safetensors"));
    }
    sc_safetensors_close(open_ok(full));
}

static void test_open_args_and_dirs(void **state) {
    sc_safetensors_t *st = NULL;
    char err[512];
    assert_int_equal(sc_safetensors_open(NULL, &st, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_safetensors_open(g_dir, NULL, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_safetensors_open(g_dir, &st, NULL, 0), SC_ENOENT); /* no err buffer is fine */
    open_bad(tpath("nope.safetensors"), SC_ENOENT, "nope.safetensors", NULL, NULL);
    open_bad(g_dir, SC_ENOENT, "model.safetensors.index.json", "model.safetensors", NULL);
    sc_safetensors_close(NULL);
    assert_int_equal(sc_safetensors_count(NULL), 0);
    assert_null(sc_safetensors_find(NULL, "x"));
    assert_int_equal(sc_safetensors_total_bytes(NULL), 0);

    /* a directory holding model.safetensors */
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/single", g_dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    char p[600];
    snprintf(p, sizeof(p), "%s/model.safetensors", sub);
    static const int64_t shape[1] = {1};
    uint8_t one = 1;
    sc_st_write_tensor t = {"x", SC_ST_U8, 1, shape, &one, 1};
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_OK);
    st = open_ok(sub);
    assert_non_null(sc_safetensors_find(st, "x"));
    assert_string_equal(sc_safetensors_find(st, "x")->file, p);
    sc_safetensors_close(st);
}

/* ------------------------------------------------------------------------ */
/* sharded                                                                   */
/* ------------------------------------------------------------------------ */
static const int64_t g_shape2[1] = {2};
static const uint16_t g_vals[4] = {1, 2, 3, 4};

static void make_shard(const char *dir, const char *file, const char *const *names, int n) {
    sc_st_write_tensor ts[8];
    for (int i = 0; i < n; i++) ts[i] = (sc_st_write_tensor){names[i], SC_ST_BF16, 1, g_shape2, g_vals, 4};
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    assert_int_equal(sc_safetensors_write(p, ts, n, "{\"format\":\"pt\"}"), SC_OK);
}

static const char *make_dir(const char *name) {
    const char *d = tpath(name);
    assert_int_equal(mkdir(d, 0755), 0);
    return d;
}

static void write_index(const char *dir, const char *weight_map) {
    char p[600], text[2048];
    snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
    snprintf(text, sizeof(text), "{\"metadata\": {\"total_size\": 16}, \"weight_map\": %s}", weight_map);
    write_str(p, text);
}

static void test_sharded_ok(void **state) {
    char d[512];
    snprintf(d, sizeof(d), "%s", make_dir("sharded"));
    const char *s1[] = {"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"};
    const char *s2[] = {"lm_head.weight", "model.norm.weight"};
    make_shard(d, "model-00001-of-00002.safetensors", s1, 2);
    make_shard(d, "model-00002-of-00002.safetensors", s2, 2);
    /* a stale single file next to the index must be ignored */
    make_shard(d, "model.safetensors", s2, 1);
    write_index(d, "{\"lm_head.weight\": \"model-00002-of-00002.safetensors\","
                   " \"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\","
                   " \"model.layers.0.mlp.up_proj.weight\": \"model-00001-of-00002.safetensors\","
                   " \"model.norm.weight\": \"model-00002-of-00002.safetensors\"}");
    char idx[600];
    snprintf(idx, sizeof(idx), "%s/model.safetensors.index.json", d);
    for (int k = 0; k < 2; k++) {
        sc_safetensors_t *st = open_ok(k ? idx : d);
        assert_int_equal(sc_safetensors_count(st), 4);
        assert_int_equal(sc_safetensors_total_bytes(st), 16);
        const sc_st_tensor *t = sc_safetensors_find(st, "lm_head.weight");
        assert_non_null(t);
        assert_non_null(strstr(t->file, "model-00002-of-00002.safetensors"));
        assert_memory_equal(t->data, g_vals, 4);
        t = sc_safetensors_find(st, "model.embed_tokens.weight");
        assert_non_null(strstr(t->file, "model-00001-of-00002.safetensors"));
        /* shard order: the first shard's tensors first */
        assert_non_null(strstr(sc_safetensors_at(st, 0)->file, "00001"));
        sc_safetensors_close(st);
    }
}

static void test_sharded_bad(void **state) {
    char d[512];
    snprintf(d, sizeof(d), "%s", make_dir("shbad"));
    const char *a[] = {"t.a", "t.b"}, *b[] = {"t.c", "t.b"}, *c[] = {"t.c"};
    make_shard(d, "a.safetensors", a, 2);
    make_shard(d, "b.safetensors", b, 2);
    make_shard(d, "c.safetensors", c, 1);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/sub", d);
    assert_int_equal(mkdir(sub, 0755), 0);
    make_shard(sub, "s.safetensors", c, 1);

    /* shards in a subdirectory are fine */
    write_index(d, "{\"t.c\": \"sub/s.safetensors\"}");
    sc_safetensors_close(open_ok(d));

    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.x\": \"missing.safetensors\"}");
    open_bad(d, SC_ENOENT, "missing.safetensors", "model.safetensors.index.json", NULL);
    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.z\": \"a.safetensors\"}");
    open_bad(d, SC_EFORMAT, "t.z", "a.safetensors", "not found");
    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.c\": \"a.safetensors\", \"t.q\": \"c.safetensors\"}");
    open_bad(d, SC_EFORMAT, "t.c", "listed in shard \"a.safetensors\" but found in \"c.safetensors\"", NULL);
    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.c\": \"b.safetensors\"}"); /* t.b is in both */
    open_bad(d, SC_EFORMAT, "t.b", "two shards", "b.safetensors");
    write_index(d, "{\"t.a\": \"../a.safetensors\"}");
    open_bad(d, SC_EFORMAT, "../a.safetensors", "t.a", NULL);
    write_index(d, "{\"t.a\": \"sub/../../a.safetensors\"}");
    open_bad(d, SC_EFORMAT, "sub/../../a.safetensors", NULL, NULL);
    write_index(d, "{\"t.a\": \"..\"}");
    open_bad(d, SC_EFORMAT, "..", NULL, NULL);
    write_index(d, "{\"t.a\": \"/etc/passwd\"}");
    open_bad(d, SC_EFORMAT, "/etc/passwd", NULL, NULL);
    write_index(d, "{\"t.a\": \"\"}");
    open_bad(d, SC_EFORMAT, "t.a", NULL, NULL);
    write_index(d, "{\"t.a\": 3}");
    open_bad(d, SC_EFORMAT, "t.a", "not a string", NULL);
    write_index(d, "{}");
    open_bad(d, SC_EFORMAT, "weight_map", NULL, NULL);
    write_index(d, "[]");
    open_bad(d, SC_EFORMAT, "weight_map", NULL, NULL);
    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.a\": \"a.safetensors\"}");
    open_bad(d, SC_EFORMAT, "duplicate key \"t.a\"", "index.json", NULL);
    write_index(d, "{\"t.a\": \"sub\"}"); /* a directory is not a shard */
    open_bad(d, SC_EFORMAT, "not a regular file", NULL, NULL);
    write_index(d, "{\"t.a\": \"model.safetensors.index.json\"}");
    open_bad(d, SC_EFORMAT, "limit", NULL, NULL);

    char p[600];
    snprintf(p, sizeof(p), "%s/model.safetensors.index.json", d);
    write_str(p, "{\"weight_map\": {\"t.a\": \"a.safetensors\",}}");
    open_bad(d, SC_EFORMAT, "index.json", "line 1", NULL);
    write_str(p, "{\"metadata\": 7, \"weight_map\": {\"t.a\": \"a.safetensors\"}}");
    open_bad(d, SC_EFORMAT, "metadata", NULL, NULL);
    /* a corrupt shard: the error names the shard and the tensor */
    write_raw(tpath("shbad/bad.safetensors"), "{\"t.k\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
              8);
    write_index(d, "{\"t.a\": \"a.safetensors\", \"t.k\": \"bad.safetensors\"}");
    open_bad(d, SC_EFORMAT, "bad.safetensors", "t.k", NULL);
}

static void quiet_sink(sc_log_level level, const char *who, const char *msg, void *user) {
    (void)level, (void)who, (void)msg;
    (*(int *)user)++;
}

static void test_write_errors(void **state) {
    int n_logged = 0;
    sc_log_set_sink(quiet_sink, &n_logged); /* the writer logs why it refuses */
    static const int64_t shape[1] = {2};
    static const int64_t neg[1] = {-2};
    uint8_t v[2] = {0};
    const char *p = tpath("w.safetensors");
    sc_st_write_tensor ok = {"x", SC_ST_U8, 1, shape, v, 2};
    sc_st_write_tensor t;
    assert_int_equal(sc_safetensors_write(NULL, &ok, 1, NULL), SC_EINVAL);
    assert_int_equal(sc_safetensors_write(p, NULL, 1, NULL), SC_EINVAL);
    assert_int_equal(sc_safetensors_write(p, &ok, -1, NULL), SC_EINVAL);
    t = ok, t.nbytes = 3;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.dtype = SC_ST_DTYPE_COUNT;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.name = "__metadata__";
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.name = NULL;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.shape = neg;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.ndims = 9;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    t = ok, t.data = NULL;
    assert_int_equal(sc_safetensors_write(p, &t, 1, NULL), SC_EINVAL);
    sc_st_write_tensor two[2] = {ok, ok};
    assert_int_equal(sc_safetensors_write(p, two, 2, NULL), SC_EINVAL);
    assert_int_equal(sc_safetensors_write(p, &ok, 1, "{\"a\": 1}"), SC_EINVAL);
    assert_int_equal(sc_safetensors_write(p, &ok, 1, "[]"), SC_EINVAL);
    assert_int_equal(sc_safetensors_write(p, &ok, 1, "{"), SC_EINVAL);
    assert_int_equal(access(p, F_OK), -1); /* nothing was written */
    assert_int_equal(sc_safetensors_write(tpath("no/such/dir/w.safetensors"), &ok, 1, NULL), SC_EIO);
    assert_int_equal(n_logged, 12); /* one line per refusal after the argument checks */
    sc_log_set_sink(NULL, NULL);
    /* zero tensors is a valid file */
    assert_int_equal(sc_safetensors_write(p, NULL, 0, NULL), SC_OK);
    sc_safetensors_t *st = open_ok(p);
    assert_int_equal(sc_safetensors_count(st), 0);
    sc_safetensors_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),           cmocka_unit_test(test_roundtrip_every_dtype),
        cmocka_unit_test(test_many_tensors),     cmocka_unit_test(test_valid_edge_cases),
        cmocka_unit_test(test_bad_headers),      cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_every_truncation), cmocka_unit_test(test_open_args_and_dirs),
        cmocka_unit_test(test_sharded_ok),       cmocka_unit_test(test_sharded_bad),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
