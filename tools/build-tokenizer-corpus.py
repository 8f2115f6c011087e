#!/usr/bin/python3
"""Builds the tokenizer reference corpus in tests/data/tokenizer/corpus/: input texts, and for
each vocabulary the token ids llama.cpp gives them (through node-llama-cpp, see
../shared/bench/peer_tokenize.mjs: no BOS, special tokens not parsed).

  /usr/bin/python3 tools/build-tokenizer-corpus.py --parley build/tok/parley [--peer-dir /tmp/peer]

Inputs: text fields of the Claude Code captures (../shared/docs/claude-code-captures.jsonl),
request JSON, source code (this repository, Python's standard library), sentences in many
scripts, emoji sequences, combining accents, seeded random code point strings, white space
shapes, and special-token-looking text.

Output files:
  inputs.json        JSON array of the input strings
  <vocab>.ids        per input: varint(count) then varint(id) per token (LEB128)
  README.md          what each vocabulary is and where it came from
Vocabularies without a GGUF file in ../shared are turned into one with `parley make-model
--tokenizer` (a tiny model; only its tokenizer matters).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
OUT = os.path.join(ROOT, "tests", "data", "tokenizer", "corpus")
VEC = os.path.join(SHARED, "tokenizers", "vectors", "gguf")
TOK = os.path.join(SHARED, "tokenizers")

# name -> (GGUF in ../shared, or Hugging Face tokenizer for make-model)
VOCABS = {
    "llama-spm": ("gguf", f"{VEC}/ggml-vocab-llama-spm.gguf"),
    "phi-3": ("gguf", f"{VEC}/ggml-vocab-phi-3.gguf"),
    "baichuan": ("gguf", f"{VEC}/ggml-vocab-baichuan.gguf"),
    "gpt-2": ("gguf", f"{VEC}/ggml-vocab-gpt-2.gguf"),
    "gpt-neox": ("gguf", f"{VEC}/ggml-vocab-gpt-neox.gguf"),
    "deepseek-llm": ("gguf", f"{VEC}/ggml-vocab-deepseek-llm.gguf"),
    "deepseek-coder": ("gguf", f"{VEC}/ggml-vocab-deepseek-coder.gguf"),
    "falcon": ("gguf", f"{VEC}/ggml-vocab-falcon.gguf"),
    "starcoder": ("gguf", f"{VEC}/ggml-vocab-starcoder.gguf"),
    "mpt": ("gguf", f"{VEC}/ggml-vocab-mpt.gguf"),
    "refact": ("gguf", f"{VEC}/ggml-vocab-refact.gguf"),
    "qwen2.5": ("hf", f"{TOK}/Qwen2.5-0.5B-Instruct"),
    "smollm2": ("hf", f"{TOK}/SmolLM2-135M-Instruct/tokenizer.json"),
    "llama-3": ("hf", f"{TOK}/Llama-3/tokenizer.model"),
    "mistral-v0.3": ("hf", f"{TOK}/Mistral-7B-Instruct-v0.3"),
}

SENTENCES = [
    # CJK
    "我想在苹果公司工作，但是我还没有准备好面试。今天天气很好，我们去公园散步吧！",
    "東京は日本の首都です。ひらがな、カタカナ、漢字を使います。ﾊﾝｶｸｶﾀｶﾅもあります。",
    "안녕하세요! 저는 한국어를 배우고 있습니다. 한글은 세종대왕이 만들었습니다.",
    "繁體中文與簡體中文不同：「這是引號」『這也是』。數字：一二三四五六七八九十、１２３。",
    # Arabic, Hebrew, Persian (right to left)
    "مرحبا بالعالم! هذه جملة باللغة العربية مع أرقام ١٢٣٤٥ و 12345.",
    "שלום עולם, זהו משפט בעברית עם ניקוד: בְּרֵאשִׁית בָּרָא אֱלֹהִים.",
    "سلام دنیا! این یک جمله فارسی است با «گیومه» و ۱۲۳ عدد.",
    # Indic
    "नमस्ते दुनिया! यह हिन्दी में एक वाक्य है। संख्याएँ: १२३४५।",
    "আমি বাংলায় গান গাই। তামিল: வணக்கம் உலகம். తెలుగు: నమస్కారం ప్రపంచం.",
    "ગુજરાતી લખાણ, ਪੰਜਾਬੀ ਲਿਖਤ, ಕನ್ನಡ ಬರಹ, മലയാളം എഴുത്ത്, ଓଡ଼ିଆ ଲେଖା, සිංහල අකුරු.",
    # South-east Asia
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "ខ្ញុំចង់ទៅផ្សារ។ ລາວ: ສະບາຍດີ. မြန်မာ: မင်္ဂလာပါ။",
    "Tiếng Việt có nhiều dấu: Cửa Việt, người, được, những, thường xuyên.",
    # Cyrillic, Greek, Armenian, Georgian, others
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Українська: ґанок, їжак.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Ἐν ἀρχῇ ἦν ὁ λόγος.",
    "Բարեւ աշխարհ։ ქართული ენა: გამარჯობა მსოფლიოვ. አማርኛ: ሰላም ለዓለም።",
    "Ünïcödé façade naïve coöperate café résumé Straße Ærø Œuvre Ångström Łódź Dvořák.",
    "İstanbul'da ığdır ŞŞ çğü; ǅemal Ǆ ǈ ǋ ﬁnancial ﬀ ﬃ ǲ.",
    # Emoji
    "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🇫🇷🇯🇵 flags, 1️⃣ keycap, ❤️‍🔥 heart on fire, 🧑🏿‍🚀.",
    "😀😃😄😁😆😅🤣😂🙂🙃😉😊😇🥰😍🤩😘😗☺️😚😙🥲😋😛😜🤪😝🤑🤗🤭🤫🤔",
    "Status: ✅ done ❌ failed ⚠️ warning ℹ️ info ➡️ next ⏳ waiting 🚀 shipped 🦙 llama",
    # Symbols, math, fullwidth
    "∀x∈ℝ: x² ≥ 0, ∑ᵢ aᵢ = ∫₀^∞ e^{−x} dx ≈ 1.000; α→β ⇒ γ ⊆ δ ∪ ε ∩ ζ ≠ ∅.",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ！？ ｢ﾟ｣ ₀₁₂ ⁰¹² ½ ¾ ⅓ ⅔ Ⅻ ⅻ ① ② ⑳ ㊙ ㊗",
    "┌──┬──┐ │ab│cd│ └──┴──┘ ░▒▓█ ♠♣♥♦ ♩♪♫♬ ☀☁☂☃ ⌘⌥⇧⌃ ©®™ §¶† ‰ ‱",
    "Prices: $100, €85.50, £70, ¥1000, ₹500, ₩12000, ₿0.001, 12,345.67 and 1.234.567,89",
    # invisible and directional characters
    "zero\u200bwidth\u200cjoiner\u200dnon\u2060word\ufeffbom \u202eRTL override\u202c \u200e\u200f marks",
    "soft\u00adhyphen non\u00a0breaking thin\u2009space narrow\u202fnbsp ideographic\u3000space",
    "line\u2028separator paragraph\u2029separator next\u0085line vertical\x0btab form\x0cfeed",
]

CODE_FILES = [
    os.path.join(ROOT, "src/base/json.cpp"),
    os.path.join(ROOT, "src/base/utf8.cpp"),
    os.path.join(ROOT, "scripts/test.sh"),
    "/usr/lib/python3.11/json/decoder.py",
    "/usr/lib/python3.11/textwrap.py",
]

SPECIALS = [
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
    "<s>[INST] What is 2+2? [/INST] 4</s>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
    "<|endoftext|> <|user|> <|assistant|> <|end|> <tool_call>{\"name\": \"f\"}</tool_call>",
    "<think>\nreasoning\n</think>\n\n<|fim_prefix|>def f(<|fim_suffix|>)<|fim_middle|>",
    "<unk> <0x0A> <pad> [PAD] <mask> <|padding|> ▁▁ ▁hello Ġworld Ċ",
]


def capture_texts(limit_each=3000):
    texts, bodies = [], []
    seen = set()

    def walk(v):
        if isinstance(v, str):
            if len(v) > 20 and v not in seen:
                seen.add(v)
                texts.append(v[:limit_each])
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    with open(os.path.join(SHARED, "docs", "claude-code-captures.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("body"):
                walk(d["body"])
                bodies.append(d["body"])
    return texts, bodies


def random_strings(rng, n):
    blocks = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
        (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1780, 0x17FF), (0x2000, 0x206F),
        (0x2190, 0x22FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFF00, 0xFFEF),
        (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x10000, 0x1007F), (0x1D400, 0x1D4FF),
        (0x20000, 0x2007F),
    ]
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        s = []
        for _ in range(k):
            r = rng.random()
            if r < 0.25:
                s.append(rng.choice(" \t\n\r  \u00a0\u3000"))
            elif r < 0.45:
                s.append(chr(rng.randint(0x20, 0x7E)))
            else:
                lo, hi = rng.choice(blocks)
                c = rng.randint(lo, hi)
                if 0xD800 <= c <= 0xDFFF:
                    c = 0x41
                s.append(chr(c))
        out.append("".join(s))
    return out


def whitespace_shapes(rng):
    out = []
    pieces = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t", "\u00a0", "\u3000", "\u2003"]
    words = ["a", "Hello", "x=1", "3", "333", "'s", "!!", "é", "中文", "🚀", "def", "}"]
    for i in range(60):
        s = ""
        for _ in range(rng.randint(1, 12)):
            s += rng.choice(pieces) * rng.randint(1, 3) + (rng.choice(words) if rng.random() < 0.6 else "")
        out.append(s)
    for n in (1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 64, 100):
        out.append(" " * n + "x")
        out.append("x" + " " * n)
        out.append("\n" * n)
        out.append("\t" * n + "return;")
    out.append("line one\r\nline two\r\n\r\n  indented\r\n")
    out.append("    " + "\n    ".join(["if (x) {", "  y();", "}"]) + "\n")
    return out


def build_inputs():
    rng = random.Random(20260101)
    texts, bodies = capture_texts()
    inputs = list(texts)
    for b in bodies[:6]:
        for key in ("tools", "system"):
            if key in b:
                inputs.append(json.dumps(b[key], ensure_ascii=False)[:6000])
                inputs.append(json.dumps(b[key], indent=2)[:3000])
    for path in CODE_FILES:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                src = f.read()
            for start in range(0, min(len(src), 12000), 3000):
                inputs.append(src[start:start + 3000])
    for s in SENTENCES:
        inputs.append(s)
        nfd = unicodedata.normalize("NFD", s)
        if nfd != s:
            inputs.append(nfd)
    inputs.append(" ".join(SENTENCES))
    inputs += SPECIALS
    inputs += random_strings(rng, 300)
    inputs += whitespace_shapes(rng)
    # every vector text of llama.cpp (all sets share most of them)
    inp = os.path.join(SHARED, "tokenizers", "vectors", "ggml-vocab-llama-bpe.gguf.inp")
    with open(inp, encoding="utf-8") as f:
        inputs += f.read().split("\n__ggml_vocab_test__\n")[:-1]
    return inputs


def varint(n, out):
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True, help="built parley binary (for make-model)")
    ap.add_argument("--peer-dir", default="/tmp/peer")
    ap.add_argument("--only", nargs="*", help="vocabularies to (re)build")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    inputs = build_inputs()
    with open(os.path.join(OUT, "inputs.json"), "w", encoding="utf-8") as f:
        json.dump(inputs, f, ensure_ascii=False, indent=0)
    print(f"{len(inputs)} inputs, {sum(len(s.encode()) for s in inputs)} bytes", file=sys.stderr)
    peer = os.path.join(SHARED, "bench", "peer_tokenize.mjs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, path) in VOCABS.items():
            if args.only and name not in args.only:
                continue
            gguf = path
            if kind == "hf":
                gguf = os.path.join(tmp, name + ".gguf")
                subprocess.run([args.parley, "make-model", "-q", "--preset", "tiny-llama",
                                "--tokenizer", path, "-o", gguf], check=True)
            res = subprocess.run(["node", peer, gguf, os.path.join(OUT, "inputs.json"),
                                  "--peer-dir", args.peer_dir], check=True, capture_output=True,
                                 text=True)
            lines = [json.loads(l) for l in res.stdout.split("\n") if l.startswith("{")]
            if len(lines) != len(inputs):
                sys.exit(f"{name}: {len(lines)} results for {len(inputs)} inputs")
            data = bytearray()
            n_tok = 0
            for rec, text in zip(lines, inputs):
                if rec["text"] != text:
                    sys.exit(f"{name}: peer echoed a different text")
                varint(len(rec["ids"]), data)
                for i in rec["ids"]:
                    varint(i, data)
                n_tok += len(rec["ids"])
            with open(os.path.join(OUT, name + ".ids"), "wb") as f:
                f.write(data)
            print(f"{name}: {n_tok} tokens, {len(data)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
