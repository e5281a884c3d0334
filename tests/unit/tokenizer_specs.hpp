// The tokenizer specs of the tokenizer tests, over the vocabularies of tests/tokenizers/ (see
// its README): bert-base-uncased and GPT-2 as their model plugins describe them
// (docs/graph-format.md, "Processing"), OpenAI's CLIP as its tokenizer_config.json does, and
// the tiny hand-written tokenizers.
#pragma once

#include <loom/tokenizer.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tokenizer_test {

inline std::filesystem::path data_dir() { return std::filesystem::path(LOOM_TEST_DATA_DIR) / "tokenizers"; }

inline void set_bert_specials(loom::TokenizerSpec& s, int64_t pad, int64_t unk, int64_t cls, int64_t sep, int64_t mask) {
  s.special_tokens = {{"pad", {"[PAD]", pad}}, {"unk", {"[UNK]", unk}}, {"cls", {"[CLS]", cls}}, {"sep", {"[SEP]", sep}},
                      {"mask", {"[MASK]", mask}}};
  s.post_processor = loom::TokenizerTemplate{{"cls", "$A", "sep"}, {"cls", "$A", "sep", "$B", "sep"}, {0, 0, 0, 1, 1}};
}

// bert-base-uncased: vocab.txt, lower case (and so accents stripped), [PAD]=0 [UNK]=100
// [CLS]=101 [SEP]=102 [MASK]=103 (lines 1, 101-104 of vocab.txt).
inline loom::TokenizerSpec bert_spec() {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::WordPiece;
  s.files.vocab = "bert-base-uncased/vocab.txt";
  s.vocab_size = 30522;
  s.lowercase = true;
  set_bert_specials(s, 0, 100, 101, 102, 103);
  s.max_length = 512;
  s.input_ids = "input_ids";
  s.token_type_ids = "token_type_ids";
  s.attention_mask = "attention_mask";
  return s;
}

// GPT-2: vocab.json + merges.txt, <|endoftext|>=50256 as bos, eos and unk, no template.
inline loom::TokenizerSpec gpt2_spec() {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::ByteLevelBpe;
  s.files.vocab = "gpt2/vocab.json";
  s.files.merges = "gpt2/merges.txt";
  s.vocab_size = 50257;
  for (const char* role : {"bos", "eos", "unk"}) s.special_tokens[role] = {"<|endoftext|>", 50256};
  s.max_length = 1024;
  s.input_ids = "input_ids";
  s.attention_mask = "attention_mask";
  return s;
}

// CLIP (openai/clip-vit-base-patch32): vocab.json + merges.txt, lower case, <|startoftext|>=49406
// as bos, <|endoftext|>=49407 as eos, unk and pad; bos $A eos (pairs: bos $A eos eos $B eos, all
// type 0), truncated and padded to 77.
inline loom::TokenizerSpec clip_spec() {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::ClipBpe;
  s.files.vocab = "clip/vocab.json";
  s.files.merges = "clip/merges.txt";
  s.vocab_size = 49408;
  s.lowercase = true;
  s.special_tokens["bos"] = {"<|startoftext|>", 49406};
  for (const char* role : {"eos", "unk", "pad"}) s.special_tokens[role] = {"<|endoftext|>", 49407};
  s.post_processor = loom::TokenizerTemplate{{"bos", "$A", "eos"}, {"bos", "$A", "eos", "eos", "$B", "eos"}, {0, 0, 0, 0, 0, 0}};
  s.max_length = 77;
  s.padding = loom::Padding::MaxLength;
  s.truncation = loom::Truncation::LongestFirst;
  s.input_ids = "input_ids";
  s.attention_mask = "attention_mask";
  return s;
}

// tests/tokenizers/tiny-clip: byte b's symbol has id b, with "</w>" 256 + b; 10 merges (ids
// 512-521); <|startoftext|>=522, <|endoftext|>=523. The spec frames and pads as CLIP's does.
inline loom::TokenizerSpec tiny_clip_spec(bool tokenizer_json) {
  loom::TokenizerSpec s = clip_spec();
  if (tokenizer_json) {
    s.files = {.tokenizer = "tiny-clip/tokenizer.json"};
  } else {
    s.files = {.vocab = "tiny-clip/vocab.json", .merges = "tiny-clip/merges.txt"};
  }
  s.vocab_size = 524;
  s.special_tokens["bos"].id = 522;
  for (const char* role : {"eos", "unk", "pad"}) s.special_tokens[role].id = 523;
  s.max_length = 16;
  return s;
}

// tests/tokenizers/tiny-wordpiece: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then hello=5 world=6 ...
inline loom::TokenizerSpec tiny_wordpiece_spec(bool tokenizer_json) {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::WordPiece;
  if (tokenizer_json) s.files.tokenizer = "tiny-wordpiece/tokenizer.json";
  else s.files.vocab = "tiny-wordpiece/vocab.txt";
  s.vocab_size = 21;
  s.lowercase = true;
  set_bert_specials(s, 0, 1, 2, 3, 4);
  s.max_length = 16;
  s.input_ids = "input_ids";
  s.token_type_ids = "token_type_ids";
  s.attention_mask = "attention_mask";
  return s;
}

// tests/tokenizers/tiny-bpe: byte b's symbol has id b; 15 merges (ids 256-270); <|endoftext|>=271.
inline loom::TokenizerSpec tiny_bpe_spec(bool tokenizer_json) {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::ByteLevelBpe;
  if (tokenizer_json) {
    s.files.tokenizer = "tiny-bpe/tokenizer.json";
  } else {
    s.files.vocab = "tiny-bpe/vocab.json";
    s.files.merges = "tiny-bpe/merges.txt";
  }
  s.vocab_size = 272;
  s.special_tokens["eos"] = {"<|endoftext|>", 271};
  s.max_length = 64;
  s.input_ids = "input_ids";
  return s;
}

inline const loom::Tokenizer& bert() {
  static const loom::Tokenizer t(bert_spec(), data_dir());
  return t;
}
inline const loom::Tokenizer& gpt2() {
  static const loom::Tokenizer t(gpt2_spec(), data_dir());
  return t;
}
inline const loom::Tokenizer& clip() {
  static const loom::Tokenizer t(clip_spec(), data_dir());
  return t;
}

using Ids = std::vector<int64_t>;

inline Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace tokenizer_test
