#include "oai_tools.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strixcore/plugin.h>

#include "oai_buf.h"
#include "oai_tool_stream.h"

static const char *memfind(const char *s, size_t n, const char *needle)
{
    if (!s) return NULL;
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return s + i;
    return NULL;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) { (*s)++; (*n)--; }
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* Python's json.dumps(args, ensure_ascii=False) separators (", " / ": "),
 * which is what vLLM's parsers put in function.arguments. */
static char *dump_args(const json_t *args)
{
    return json_dumps(args, JSON_INDENT(0) | JSON_ENCODE_ANY);
}

static json_t *make_call(oai_idgen_t *ids, const char *name, const json_t *args)
{
    char id[64];
    char *a = json_is_string(args) ? strdup(json_string_value(args)) : dump_args(args);
    if (!a) return NULL;
    /* OpenAI-style "call_" + 24 hex digits. */
    oai_id_make(ids, "", id, sizeof id);
    char cid[40] = "call_";
    memcpy(cid + 5, id, 24);
    cid[29] = '\0';
    json_t *c = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", cid, "type", "function",
                          "function", "name", name, "arguments", a);
    free(a);
    return c;
}

/* {"name": ..., "arguments": {...}} */
static json_t *parse_json_call(const char *s, size_t n, oai_idgen_t *ids)
{
    trim(&s, &n);
    json_t *j = json_loadb(s, n, 0, NULL);
    json_t *name = json_object_get(j, "name");
    json_t *args = json_object_get(j, "arguments");
    json_t *call = NULL;
    if (json_is_string(name) && (!args || json_is_object(args) || json_is_string(args))) {
        json_t *empty = args ? NULL : json_object();
        call = make_call(ids, json_string_value(name), args ? args : empty);
        json_decref(empty);
    }
    json_decref(j);
    return call;
}

static const char *param_type(const json_t *tools, const char *fn, const char *param)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *f = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name || strcmp(name, fn)) continue;
        json_t *props = json_object_get(json_object_get(f, "parameters"), "properties");
        return json_string_value(json_object_get(json_object_get(props, param), "type"));
    }
    return NULL;
}

/* Types a raw parameter value by its schema; anything that does not parse
 * as the declared type stays a string (vLLM's qwen3coder parser does the same). */
static json_t *typed_value(const char *v, const char *type)
{
    if (type) {
        if (!strcmp(type, "integer") || !strcmp(type, "number")) {
            /* a JSON number literal only (no hex, nan, inf or spaces, which
             * strtod would take and jansson cannot hold); an integer
             * parameter must hold an integer literal. Anything else stays
             * the string the model wrote. */
            json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
            if (j && (!strcmp(type, "integer") ? json_is_integer(j) : json_is_number(j)))
                return j;
            json_decref(j);
        } else if (!strcmp(type, "boolean")) {
            if (!strcasecmp(v, "true")) return json_true();
            if (!strcasecmp(v, "false")) return json_false();
        } else if (!strcmp(type, "object") || !strcmp(type, "array")) {
            json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
            if (j && (json_is_object(j) || json_is_array(j))) return j;
            json_decref(j);
        } else if (!strcmp(type, "null") && !strcmp(v, "null")) {
            return json_null();
        }
    }
    return json_string(v);
}

/* <function=NAME>(<parameter=P>VALUE</parameter>)*</function> */
static json_t *parse_xml_call(const char *s, size_t n, const json_t *tools, oai_idgen_t *ids)
{
    trim(&s, &n);
    const char *end = s + n;
    if (n < 10 || memcmp(s, "<function=", 10)) return NULL;
    const char *name_b = s + 10;
    const char *name_e = memchr(name_b, '>', (size_t)(end - name_b));
    if (!name_e || name_e == name_b) return NULL;
    char *name = strndup(name_b, (size_t)(name_e - name_b));
    json_t *args = json_object();
    json_t *call = NULL;
    if (!name || !args) goto out;
    const char *p = name_e + 1;
    for (;;) {
        size_t rest = (size_t)(end - p);
        trim(&p, &rest);
        if (rest >= 11 && !memcmp(p, "</function>", 11)) {
            p += 11;
            rest -= 11;
            trim(&p, &rest);
            if (rest == 0) call = make_call(ids, name, args); /* nothing may follow */
            goto out;
        }
        if (rest < 11 || memcmp(p, "<parameter=", 11)) goto out;
        const char *pb = p + 11;
        const char *pe = memchr(pb, '>', (size_t)(end - pb));
        if (!pe || pe == pb) goto out;
        const char *vb = pe + 1;
        const char *ve = memfind(vb, (size_t)(end - vb), "</parameter>");
        if (!ve) goto out;
        /* The template puts one newline on each side of the value. */
        const char *vb2 = vb, *ve2 = ve;
        if (vb2 < ve2 && *vb2 == '\n') vb2++;
        if (ve2 > vb2 && ve2[-1] == '\n') ve2--;
        char *pname = strndup(pb, (size_t)(pe - pb));
        char *val = strndup(vb2, (size_t)(ve2 - vb2));
        json_t *jv = (pname && val) ? typed_value(val, param_type(tools, name, pname)) : NULL;
        int rc = jv ? json_object_set_new(args, pname, jv) : -1;
        free(pname);
        free(val);
        if (rc < 0) goto out;
        p = ve + 12;
    }
out:
    free(name);
    json_decref(args);
    return call;
}

int oai_tool_style_from_name(const char *name)
{
    if (!name || !strcmp(name, "auto")) return OAI_TOOLS_AUTO;
    if (!strcmp(name, "hermes") || !strcmp(name, "qwen3") || !strcmp(name, "json"))
        return OAI_TOOLS_QWEN3_JSON;
    if (!strcmp(name, "qwen3_coder") || !strcmp(name, "qwen3_xml") || !strcmp(name, "xml"))
        return OAI_TOOLS_QWEN3_XML;
    return -1;
}

json_t *oai_tools_parse_block(oai_tool_style_t style, const char *body, size_t len,
                              const json_t *tools, oai_idgen_t *ids)
{
    if (!body) return NULL;
    if (style == OAI_TOOLS_AUTO)
        style = memfind(body, len, "<function=") ? OAI_TOOLS_QWEN3_XML : OAI_TOOLS_QWEN3_JSON;
    return style == OAI_TOOLS_QWEN3_XML ? parse_xml_call(body, len, tools, ids)
                                        : parse_json_call(body, len, ids);
}

int oai_tools_parse(oai_tool_style_t style, const char *text, size_t len,
                    const json_t *tools, oai_idgen_t *ids,
                    json_t **tool_calls, char **content)
{
    oai_tool_stream_t ts;
    oai_buf_t out;
    oai_buf_init(&out);
    oai_tool_stream_init(&ts, style, tools, ids);
    json_t *calls = json_array();
    int rc = calls ? 0 : SC_ENOMEM;
    *tool_calls = NULL;
    *content = NULL;
    if (rc == 0) rc = oai_tool_stream_feed(&ts, text, len, &out, calls);
    if (rc == 0) rc = oai_tool_stream_flush(&ts, &out, calls);
    oai_tool_stream_free(&ts);
    if (rc == 0 && out.len) {
        *content = out.data; /* the buffer is NUL-terminated: hand it over */
        oai_buf_init(&out);
    }
    oai_buf_free(&out);
    if (rc < 0) { json_decref(calls); return rc; }
    *tool_calls = calls;
    return (int)json_array_size(calls);
}
