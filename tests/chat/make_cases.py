#!/usr/bin/python3
"""Generate tests/chat/cases.json: (template, variables) pairs for the three
Qwen3 chat templates plus small inline templates that pin down individual
Jinja features. Run it after editing; cases.json is what the tests read.

Each case: {"name", "template" (a file in templates/) or "template_text",
"vars", optional "error_contains" (a substring strixcore's error must have
when Jinja2 raises too)}.
"""
import copy
import json
import os

SYS = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "What is the weather in Paris?"}
U2 = {"role": "user", "content": "And in Tokyo?"}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "  Get the current weather for a city.\n  ",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                "days": {"type": "integer", "minimum": 1, "maximum": 14, "default": 1},
            },
            "required": ["location"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_web",
        "description": "Search the web. Returns snippets — UTF-8 ✓ «quotes» 漢字",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for"},
                "filters": {
                    "type": "object",
                    "description": "Optional filters",
                    "properties": {"site": {"type": "string"}, "recent": {"type": "boolean"}},
                    "required": ["site"],
                },
                "tags": {"type": ["array", "null"], "items": {"type": "string"}, "min-items": 0, "x y": "z", "$comment": "dollar"},
                "ratio": {"type": "number", "default": 0.5, "nullable": True, "examples": [0.1, 1e-07, 1e+22]},
            },
            "required": ["query", "filters"],
        },
        "return": {"type": "array", "items": {"type": "string"}},
    },
}
BARE_TOOL = {  # no "function" wrapper, string return
    "name": "calculator",
    "description": "Evaluate arithmetic.",
    "parameters": {"type": "object", "properties": {"expr": {"type": "string"}}, "required": ["expr"]},
    "return": "a number",
}

CALL_DICT = {"type": "function", "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius", "days": 3}}}
CALL_STR = {"type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Tokyo\", \"unit\": \"celsius\"}"}}
CALL_MIXED = {
    "type": "function",
    "function": {
        "name": "search_web",
        "arguments": {"query": "näive café", "filters": {"site": "x.org", "recent": True}, "tags": ["a", None, 2.5], "ratio": -0.0, "n": 10, "ok": False},
    },
}
CALL_BARE = {"name": "calculator", "arguments": {"expr": "1+1"}}

THINK_A = {"role": "assistant", "content": "<think>\nThe user asks about Paris.\n</think>\n\nIt is sunny in Paris."}
THINK_B = {"role": "assistant", "content": "<think>Tokyo lookup</think>Rainy in Tokyo."}
REASONING_FIELD = {"role": "assistant", "content": "Final answer.", "reasoning_content": "\nLet me think step by step.\n"}


def tool_msg(text):
    return {"role": "tool", "content": text}


def conv_cases(prefix, template):
    """Cases shared by all three Qwen3 templates."""
    tools = [WEATHER, SEARCH]
    c = []

    def add(name, messages, **kw):
        v = {"messages": copy.deepcopy(messages)}
        v.update(copy.deepcopy(kw))
        c.append({"name": f"{prefix}_{name}", "template": template, "vars": v})

    add("single_user", [U1], add_generation_prompt=True)
    add("system_user", [SYS, U1], add_generation_prompt=True)
    add("no_generation_prompt", [SYS, U1], add_generation_prompt=False)
    add("multi_turn", [SYS, U1, {"role": "assistant", "content": "Sunny."}, U2], add_generation_prompt=True)
    add("think_last_turn", [U1, THINK_A], add_generation_prompt=False)
    add("think_history_stripped", [U1, THINK_A, U2, THINK_B, {"role": "user", "content": "Thanks!"}], add_generation_prompt=True)
    add("think_after_last_query", [U1, THINK_A, U2, THINK_B], add_generation_prompt=False)
    add("reasoning_content_field", [U1, REASONING_FIELD, U2, REASONING_FIELD], add_generation_prompt=False)
    add("enable_thinking_false", [SYS, U1], add_generation_prompt=True, enable_thinking=False)
    add("enable_thinking_true", [U1], add_generation_prompt=True, enable_thinking=True)
    add("tools_with_system", [SYS, U1], tools=tools, add_generation_prompt=True)
    add("tools_no_system", [U1], tools=tools + [BARE_TOOL], add_generation_prompt=True)
    add("tools_null", [U1], tools=None, add_generation_prompt=True)
    add("tools_empty", [SYS, U1], tools=[], add_generation_prompt=True)
    add("tool_call_dict_args", [SYS, U1, {"role": "assistant", "content": "", "tool_calls": [CALL_DICT]},
                                tool_msg("{\"temp\": 21}"), {"role": "assistant", "content": "It is 21°C."}],
        tools=tools, add_generation_prompt=True)
    add("tool_call_string_args", [U2, {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL_STR]},
                                  tool_msg("rain")], tools=tools, add_generation_prompt=True)
    add("consecutive_tools", [U1, {"role": "assistant", "content": "", "tool_calls": [CALL_DICT, CALL_MIXED]},
                              tool_msg("sunny"), tool_msg("3 results"), {"role": "user", "content": "ok"}],
        tools=tools, add_generation_prompt=True)
    add("multi_step_tools", [U1, {"role": "assistant", "content": "<think>need weather</think>Checking.", "tool_calls": [CALL_DICT]},
                             tool_msg("sunny"), {"role": "assistant", "content": "<think>need more</think>", "tool_calls": [CALL_MIXED]},
                             tool_msg("results")], tools=tools, add_generation_prompt=True, enable_thinking=True)
    add("tool_response_in_user", [U1, {"role": "user", "content": "<tool_response>\nx\n</tool_response>"},
                                  THINK_B], add_generation_prompt=False)
    add("unicode", [{"role": "system", "content": "Réponds en français 🇫🇷"},
                    {"role": "user", "content": "日本語で答えて。emoji 😀 👍🏽, RTL שלום, combining é, zero-width \u200b, nul-free \u2028 sep"}],
        tools=[SEARCH], add_generation_prompt=True)
    add("empty_content", [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}, {"role": "user", "content": " "}],
        add_generation_prompt=True)
    add("jinja_braces_in_content", [{"role": "user", "content": "{{ messages }} {% for x in y %} {# c #} {{- raw -}}"},
                                    {"role": "assistant", "content": "}} %} #}"}], add_generation_prompt=True)
    add("system_in_middle", [U1, {"role": "assistant", "content": "Hi"}, {"role": "system", "content": "Be brief."}, U2],
        add_generation_prompt=True)
    add("null_content_tool_call", [U1, {"role": "assistant", "content": None, "tool_calls": [CALL_DICT]}, tool_msg("ok")],
        tools=tools, add_generation_prompt=True)
    add("null_user_content", [{"role": "user", "content": None}], add_generation_prompt=True)
    add("bare_tool_call", [U1, {"role": "assistant", "content": "x", "tool_calls": [CALL_BARE]}, tool_msg("2")],
        tools=[BARE_TOOL], add_generation_prompt=True, bos_token="", eos_token="<|im_end|>")
    add("list_content", [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], add_generation_prompt=True)
    long = [SYS]
    for i in range(60):
        long.append({"role": "user", "content": f"question {i} " + "lorem ipsum " * (i % 7)})
        long.append({"role": "assistant", "content": f"<think>thought {i}</think>answer {i}"})
    add("long_conversation", long + [U2], add_generation_prompt=True)
    return c


def feat(case_name, text, error=None, **vars):
    c = {"name": "feat_" + case_name, "template_text": text, "vars": vars}
    if error:
        c["error_contains"] = error
    return c


FEATURES = [
    # whitespace control, trim_blocks / lstrip_blocks
    feat("ws_blocks", "a\n  {% if true %}\n    x\n  {% endif %}\nb\n"),
    feat("ws_dash", "a  {%- if true -%}  x  {%- endif -%}  b {{- ' c ' -}} d"),
    feat("ws_plus", "a\n  {%+ if true +%}\n x\n  {%- endif %}\n"),
    feat("ws_var_not_lstripped", "a\n    {{ 'v' }}\n  {# comment #}\nb {#- c -#} d\n"),
    feat("ws_comment_lines", "x\n{# one #}\n  {# two #}\ny"),
    feat("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n\r\n"),
    feat("raw_block", "{% raw %}{{ not }} {% evaluated %}{% endraw %}\n  {%- raw -%}  x  {%- endraw %}"),
    # printing values like Python's str()
    feat("print_scalars", "{{ none }}|{{ true }}|{{ False }}|{{ 1.0 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.1 + 0.2 }}|{{ 1/3 }}|{{ 1e-5 }}|{{ 0.0001 }}|{{ -0.0 }}|{{ 1e300*1e300 }}|{{ 2**62 }}"),
    feat("print_containers", "{{ [1, 'a', none, true, 1.5, [2]] }}|{{ {'a': [1, {'b': none}], 2: 'x'} }}|{{ ('x',) }}|{{ (1, 2) }}|{{ [] }}|{{ {} }}"),
    feat("print_str_repr", "{{ [\"it's\", 'q\"q', 'both\\'\"', 'tab\\tnl\\n', 'bs\\\\', '\\x07\\x7f', 'é€😀', '\\u200b\\u2028'] }}"),
    feat("print_vars_repr", "{{ d }}|{{ l }}|{{ d.x }}|{{ l[1] }}", d={"x": 1.5, "y": None, "z": [True, "s"]}, l=[1, -2.25, "é"]),
    feat("print_loop_macro", "{% macro m() %}{% endmacro %}{{ m }}{% for i in [1, 2] %}{{ loop }}{% endfor %}"),
    # string literals
    feat("string_literals", "{{ 'a\\nb' }}|{{ \"tab\\there\" }}|{{ '\\x41\\u00e9\\U0001F600' }}|{{ 'adj' 'acent' \"strings\" }}|{{ '\\q\\101' }}|{{ 'line\\\ncont' }}"),
    feat("number_literals", "{{ 1_000 }}|{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}|{{ 1e3 }}|{{ 1.5e-7 }}|{{ 2.50 }}|{{ 1_0.2_5 }}"),
    # operators
    feat("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2.5 // 1 }} {{ -2.5 % 1 }} {{ 1 + true }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 'a' ~ 1 ~ none ~ [1] }} {{ [1] + [2] }} {{ -(3) }} {{ +4 }}"),
    feat("compare", "{{ 1 < 2 < 3 }} {{ 1 < 2 > 3 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1,2] == (1,2) }} {{ 'a' in 'cat' }} {{ 'x' not in ['y'] }} {{ 1 in [1.0] }} {{ 'k' in {'k': 1} }} {{ none == none }} {{ 2 >= 2 }} {{ 'B' <= 'a' }}"),
    feat("logic", "{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' and 1 }}|{{ none or none }}|{{ not 0 }}|{{ not [] }}|{{ 'yes' if [0] else 'no' }}|{{ 'a' if false }}|{{ (1 if false) is defined }}"),
    feat("slicing", "{{ 'héllo'[::-1] }}|{{ 'hello'[1:3] }}|{{ 'hello'[-2:] }}|{{ 'hello'[::2] }}|{{ [1,2,3,4][1:-1] }}|{{ [1,2,3][::-1] }}|{{ (1,2,3)[:2] }}|{{ 'abc'[5:] }}|{{ [1,2,3][-1] }}|{{ 'héllo'[1] }}|{{ [1,2,3][10] }}|{{ 'abc'[-10:2] }}|{{ [0,1,2,3,4,5][5:0:-2] }}"),
    # loops
    feat("loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('x', 'y') }};{% endfor %}"),
    feat("loop_else_filter", "{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }},{% endfor %}|{% for x in [1] if false %}{% else %}none{% endfor %}"),
    feat("loop_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 5 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
    feat("loop_dict_unpack", "{% for k in d %}{{ k }}{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}|{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", d={"b": 1, "a": 2}),
    feat("loop_nested_changed", "{% for row in [[1,2],[3]] %}{% for c in row %}{{ loop.depth }}{{ c }}{% endfor %}{% if loop.changed(row|length) %}!{% endif %}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}"),
    feat("loop_recursive", "{% for n in tree recursive %}<{{ n.name }}{% if n.children %}:{{ loop(n.children) }}{% endif %}{{ loop.depth }}>{% endfor %}", tree=[{"name": "a", "children": [{"name": "b", "children": []}, {"name": "c"}]}, {"name": "d"}]),
    feat("loop_undefined_iterable", "{% for x in missing %}{{ x }}{% else %}nothing{% endfor %}"),
    # scoping
    feat("scope_loop_set", "{% set x = 0 %}{% for i in [1, 2, 3] %}{{ x }}{% set x = i %}{{ x }};{% endfor %}{{ x }}|{% for i in [1, 2] %}{% if i == 2 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}"),
    feat("scope_namespace", "{% set ns = namespace(a=1, found=false) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% if i == 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }} {{ ns.found }} {{ ns.missing }}|{% set n2 = namespace({'k': 'v'}, z=3) %}{{ n2.k }}{{ n2.z }}"),
    feat("scope_if_no_scope", "{% if true %}{% set a = 'set in if' %}{% endif %}{{ a }}"),
    # Jinja's compile-time scoping: a name assigned in a frame before any use
    # there starts out undefined in that frame, hiding the variable passed in
    feat("scope_store_first", "{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 5 %}{{ x }}", x=1),
    feat("scope_load_first", "{{ x }}{% set x = 5 %}{{ x }}{% for i in [1] %}{{ x }}{% endfor %}", x=1),
    feat("scope_if_partial", "{% for i in [1] %}[{{ x }}]{% endfor %}{% if c %}{% set x = 2 %}{% endif %}{{ x }}", x=1, c=True),
    feat("scope_if_all_branches", "{% for i in [1] %}[{{ x }}]{% endfor %}{% if c %}{% set x = 2 %}{% elif d %}{% set x = 3 %}{% else %}{% set x = 4 %}{% endif %}{{ x }}", x=1, c=True),
    feat("scope_macro_late", "{% macro m() %}[{{ x }}]{% endmacro %}{{ m() }}{% set x = 5 %}{{ m() }}", x=1),
    feat("scope_with_block", "{% with %}{{ x }}{% set x = 3 %}{{ x }}{% endwith %}{{ x }}", x=7),
    feat("scope_nested_loops", "{% for i in [1] %}{% for j in [1] %}[{{ x }}]{% endfor %}{% set x = 3 %}{{ x }}{% endfor %}{{ x }}", x=7),
    feat("macro_nested_varargs", "{% macro o() %}{% macro i() %}{{ varargs }}{% endmacro %}{{ i(5) }}{% endmacro %}{{ o(1, 2) }}"),
    feat("python_quirks", "{{ range(10)[2:8:3] }}{{ range(5)[::-1] }}{{ range(3).index(1) }}|{{ 'a' % [1] }}{{ '%s' % [1, 2] }}|{{ missing is callable }}|{{ missing|last|default('D') }}|{{ ['b', 'a'] is lower }}|{{ (('x'|safe).upper()).split('X') }}|{{ ('%s' % missing)|length }}|{{ (1)[:2] }}|{{ 'x' ~ (true)[::-1] ~ 'y' if false else 'z' }}"),
    feat("set_block", "{% set body %}  hello {{ name }}  {% endset %}[{{ body }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]", name="world"),
    feat("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 3, 4 %}{{ c }}"),
    feat("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"),
    # macros
    feat("macro_defaults", "{% macro m(a, b='B', c=a ~ '!') %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, 2) }}|{{ m(a=3, c=4) }}|{{ m() }}"),
    feat("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}"),
    feat("macro_caller", "{% macro box(t) %}[{{ t }}:{{ caller() }}]{% endmacro %}{% call box('T') %}inner {{ 1 + 1 }}{% endcall %}{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}"),
    feat("macro_closure", "{% set a = 1 %}{% macro m() %}{{ a }}{{ b }}{% endmacro %}{% set a = 2 %}{% set b = 3 %}{{ m() }}{% for a in [9] %}{{ m() }}{% endfor %}"),
    feat("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(10) }}"),
    feat("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}"),
    feat("generation_block", "a{% generation %}b{% set q = 1 %}{% endgeneration %}{{ q }}c"),
    # filters
    feat("filters_string", "{{ '  x y  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'Hello World'|upper }}{{ 'ÉÀ'|lower }}|{{ 'hello wORLD-foo(bar'|title }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'ab'|replace('', '.') }}|{{ 3|string }}{{ none|string }}|{{ 'abc'|center(9) }}|{{ 'one two three'|wordcount }}"),
    feat("filters_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('>', blank=true) }}"),
    feat("filters_truncate", "{{ 'foo bar baz qux'|truncate(9) }}|{{ 'foo bar baz qux'|truncate(9, true) }}|{{ 'foo bar baz qux'|truncate(11) }}|{{ 'foo bar baz qux'|truncate(11, false, '…', 0) }}"),
    feat("filters_seq", "{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}|{{ [3, 1]|sort(reverse=true) }}|{{ users|sort(attribute='age')|map(attribute='name')|join(',') }}|{{ {'b': 1, 'A': 2}|dictsort }}|{{ [1, 2, 1, 'a', 'A']|unique|list }}|{{ [1, 5, 2]|max }}{{ [1, 5, 2]|min }}{{ []|max }}|{{ [1, 2.5]|sum }}|{{ users|sum(attribute='age') }}",
         users=[{"name": "b", "age": 30}, {"name": "a", "age": 25}, {"name": "c", "age": 30}]),
    feat("filters_first_last", "{{ [1, 2]|first }}{{ []|first }}|{{ [1, 2]|last }}|{{ 'ab'|first }}{{ 'ab'|last }}|{{ {'k': 1}|first }}|{{ [1, 2, 3]|length }}{{ 'héllo'|length }}{{ {'a': 1}|count }}{{ missing|length }}"),
    feat("filters_map_select", "{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3]|reject('even')|list }}|{{ ['a', 'b']|map('upper')|join }}|{{ users|selectattr('admin')|map(attribute='name')|list }}|{{ users|rejectattr('admin')|map(attribute='name')|join('/') }}|{{ users|selectattr('name', 'equalto', 'b')|list }}|{{ users|map(attribute='nick', default='?')|list }}|{{ [none, 1, '']|select|list }}|{{ users|selectattr('nick', 'defined')|list }}",
         users=[{"name": "a", "admin": True}, {"name": "b", "admin": False}, {"name": "c"}]),
    feat("filters_generators", "{% set g = [1, 2, 3]|select('odd') %}{{ g|first }}{{ g|list }}{{ g|list }}|{% if [0]|select('odd') %}truthy{% endif %}|{{ [1, 2]|reverse|list }}{{ 'abc'|reverse }}"),
    feat("filters_default", "{{ missing|default('d') }}|{{ missing|d('short') }}|{{ ''|default('empty', true) }}|{{ none|default('n') }}|{{ 0|default(5, boolean=true) }}|{{ missing|default }}|"),
    feat("filters_numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.99|int }} {{ '0x1A'|int(0, 16) }} {{ ' 12 '|int }} {{ '1_000'|int }} {{ true|int }} {{ '2.5'|float }} {{ 'nan'|float }} {{ 'z'|float }} {{ 3|float }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }} {{ 7|round }}"),
    feat("filters_join_list", "{{ [1, none, 'a', [2]]|join(', ') }}|{{ users|join(', ', attribute='name') }}|{{ 'abc'|list }}|{{ {'a': 1, 'b': 2}|list }}|{{ {'a': 1}|items|list }}", users=[{"name": "x"}, {"name": "y"}]),
    feat("filters_tojson", "{{ data|tojson }}|{{ data|tojson(indent=2) }}|{{ data|tojson(separators=(',', ':')) }}|{{ data|tojson(sort_keys=true) }}|{{ 'é\"\\n\\t\\u2028</script>'|tojson }}|{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ [1.0, 1e20, 0.1, -0.0, 1e-07]|tojson }}|{{ {}|tojson(indent=2) }}{{ []|tojson(indent=2) }}|{{ {'a': {}}|tojson(indent='\\t') }}",
         data={"z": 1, "a": [True, None, "x", {"n": 2.5}], "é": "ü"}),
    feat("filters_safe_escape", "{{ ('<a>'|safe) + '<b>' }}|{{ '<x>' + ('&'|safe) }}|{{ '<i>&\"\\''|escape }}|{{ ('<p>'|safe)|e }}|{{ '<'|safe ~ '>' }}|{{ ('x'|safe) is escaped }}{{ 'x' is escaped }}"),
    feat("filters_attr_format", "{{ d|attr('get') is callable }}|{{ d|attr('k') }}|{{ '%s-%d%%'|format('a', 3) }}|{{ '%s and %r' % ('x', 'y') }}", d={"k": "v"}),
    # tests
    feat("tests", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ {} is sequence }}{{ 'a' is iterable }}{{ 1 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ false is false }}{{ 1 is true }}{{ 2 in [1, 2] }}{{ 4 is divisibleby 2 }}{{ 3 is even }}{{ 3 is odd }}{{ 1 is eq 1 }}{{ 1 is lt 2 }}{{ 1 is gt 2 }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ range is callable }}{{ none is sameas none }}{{ y is sequence }}{{ y is iterable }}{{ 1 is iterable }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ x is not none }}",
         x=1),
    # methods
    feat("methods_str", "{{ 'abc'.startswith('a') }}{{ 'abc'.startswith(('x', 'b'), 1) }}{{ 'abc'.endswith('bc') }}|{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ '  a b  '.split(none, 1) }}{{ '  a b  '.rsplit(none, 1) }}|{{ '  x  '.strip() }}{{ 'xxax'.lstrip('x') }}{{ 'axx'.rstrip('x') }}|{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}{{ 'héllo'.index('l') }}{{ 'aaa'.count('a') }}|{{ 'Hello World'.title() }}{{ 'hello world'.capitalize() }}{{ 'aB'.swapcase() }}{{ 'x'.upper() }}|{{ 'a-b'.replace('-', '+') }}|{{ '{}+{}={x}'.format(1, 2, x=3) }}{{ '{0}{0}{1!r}'.format('a', 'b') }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'k=v=w'.partition('=') }}{{ 'k=v=w'.rpartition('=') }}|{{ ', '.join(['a', 'b']) }}|{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}|{{ 'ab'.zfill(4) }}{{ 'ab'.ljust(4, '.') }}{{ 'ab'.rjust(4) }}|{{ 'prefix_x'.removeprefix('prefix_') }}"),
    feat("methods_dict_list", "{{ d.get('a') }}{{ d.get('zz') }}{{ d.get('zz', 'dflt') }}|{{ d.keys() }}|{{ d.values() }}|{{ d.items() }}|{{ d['a'] }}{{ d.a }}|{{ l.index(2) }}{{ l.count(1) }}|{% set popped = l.pop() %}{{ popped }}{{ l }}|{{ d.items is callable }}|{{ d['items'] is callable }}", d={"a": 1, "b": [2]}, l=[1, 2, 3]),
    # undefined handling
    feat("undefined_ok", "[{{ missing }}]{{ missing is defined }}{{ missing|default('d') }}{{ missing|length }}{% for x in missing %}x{% endfor %}{{ none.attr }}{{ d.nokey }}{{ d['nokey'] }}{{ l[5] }}{{ missing == missing }}{{ 'a' in missing }}{{ missing ~ 'x' }}{{ missing|string }}{{ missing|trim }}{{ missing|list }}", d={}, l=[]),
    feat("undefined_attr_error", "{{ missing.attr }}", error="'missing' is undefined"),
    feat("undefined_call_error", "{{ d.nokey.deeper }}", error="has no attribute 'nokey'", d={}),
    feat("undefined_add_error", "{{ missing + 1 }}", error="is undefined"),
    feat("none_method_error", "{{ x.startswith('a') }}", error="'None' has no attribute 'startswith'", x=None),
    # runtime errors
    feat("err_raise_exception", "line1\n{{ raise_exception('Conversation roles must alternate user/assistant') }}", error="2:4: Conversation roles must alternate"),
    feat("err_type_concat", "{{ 'a' + 1 }}", error="can only concatenate str"),
    feat("err_none_concat", "{{ x + 'a' }}", error="unsupported operand", x=None),
    feat("err_compare", "{{ 1 < 'a' }}", error="not supported between"),
    feat("err_zero_div", "{{ 1 // 0 }}", error="ZeroDivisionError"),
    feat("err_unsafe_append", "{{ [1].append(2) }}", error="unsafe"),
    feat("err_unsafe_update", "{% set d = {} %}{{ d.update({'a': 1}) }}", error="unsafe"),
    feat("err_length_generator", "{{ [1]|select|length }}", error="has no len()"),
    feat("err_items_non_mapping", "{% for k, v in 'abc'|items %}{% endfor %}", error="Can only get item pairs from a mapping"),
    feat("err_ns_assign", "{% set x = 1 %}{% set x.a = 2 %}", error="non-namespace"),
    feat("err_macro_kwarg", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}", error="no keyword argument 'b'"),
    feat("err_tojson_undefined", "{{ missing|tojson }}", error="not JSON serializable"),
    feat("err_range_too_big", "{{ range(1000000)|length }}", error="Range too big"),
    feat("err_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", error="too many values to unpack"),
    feat("err_not_iterable", "{% for x in 5 %}{% endfor %}", error="not iterable"),
    # syntax errors and unsupported constructs (all errors in Jinja2 too)
    feat("syn_unclosed_if", "a\n{% if x %}\nb", error="Unexpected end of template"),
    feat("syn_unknown_tag", "{% frobnicate %}", error="1:4: Encountered unknown tag 'frobnicate'"),
    feat("syn_wrong_end", "{% if x %}{% endfor %}", error="Encountered unknown tag 'endfor'"),
    feat("syn_bad_expr", "{{ 1 + }}", error="1:8: unexpected"),
    feat("syn_unclosed_var", "{{ x ", error="expected token"),
    feat("syn_unclosed_comment", "a {# b", error="Missing end of comment tag"),
    feat("syn_unknown_filter", "\n  {{ x|frobnicate }}", error="2:8: No filter named 'frobnicate'"),
    feat("syn_unknown_test", "{{ x is frobnicated }}", error="No test named 'frobnicated'"),
    feat("syn_unknown_filter_in_if_ok", "{% if false %}{{ x|frobnicate }}{% endif %}ok"),
    feat("syn_unknown_filter_in_if_reached", "{% if true %}{{ x|frobnicate }}{% endif %}", error="No filter named 'frobnicate'"),
    feat("syn_break_outside_loop", "{% break %}", error="outside loop"),
    feat("syn_unbalanced", "{{ (1 }}", error="unexpected"),
    feat("unsupported_include", "{% include 'other.jinja' %}", error="not supported"),
    feat("unsupported_extends", "{% extends 'base.jinja' %}", error="not supported"),
    dict(feat("unsupported_filter", "{{ 'a b'|wordwrap(1) }}"), strix_error="not supported"),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cases = []
    cases += conv_cases("qwen3", "qwen3.jinja")
    cases += conv_cases("coder", "qwen3-coder.jinja")
    cases += conv_cases("next", "qwen3-next.jinja")
    cases += FEATURES
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(os.path.join(here, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases")


if __name__ == "__main__":
    main()
