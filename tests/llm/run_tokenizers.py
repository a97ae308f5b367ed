#!/usr/bin/env python3
"""`tsr tokenize` against the Hugging Face `tokenizers` library, on tokenizer.json files trained here.

Usage: run_tokenizers.py --tsr PATH [--work DIR] [--style NAME]... [--build-only]
(run with the Python of tools/llm_venv.sh: tokenizers)

A corpus is generated inside the script (seeded: English words, contractions, numbers,
punctuation, whitespace runs, newlines, code, URLs, accented Latin, Cyrillic, Greek, CJK, Hangul,
emoji) and `tokenizers`' BpeTrainer trains a small BPE (a few hundred tokens) for each of five
styles, each saved as a tokenizer.json configured as the real models' files are:

  gpt2               ByteLevel pre-tokenizer (its own regex), ByteLevel decoder and post-processor,
                     <|endoftext|> at the end of the model vocab and a special added token.
  llama3             Split(Llama 3 regex, isolated) + ByteLevel(use_regex=False); BPE with
                     ignore_merges (the vocab holds a few words that no merge makes); post-processor
                     Sequence([ByteLevel, TemplateProcessing "<|begin_of_text|> $A"]).
  qwen2              NFC normalizer, Split(Qwen2 regex) + ByteLevel(use_regex=False), no BOS,
                     <|endoftext|> <|im_start|> <|im_end|>.
  llama2_legacy      SentencePiece-style BPE: normalizer Prepend("▁") + Replace(" ", "▁"), no
                     pre-tokenizer, byte_fallback with <0x00>..<0xFF> at ids 3..258 after <unk> <s>
                     </s>, decoder Replace/ByteFallback/Fuse/Strip, "<s> $A".
  mistral_metaspace  as llama2_legacy but no normalizer and a Metaspace(prepend_scheme="first",
                     split=False) pre-tokenizer and decoder.

Merges are saved as "a b" strings for llama3, qwen2 and llama2_legacy (the older files) and as
pairs for the others. For each style about 90 texts (edge cases, special tokens inside the text,
characters missing from the vocab, samples of the corpus, a few texts of several KB) are encoded
with `tsr tokenize FILE --text-file PATH [--no-special-tokens]` and must give exactly
`Tokenizer.encode(text, add_special_tokens=...).ids`; their ids are decoded with
`tsr tokenize FILE --decode IDS [--skip-special-tokens]` and must give exactly the bytes of
`Tokenizer.decode(ids, skip_special_tokens=...)`, as must random id sequences (byte tokens in an
order that is not valid UTF-8 among them). A truncated tokenizer.json and one whose merges name a
token missing from the vocab must make tsr exit 3 with a one-line message. For qwen2, a text that
is not NFC (decomposed accents, Hangul jamo, a mark with no precomposed form) must give
tokenizers' ids: tsr computes NFC as the normalizer says.

Every file is left under the work folder (STYLE/tokenizer.json, STYLE/texts/*.txt, STYLE/expected.json).
`--build-only` writes them without running tsr. Last line: "tokenizers: N passed, M failed".
"""
import argparse
import json
import os
import random
import subprocess
import sys
import unicodedata

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, \
    trainers

STYLES = ["gpt2", "llama3", "qwen2", "llama2_legacy", "mistral_metaspace"]
STRING_MERGES = ("llama3", "qwen2", "llama2_legacy")  # saved as "a b" strings, as the older files are

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPM = "\u2581"  # ▁

# ---------------------------------------------------------------------------------------------
# The corpus

ENGLISH = """the of and to in is was for that on as with by he it at from his an were are which this be
or has had not first one their its new after but who they two her she been other when there all
during into school time may years more most only over city some world would where later up such
used many can state about national out known university united then made also than under year
these people however may well just through being both because while much before long between
water system house light small great little right think say help low line differ turn cause mean
move hello Hello HELLO World model token tokenizer encode decode merge vocabulary byte level test
The This When There It She He They We You I A An In On For And But Or If""".split()
CONTRACTIONS = ["I'll", "don't", "DON'T", "she's", "we're", "they've", "I'm", "he'd", "It's", "you'RE",
                "can't", "won't", "Ain't", "they'll", "WE'VE", "y'all", "o'clock"]
PUNCT = [".", ",", "!", "?", ";", ":", "-", "--", "(", ")", "\"", "'", "...", "!!!", "?!", "[", "]", "{", "}",
         "/", "#", "@", "$", "%", "&", "*", "+", "=", "<", ">", "_", "|", "~", "`", "^", "\u2014", "\u00ab",
         "\u00bb", "\u201c", "\u201d", "\u2019"]
ACCENTED = ["caf\u00e9", "na\u00efve", "\u00dcberma\u00df", "r\u00e9sum\u00e9", "fa\u00e7ade", "se\u00f1or",
            "jalape\u00f1o", "\u00c5ngstr\u00f6m", "cr\u00e8me", "br\u00fbl\u00e9e", "Z\u00fcrich", "S\u00e3o",
            "Paulo", "\u00e9l\u00e8ve", "gar\u00e7on", "\u00e0", "\u00e9t\u00e9", "K\u00f6ln", "\u0141\u00f3d\u017a",
            "\u0159\u00ed\u0161e", "\u00f8l", "\u00e6ble"]
CYRILLIC = ["\u043f\u0440\u0438\u0432\u0435\u0442", "\u043c\u0438\u0440", "\u041c\u043e\u0441\u043a\u0432\u0430",
            "\u0441\u043f\u0430\u0441\u0438\u0431\u043e", "\u0445\u043e\u0440\u043e\u0448\u043e",
            "\u0440\u0443\u0441\u0441\u043a\u0438\u0439", "\u044f\u0437\u044b\u043a",
            "\u0442\u0435\u043a\u0441\u0442", "\u0438", "\u0432", "\u0434\u043e\u043c",
            "\u0401\u043b\u043a\u0430"]
GREEK = ["\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1", "\u03ba\u03cc\u03c3\u03bc\u03bf\u03c2",
         "\u0395\u03bb\u03bb\u03ac\u03b4\u03b1", "\u03bb\u03cc\u03b3\u03bf\u03c2", "\u03b1\u03b2\u03b3"]
CJK = ["\u65e5\u672c\u8a9e", "\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587", "\u4f60\u597d", "\u4e16\u754c",
       "\u6771\u4eac", "\u306e", "\u3067\u3059", "\u6f22\u5b57", "\u3002", "\u3001", "\u79c1\u306f",
       "\u5b66\u751f", "\u3067\u3059\u3002"]
KOREAN = ["\uc548\ub155\ud558\uc138\uc694", "\uc138\uacc4", "\ud55c\uad6d\uc5b4",
          "\uac10\uc0ac\ud569\ub2c8\ub2e4", "\uc0ac\ub791"]
EMOJI = ["\U0001f642", "\U0001f600", "\U0001f44d", "\U0001f389", "\u2764\ufe0f", "\U0001f680",
         "\U0001f44d\U0001f3fd", "\U0001f1eb\U0001f1f7", "\u2728", "\U0001f525"]
CODE = ["def f(x):\n    return x + 1\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        "x = [1, 2, 3]", "if (a && b) { return; }", "  # comment\n", "print(\"hi\")",
        "https://example.com/path?q=1&r=2", "user@example.org", "a_b_c", "snake_case_name", "CamelCase",
        "0x1F", "\t\tindent", "</div>", "<p>", "foo->bar", "a::b"]
SEPARATORS = [" "] * 30 + ["  ", "   ", "\t", "", ", ", ". ", " - ", "    "]


def make_number(rng):
    k = rng.randrange(6)
    if k == 0:
        return str(rng.randrange(10))
    if k == 1:
        return str(rng.randrange(10, 1000))
    if k == 2:
        return str(rng.randrange(1000, 10 ** rng.randrange(4, 9)))
    if k == 3:
        return "%d.%d" % (rng.randrange(100), rng.randrange(100000))
    if k == 4:
        return "{:,}".format(rng.randrange(1000, 10 ** 8))
    return "%d%%" % rng.randrange(101)


def make_line(rng):
    pools = [(ENGLISH, 40), (CONTRACTIONS, 4), (PUNCT, 10), (ACCENTED, 5), (CYRILLIC, 5), (GREEK, 2), (CJK, 5),
             (KOREAN, 2), (EMOJI, 2), (CODE, 2), (None, 8)]
    total = sum(w for _, w in pools)
    out = []
    for _ in range(rng.randrange(3, 16)):
        r = rng.randrange(total)
        for pool, w in pools:
            if r < w:
                break
            r -= w
        out.append(make_number(rng) if pool is None else rng.choice(pool))
        out.append(rng.choice(SEPARATORS))
    return "".join(out[:-1])


def make_corpus(seed, docs):
    rng = random.Random(seed)
    corpus = []
    for _ in range(docs):
        lines = [make_line(rng) for _ in range(rng.randrange(1, 7))]
        text = ""
        for i, line in enumerate(lines):
            text += line
            if i + 1 < len(lines):
                text += rng.choice(["\n"] * 6 + ["\r\n", "\n\n", "\n\n\n", " \n"])
        corpus.append(text)
    return corpus


# ---------------------------------------------------------------------------------------------
# The texts

COMMON_TEXTS = [
    "", " ", "  ", "\n", "\n\n\n", "\r\n", "\r", "\t", " \n ", "a\n\nb", "x\r\ny",
    "Hello world", "Hello world!", "  hello", "hello  ", "   hello   world   ", "a  b   c",
    "I'll", "DON'T", "she's", "We're here, aren't we?", "'s",
    "1", "12", "1234567", "3.14159", "1,000,000", "2024-01-15", "\uff11\uff12\uff13",
    "!!!", "...", "?!", "\"quoted\" (x)", "abc123def", "https://example.com/a/b?c=d&e=f#g",
    "def f(x):\n    return x * 2\n", "if (x) {\n\treturn y;\n}\n", "    indented\n        more\n",
    "caf\u00e9", "na\u00efve", "\u00dcberma\u00df", "cr\u00e8me br\u00fbl\u00e9e",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587", "\u4f60\u597d\uff0c\u4e16\u754c\u3002",
    "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "\U0001f642", "\U0001f44d\U0001f3fd", "\U0001f1eb\U0001f1f7", "I \u2764\ufe0f NY \U0001f680\U0001f680",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    # characters missing from the corpus (byte fallback in the SentencePiece styles)
    "\u9f98\u9f49 \u7228", "\U0001f9a9 flamingo", "\U0001d518\U0001d52b\U0001d526",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u0928\u092e\u0938\u094d\u0924\u0947",
    # whitespace and control characters that the regexes and Metaspace treat in their own ways
    "a\u00a0b", "a\u3000b", "a\u2028b", "a\u200bb", "a\x0bb\x0cc", "a\x00b", "\x7f\x01",
    # special tokens of every style, as text
    "a<|endoftext|>b", " <|endoftext|> x", "<|endoftext", "<|begin_of_text|>hi", "x<|eot_id|>\n\ny",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "<s>x</s>", "</s>", "<unk>", "a </s> b",
    "<s> hello", "<<s>>",
]


def texts_for(style, corpus, seed):
    rng = random.Random(seed)
    texts = list(COMMON_TEXTS)
    if style != "qwen2":
        texts += ["cafe\u0301", "q\u0301", "\u1100\u1161"]  # not NFC / decomposed; no normalizer here
    texts += [rng.choice(corpus) for _ in range(6)]
    for size in (2000, 5000):
        long_text = ""
        while len(long_text.encode()) < size:
            long_text += rng.choice(corpus) + rng.choice(["\n", " ", "\n\n", ""])
        texts.append(long_text)
    texts.append("word " * 600)
    texts.append(" " * 300 + "x" + "\n" * 100)
    if style == "qwen2":
        texts = [unicodedata.normalize("NFC", t) for t in texts]
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# The qwen2 NFC check: texts that NFC changes (or that hold combining marks): decomposed
# accents, Hangul jamo, a mark with no precomposed form, a singleton (the angstrom sign), marks
# out of canonical order, Vietnamese stacked marks, Devanagari with a nukta.
NFC_TEXTS = ["cafe\u0301 au lait", "\u1100\u1161\u11a8 and A\u030a", "q\u0301", "10 \u212b",
             "a\u0302\u0323 a\u0323\u0302", "Vie\u0323\u0302t Nam", "\u0915\u093c\u093e"]

# ---------------------------------------------------------------------------------------------
# The tokenizers


def added(content, id_, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": True}


def finish(style, path):
    """Edits the saved tokenizer.json where `tokenizers` saves it otherwise than the real files."""
    j = json.load(open(path, encoding="utf-8"))
    if style in STRING_MERGES:  # "a b" strings (tokenizers saves pairs)
        merges = j["model"]["merges"]
        for a, b in merges:
            assert " " not in a and " " not in b, (a, b)
        j["model"]["merges"] = ["%s %s" % (a, b) for a, b in merges]
    if style == "qwen2":  # decoders.ByteLevel() takes no arguments; Qwen2's file has these
        j["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, indent=2)


def train_byte_level(corpus, vocab_size, pre_tokenizer):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return json.loads(tok.to_str())


def byte_chars():
    """GPT-2's bytes_to_unicode: the character that stands for each byte in a byte-level vocab."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out


BYTE_CHARS = byte_chars()


def byte_level_words(words):
    """The byte-level form of each word (as the pre-tokenizer would give it)."""
    return ["".join(BYTE_CHARS[b] for b in w.encode("utf-8")) for w in words]


def build_gpt2(corpus):
    j = train_byte_level(corpus, 480, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    eot = len(j["model"]["vocab"])
    j["model"]["vocab"]["<|endoftext|>"] = eot  # as GPT-2: the last id of the model vocab, also an added token
    j["added_tokens"] = [added("<|endoftext|>", eot, normalized=True)]
    tok = Tokenizer.from_str(json.dumps(j))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    return tok, None


def build_llama3(corpus):
    split = pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False)
    pre = pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True,
                                                                   use_regex=False)])
    j = train_byte_level(corpus, 520, pre)
    vocab = j["model"]["vocab"]
    # Words that no merge makes: only ignore_merges finds them (Llama 3's vocab has such tokens).
    extra = 0
    for w in byte_level_words([" Hello", "Hello", " world", " hello", "world", "123", "...", " the", "\n\n",
                                  " model", " tokenizer", " caf\u00e9", " \u043c\u0438\u0440", "ing", " and"]):
        if w not in vocab:
            vocab[w] = len(vocab)
            extra += 1
    j["model"]["ignore_merges"] = True
    no_ignore = dict(j, model=dict(j["model"], ignore_merges=False))
    tok = Tokenizer.from_str(json.dumps(j))
    tok.normalizer = None
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A:0",
                                      pair="<|begin_of_text|> $A:0 <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    tok_no_ignore = Tokenizer.from_str(json.dumps(no_ignore))
    tok_no_ignore.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok, (tok_no_ignore, extra)


def build_qwen2(corpus):
    split = pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False)
    pre = pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                                                   use_regex=False)])
    j = train_byte_level([unicodedata.normalize("NFC", t) for t in corpus], 500, pre)
    tok = Tokenizer.from_str(json.dumps(j))
    tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    return tok, None


def build_spm(corpus, vocab_size, limit_alphabet, legacy):
    """A SentencePiece-style BPE with byte fallback, laid out as Llama 2's vocab."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPM), normalizers.Replace(" ", SPM)])
    # Training only: words are "▁▁▁word"-like pieces, so that merges stay within a word as in SentencePiece.
    trainer_tok.pre_tokenizer = pre_tokenizers.Split(Regex(SPM + "*[^" + SPM + "]+|" + SPM + "+"), behavior="isolated")
    # The alphabet: the most frequent characters (BpeTrainer's limit_alphabet breaks ties at random);
    # the others are left out of the training text, so that byte fallback has work to do.
    counts = {}
    for doc in corpus:
        for c in doc.replace(" ", SPM):
            counts[c] = counts.get(c, 0) + 1
    keep = set(sorted(counts, key=lambda c: (-counts[c], c))[:limit_alphabet]) | {SPM}
    kept = ["".join(c for c in doc if c == " " or c in keep) for doc in corpus]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False)
    trainer_tok.train_from_iterator(kept, trainer)
    tj = json.loads(trainer_tok.to_str())
    trained = sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for t, _ in trained:
        assert t not in vocab, t
        vocab[t] = len(vocab)
    merges = tj["model"]["merges"]
    j = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added("<unk>", 0), added("<s>", 1), added("</s>", 2)],
        "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    tok = Tokenizer.from_str(json.dumps(j))
    if legacy:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPM), normalizers.Replace(" ", SPM)])
        tok.decoder = decoders.Sequence([decoders.Replace(SPM, " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(content=" ", left=1, right=0)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPM, prepend_scheme="first", split=False)
        tok.decoder = decoders.Metaspace(replacement=SPM, prepend_scheme="first", split=False)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s>:0 $A:0 <s>:1 $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok, None


def build(style, corpus):
    if style == "gpt2":
        return build_gpt2(corpus)
    if style == "llama3":
        return build_llama3(corpus)
    if style == "qwen2":
        return build_qwen2(corpus)
    if style == "llama2_legacy":
        return build_spm(corpus, 340, 110, legacy=True)
    return build_spm(corpus, 300, 90, legacy=False)


def corrupt_files(d, text):
    """(label, path) of tokenizer.json files that tsr must refuse; tokenizers refuses them too."""
    out = []
    text_bytes = open(os.path.join(d, "tokenizer.json"), "rb").read()
    p = os.path.join(d, "corrupt_truncated.json")
    with open(p, "wb") as f:
        f.write(text_bytes[:len(text_bytes) * 3 // 5])
    out.append(("truncated JSON", p))
    j = json.loads(text)
    merges = j["model"]["merges"]
    missing = "\u2603missing"
    k = len(merges) // 2
    if isinstance(merges[k], str):
        merges[k] = merges[k].split(" ")[0] + " " + missing
    else:
        merges[k] = [merges[k][0], missing]
    p = os.path.join(d, "corrupt_merge.json")
    with open(p, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    out.append(("merge of a token missing from the vocab", p))
    for label, p in out:
        try:
            Tokenizer.from_file(p)
        except Exception:  # noqa: BLE001 - expected
            continue
        raise RuntimeError("tokenizers accepts the corrupted file (%s)" % label)
    return out


def random_id_lists(tok, style, seed):
    rng = random.Random(seed)
    n = tok.get_vocab_size(with_added_tokens=True)
    lists = [[rng.randrange(n) for _ in range(rng.randrange(1, 30))] for _ in range(8)]
    if style.startswith(("llama2", "mistral")):
        byte_id = lambda b: 3 + b  # noqa: E731
    else:
        byte_id = lambda b: tok.token_to_id(BYTE_CHARS[b])  # noqa: E731
    normal = [i for i in range(n) if tok.id_to_token(i) not in ("<unk>", "<s>", "</s>")]
    for _ in range(5):  # bytes in random order, mostly invalid UTF-8, among ordinary tokens
        ids = []
        for _ in range(rng.randrange(2, 20)):
            ids.append(byte_id(rng.randrange(128, 256)) if rng.random() < 0.7 else rng.choice(normal))
        lists.append(ids)
    for s in ["\u00e9\u65e5\U0001f642", "\u043c\u0438\u0440"]:  # valid UTF-8 byte by byte, then cut short
        bs = list(s.encode())
        lists.append([byte_id(b) for b in bs])
        lists.append([byte_id(b) for b in bs[:-1]] + [rng.choice(normal)] + [byte_id(b) for b in bs[1:]])
    return lists


def run(cmd):
    return subprocess.run(cmd, capture_output=True, timeout=60)


def one_line_error(p):
    err = p.stderr.decode("utf-8", "replace").strip()
    return err and "\n" not in err, err


def check_style(style, a, corpus, seed):
    d = os.path.join(a.work, style)
    os.makedirs(os.path.join(d, "texts"), exist_ok=True)
    built, extra = build(style, corpus)
    path = os.path.join(d, "tokenizer.json")
    built.save(path)
    finish(style, path)
    tok = Tokenizer.from_file(path)  # the reference is the file as saved
    saved = open(path, encoding="utf-8").read()

    texts = texts_for(style, corpus, seed)
    cases = []  # (text, text file, ids with special tokens, ids without)
    for i, t in enumerate(texts):
        tp = os.path.join(d, "texts", "%03d.txt" % i)
        with open(tp, "wb") as f:
            f.write(t.encode("utf-8"))
        cases.append((t, tp, tok.encode(t, add_special_tokens=True).ids, tok.encode(t, add_special_tokens=False).ids))
    # Each text is encoded once (with or without special tokens, in turn) and its ids decoded once
    # (with the special tokens kept, skipped, or never added, in turn); the first texts and those
    # that hold "<" get every variant. This keeps to about 250 tsr calls a style.
    special_ids = {i for i, t in tok.get_added_tokens_decoder().items() if t.special}
    encodes = []  # (text, text file, add_special_tokens, expected ids)
    decodes = []  # (ids, skip_special_tokens, expected text)
    seen = set()
    for i, (t, tp, with_sp, without) in enumerate(cases):
        every = i < 4 or "<" in t
        for k, (add, want) in enumerate(((True, with_sp), (False, without))):
            if every or k == i % 2:
                encodes.append((t, tp, add, want))
        variants = [(with_sp, False)]
        if special_ids.intersection(with_sp):
            variants.append((with_sp, True))
        if without != with_sp:
            variants.append((without, False))
        for k, (ids, skip) in enumerate(variants):
            if (every or k == i % len(variants)) and ids and (tuple(ids), skip) not in seen:
                seen.add((tuple(ids), skip))
                decodes.append((ids, skip, tok.decode(ids, skip_special_tokens=skip)))
    randoms = random_id_lists(tok, style, seed + 1)
    for k, ids in enumerate(randoms):
        for skip in (False, True) if k % 2 == 0 else (False,):
            decodes.append((ids, skip, tok.decode(ids, skip_special_tokens=skip)))
    nfc = []
    if style == "qwen2":
        for i, t in enumerate(NFC_TEXTS):
            tp = os.path.join(d, "texts", "nfc_%d.txt" % i)
            with open(tp, "wb") as f:
                f.write(t.encode("utf-8"))
            nfc.append((t, tp, tok.encode(t, add_special_tokens=False).ids))
    corrupt = corrupt_files(d, saved)
    hello = os.path.join(d, "texts", "hello.txt")
    with open(hello, "wb") as f:
        f.write(b"Hello world")
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"encode": [{"file": os.path.basename(tp), "text": t, "ids": w, "ids_no_special": wo,
                               "checked": [add for t2, _, add, _ in encodes if t2 == t]}
                              for t, tp, w, wo in cases],
                   "decode": [{"ids": ids, "skip_special_tokens": skip, "text": s} for ids, skip, s in decodes],
                   "nfc": [{"file": os.path.basename(tp), "text": t, "ids_no_special": w} for t, tp, w in nfc]},
                  f, ensure_ascii=False, indent=0)

    cfg = json.loads(saved)
    vocab_n = tok.get_vocab_size(with_added_tokens=True)
    note = ""
    if extra is not None:  # llama3: how many texts ignore_merges changes
        tok_plain, n_extra = extra
        differ = sum(1 for t, _, _, wo in cases if tok_plain.encode(t, add_special_tokens=False).ids != wo)
        note = "; %d whole-word tokens without merges, ignore_merges changes %d texts" % (n_extra, differ)
    if style.startswith(("llama2", "mistral")):
        fallback = sum(1 for _, _, _, wo in cases if any(3 <= i < 259 for i in wo))
        note = "; %d texts use byte fallback" % fallback
    print("tokenizers %-17s vocab %d (%d merges as %s), %d texts: %d encodings and %d decodings to check%s"
          % (style, vocab_n, len(cfg["model"]["merges"]),
             "strings" if isinstance(cfg["model"]["merges"][0], str) else "pairs", len(cases), len(encodes),
             len(decodes), note),
          flush=True)
    if a.build_only:
        return

    problems = []  # each kind of check is run in full; the first mismatch of each is reported
    # Encoding
    bad, first = 0, None
    for t, tp, add, want in encodes:
        flag = [] if add else ["--no-special-tokens"]
        p = run([a.tsr, "tokenize", path, "--text-file", tp] + flag)
        if p.returncode == 0:
            try:
                got = json.loads(p.stdout.decode("utf-8"))
            except ValueError:
                got = "stdout not a JSON array: %r" % p.stdout[:200]
        else:
            got = "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-400:])
        if got != want:
            bad += 1
            if first is None:
                first = "encode%s of %r (%s): expected %s, got %s" % (
                    " " + flag[0] if flag else "", t[:300], os.path.basename(tp), want, got)
    if bad:
        problems.append("%d of %d encodings differ; first: %s" % (bad, len(encodes), first))

    # Decoding
    bad, first = 0, None
    for ids, skip, want in decodes:
        p = run([a.tsr, "tokenize", path, "--decode", ",".join(map(str, ids))]
                + (["--skip-special-tokens"] if skip else []))
        if p.returncode != 0:
            got = "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-400:])
        else:
            got = p.stdout
        if got != want.encode("utf-8"):
            bad += 1
            if first is None:
                first = "decode%s of %s: expected %r, got %r" % (
                    " --skip-special-tokens" if skip else "", ids, want.encode("utf-8")[:300],
                    got[:300] if isinstance(got, bytes) else got)
    if bad:
        problems.append("%d of %d decodings differ; first: %s" % (bad, len(decodes), first))

    # Refused files
    for label, cp in corrupt:
        p = run([a.tsr, "tokenize", cp, "--text-file", hello])
        ok, err = one_line_error(p)
        if p.returncode != 3 or not ok:
            problems.append("tokenizer.json with a %s: expected exit 3 and a one-line message, got exit %d, "
                            "stderr %r" % (label, p.returncode, err[:600]))

    # Not NFC (qwen2): the NFC normalizer composes them; tokenizers' ids exactly
    outcomes = []
    for t, tp, want in nfc:
        p = run([a.tsr, "tokenize", path, "--text-file", tp, "--no-special-tokens"])
        ok, err = one_line_error(p)
        try:
            got = json.loads(p.stdout.decode("utf-8")) if p.returncode == 0 else "exit %d: %s" % (p.returncode, err)
        except ValueError:
            got = "stdout not a JSON array: %r" % p.stdout[:200]
        if got != want:
            problems.append("text not NFC %a: expected %s, got %s" % (t, want, got))
        else:
            outcomes.append("%a the same ids" % t)
    if problems:
        raise RuntimeError("; ".join(problems))
    print("tokenizers %-17s %d encodings and %d decodings the same as tokenizers; %d corrupted files refused%s"
          % (style, len(encodes), len(decodes), len(corrupt), "; not NFC: " + ", ".join(outcomes) if outcomes else ""),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsr")
    ap.add_argument("--work", default="/tmp/tensorshunt-tokenizers")
    ap.add_argument("--style", action="append", choices=STYLES, help="only this style (may be repeated)")
    ap.add_argument("--build-only", action="store_true",
                    help="write the tokenizer.json files, texts and expected ids; do not run tsr")
    a = ap.parse_args()
    if not a.build_only and not a.tsr:
        ap.error("--tsr is required (or --build-only)")
    print("tokenizers %s" % tokenizers.__version__, flush=True)
    corpus = make_corpus(1234, 1500)
    passed = failed = 0
    for i, style in enumerate(STYLES):
        if a.style and style not in a.style:
            continue
        try:
            check_style(style, a, corpus, seed=100 + 10 * i)
            if not a.build_only:
                print("PASS tokenizers", style, flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every case
            print("FAIL tokenizers %s: %s" % (style, e), flush=True)
            failed += 1
    print("tokenizers: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
