#!/usr/bin/env python3
"""Reference token ids from Hugging Face tokenizers for the parity test.

Run on a machine with the `tokenizers` package (the GPU machine has it):
  python3 make_reference.py TOKENIZER_JSON corpus.jsonl qwen3_reference.jsonl
Writes one line per corpus string: {"i": n, "ids": [...]}. The encoding is
HF's default encode(text): added/special tokens in the text are matched,
and Qwen's post-processor adds no BOS.
"""
import json
import sys

import tokenizers

tok = tokenizers.Tokenizer.from_file(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    corpus = [json.loads(line) for line in f]
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for i, s in enumerate(corpus):
        ids = tok.encode(s).ids
        out.write(json.dumps({"i": i, "ids": ids}) + "\n")
print(f"{len(corpus)} strings, tokenizers {tokenizers.__version__}")
