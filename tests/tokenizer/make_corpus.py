#!/usr/bin/env python3
"""Write tests/tokenizer/corpus.jsonl: >= 1000 varied strings for the
tokenizer parity test (one JSON string per line). Deterministic: the same
seed gives the same corpus. Categories: code, CJK, emoji, mixed scripts,
whitespace runs, digits, contractions, special-token text, NFC cases,
random Unicode, very long inputs."""
import json
import random
import sys

rng = random.Random(20261125)

code = [
    "int main(void) {\n\tprintf(\"hello, world\\n\");\n\treturn 0;\n}\n",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "const add = (a, b) => a + b;\nconsole.log(`sum=${add(1, 2)}`);\n",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))\n",
    "    for (size_t i = 0; i < n; ++i) { sum += x[i] * y[i]; }\r\n",
    "<div class=\"row\"><span id='x'>&nbsp;&amp;</span></div>",
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}",
    "x = [1, 2, 3]\ny = {k: v for k, v in zip('abc', x)}\nprint(y)  # {'a': 1}\n",
    "git commit -m \"fix: handle EOF\" && git push origin main",
    "$ ./configure --prefix=/usr/local && make -j$(nproc) && sudo make install",
    "template<typename T> T max(T a, T b) { return a > b ? a : b; }",
    "\tif err != nil {\n\t\treturn fmt.Errorf(\"open %s: %w\", path, err)\n\t}\n",
    "lambda x: x**2 if x>0 else -x  //  a//b  a**=2  a>>=1  a!=b  a<=>b",
]
cjk = [
    "你好，世界！今天的天气怎么样？", "我爱自然语言处理和大型语言模型。", "日本語のテキストを正しく分割できますか。",
    "東京は日本の首都です。カタカナとひらがなも混ざっています。", "안녕하세요, 만나서 반갑습니다.", "한국어 문장도 토큰화해야 합니다.",
    "中文、日本語、한국어が混在する文章。", "《红楼梦》是中国古典小说。", "「こんにちは」と彼は言った。", "价格：¥1,299.00（含税）",
]
emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "❤️", "🧑🏿‍💻", "🏳️‍🌈", "✨🔥💯", "🙂🙃", "☕️", "🤖 robots", "1️⃣2️⃣#️⃣"]
scripts = [
    "Привет, как дела?", "Ελληνικά γράμματα αβγδ", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "สวัสดีชาวโลก", "Xin chào thế giới", "Γειά σου Κόσμε", "Здравствуй, мир! 123", "ሰላም ለዓለም", "ᚠᚢᚦᚨᚱᚲ",
    "Dobrý den, přátelé", "Zürich Straße Ärger ÖL", "façade naïve coöperate résumé", "İstanbul ışık ĞÜŞ",
    "ქართული ენა", "Հայերեն", "ಕನ್ನಡ", "தமிழ்", "བོད་ཡིག", "ꦗꦮ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙", "ℝ² ∑ ∫ ≤ ≥ ≠ ∞",
]
contractions = [
    "I'm sure you'll see it's fine, we've done what they'd do.", "DON'T SHOUT, IT'S LOUD, WE'LL SEE", "rock'n'roll o'clock",
    "she's he'd they're I've you'd we'll 'tis", "It'S wEiRd'Ll 'D 'M", "l'homme d'état aujourd'hui",
]
specials = [
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "text<|endoftext|>more",
    "<think>\nreasoning\n</think>\n\nanswer", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "<|im_start|", "<|im_end",
    "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "< |im_start| >", "<|im_start|><|im_start|>", "<|vision_start|><|image_pad|><|vision_end|>",
    "<tool_response>ok</tool_response>", "<|box_start|>(1,2)<|box_end|>", "<|IM_START|>",
]
ws_pieces = [" ", "  ", "    ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028", "\u0085", "\ufeff", "\u1680", "\u180e", "\u202f", "\u205f", "\x0b", "\x0c"]
digits = ["0", "7", "42", "1234567890", "3.14159", "-0.001", "1e-9", "2,147,483,647", "+1 (555) 010-9999", "192.168.0.1", "٣٤٥", "१२३", "①②③", "Ⅻ", "¼½¾", "0x7fffffff", "1_000_000"]
nfc = ["e\u0301", "cafe\u0301", "A\u030a", "\u1100\u1161\u11a8", "n\u0303o", "\u00e9", "Å", "\u0041\u0308\u0304", "\u212b", "\u2126", "ﬁ", "ｆｕｌｌ width", "\u0958", "ḱṷṓn", "q\u0307\u0323"]
words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "model", "token", "server", "Strix", "Halo", "GPU",
         "memory", "bandwidth", "tensor", "kernel", "latency", "throughput", "x", "I", "a", "naïve", "東京", "😀", "and", "or"]

out = []
out += code + cjk + emoji + scripts + contractions + specials + digits + nfc
out += ["", " ", "a", "A", "\n", "hello", "Hello world", "Hello, world!", " leading space", "trailing space ", "  two  spaces  "]

def rand_unicode_char():
    # A valid Unicode scalar from a mix of ranges (no surrogates).
    r = rng.random()
    if r < 0.3:
        cp = rng.randint(0x20, 0x7e)
    elif r < 0.5:
        cp = rng.randint(0xa0, 0x24f)
    elif r < 0.65:
        cp = rng.randint(0x370, 0x1fff)
    elif r < 0.8:
        cp = rng.randint(0x3000, 0x9fff)
    elif r < 0.9:
        cp = rng.randint(0xac00, 0xd7a3)
    else:
        cp = rng.randint(0x1f300, 0x1faff)
    return chr(cp)

pools = [code, cjk, emoji, scripts, contractions, specials, ws_pieces, digits, nfc, words]
while len(out) < 1100:
    kind = rng.randrange(8)
    if kind == 0:   # mixed pieces from every pool
        s = "".join(rng.choice(rng.choice(pools)) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(2, 12)))
    elif kind == 1:  # whitespace runs around words
        s = "".join(rng.choice(ws_pieces) * rng.randint(1, 5) + rng.choice(words) for _ in range(rng.randint(1, 8)))
        s += rng.choice(ws_pieces) * rng.randint(0, 4)
    elif kind == 2:  # random unicode
        s = "".join(rand_unicode_char() for _ in range(rng.randint(1, 60)))
    elif kind == 3:  # digits and punctuation
        s = "".join(rng.choice(digits + ["+", "-", "*", "/", "=", "%", "$", "€", ".", ",", " ", "(", ")", ":"]) for _ in range(rng.randint(1, 30)))
    elif kind == 4:  # sentences with contractions and case changes
        s = " ".join((w.upper() if rng.random() < 0.2 else w) + rng.choice(["", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", ",", ".", "!", "?"]) for w in rng.choices(words, k=rng.randint(3, 20)))
    elif kind == 5:  # code mutations
        s = rng.choice(code).replace("    ", rng.choice(["\t", "  ", "        "])) * rng.randint(1, 3)
    elif kind == 6:  # special tokens glued to text
        s = "".join(rng.choice(specials + words + [" ", "\n"]) for _ in range(rng.randint(2, 10)))
    else:           # emoji and NFC clusters
        s = "".join(rng.choice(emoji + nfc + [" ", "x"]) for _ in range(rng.randint(1, 15)))
    out.append(s)

# very long inputs
out.append(" ".join(rng.choices(words, k=3000)))
out.append("a" * 20000)
out.append("\n" * 5000 + " " * 5000)
out.append("".join(rand_unicode_char() for _ in range(20000)))
out.append("".join(rng.choice(code) for _ in range(200)))
out.append("1234567890" * 1000)
out.append("😀" * 3000)

with open(sys.argv[1] if len(sys.argv) > 1 else "corpus.jsonl", "w", encoding="utf-8") as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=True) + "\n")
print(len(out), "strings")
