// What the tokenizer fuzz targets do with a tokenizer that loaded: encode texts that reach every
// path (special tokens, accents, CJK, emoji, long words, whitespace runs), as a batch with pairs,
// and decode the ids back, whole and streamed. A tokenizer that loads must never fail on valid
// UTF-8; a streamed decode must say what a whole decode says.
#pragma once

#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace tokenizer_fuzz {

inline const std::vector<std::string>& sample_texts() {
  static const std::vector<std::string> texts = {
      "Hello, World! it's [MASK] <|endoftext|> <mask>", "Héllo Café naïve ΟΔΟΣ İ 中文字 한국어 😀👍🏽",
      "a  b\n\nc \t\r\n   ", std::string(120, 'a') + " " + std::string(40, '!'), std::string("x\0y\xEF\xBF\xBDz", 8), "", " ",
      "unaffable the thes aaa hello world", "<|STARTOFTEXT|> A Photo of 2024 CATS!!! it's ſ x</w>y ΟΔΟΣ 👨\u200d👩\u200d👧"};
  return texts;
}

inline void exercise(const loom::Tokenizer& t) {
  std::vector<std::string> texts = sample_texts();
  // Every text alone: valid UTF-8 never fails to encode, and ids always decode.
  for (const std::string& text : texts) {
    const std::vector<int64_t> ids = t.encode_text(text);
    const std::string whole = t.decode(ids, {.skip_special_tokens = false, .clean_up_tokenization_spaces = false});
    loom::StreamDecoder stream(t);
    std::string streamed;
    for (int64_t id : ids) streamed += stream.step(id);
    streamed += stream.finish();
    if (streamed != whole) std::abort();
    (void)t.decode(ids, {.skip_special_tokens = true});
  }
  // A batch of pairs through the template, truncation and padding of the spec.
  try {
    const loom::Encoding e = t.encode(texts, std::vector<std::string>(texts.rbegin(), texts.rend()));
    (void)t.tensors(e);
  } catch (const loom::Error&) {
    // Expected for specs that cannot encode pairs or do not pad; nothing else may escape.
  }
}

// A spec that names `files` for `kind`, with the special tokens the sample texts use when the
// vocabulary has them.
inline loom::TokenizerSpec spec(loom::TokenizerKind kind, loom::TokenizerFiles files) {
  loom::TokenizerSpec s;
  s.kind = kind;
  s.files = std::move(files);
  s.lowercase = kind != loom::TokenizerKind::ByteLevelBpe;
  s.max_length = 12;
  s.truncation = loom::Truncation::LongestFirst;
  s.input_ids = "input_ids";
  s.token_type_ids = "token_type_ids";
  s.attention_mask = "attention_mask";
  return s;
}

}  // namespace tokenizer_fuzz
