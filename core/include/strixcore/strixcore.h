/*
 * strixcore/strixcore.h - the core library's public API (libstrixcore).
 *
 * Plugins do not include this header; they include only <strixcore/plugin.h>,
 * which this header pulls in for the shared types (tensors, ops, errors).
 */
#ifndef STRIXCORE_H
#define STRIXCORE_H

#include <stdio.h>

#include "strixcore/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_VERSION_STRING "0.1.0"

#if defined(STRIXCORE_BUILD)
#define SC_API __attribute__((visibility("default")))
#else
#define SC_API
#endif

/* ------------------------------------------------------------------------ */
/* errors and logging (core/src/error.c, log.c)                              */
/* ------------------------------------------------------------------------ */
SC_API const char *sc_strerror(int err);

typedef enum sc_log_format { SC_LOG_TEXT = 0, SC_LOG_JSON = 1 } sc_log_format;
typedef void (*sc_log_sink)(sc_log_level level, const char *who, const char *msg, void *user);

SC_API void sc_log_set_level(sc_log_level level);
SC_API sc_log_level sc_log_get_level(void);
SC_API void sc_log_set_format(sc_log_format format);
/* Replace the default sink (stderr). NULL restores it. */
SC_API void sc_log_set_sink(sc_log_sink sink, void *user);
SC_API void sc_log(sc_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
SC_API void sc_logv(sc_log_level level, const char *who, const char *fmt, va_list ap);
SC_API int sc_log_level_parse(const char *s, sc_log_level *out);

/* ------------------------------------------------------------------------ */
/* types and numeric helpers (core/src/type.c, fp16.c)                       */
/* ------------------------------------------------------------------------ */
SC_API const char *sc_type_name(int32_t type);
SC_API size_t sc_type_size(int32_t type);   /* 0 for SC_TYPE_QG and unknown types */
SC_API const char *sc_op_name(int32_t op);
SC_API float sc_f16_to_f32(uint16_t h);
SC_API uint16_t sc_f32_to_f16(float f);     /* round to nearest even */
SC_API float sc_bf16_to_f32(uint16_t b);
SC_API uint16_t sc_f32_to_bf16(float f);    /* round to nearest even, NaN kept */

/* ------------------------------------------------------------------------ */
/* tensor helpers (core/src/tensor.c, quant.c)                               */
/* ------------------------------------------------------------------------ */
SC_API int64_t sc_tensor_nelements(const sc_tensor *t);
SC_API size_t sc_tensor_nbytes(const sc_tensor *t);
SC_API bool sc_tensor_is_contiguous(const sc_tensor *t);
SC_API int sc_tensor_ndims(const sc_tensor *t);
SC_API bool sc_tensor_same_shape(const sc_tensor *a, const sc_tensor *b);

/* Fill t->quant and t->nb for a QG tensor of shape [K, N, n_mat]. */
SC_API int sc_quant_layout(sc_tensor *t, uint32_t bits, uint32_t group_size, bool has_gidx);
/* Pack one row of integer codes (K values, each < 2^bits) into `row`. */
SC_API int sc_quant_pack_row(uint32_t bits, int64_t K, const uint8_t *codes, uint8_t *row);
SC_API uint32_t sc_quant_get_code(uint32_t bits, const uint8_t *row, int64_t k);
/* Dequantise row `row` of the matrix whose slab starts at `slab`. */
SC_API int sc_quant_dequant_row(const sc_tensor *t, const void *slab, int64_t row, float *out);

/* ------------------------------------------------------------------------ */
/* contexts: arenas that own tensor descriptors for one graph               */
/* ------------------------------------------------------------------------ */
typedef struct sc_ctx sc_ctx_t;

/* max_tensors: capacity for descriptors (0 picks a default of 4096). */
SC_API sc_ctx_t *sc_ctx_create(size_t max_tensors);
SC_API void sc_ctx_destroy(sc_ctx_t *ctx);
/* Forget every tensor (descriptors only; buffers are not touched). */
SC_API void sc_ctx_reset(sc_ctx_t *ctx);
/* The first error any builder call hit (SC_OK if none). Builders return NULL
 * on error and record the reason here, so a graph can be built without
 * checking every call and checked once at the end. */
SC_API int sc_ctx_error(const sc_ctx_t *ctx);
SC_API const char *sc_ctx_error_msg(const sc_ctx_t *ctx);

/* leaves: contiguous, unallocated */
SC_API sc_tensor *sc_new_tensor(sc_ctx_t *ctx, sc_type type, int ndims, const int64_t *ne);
SC_API sc_tensor *sc_new_tensor_1d(sc_ctx_t *ctx, sc_type type, int64_t ne0);
SC_API sc_tensor *sc_new_tensor_2d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1);
SC_API sc_tensor *sc_new_tensor_3d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1, int64_t ne2);
SC_API sc_tensor *sc_new_tensor_4d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3);
/* A packed group-quantized weight stack [K, N, n_mat]. */
SC_API sc_tensor *sc_new_qtensor(sc_ctx_t *ctx, uint32_t bits, uint32_t group_size, bool has_gidx,
                                 int64_t K, int64_t N, int64_t n_mat);
SC_API void sc_tensor_set_name(sc_tensor *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* views: no data movement; nb given in bytes, offset in bytes. */
SC_API sc_tensor *sc_view(sc_ctx_t *ctx, sc_tensor *a, int ndims, const int64_t *ne, const size_t *nb, size_t offset);
SC_API sc_tensor *sc_reshape(sc_ctx_t *ctx, sc_tensor *a, int ndims, const int64_t *ne); /* a contiguous */
SC_API sc_tensor *sc_permute(sc_ctx_t *ctx, sc_tensor *a, int ax0, int ax1, int ax2, int ax3);

/*
 * Ops. Activations are f32. Shapes below list ne[0] first: [ne0, ne1, ...].
 *
 * get_rows:   table [D, V] (f32/f16/bf16/QG), ids i32 [n] -> f32 [D, n]
 * rms_norm:   x f32 [D, ...], w f32 [D] or NULL -> x / sqrt(mean(x^2) + eps) * w
 * mul_mat:    w [K, N, B2, B3] (f32/f16/bf16/QG), x f32 [K, M, b2, b3] -> f32 [N, M, b2, b3]
 *             out[n, m] = sum_k w[k, n] * x[k, m]; w broadcasts over batch dims
 *             (b2 % B2 == 0, b3 % B3 == 0)
 * mul_mat_id: w [K, N, E] (experts), x f32 [K, X, T] with X == n_used or X == 1,
 *             ids i32 [n_used, T] -> f32 [N, n_used, T]
 *             out[:, i, t] = w[:, :, ids[i, t]] @ x[:, X == 1 ? 0 : i, t]
 * add, mul:   a f32, b f32 broadcast (a->ne[d] % b->ne[d] == 0) -> f32 shape of a
 * scale:      a f32 -> a * s
 * silu:       a f32 -> a * sigmoid(a)
 * swiglu:     gate f32, up f32 (same shape) -> silu(gate) * up
 * rope:       x f32 [head_dim, n_heads, n_tokens], pos i32 [n_tokens] -> same shape.
 *             Non-interleaved ("neox", rotate_half): for i < n_rot/2,
 *             theta = pos * base^(-2i/n_rot), (x[i], x[i + n_rot/2]) rotated by theta;
 *             dims >= n_rot (partial rotary) pass through.
 * softmax:    x f32 [n, ...] -> softmax over ne0 of (x * scale)
 * top_k:      x f32 [n, rows] -> i32 [k, rows], indices of the k largest,
 *             descending by value, ties to the lower index
 * kv_write:   cache [head_dim, n_kv_heads, block_size, n_blocks] (f32/f16/bf16),
 *             src f32 [head_dim, n_kv_heads, n_tokens], block_table i32 [max_blocks, n_seqs],
 *             pos i32 [n_tokens], seq i32 [n_tokens] or NULL (all sequence 0).
 *             Writes token t to slot pos[t] of sequence seq[t]:
 *             block block_table[pos / block_size, seq], row pos % block_size.
 *             Returns a view of `cache` that depends on the write (pass it to attention).
 * attention:  q f32 [head_dim, n_heads, n_tokens], k_cache, v_cache as in kv_write,
 *             block_table, pos, seq as in kv_write -> f32 [head_dim, n_heads, n_tokens].
 *             Query t attends to positions 0..pos[t] of sequence seq[t] (causal);
 *             head h reads kv head h / (n_heads / n_kv_heads) (GQA); softmax(q.k * scale) @ v.
 * argmax:     x f32 [n, rows] -> i32 [rows] (ties to the lower index)
 * cpy:        a (any non-QG type, any strides) -> contiguous tensor of `type`
 *             (a cast when types differ, a "cont" when they match)
 * sigmoid:    a f32 -> 1 / (1 + exp(-a))
 *
 * The two recurrent ops below (Gated DeltaNet layers) keep a fixed-size state
 * per sequence slot and update it IN PLACE. In one call the tokens of a
 * sequence must form one run: consecutive entries of seq with consecutive
 * positions. A run whose first position is 0 starts from a zero state (the
 * stored one is ignored); any other run continues from the stored state. Each
 * slot appears in at most one run per call.
 *
 * ssm_conv:   causal depthwise convolution with silu, kernel Kc.
 *             x f32 [Cg, G, T] (rows contiguous, any nb1/nb2): channel c = g*Cg + i,
 *             C = Cg*G; w f32 [Kc, C] (contiguous); state f32 [C, Kc-1, n_slots]
 *             (contiguous; state[s][j][c] = the input of channel c at position
 *             p0-(Kc-1)+j, p0 the next position of slot s); seq, pos i32 [T]
 *             -> f32 [C, T]:  y[t][c] = silu(sum_j w[c][j] * in_c(pos[t]-(Kc-1)+j)),
 *             in_c(p) = x of the run's token at p for p >= p0, else the state (a run
 *             starting at p0 = 0 reads zeros: it starts from a zero state).
 *             Afterwards state[s] holds the inputs of the last Kc-1 positions.
 * gated_delta_net: the gated delta rule (Qwen3-Next linear attention), per
 *             value head h of nv, in key-head group g = h / r (r = nv / nk):
 *             qkv f32 [nk*(2*dk + r*dv), T] (rows contiguous), per group g the
 *               channels [q_g (dk) | k_g (dk) | v of heads g*r .. g*r+r-1 (r*dv)];
 *             ba f32 [2*nv, T] (rows contiguous), per group g [b of its r heads | a of them];
 *             ad f32 [nv, 2]: row 0 A_log, row 1 dt_bias;
 *             state f32 [dv, dk, nv, n_slots] (contiguous; S[s][h][i][j], i < dk, j < dv);
 *             seq, pos i32 [T]; nk = op param 0, eps = op param 1 -> f32 [dv, nv, T].
 *             Per token, in order:  q = q_g / sqrt(|q_g|^2 + eps) / sqrt(dk),
 *             k = k_g / sqrt(|k_g|^2 + eps), beta = sigmoid(b_h),
 *             decay = exp(-exp(A_log[h]) * softplus(a_h + dt_bias[h])),
 *             S = S * decay;  S += outer(k, (v_h - S^T k) * beta);  o_h = S^T q.
 */
SC_API sc_tensor *sc_get_rows(sc_ctx_t *ctx, sc_tensor *table, sc_tensor *ids);
SC_API sc_tensor *sc_rms_norm(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *w, float eps);
SC_API sc_tensor *sc_mul_mat(sc_ctx_t *ctx, sc_tensor *w, sc_tensor *x);
SC_API sc_tensor *sc_mul_mat_id(sc_ctx_t *ctx, sc_tensor *w, sc_tensor *x, sc_tensor *ids);
SC_API sc_tensor *sc_add(sc_ctx_t *ctx, sc_tensor *a, sc_tensor *b);
SC_API sc_tensor *sc_mul(sc_ctx_t *ctx, sc_tensor *a, sc_tensor *b);
SC_API sc_tensor *sc_scale(sc_ctx_t *ctx, sc_tensor *a, float s);
SC_API sc_tensor *sc_silu(sc_ctx_t *ctx, sc_tensor *a);
SC_API sc_tensor *sc_swiglu(sc_ctx_t *ctx, sc_tensor *gate, sc_tensor *up);
SC_API sc_tensor *sc_rope(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *pos, int n_rot, float base);
SC_API sc_tensor *sc_softmax(sc_ctx_t *ctx, sc_tensor *x, float scale);
SC_API sc_tensor *sc_top_k(sc_ctx_t *ctx, sc_tensor *x, int k);
SC_API sc_tensor *sc_kv_write(sc_ctx_t *ctx, sc_tensor *cache, sc_tensor *src, sc_tensor *block_table,
                              sc_tensor *pos, sc_tensor *seq);
SC_API sc_tensor *sc_attention(sc_ctx_t *ctx, sc_tensor *q, sc_tensor *k_cache, sc_tensor *v_cache,
                               sc_tensor *block_table, sc_tensor *pos, sc_tensor *seq, float scale);
SC_API sc_tensor *sc_argmax(sc_ctx_t *ctx, sc_tensor *x);
SC_API sc_tensor *sc_cpy(sc_ctx_t *ctx, sc_tensor *a, sc_type type);
SC_API sc_tensor *sc_sigmoid(sc_ctx_t *ctx, sc_tensor *a);
SC_API sc_tensor *sc_ssm_conv(sc_ctx_t *ctx, sc_tensor *x, sc_tensor *w, sc_tensor *state, sc_tensor *seq,
                              sc_tensor *pos);
SC_API sc_tensor *sc_gated_delta_net(sc_ctx_t *ctx, sc_tensor *qkv, sc_tensor *ba, sc_tensor *ad, sc_tensor *state,
                                     sc_tensor *seq, sc_tensor *pos, int nk, float eps);

/* ------------------------------------------------------------------------ */
/* graphs                                                                    */
/* ------------------------------------------------------------------------ */
typedef struct sc_graph {
    sc_tensor **nodes;   /* topological order: every node after its sources */
    int n_nodes;
    sc_tensor **leafs;   /* SC_OP_NONE tensors the nodes read */
    int n_leafs;
    int capacity;
} sc_graph_t;

SC_API sc_graph_t *sc_graph_create(int capacity);
SC_API void sc_graph_destroy(sc_graph_t *g);
SC_API void sc_graph_reset(sc_graph_t *g);
/* Add `out` and everything it depends on, depth first (marks out OUTPUT). */
SC_API int sc_graph_expand(sc_graph_t *g, sc_tensor *out);
SC_API void sc_graph_print(const sc_graph_t *g, FILE *f);

/* ------------------------------------------------------------------------ */
/* plugins, registry and devices (core/src/registry.c, plugin_loader.c)     */
/* ------------------------------------------------------------------------ */
typedef struct sc_registry sc_registry_t;
typedef struct sc_device sc_device_t;
typedef struct sc_buffer sc_buffer_t;

typedef enum sc_plugin_status {
    SC_PLUGIN_LOADED = 0,   /* initialised and usable */
    SC_PLUGIN_UNUSABLE,     /* loaded, but its probe scored 0 on this machine */
    SC_PLUGIN_REJECTED,     /* failed to load, probe, negotiate or init */
} sc_plugin_status;

typedef struct sc_plugin_record {
    char path[1024];          /* "(built-in)" for the CPU backend */
    sc_plugin_desc desc;      /* what the probe said (zeroed if it never ran) */
    sc_plugin_status status;
    int error;                /* SC_E* when rejected */
    char reason[512];         /* why rejected / unusable, or empty */
    uint32_t abi_minor;       /* agreed minor */
    int n_devices;
} sc_plugin_record;

typedef struct sc_registry_opts {
    size_t struct_size;
    const char *const *search_paths; /* extra directories (config file, CLI), NULL-terminated */
    bool no_env;                     /* ignore STRIXCORE_PLUGIN_PATH */
    bool no_default_paths;           /* skip the install and build-tree plugin dirs */
} sc_registry_opts;

/* Scan the search path, load every plugin found, keep those that work.
 * Never fails because of a bad plugin: that plugin is recorded and skipped. */
SC_API int sc_registry_create(const sc_registry_opts *opts, sc_registry_t **out);
SC_API void sc_registry_destroy(sc_registry_t *reg);
/* Load one plugin file explicitly (also what the scan does per file). */
SC_API int sc_registry_load(sc_registry_t *reg, const char *path);
SC_API int sc_registry_plugin_count(const sc_registry_t *reg);
SC_API const sc_plugin_record *sc_registry_plugin(const sc_registry_t *reg, int i);
SC_API int sc_registry_device_count(const sc_registry_t *reg);
SC_API sc_device_t *sc_registry_device(const sc_registry_t *reg, int i);
/* "cpu", "example", "hip0", or a backend name (its first device). */
SC_API sc_device_t *sc_registry_find_device(const sc_registry_t *reg, const char *name);
/* `--backend auto|NAME`: the best device by probe score (CPU last resort). */
SC_API sc_device_t *sc_registry_pick(const sc_registry_t *reg, const char *backend);
/* The loaded frontend plugin called `name` (its probe name, e.g. "openai"):
 * its checked table, and its context in *ctx (may be NULL). NULL when no
 * loaded frontend has that name. The table lives as long as the registry. */
SC_API const sc_frontend_iface *sc_registry_frontend(const sc_registry_t *reg, const char *name, void **ctx);

SC_API const char *sc_device_name(const sc_device_t *dev);
SC_API const char *sc_device_backend_name(const sc_device_t *dev);
SC_API int sc_device_get_props(const sc_device_t *dev, sc_device_props *props);
SC_API bool sc_device_supports_op(sc_device_t *dev, const sc_tensor *node);
SC_API bool sc_device_offload_op(sc_device_t *dev, const sc_tensor *node);
/* Kernel tuning (the backend's tune_query / tune_set; core/src/tune.c is
 * the tuner): the node's tuning key and variants, SC_ENOTSUP when it is not
 * tunable (or the backend does not tune); install a choice (variant NULL:
 * back to the default). Tests and backend-ops use these directly. */
SC_API int sc_device_tune_query(sc_device_t *dev, const sc_tensor *node, sc_tune_info *info);
SC_API int sc_device_tune_set(sc_device_t *dev, const char *key, const char *variant);

/* Buffers live on one device. */
SC_API int sc_buffer_create(sc_device_t *dev, size_t size, sc_buffer_t **out);
SC_API void sc_buffer_destroy(sc_buffer_t *buf);
SC_API size_t sc_buffer_size(const sc_buffer_t *buf);
SC_API size_t sc_buffer_alignment(const sc_buffer_t *buf);
SC_API sc_device_t *sc_buffer_device(const sc_buffer_t *buf);
SC_API void *sc_buffer_host_ptr(const sc_buffer_t *buf);
/* Place tensor t at `offset` inside buf (offset aligned, bytes in range). */
SC_API int sc_tensor_alloc(sc_buffer_t *buf, sc_tensor *t, size_t offset);
/* Allocate a buffer big enough for the given tensors and place them in it. */
SC_API int sc_alloc_tensors(sc_device_t *dev, sc_tensor **ts, int n, sc_buffer_t **out);
SC_API int sc_tensor_set(sc_tensor *t, const void *data, size_t offset, size_t size);
SC_API int sc_tensor_get(const sc_tensor *t, void *data, size_t offset, size_t size);

/* The built-in CPU backend (always present in a registry). */
SC_API const sc_backend_iface *sc_cpu_backend_iface(void);
SC_API void sc_cpu_set_threads(int n_threads); /* 0: one per online core */

/* ------------------------------------------------------------------------ */
/* scheduler (core/src/sched.c)                                              */
/* ------------------------------------------------------------------------ */
typedef struct sc_sched sc_sched_t;

/* devs: in priority order (at most 16). Put a CPU device last as the fallback:
 * a node that no listed device supports fails the plan with SC_ENOTSUP. */
SC_API int sc_sched_create(sc_device_t *const *devs, int n_devs, sc_sched_t **out);
SC_API void sc_sched_destroy(sc_sched_t *s);
/* Place every node, insert cross-device copies, plan and reuse intermediate
 * memory. Nodes whose tensor is already allocated keep their memory. A graph
 * identical to the last one planned in everything but memory contents (ops,
 * shapes, strides, params, flags, sources; leaves at the same addresses: the
 * next decode step) gets the last plan again, rebound to its tensors. */
SC_API int sc_sched_plan(sc_sched_t *s, sc_graph_t *g);
/* plan (if g changed) and run. */
SC_API int sc_sched_compute(sc_sched_t *s, sc_graph_t *g);
/* Where the last plan put each node and why; copies and memory use. */
SC_API void sc_sched_dump(const sc_sched_t *s, FILE *f);
SC_API sc_device_t *sc_sched_node_device(const sc_sched_t *s, const sc_tensor *node);
SC_API const char *sc_sched_node_reason(const sc_sched_t *s, const sc_tensor *node);
SC_API int sc_sched_n_copies(const sc_sched_t *s);
SC_API size_t sc_sched_arena_size(const sc_sched_t *s, const sc_device_t *dev);
/* How many sc_sched_plan calls reused the previous plan (see above). */
SC_API int sc_sched_n_reused(const sc_sched_t *s);

/* ------------------------------------------------------------------------ */
/* config file (core/src/config.c): `key = value` lines, # comments          */
/* ------------------------------------------------------------------------ */
typedef struct sc_config sc_config_t;
SC_API int sc_config_load(const char *path, sc_config_t **out, char *err, size_t err_len);
SC_API int sc_config_parse(const char *text, size_t len, sc_config_t **out, char *err, size_t err_len);
SC_API void sc_config_destroy(sc_config_t *cfg);
/* Last value of key, or NULL. */
SC_API const char *sc_config_get(const sc_config_t *cfg, const char *key);
/* Every value of a repeatable key (e.g. plugin_path), in file order. */
SC_API int sc_config_get_all(const sc_config_t *cfg, const char *key, const char **vals, int max);

#ifdef __cplusplus
}
#endif

#endif /* STRIXCORE_H */
