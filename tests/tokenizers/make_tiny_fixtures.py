#!/usr/bin/env python3
"""Writes the three tiny tokenizers of tests/tokenizers/, each twice: as vocabulary files and as a
Hugging Face tokenizer.json that says the same (test_tokenizer_files.cpp checks that both give
the same ids). Written by hand here, from the formats' descriptions; no Hugging Face code runs.

    python3 tests/tokenizers/make_tiny_fixtures.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, text):
    with open(os.path.join(HERE, path), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# ---- tiny-wordpiece: BERT's layout (specials first), a few words and continuations.
WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", ",", "'", "s", "un",
             "##aff", "##able", "cafe", "中", "文", "the", "##s", "a", "##a"]
os.makedirs(os.path.join(HERE, "tiny-wordpiece"), exist_ok=True)
write("tiny-wordpiece/vocab.txt", "".join(t + "\n" for t in WORDPIECE))
specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
wordpiece_json = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": WORDPIECE.index(t), "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for t in specials],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                   "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                  {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                       "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                                {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                       "special_tokens": {t: {"id": t, "ids": [WORDPIECE.index(t)], "tokens": [t]} for t in ["[CLS]", "[SEP]"]}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {t: i for i, t in enumerate(WORDPIECE)}},
}
write("tiny-wordpiece/tokenizer.json", json.dumps(wordpiece_json, ensure_ascii=False, indent=1) + "\n")


# ---- tiny-bpe: GPT-2's byte symbols, a few merges, <|endoftext|> last.
def byte_symbols():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


SYMBOLS = byte_symbols()
MERGES = [("Ġ", "w"), ("o", "r"), ("l", "d"), ("Ġw", "or"), ("Ġwor", "ld"), ("h", "e"), ("l", "l"), ("he", "ll"),
          ("hell", "o"), ("H", "e"), ("He", "ll"), ("Hell", "o"), ("'", "s"), ("Ġ", "Ġ"), ("Ċ", "Ċ")]
vocab = {SYMBOLS[b]: b for b in range(256)}
for a, b in MERGES:
    vocab[a + b] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)
os.makedirs(os.path.join(HERE, "tiny-bpe"), exist_ok=True)
write("tiny-bpe/vocab.json", json.dumps(vocab, ensure_ascii=False) + "\n")
write("tiny-bpe/merges.txt", "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
bpe_json = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in MERGES]},
}
write("tiny-bpe/tokenizer.json", json.dumps(bpe_json, ensure_ascii=False, indent=1) + "\n")


# ---- tiny-clip: CLIP's layout: byte b's symbol has id b, the same with "</w>" id 256 + b, then
# the merges, then <|startoftext|> and <|endoftext|>. Its tokenizer.json is what Hugging Face's
# CLIP converter writes: CLIP's normalizer, pre-tokenizer, decoder and post-processor.
CLIP_MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o</w>"), ("l", "d</w>"), ("r", "ld</w>"), ("w", "o"),
               ("wo", "rld</w>"), ("'", "s</w>"), ("!", "!</w>")]
clip_vocab = {SYMBOLS[b]: b for b in range(256)}
clip_vocab.update({SYMBOLS[b] + "</w>": 256 + b for b in range(256)})
for a, b in CLIP_MERGES:
    clip_vocab[a + b] = len(clip_vocab)
clip_vocab["<|startoftext|>"] = len(clip_vocab)
clip_vocab["<|endoftext|>"] = len(clip_vocab)
os.makedirs(os.path.join(HERE, "tiny-clip"), exist_ok=True)
write("tiny-clip/vocab.json", json.dumps(clip_vocab, ensure_ascii=False) + "\n")
write("tiny-clip/merges.txt", "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in CLIP_MERGES))
sot, eot = clip_vocab["<|startoftext|>"], clip_vocab["<|endoftext|>"]
clip_json = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
                      "special": True} for i, t in [(sot, "<|startoftext|>"), (eot, "<|endoftext|>")]],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"},
                                                       {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
                                                       {"type": "Lowercase"}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""},
         "behavior": "Removed", "invert": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
    "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", eot], "cls": ["<|startoftext|>", sot],
                       "trim_offsets": False, "add_prefix_space": False},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
              "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False, "vocab": clip_vocab,
              "merges": [f"{a} {b}" for a, b in CLIP_MERGES]},
}
write("tiny-clip/tokenizer.json", json.dumps(clip_json, ensure_ascii=False, indent=1) + "\n")
