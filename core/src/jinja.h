/*
 * core/src/jinja.h - the Jinja2 interpreter behind chat_template.h.
 *
 * The goal is byte-identical output to Python's Jinja2 (3.1) as Hugging Face
 * transformers configures it for chat templates:
 *   ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
 *                                 extensions=[loopcontrols, AssistantTracker])
 * plus transformers' tojson override, raise_exception and strftime_now.
 * So values behave like the Python objects a template would see (dict, list,
 * str, int, float, None, jinja2.Undefined, Namespace, Macro, LoopContext) and
 * printing follows Python's str()/repr().
 *
 * Pipeline: jinja_lex.c (source -> tokens, whitespace control) ->
 * jinja_parse.c (tokens -> AST) -> jinja_scope.c (Jinja's compile-time
 * scoping) -> jinja_eval.c (AST + variables -> text), with values in
 * jinja_value.c, obj.attr / obj[key] / slicing in jinja_access.c, and
 * filters, tests and methods in jinja_filters.c, jinja_tests.c,
 * jinja_methods.c. chat_template.c is the public API.
 *
 * Memory: a parsed template owns one arena (AST, constants); every render
 * owns another (all runtime values), freed in one go at the end of the
 * render. Runtime values are never freed individually, which also makes
 * reference cycles (a namespace holding itself) harmless.
 *
 * Known differences from Jinja2 (tests/chat checks the rest byte for byte):
 *   - ints are 64-bit (Python's are unbounded): overflow is an error;
 *   - {% extends/block/include/import/from/autoescape %}, the filters
 *     batch, filesizeformat, forceescape, groupby, pprint, random, slice,
 *     striptags, urlencode, urlize, wordwrap, xmlattr, the globals lipsum,
 *     cycler, joiner, "\N{...}" escapes, str.format specs and "%" formats
 *     other than %s %r %d %i are SC_ENOTSUP;
 *   - upper/lower/title use simple (one-to-one) Unicode case mapping, so
 *     "ß".upper() stays "ß" (Python: "SS"); Unicode tables are utf8proc's;
 *   - reprs that contain a memory address in Python (generators, bound
 *     methods, namespaces) print without it;
 *   - Markup (from |safe) escapes operands of + as markupsafe does, but its
 *     methods do not escape their arguments;
 *   - constant folding is mirrored only where it changes output (slices of
 *     constants in {{ }}).
 */
#ifndef STRIXCORE_JINJA_H
#define STRIXCORE_JINJA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Limits that keep a hostile template from hanging or exhausting the server. */
#define SC_J_MAX_OUTPUT  ((size_t)16 << 20)  /* bytes of rendered text */
#define SC_J_MAX_MEMORY  ((size_t)256 << 20) /* bytes of runtime values per render */
#define SC_J_MAX_ITERS   (4u << 20)          /* loop iterations + calls per render */
#define SC_J_MAX_DEPTH   100                 /* nested macro calls / recursive loops */
#define SC_J_MAX_NESTING 200                 /* nesting of brackets and blocks in the source */
#define SC_J_MAX_EXPR    400                 /* depth of an expression tree (a+b+c... chains) */
#define SC_J_MAX_VALUE   1000                /* nesting of values compared or printed */
#define SC_J_MAX_RANGE   100000              /* jinja2.sandbox.MAX_RANGE */

/* ------------------------------------------------------------------------ */
/* arena and string builder (jinja_value.c)                                 */
/* ------------------------------------------------------------------------ */
typedef struct jarena jarena;
jarena *sc__j_arena_create(size_t limit);
void sc__j_arena_destroy(jarena *a);
/* Zeroed memory, or NULL once the arena's limit is reached. */
void *sc__j_alloc(jarena *a, size_t n);

/* Growable byte buffer; `fail` latches on overflow of `limit` or OOM so a
 * sequence of appends needs a single check at the end. */
typedef struct jsb {
    char *p;
    size_t len, cap, limit;
    bool fail;
    int depth; /* nesting while printing containers */
} jsb;
void sc__j_sb_init(jsb *b, size_t limit);
void sc__j_sb_free(jsb *b);
void sc__j_sb_putn(jsb *b, const char *s, size_t n);
void sc__j_sb_puts(jsb *b, const char *s);
void sc__j_sb_putc(jsb *b, char c);
void sc__j_sb_printf(jsb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------ */
/* values                                                                    */
/* ------------------------------------------------------------------------ */
typedef enum jtype {
    JT_UNDEF = 0, /* jinja2.Undefined: u.hint says why (NULL: plain) */
    JT_NONE,
    JT_BOOL,
    JT_INT,       /* Python int, limited to int64 (overflow is an error) */
    JT_FLOAT,
    JT_STR,       /* UTF-8; `markup` marks markupsafe.Markup (from |safe) */
    JT_LIST,      /* list, tuple, generator, range, dict views: jlist.kind */
    JT_DICT,      /* dict (insertion ordered) or jinja2 Namespace (jdict.ns) */
    JT_MACRO,
    JT_FUNC,      /* a global function: range, namespace, dict, ... */
    JT_METHOD,    /* a bound method such as 'abc'.startswith */
    JT_LOOP,      /* the `loop` variable of a for loop */
} jtype;

typedef enum jlkind {
    JL_LIST = 0,
    JL_TUPLE,
    JL_GEN,       /* single-pass iterator (generator, list_reverseiterator) */
    JL_RANGE,
    JL_ITEMS,     /* dict_items / dict_keys / dict_values views */
    JL_KEYS,
    JL_VALUES,
} jlkind;

typedef struct jstr jstr;
typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jmacro jmacro;
typedef struct jmethod jmethod;
typedef struct jloop jloop;

typedef struct jv {
    uint8_t t;      /* jtype */
    uint8_t markup; /* JT_STR only */
    union {
        bool b;
        int64_t i;
        double f;
        jstr *s;
        jlist *l;
        jdict *d;
        jmacro *m;
        jmethod *bm;
        jloop *loop;
        int fn;
        const char *hint; /* JT_UNDEF: message used when the undefined is misused */
    } u;
} jv;

struct jstr {
    size_t len;
    char s[]; /* NUL-terminated (the NUL is not counted in len) */
};

struct jlist {
    uint8_t kind;      /* jlkind */
    size_t n, cap;
    jv *v;
    size_t pos;        /* JL_GEN: items before pos were consumed */
    const char *tname; /* JL_GEN: Python type name ("generator") */
    int64_t r0, r1, rs;/* JL_RANGE: start, stop, step for repr */
};

struct jdict {
    bool ns; /* a jinja2 Namespace rather than a dict */
    size_t n, cap;
    jv *k, *v;
};

/* A method bound to its receiver; `unsafe` marks the mutating methods that
 * ImmutableSandboxedEnvironment refuses to call. */
struct jmethod {
    jv self;
    const char *name;
    bool unsafe;
};

/* Constructors (render arena). The *_str forms return false on OOM. */
static inline jv sc__j_undef(const char *hint) { jv v = {0}; v.t = JT_UNDEF; v.u.hint = hint; return v; }
static inline jv sc__j_none(void) { jv v = {0}; v.t = JT_NONE; return v; }
static inline jv sc__j_bool(bool b) { jv v = {0}; v.t = JT_BOOL; v.u.b = b; return v; }
static inline jv sc__j_int(int64_t i) { jv v = {0}; v.t = JT_INT; v.u.i = i; return v; }
static inline jv sc__j_float(double f) { jv v = {0}; v.t = JT_FLOAT; v.u.f = f; return v; }
bool sc__j_str(jarena *a, const char *s, size_t n, jv *out);
bool sc__j_str_sb(jarena *a, jsb *b, jv *out); /* takes b's text, frees b */
jlist *sc__j_list_new(jarena *a, jlkind kind, size_t cap);
bool sc__j_list_push(jarena *a, jlist *l, jv v);
jdict *sc__j_dict_new(jarena *a, size_t cap);
bool sc__j_dict_set(jarena *a, jdict *d, jv k, jv v);  /* insert or replace, keeps position */
jv *sc__j_dict_get(const jdict *d, jv k);              /* NULL when absent */
jv *sc__j_dict_gets(const jdict *d, const char *k);
static inline jv sc__j_listv(jlist *l) { jv v = {0}; v.t = JT_LIST; v.u.l = l; return v; }
static inline jv sc__j_dictv(jdict *d) { jv v = {0}; v.t = JT_DICT; v.u.d = d; return v; }

/* Python semantics */
bool sc__j_truthy(jv v);
bool sc__j_is_number(jv v);  /* bool, int or float */
double sc__j_num(jv v);      /* as a double (bool and int widened) */
bool sc__j_eq(jv a, jv b);   /* == */
/* <, as Python compares: 0 false, 1 true, -1 TypeError (msg filled). */
int sc__j_lt(jv a, jv b, char *msg, size_t msg_len);
const char *sc__j_type_name(jv v); /* Python's type(v).__name__ */
/* Items of an iterable into a fresh list (generators are consumed).
 * false: not iterable (msg filled) or OOM. */
bool sc__j_iterate(jarena *a, jv v, jlist **out, char *msg, size_t msg_len);
size_t sc__j_len_or(jv v, bool *ok); /* Python len(); ok=false when len() fails */

/* str(v) and repr(v) appended to b. */
void sc__j_str_of(jsb *b, jv v);
void sc__j_repr(jsb *b, jv v);
void sc__j_float_repr(char buf[32], double f);
/* json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers'
 * tojson calls it. indent: NULL for none. false + msg on TypeError. */
bool sc__j_json_dump(jsb *b, jv v, bool ensure_ascii, const char *indent, const char *item_sep,
                     const char *key_sep, bool sort_keys, char *msg, size_t msg_len);

/* UTF-8 helpers: code points, Python whitespace and case. */
size_t sc__j_utf8_dec(const char *s, size_t n, uint32_t *cp); /* bytes used (>=1) */
void sc__j_utf8_put(jsb *b, uint32_t cp);
size_t sc__j_utf8_len(const char *s, size_t n);                /* code points */
bool sc__j_py_isspace(uint32_t cp);
uint32_t sc__j_cp_upper(uint32_t cp);
uint32_t sc__j_cp_lower(uint32_t cp);
uint32_t sc__j_cp_title(uint32_t cp);
bool sc__j_cp_cased(uint32_t cp);  /* Lu, Ll or Lt */

/* ------------------------------------------------------------------------ */
/* lexer (jinja_lex.c)                                                       */
/* ------------------------------------------------------------------------ */
typedef enum jtok {
    TK_EOF = 0, TK_DATA, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
    TK_NAME, TK_STRING, TK_INT, TK_FLOAT, TK_OP,
} jtok;

typedef enum jop {
    OP_NONE = 0,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_TILDE,
    OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
    OP_EQ, OP_NE, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_ASSIGN, OP_DOT, OP_COLON,
    OP_PIPE, OP_COMMA, OP_SEMICOLON,
    /* comparison operators that are names in the source */
    OP_IN, OP_NOTIN,
} jop;

typedef struct jtoken {
    uint8_t type; /* jtok */
    uint8_t op;   /* jop for TK_OP */
    int line, col;
    const char *s; /* TK_DATA, TK_NAME, TK_STRING: text in the template arena */
    size_t len;
    int64_t i;
    double f;
} jtoken;

/* Tokenize src (CR/LF normalised, one trailing newline dropped, as Jinja
 * does) with trim_blocks and lstrip_blocks on. Returns SC_OK or an SC_E*
 * code with "line:col: message" in err. */
int sc__j_lex(jarena *a, const char *src, size_t len, jtoken **toks, size_t *ntoks, char *err, size_t err_len);
const char *sc__j_op_text(int op);

/* ------------------------------------------------------------------------ */
/* AST (jinja_parse.c)                                                       */
/* ------------------------------------------------------------------------ */
typedef enum jkind {
    /* expressions */
    JN_CONST, JN_NAME, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST,
    JN_NEG, JN_POS, JN_NOT, JN_BINOP, JN_AND, JN_OR, JN_COMPARE, JN_CONCAT, JN_COND,
    JN_LIST, JN_TUPLE, JN_DICT, JN_NSREF,
    /* statements */
    JN_DATA, JN_PRINT, JN_IF, JN_FOR, JN_SET, JN_SETBLOCK, JN_MACRO, JN_CALLBLOCK,
    JN_FILTERBLOCK, JN_WITH, JN_BREAK, JN_CONTINUE, JN_SCOPE,
} jkind;

typedef struct jnode jnode;
typedef struct jnlist {
    jnode **v;
    int n, cap;
} jnlist;

/* One struct for every node; per kind:
 *   CONST     cval
 *   NAME      name
 *   GETATTR   a.name                    GETITEM  a[b]     SLICE  a:b:c (each may be NULL)
 *   CALL      a(args, kwnames=kw)  c: *dyn_args  d: **dyn_kwargs
 *   FILTER    a|name(args, kw)  (a NULL inside {% filter %} / {% set x | f %})
 *   TEST      a is name(args, kw)
 *   NEG/POS/NOT a       BINOP a op b      AND/OR a b
 *   COMPARE   a then (ops[i], args[i])...
 *   CONCAT    args joined with ~          COND  a if b else c (c may be NULL)
 *   LIST/TUPLE args                        DICT  args: keys, kw: values
 *   NSREF     name.name2 as an assignment target
 *   DATA      text                          PRINT a
 *   IF        a: test, body, else_body
 *   FOR       a: target, b: iterable, c: filter test, body, else_body, recursive
 *   SET       a = b                         SETBLOCK  a = body | b (b: filter or NULL)
 *   MACRO     name(args: NAMEs, kw: defaults of the last params), body
 *   CALLBLOCK a: the call, args/kw: caller's signature, body
 *   FILTERBLOCK b: filter chain, body       WITH  args: targets, kw: values, body
 *   SCOPE     body (AssistantTracker's {% generation %})
 */
struct jnode {
    uint8_t kind, op;
    bool recursive;                       /* FOR */
    bool is_elif;                         /* IF that came from {% elif %} */
    bool folded;                          /* GETITEM of a slice Jinja folds at compile time */
    bool reuse_frame;                     /* FOR: no macro in the body can outlive an iteration */
    int depth;                            /* expression nesting below this node */
    bool uses_caller, uses_kwargs, uses_varargs; /* MACRO / CALLBLOCK */
    int line, col;
    const char *name, *name2;
    const char *text;
    size_t text_len;
    jnode *a, *b, *c, *d;
    jnlist args, kw, body, else_body;
    const char **kwnames;
    uint8_t *ops;
    jv cval;
    /* names that start out missing in the frame this node opens (FOR:
     * undefs for the body, undefs2 for the else block); see jinja_scope.c */
    const char **undefs, **undefs2;
    int n_undefs, n_undefs2;
};

typedef struct jtemplate {
    jarena *arena;
    jnlist body;
    const char **undefs; /* top-level names that start out missing */
    int n_undefs;
} jtemplate;

/* Parse a template. SC_EFORMAT (syntax) or SC_ENOTSUP (construct the
 * interpreter does not implement), with "line:col: message" in err. */
int sc__j_parse(const char *src, size_t len, jtemplate **out, char *err, size_t err_len);
void sc__j_template_free(jtemplate *t);
/* Jinja's compile-time scoping (jinja_scope.c): fills the undefs lists. */
int sc__j_analyze(jtemplate *t, char *err, size_t err_len);
/* Mark the slices of a constant {{ expression }} that Jinja folds. */
void sc__j_mark_folded(jnode *expr);
bool sc__j_filter_known(const char *name);
bool sc__j_test_known(const char *name);

/* ------------------------------------------------------------------------ */
/* evaluation (jinja_eval.c, jinja_filters.c, jinja_methods.c)              */
/* ------------------------------------------------------------------------ */
typedef struct jframe jframe;
struct jframe {
    jframe *parent;
    int n, cap;
    const char **names;
    jv *vals;
};

struct jmacro {
    const jnode *node; /* MACRO or CALLBLOCK */
    jframe *closure;   /* frame the macro was defined in (names resolve there) */
    const char *name;  /* "caller" for call blocks */
};

struct jloop {
    jlist *items;
    size_t idx;
    int depth;         /* 1 for the outermost recursive level */
    const jnode *node; /* FOR: recursive loops call back into it */
    jframe *frame;     /* frame the loop runs in */
    bool has_changed;
    jv changed_last;
};

/* Global functions (JT_FUNC). */
enum { JF_RANGE = 1, JF_NAMESPACE, JF_DICT, JF_RAISE, JF_STRFTIME, JF_LIPSUM, JF_CYCLER, JF_JOINER };

typedef struct jrender {
    jarena *ar;
    jsb *out;           /* current output buffer */
    jframe *globals;    /* builtins; the variables frame sits below it */
    int err;            /* first error (SC_E*), 0 while fine */
    char *errbuf;
    size_t err_len;
    int depth;
    uint64_t iters;
} jrender;

/* Record the first error as "line:col: message" (node may be NULL) and
 * return its code. */
int sc__j_fail(jrender *r, const jnode *at, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int sc__j_oom(jrender *r, const jnode *at);
int sc__j_render(const jtemplate *t, jdict *vars, jarena *ar, jsb *out, char *err, size_t err_len);

/* Call anything callable with evaluated arguments. */
int sc__j_call(jrender *r, const jnode *at, jv fn, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
               jv *out);
/* Filters and tests by name with the value and evaluated arguments. */
int sc__j_filter(jrender *r, const jnode *at, const char *name, jv val, jv *args, int nargs, const char **kwn,
                 jv *kwv, int nkw, jv *out);
int sc__j_test(jrender *r, const jnode *at, const char *name, jv val, jv *args, int nargs, const char **kwn,
               jv *kwv, int nkw, bool *out);
/* obj.name and obj[key] with the sandbox's attribute rules. */
int sc__j_getattr(jrender *r, const jnode *at, jv obj, const char *name, jv *out);
int sc__j_getitem(jrender *r, const jnode *at, jv obj, jv key, jv *out);
/* obj[start:stop:step] (JT_NONE for an omitted part) */
int sc__j_slice(jrender *r, const jnode *at, jv obj, jv start, jv stop, jv step, jv *out);
/* Methods of str/dict/list (JT_METHOD) and global functions (JT_FUNC). */
bool sc__j_has_method(jv self, const char *name, bool *unsafe);
int sc__j_call_method(jrender *r, const jnode *at, jmethod *m, jv *args, int nargs, const char **kwn, jv *kwv,
                      int nkw, jv *out);
int sc__j_call_func(jrender *r, const jnode *at, int fn, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
                    jv *out);
/* Python's str.split/strip helpers shared by filters and methods. */
int sc__j_str_strip(jrender *r, const jnode *at, jv s, jv chars, int which, jv *out); /* which: 1 l, 2 r, 3 both */
/* Python's "fmt % args" for %s, %r, %d, %i and %%. */
int sc__j_percent(jrender *r, const jnode *at, jv fmt, jv args, jv *out);
/* markupsafe.escape() of s appended to b. */
void sc__j_escape(jsb *b, const char *s, size_t n);
/* The message an undefined raises when misused, and raising it. */
const char *sc__j_undef_msg(jv v);
int sc__j_undef_error(jrender *r, const jnode *at, jv v);
/* A render-arena copy of a formatted message (Undefined hints). */
const char *sc__j_hintf(jrender *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An Undefined explaining that obj has no attribute / element `key`. */
jv sc__j_undef_attr(jrender *r, jv obj, jv key);
/* Argument binding for builtins: fills out[0..np) from positional and
 * keyword arguments by parameter name; missing ones stay JT_UNDEF with
 * hint == SC_J_MISSING. */
extern const char SC_J_MISSING[];
int sc__j_bind(jrender *r, const jnode *at, const char *fname, const char *const *params, int np, jv *args,
               int nargs, const char **kwn, jv *kwv, int nkw, jv *out);
static inline bool sc__j_missing(jv v) { return v.t == JT_UNDEF && v.u.hint == SC_J_MISSING; }

#endif
