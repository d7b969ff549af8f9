#!/usr/bin/python3
"""Render the chat-template test cases with Python's Jinja2, configured the way
Hugging Face transformers renders chat templates (transformers/utils/
chat_template_utils.py): ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True) with the loopcontrols extension and transformers'
AssistantTracker ({% generation %}), a tojson filter that calls json.dumps
without HTML escaping, and the raise_exception / strftime_now globals.

Usage: render_jinja2.py CASES_JSON TEMPLATE_DIR OUT_DIR

For every case it writes OUT_DIR/<name>.out (the rendered text, UTF-8) or,
when Jinja2 raises, OUT_DIR/<name>.err ("ExceptionType: message").
test_chat_template.c compares strixcore's rendering with these files.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %} block, without the
    index tracking (which only matters for assistant token masks)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' override: no HTML-safe escaping, keys unsorted, UTF-8 kept
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    cases_path, template_dir, out_dir = sys.argv[1:]
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    os.makedirs(out_dir, exist_ok=True)
    env = make_env()
    compiled = {}
    for case in cases:
        name = case["name"]
        for ext in (".out", ".err"):
            try:
                os.unlink(os.path.join(out_dir, name + ext))
            except FileNotFoundError:
                pass
        try:
            if "template_text" in case:
                tmpl = env.from_string(case["template_text"])
            else:
                key = case["template"]
                if key not in compiled:
                    with open(os.path.join(template_dir, key), encoding="utf-8", newline="") as f:
                        compiled[key] = env.from_string(f.read())
                tmpl = compiled[key]
            text = tmpl.render(**case.get("vars", {}))
        except Exception as e:  # any failure is an expected-error result
            with open(os.path.join(out_dir, name + ".err"), "w", encoding="utf-8") as f:
                f.write(f"{type(e).__name__}: {e}")
            continue
        with open(os.path.join(out_dir, name + ".out"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
