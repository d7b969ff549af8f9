/*
 * strixcore/plugin.h - the one header a strixcore plugin needs.
 *
 * A plugin is a shared object that exports exactly two symbols:
 *
 *   int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc);
 *   int strixcore_plugin_init (const sc_host_api *host, uint32_t abi_minor,
 *                              const sc_plugin_iface **iface, void **ctx);
 *
 * The core dlopen()s the object with RTLD_NOW | RTLD_LOCAL, calls probe, checks
 * the ABI major, agrees the minor (the lower of the two sides), and only then
 * calls init with the agreed minor. Plugins link nothing from the core: every
 * service they need (logging, allocation, tensor helpers) comes through the
 * host-API table.
 *
 * ABI rules (docs/plugin-abi.md explains them at length):
 *  - SC_ABI_MAJOR changes only when an existing field or meaning changes.
 *  - Every table starts with `struct_size`. Fields are only ever appended; a
 *    reader never touches a field that lies past the writer's struct_size
 *    (use SC_HAS_FIELD). A NULL function pointer means "not supported".
 *  - Enumerations (dtypes, ops) only grow. A backend that meets an op or dtype
 *    it does not know answers `false` from supports_op; nothing breaks.
 *  - Tensors are owned by the core and passed by pointer; their layout only
 *    grows at the end, so a plugin built against an older header reads a
 *    prefix of what the core wrote.
 *
 * Tensor convention (the ggml one): ne[0] is the innermost, contiguous
 * dimension. A shape comment such as [n_tokens, n_heads, head_dim] lists
 * dimensions outermost first, i.e. ne[2]=n_tokens, ne[1]=n_heads, ne[0]=head_dim.
 */
#ifndef STRIXCORE_PLUGIN_H
#define STRIXCORE_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_ABI_MAJOR 1
#define SC_ABI_MINOR 3 /* 1: format plugins (sc_format_iface, sc_ckpt_reader); 2: frontends (sc_frontend_iface, sc_serve_api);
                          3: kernel tuning (sc_backend_iface.tune_query / tune_set, sc_device_props.driver) */

#define SC_PLUGIN_PROBE_SYMBOL "strixcore_plugin_probe"
#define SC_PLUGIN_INIT_SYMBOL  "strixcore_plugin_init"

#if defined(_WIN32)
#define SC_PLUGIN_EXPORT __declspec(dllexport)
#else
#define SC_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* True when `field` of the struct at `p` lies inside p->struct_size. */
#define SC_HAS_FIELD(p, type, field) \
    ((p) != NULL && (p)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ------------------------------------------------------------------------ */
/* Errors: negative codes from one table. sc_strerror() maps them to text.   */
/* ------------------------------------------------------------------------ */
#define SC_ERROR_TABLE(X)                                              \
    X(SC_OK,        0,   "success")                                    \
    X(SC_EINVAL,   -1,   "invalid argument")                           \
    X(SC_ENOMEM,   -2,   "out of memory")                              \
    X(SC_ENOTSUP,  -3,   "not supported")                              \
    X(SC_EIO,      -4,   "input/output error")                         \
    X(SC_ENOENT,   -5,   "not found")                                  \
    X(SC_EFORMAT,  -6,   "malformed data")                             \
    X(SC_EABI,     -7,   "plugin ABI mismatch")                        \
    X(SC_EPLUGIN,  -8,   "plugin failed")                              \
    X(SC_EBACKEND, -9,   "backend failure")                            \
    X(SC_ERANGE,   -10,  "value out of range")                         \
    X(SC_ESTATE,   -11,  "invalid state")                              \
    X(SC_EOVERFLOW,-12,  "size overflow")                              \
    X(SC_ETRUNC,   -13,  "truncated data")

enum sc_error {
#define SC_X_ENUM(name, code, text) name = code,
    SC_ERROR_TABLE(SC_X_ENUM)
#undef SC_X_ENUM
};

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */
/* ------------------------------------------------------------------------ */
typedef enum sc_log_level {
    SC_LOG_ERROR = 0,
    SC_LOG_WARN  = 1,
    SC_LOG_INFO  = 2,
    SC_LOG_DEBUG = 3,
} sc_log_level;

/* ------------------------------------------------------------------------ */
/* Data types                                                                */
/* ------------------------------------------------------------------------ */
typedef enum sc_type {
    SC_TYPE_F32  = 0,
    SC_TYPE_F16  = 1,
    SC_TYPE_BF16 = 2,
    SC_TYPE_I32  = 3,
    SC_TYPE_I8   = 4,
    /* Packed group-quantized weight matrix (GPTQ / AWQ / compressed-tensors
     * all convert to it). See sc_quant_info for the layout. */
    SC_TYPE_QG   = 5,
    SC_TYPE_COUNT
} sc_type;

/*
 * SC_TYPE_QG layout. A QG tensor is a stack of ne[2]*ne[3] matrices W of
 * shape [N = ne[1] rows, K = ne[0] columns] (N = out_features, K = in_features).
 * Each matrix occupies one "slab" of nb[2] bytes:
 *
 *   codes  : N rows x row_bytes          (row n at n*row_bytes; nb[1] == row_bytes)
 *            code k of a row sits at bit offset bits*k of the row, little-endian
 *            (byte k*bits/8 ...), the dense bitstream GPTQ and compressed-tensors
 *            use. row_bytes = ceil(K*bits/32)*4.
 *   scales : f16 [N, G] at scales_offset   (row-major: scale of row n, group g
 *            at index n*G + g), G = n_groups = ceil(K / group_size)
 *   zeros  : u8  [N, G] at zeros_offset    (integer zero points, already
 *            de-offset: GPTQ v1's +1 is applied by the loader)
 *   g_idx  : i32 [K] at gidx_offset when SC_QUANT_HAS_GIDX (group of column k);
 *            otherwise group(k) = k / group_size
 *
 * Dequantisation of one weight, matching the Hugging Face reference paths:
 *   W[n][k] = fp16( scale[n][g] * (float)(code - zero[n][g]) ),  g = group(k)
 * (SC_QUANT_BF16_ROUND rounds to bf16 instead, as compressed-tensors does.)
 */
enum {
    SC_QUANT_HAS_GIDX   = 1u << 0,
    SC_QUANT_BF16_ROUND = 1u << 1,
};

typedef struct sc_quant_info {
    uint32_t bits;          /* 2, 3, 4 or 8 */
    uint32_t group_size;    /* columns per group (== K for one group per row) */
    uint32_t n_groups;      /* G */
    uint32_t flags;         /* SC_QUANT_* */
    uint64_t row_bytes;     /* bytes of one row of codes */
    uint64_t scales_offset; /* byte offsets inside a slab */
    uint64_t zeros_offset;
    uint64_t gidx_offset;
} sc_quant_info;

/* ------------------------------------------------------------------------ */
/* Ops. Only ever appended. Semantics are defined by the CPU reference        */
/* (backends/cpu/ref_*.c) and summarised in docs/ops.md.                      */
/* ------------------------------------------------------------------------ */
#define SC_OP_TABLE(X)  \
    X(NONE)             \
    X(VIEW)             \
    X(GET_ROWS)         \
    X(RMS_NORM)         \
    X(MUL_MAT)          \
    X(MUL_MAT_ID)       \
    X(ADD)              \
    X(MUL)              \
    X(SCALE)            \
    X(SILU)             \
    X(SWIGLU)           \
    X(ROPE)             \
    X(SOFTMAX)          \
    X(TOP_K)            \
    X(ATTENTION)        \
    X(KV_WRITE)         \
    X(ARGMAX)           \
    X(CPY)              \
    X(SIGMOID)          \
    X(SSM_CONV)         \
    X(GATED_DELTA_NET)

typedef enum sc_op {
#define SC_X_OP(name) SC_OP_##name,
    SC_OP_TABLE(SC_X_OP)
#undef SC_X_OP
    SC_OP_COUNT
} sc_op;

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */
#define SC_MAX_DIMS      4
#define SC_MAX_SRC       6
#define SC_MAX_OP_PARAMS 16
#define SC_MAX_NAME      64

/* The scheduler never places a node's result in memory that an
 * intermediate freed fewer than this many nodes earlier (in the graph's node
 * order) occupied. A backend that computes a run of consecutive nodes as one
 * kernel (fusion) may therefore assume, for runs shorter than this, that no
 * result it writes overlaps an input that another node of the run reads. */
#define SC_SCHED_REUSE_DELAY 32

enum {
    SC_TENSOR_WEIGHT = 1u << 0, /* model parameter: pins its consumers to its backend */
    SC_TENSOR_INPUT  = 1u << 1, /* set by the caller before compute */
    SC_TENSOR_OUTPUT = 1u << 2, /* read by the caller after compute: never reused */
    SC_TENSOR_ONE_HOT = 1u << 3, /* a constant [E, 1, E] stack whose matrix e is row e of the
                                    identity: MUL_MAT_ID over it gathers x[ids] (the MoE
                                    routing weights); backends may compute it as a gather */
};

struct sc_buffer; /* opaque to plugins */

typedef struct sc_tensor {
    int32_t type;                      /* sc_type */
    int32_t op;                        /* sc_op; SC_OP_NONE for leaves */
    int64_t ne[SC_MAX_DIMS];           /* elements per dim, ne[0] innermost */
    size_t  nb[SC_MAX_DIMS];           /* stride in bytes per dim */
    struct sc_tensor *src[SC_MAX_SRC]; /* operands, NULL when absent */
    int32_t op_params[SC_MAX_OP_PARAMS];
    uint32_t flags;                    /* SC_TENSOR_* */

    struct sc_buffer *buffer;          /* where the bytes live (NULL: unallocated) */
    void *data;                        /* address of element 0 in the buffer's
                                          address space (device pointer for GPUs) */
    struct sc_tensor *view_src;        /* tensor whose memory this one views */
    size_t view_offs;                  /* byte offset into view_src */

    sc_quant_info quant;               /* valid when type == SC_TYPE_QG */
    void *extra;                       /* owned by the backend that holds it */
    char name[SC_MAX_NAME];
} sc_tensor;

/* op_params helpers: floats are stored bit-for-bit in the int32 slots. */
static inline float sc_op_param_f32(const sc_tensor *t, int i) {
    union { int32_t i; float f; } u;
    u.i = t->op_params[i];
    return u.f;
}
static inline int32_t sc_op_param_i32(const sc_tensor *t, int i) { return t->op_params[i]; }

/* ------------------------------------------------------------------------ */
/* The host-API table: what the core offers every plugin.                    */
/* ------------------------------------------------------------------------ */
typedef struct sc_host_api {
    size_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;        /* highest minor the core speaks */
    const char *core_version;

    void (*log)(sc_log_level level, const char *who, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void (*logv)(sc_log_level level, const char *who, const char *fmt, va_list ap);

    void *(*malloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void  (*free)(void *p);
    void *(*aligned_alloc)(size_t alignment, size_t size); /* free with aligned_free */
    void  (*aligned_free)(void *p);

    const char *(*strerror)(int err);
    const char *(*type_name)(int32_t type);
    const char *(*op_name)(int32_t op);
    size_t  (*type_size)(int32_t type);          /* bytes per element; 0 for QG */
    int64_t (*tensor_nelements)(const sc_tensor *t);
    size_t  (*tensor_nbytes)(const sc_tensor *t); /* bytes spanned by the tensor */
    bool    (*tensor_is_contiguous)(const sc_tensor *t);

    float    (*f16_to_f32)(uint16_t h);
    uint16_t (*f32_to_f16)(float f);
    float    (*bf16_to_f32)(uint16_t b);
    uint16_t (*f32_to_bf16)(float f);

    /* Dequantise row `row` of matrix `mat` of a QG tensor into K floats. */
    int (*quant_dequant_row)(const sc_tensor *t, const void *slab_base, int64_t row, float *out);
} sc_host_api;

/* ------------------------------------------------------------------------ */
/* Probe: who the plugin is, and whether it can run on this machine.         */
/* ------------------------------------------------------------------------ */
typedef enum sc_plugin_kind {
    SC_PLUGIN_BACKEND  = 1,
    SC_PLUGIN_FORMAT   = 2,
    SC_PLUGIN_FRONTEND = 3,
} sc_plugin_kind;

typedef struct sc_plugin_desc {
    size_t struct_size;      /* set by the core; the plugin writes nothing past it */
    uint32_t abi_major;      /* the plugin's SC_ABI_MAJOR */
    uint32_t abi_minor;      /* in: the core's highest minor; out: the minor the
                                plugin will speak (<= the core's) */
    int32_t kind;            /* sc_plugin_kind */
    int32_t score;           /* 0: unusable here; higher wins for `--backend auto` */
    char name[32];           /* short name: "hip", "vulkan", ... */
    char version[32];
    char description[128];
    char reason[256];        /* why score is 0 (e.g. "no gfx1151 device found") */
} sc_plugin_desc;

/* ------------------------------------------------------------------------ */
/* Backend interface: registry -> device -> stream, with buffer types and    */
/* buffers per device. The scheduler only ever asks supports_op/offload_op.  */
/* ------------------------------------------------------------------------ */
typedef enum sc_device_type {
    SC_DEVICE_CPU  = 0,
    SC_DEVICE_GPU  = 1,
    SC_DEVICE_IGPU = 2, /* integrated GPU sharing system memory (Strix Halo) */
    SC_DEVICE_ACCEL = 3,
} sc_device_type;

typedef struct sc_device_props {
    size_t struct_size;
    char name[64];           /* "cpu", "hip0", ... */
    char description[128];   /* "AMD Radeon 8060S (gfx1151)" */
    int32_t type;            /* sc_device_type */
    uint64_t memory_total;   /* bytes usable by the device, 0 if unknown */
    uint64_t memory_free;
    int32_t n_buffer_types;  /* >= 1; type 0 is the default for weights */
    /* appended (ABI minor 3): the driver / runtime version, part of the
     * tuning cache's device key ("NVIDIA 580.159.04", "ROCm 6.4.1", "Mesa 24.2.8") */
    char driver[64];
} sc_device_props;

typedef struct sc_buffer_type_props {
    size_t struct_size;
    char name[32];           /* "host", "device", "pinned" */
    size_t alignment;        /* base and tensor offsets are multiples of this */
    bool host_visible;       /* buffer_host_ptr() returns a usable pointer */
} sc_buffer_type_props;

#define SC_TUNE_KEY_LEN      160
#define SC_TUNE_NAME_LEN     32
#define SC_TUNE_MAX_VARIANTS 24

/* What a backend says about one tunable node (tune_query, ABI minor 3). */
typedef struct sc_tune_info {
    size_t struct_size;                /* set by the core */
    char key[SC_TUNE_KEY_LEN];         /* [A-Za-z0-9._:=,+-] only: it is a JSON key and a log word */
    int32_t n_variants;                /* 1 .. SC_TUNE_MAX_VARIANTS: valid for this node */
    int32_t default_variant;           /* what the backend runs untuned (the correctness reference) */
    int32_t current;                   /* what it runs now (tune_set's choice, else the default) */
    char variants[SC_TUNE_MAX_VARIANTS][SC_TUNE_NAME_LEN];
} sc_tune_info;

typedef struct sc_backend_iface {
    size_t struct_size;

    /* registry */
    int  (*device_count)(void *ctx);
    int  (*device_props)(void *ctx, int index, sc_device_props *props);
    int  (*device_open)(void *ctx, int index, void **dev);
    void (*device_close)(void *dev);

    /* buffer types and buffers */
    int  (*buffer_type_props)(void *dev, int buft, sc_buffer_type_props *props);
    /* Allocate `size` bytes; *buf is the plugin's handle, *base the address of
     * byte 0 in the device's address space (what tensor->data is built from). */
    int  (*buffer_alloc)(void *dev, int buft, size_t size, void **buf, void **base);
    void (*buffer_free)(void *dev, void *buf);
    int  (*buffer_write)(void *dev, void *buf, size_t offset, const void *src, size_t size);
    int  (*buffer_read)(void *dev, void *buf, size_t offset, void *dst, size_t size);
    void *(*buffer_host_ptr)(void *dev, void *buf);            /* optional */
    int  (*buffer_clear)(void *dev, void *buf, uint8_t value);  /* optional */

    /* placement questions */
    bool (*supports_op)(void *dev, const sc_tensor *node);
    bool (*offload_op)(void *dev, const sc_tensor *node);       /* optional */

    /* execution */
    int  (*stream_create)(void *dev, void **stream);
    void (*stream_destroy)(void *stream);
    /* Compute nodes in order. Every node's inputs and output are allocated
     * on this device. VIEW and NONE nodes carry no work. */
    int  (*graph_compute)(void *stream, sc_tensor *const *nodes, int n_nodes);
    int  (*stream_sync)(void *stream);                          /* optional */

    /* ---- appended (ABI minor 3): kernel tuning. Both optional. ----------
     * A tunable node (a quantized GEMV, a routed-expert GEMM, attention, ...)
     * has a key: the op family and everything the best kernel depends on
     * (types, quant layout, sizes, a bucket of the token count), e.g.
     * "mm.q4g128.gemv:N=5120,K=5120,M=1". Every node with the same key gets
     * the same choice. Its variants are the kernels and launch shapes that
     * compute it (tile sizes, rows per workgroup, split-K, ...); all of them
     * compute the same result within the op's tolerance. The core's tuner
     * (core/src/tune.c) times them on the node's real inputs, checks each
     * against the default variant, and installs the fastest with tune_set;
     * the backend then runs the chosen variant for every node of that key.
     *
     * tune_query: SC_OK and *info filled when the node is tunable on this
     *   device (n_variants >= 1), SC_ENOTSUP otherwise. The core sets
     *   info->struct_size; the plugin writes nothing past it.
     * tune_set: run `variant` (a name from tune_query's list) for nodes of
     *   `key` from now on; variant NULL forgets the key (back to the
     *   default). SC_ENOENT for a variant name the backend does not know for
     *   that key (a stale cache); nothing changes then. A backend that
     *   records command lists (graphs) must not replay one recorded under
     *   another choice. Called between graph_compute calls, never during. */
    int  (*tune_query)(void *dev, const sc_tensor *node, struct sc_tune_info *info);
    int  (*tune_set)(void *dev, const char *key, const char *variant);
} sc_backend_iface;

/* ------------------------------------------------------------------------ */
/* Format interface (ABI minor 1): a checkpoint quantization format          */
/* (GPTQ, AWQ, compressed-tensors, ...) converted into SC_TYPE_QG.            */
/* ------------------------------------------------------------------------ */

/* One checkpoint tensor as the core's reader sees it (safetensors, mmap'd). */
typedef struct sc_ckpt_tensor {
    size_t struct_size;      /* set by the core */
    const char *name;
    const char *dtype;       /* safetensors spelling: "I32", "F16", "BF16", "I64", "F32", ... */
    int32_t ndims;
    int64_t shape[8];        /* outermost first (PyTorch order) */
    const void *data;        /* little-endian, possibly unaligned: read with memcpy */
    size_t nbytes;
} sc_ckpt_tensor;

/* Read access to the checkpoint's tensors, provided by the core. The table
 * and everything it hands out live until the plugin's `close` returns. */
typedef struct sc_ckpt_reader {
    size_t struct_size;
    void *ctx;
    /* SC_OK and *out filled (out->struct_size set by the caller), or SC_ENOENT. */
    int (*find)(void *ctx, const char *name, sc_ckpt_tensor *out);
} sc_ckpt_reader;

/* What a format plugin says about one Linear module. The core zeroes it and
 * sets struct_size; the plugin writes nothing past struct_size. */
typedef struct sc_linear_desc {
    size_t struct_size;
    int32_t quantized;       /* 0: dense, the core loads <module>.weight itself */
    uint32_t bits;           /* 2, 3, 4, 8 */
    uint32_t group_size;     /* columns per group (K when the checkpoint says -1) */
    int32_t has_gidx;        /* the QG slab carries g_idx [K] */
    uint32_t quant_flags;    /* extra SC_QUANT_* flags, e.g. SC_QUANT_BF16_ROUND */
    int64_t K;               /* in_features */
    int64_t N;               /* out_features */
} sc_linear_desc;

typedef struct sc_format_iface {
    size_t struct_size;
    /* quant_config_json: config.json's "quantization_config" object (or the
     * content of quantize_config.json / quant_config.json), as JSON text.
     * *score > 0 claims it (highest wins); 0 declines. */
    int  (*detect)(void *ctx, const char *quant_config_json, int *score);
    /* Open one checkpoint. `reader` stays valid until close. On failure
     * write a message naming the reason into err (NUL-terminated). */
    int  (*open)(void *ctx, const char *quant_config_json, const sc_ckpt_reader *reader, void **handle,
                 char *err, size_t err_len);
    /* module: the Linear's name without suffix, e.g. "model.layers.0.self_attn.q_proj". */
    int  (*linear_info)(void *handle, const char *module, sc_linear_desc *out, char *err, size_t err_len);
    /* Write the QG slab of `module` into host memory dst [dst_size bytes],
     * laid out as `layout` says (a one-matrix tensor from sc_quant_layout:
     * ne = {K, N, 1}, quant filled; dst_size >= layout->nb[2]). */
    int  (*linear_convert)(void *handle, const char *module, void *dst, size_t dst_size, const sc_tensor *layout,
                           char *err, size_t err_len);
    void (*close)(void *handle);
    /* Human-readable quant_method names this plugin handles, comma-separated
     * (for "unknown quant_method" errors). */
    const char *methods;
} sc_format_iface;

/* ------------------------------------------------------------------------ */
/* Frontend plugins (ABI minor >= 2): serve a loaded model over a protocol   */
/* (the OpenAI HTTP API). The core owns the model, tokenizer, chat template  */
/* and the continuous-batching engine and hands the frontend sc_serve_api;   */
/* the frontend owns its sockets and event loop.                             */
/* ------------------------------------------------------------------------ */
typedef enum sc_serve_finish {
    SC_SERVE_RUNNING = 0, /* more output follows */
    SC_SERVE_EOS     = 1, /* an eos / stop token id */
    SC_SERVE_STOP    = 2, /* a stop string (not included unless asked) */
    SC_SERVE_LENGTH  = 3, /* max_tokens or the context is full */
    SC_SERVE_ABORT   = 4, /* cancelled, or the engine failed */
} sc_serve_finish;

typedef struct sc_serve_sampling {
    size_t struct_size;
    float temperature;          /* 0: greedy */
    float top_p;                /* 1: off */
    int32_t top_k;              /* 0: off */
    float min_p;                /* 0: off */
    float repetition_penalty;   /* 1: off (HF semantics) */
    float presence_penalty;     /* 0: off (OpenAI semantics) */
    float frequency_penalty;    /* 0: off */
    uint64_t seed;
    bool has_seed;              /* false: a fresh random seed per request */
} sc_serve_sampling;

/* One piece of a request's output, delivered on the engine's thread (never
 * the frontend's loop thread: post it there). `text` is valid only during
 * the call. The last call has finish != SC_SERVE_RUNNING; none follows it. */
typedef struct sc_serve_output {
    size_t struct_size;
    uint64_t request_id;
    int32_t token;              /* -1 when the call carries no token (abort) */
    const char *text;           /* UTF-8 released by this token (stop strings applied); may be empty */
    size_t text_len;
    int32_t finish;             /* sc_serve_finish */
    int64_t prompt_tokens;
    int64_t completion_tokens;  /* so far */
    /* appended (check with SC_HAS_FIELD): */
    int64_t cached_tokens;      /* prompt tokens served from the prefix cache */
    float logprob;              /* log-probability of `token` under the model (raw logits,
                                 * before temperature/penalties, as vLLM reports); 0 when not asked */
    int32_t n_top;              /* alternatives below: min(request's logprobs, vocab); 0 when not asked */
    const int32_t *top_ids;     /* [n_top], most likely first; valid only during the call */
    const float *top_logprobs;  /* [n_top] */
} sc_serve_output;

typedef void (*sc_serve_output_fn)(void *user, const sc_serve_output *out);

typedef struct sc_serve_request {
    size_t struct_size;
    const int32_t *prompt;      /* copied by submit */
    size_t n_prompt;
    sc_serve_sampling sampling;
    int64_t max_tokens;         /* <= 0: until the context is full */
    const char *const *stop;    /* stop strings, copied */
    int32_t n_stop;
    bool include_stop_str;
    const int32_t *stop_token_ids; /* extra eos ids, copied */
    int32_t n_stop_token_ids;
    bool ignore_eos;
    bool skip_special;
    sc_serve_output_fn on_output;
    void *user;
    /* appended (check with SC_HAS_FIELD): */
    int32_t logprobs;           /* -1: no logprobs (saves a pass over the vocabulary per token);
                                 * 0 (a zeroed struct): the sampled token's logprob; k in 1..20
                                 * (SC_SERVE_MAX_LOGPROBS): also the k most likely tokens' */
} sc_serve_request;

#define SC_SERVE_MAX_LOGPROBS 20

typedef struct sc_serve_stats {
    size_t struct_size;
    int32_t running;
    int32_t waiting;
    int64_t kv_blocks_free;
    int64_t kv_blocks_total;
    uint64_t prompt_tokens;     /* totals since start */
    uint64_t generation_tokens;
    uint64_t finished;
    /* appended (check with SC_HAS_FIELD): */
    uint64_t preemptions;           /* requests whose KV blocks were taken back to let others run */
    uint64_t prefix_cache_queries;  /* prompt tokens looked up in the prefix cache */
    uint64_t prefix_cache_hits;     /* of which found */
    int32_t max_num_seqs;           /* slots: requests that may run at once */
    int32_t block_size;             /* tokens per KV block */
    /* Requests ended, by vLLM's finished_reason ("stop", "length", "abort"),
     * consistent with running/waiting/kv_blocks_free of the same snapshot: a
     * request that has left them is already counted here. */
    uint64_t ended_stop, ended_length, ended_abort;
} sc_serve_stats;

/* The core's serving table. Every function may be called from any thread.
 * Buffers returned through out-pointers are freed with host->free. */
typedef struct sc_serve_api {
    size_t struct_size;
    void *ctx;                  /* pass as the first argument */
    const char *model_name;     /* served model name */
    int64_t max_model_len;
    /* generation_config.json's defaults, as a JSON object (temperature, top_p, ...) */
    const char *generation_defaults_json;
    int  (*tokenize)(void *ctx, const char *text, size_t len, bool parse_special, int32_t **ids, size_t *n_ids);
    int  (*detokenize)(void *ctx, const int32_t *ids, size_t n, bool skip_special, char **text, size_t *len);
    /* Render the model's chat template with these variables (messages,
     * tools, add_generation_prompt, chat_template_kwargs merged in). */
    int  (*apply_chat_template)(void *ctx, const char *vars_json, char **text, size_t *len, char *err, size_t err_len);
    /* Queue a request. SC_ERANGE: over the context (err holds vLLM's message);
     * SC_ESTATE: the queue is full. On error on_output never fires. */
    int  (*submit)(void *ctx, const sc_serve_request *req, uint64_t *request_id, char *err, size_t err_len);
    /* Cancel (client gone): its KV is freed at once; one SC_SERVE_ABORT output follows. */
    int  (*cancel)(void *ctx, uint64_t request_id);
    void (*stats)(void *ctx, sc_serve_stats *out);
} sc_serve_api;

typedef struct sc_frontend_iface {
    size_t struct_size;
    /* Serve until stop() is called or a fatal error: blocks the calling
     * thread. settings_json is this frontend's object from the serve
     * configuration (host, port, api_keys, ...). Returns SC_OK after a
     * graceful stop (in-flight streams finished or ended with an error). */
    int  (*run)(void *ctx, const sc_serve_api *api, const char *settings_json, char *err, size_t err_len);
    /* Ask run() to stop (SIGTERM). Called from another thread; must return at once. */
    void (*stop)(void *ctx);
} sc_frontend_iface;

/* ------------------------------------------------------------------------ */
/* The plugin's top-level table, returned by init.                           */
/* ------------------------------------------------------------------------ */
typedef struct sc_plugin_iface {
    size_t struct_size;
    int32_t kind;                          /* must equal the probed kind */
    void (*shutdown)(void *ctx);           /* called once, before dlclose */
    const sc_backend_iface *backend;       /* kind == SC_PLUGIN_BACKEND */
    const sc_format_iface *format;         /* kind == SC_PLUGIN_FORMAT (ABI minor >= 1) */
    const sc_frontend_iface *frontend;     /* kind == SC_PLUGIN_FRONTEND (ABI minor >= 2) */
} sc_plugin_iface;

typedef int (*sc_plugin_probe_fn)(const sc_host_api *host, sc_plugin_desc *desc);
typedef int (*sc_plugin_init_fn)(const sc_host_api *host, uint32_t abi_minor,
                                 const sc_plugin_iface **iface, void **ctx);

#ifdef __cplusplus
}
#endif

#endif /* STRIXCORE_PLUGIN_H */
