#!/usr/bin/env python3
"""Writes clip/vocab.json and clip/merges.txt, the files of CLIP checkpoints in Hugging Face's
layout, from OpenAI's CLIP merges file (bpe_simple_vocab_16e6.txt.gz, MIT licence; see README.md
for its sum). The rule is that of the CLIP tokenizers (OpenAI's simple_tokenizer.py and
transformers' CLIPTokenizer), written here from its description:

* the merges are lines 2 to 48,895 of the file: the header line is skipped, then the first
  49,152 - 256 - 2 = 48,894 merges are kept;
* the vocabulary is the 256 byte symbols of GPT-2's bytes_to_unicode (in its order: the
  printable bytes, then the others), the same 256 with "</w>" appended, one entry per merge (its
  two parts joined) in merge order, then <|startoftext|> and <|endoftext|>: 49,408 ids.

    python3 tests/tokenizers/make_clip_vocab.py PATH/bpe_simple_vocab_16e6.txt.gz
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MERGES = 49152 - 256 - 2


def bytes_to_unicode_values():
    """The byte symbols in the order of the byte-to-unicode map: each printable byte stands for
    itself, then the 68 others, in increasing order, for U+0100, U+0101, ..."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(256 - len(printable))]


def main(path):
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGES + 1]]
    assert len(merges) == MERGES and all(len(m) == 2 for m in merges)
    symbols = bytes_to_unicode_values()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens) == 49408, "a token is listed twice"
    folder = os.path.join(HERE, "clip")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")) + "\n")
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
