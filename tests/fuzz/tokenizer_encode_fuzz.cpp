// Any bytes as text, with small tokenizers (a WordPiece vocab.txt with BERT's special tokens, and
// byte-level BPE tokenizer.json files whose added tokens use every flag): valid UTF-8 always
// encodes, decoding streamed says what decoding whole says, and BPE ids without a prefix space
// or stripping decode back to the very bytes; text that is not UTF-8 is loom::Error. A pair (the input cut in two) keeps to the template, truncation and padding.
#include "tokenizer_fuzz.hpp"

#include "tokenizer/byte_level_bpe.hpp"
#include "tokenizer/unicode_text.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using loom::TokenizerKind;

const loom::Tokenizer& wordpiece() {
  static const loom::Tokenizer t = [] {
    loom::TokenizerSpec s = tokenizer_fuzz::spec(TokenizerKind::WordPiece, {.vocab = "vocab.txt"});
    s.special_tokens = {{"pad", {"[PAD]", 0}}, {"unk", {"[UNK]", 1}}, {"cls", {"[CLS]", 2}}, {"sep", {"[SEP]", 3}}, {"mask", {"[MASK]", 4}}};
    s.post_processor = loom::TokenizerTemplate{{"cls", "$A", "sep"}, {"cls", "$A", "sep", "$B", "sep"}, {0, 0, 0, 1, 1}};
    s.padding = loom::Padding::Longest;
    const std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n,\n'\ns\nun\n##aff\n##able\ncafe\n中\n文\nthe\n##s\na\n##a\n";
    return loom::Tokenizer::from_texts(s, {.vocab = vocab});
  }();
  return t;
}

// A byte-level BPE tokenizer.json; `flags`: a space before the text and added tokens that take
// the whitespace around them (what decode cannot give back), else added tokens that keep it.
loom::Tokenizer make_bpe(bool flags) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    loom::tok::text::append_utf8(symbol, loom::tok::byte_symbols()[b]);
    vocab[symbol] = b;
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const char* m : {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "o r", "\xC4\xA0w or"}) {  // \xC4\xA0: 'Ġ', a space
    const std::string s = m;
    merges.push_back(s);
    vocab[s.substr(0, s.find(' ')) + s.substr(s.find(' ') + 1)] = static_cast<int>(vocab.size());
  }
  nlohmann::json added = nlohmann::json::array();
  auto add = [&](const char* content, bool special, bool lstrip, bool rstrip, bool single_word, bool normalized) {
    added.push_back({{"id", static_cast<int>(vocab.size() + added.size())}, {"content", content}, {"special", special},
                     {"lstrip", lstrip}, {"rstrip", rstrip}, {"single_word", single_word}, {"normalized", normalized}});
  };
  add("<|endoftext|>", true, false, false, false, true);
  add("<mask>", true, flags, false, false, false);
  add("[SEP]", true, false, flags, false, false);
  add("world", false, false, false, true, true);
  const nlohmann::json file = {{"added_tokens", added},
                               {"normalizer", nullptr},
                               {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", flags}}},
                               {"decoder", {{"type", "ByteLevel"}}},
                               {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  loom::TokenizerSpec s = tokenizer_fuzz::spec(TokenizerKind::ByteLevelBpe, {.tokenizer = "tokenizer.json"});
  s.add_prefix_space = flags;
  s.special_tokens = {{"eos", {"<|endoftext|>", static_cast<int64_t>(vocab.size())}}};
  return loom::Tokenizer::from_texts(s, {.tokenizer = file.dump()});
}

const loom::Tokenizer& bpe() {
  static const loom::Tokenizer t = make_bpe(false);
  return t;
}
const loom::Tokenizer& bpe_with_flags() {
  static const loom::Tokenizer t = make_bpe(true);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = !loom::tok::text::first_invalid_utf8(text);
  for (const loom::Tokenizer* t : {&wordpiece(), &bpe(), &bpe_with_flags()}) {
    std::vector<int64_t> ids;
    try {
      ids = t->encode_text(text);
    } catch (const loom::Error&) {
      if (valid) std::abort();  // only text that is not UTF-8 may be refused
      continue;
    }
    if (!valid) std::abort();
    const std::string back = t->decode(ids, {.skip_special_tokens = false, .clean_up_tokenization_spaces = false});
    loom::StreamDecoder stream(*t);
    std::string streamed;
    for (int64_t id : ids) streamed += stream.step(id);
    if (streamed + stream.finish() != back) std::abort();
    // Byte-level BPE loses nothing when it adds no space and strips none.
    if (t == &bpe() && back != text) std::abort();
  }
  // The input cut in two, as a pair: each row within max_length (12), padded to one length.
  const std::string first = text.substr(0, size / 2), second = text.substr(size / 2);
  try {
    const loom::Encoding e = wordpiece().encode({first, second}, {second, first});
    for (size_t r = 0; r < e.size(); ++r)
      if (e.input_ids[r].size() > 12 || e.input_ids[r].size() != e.input_ids[0].size() ||
          e.attention_mask[r].size() != e.input_ids[r].size())
        std::abort();
  } catch (const loom::Error&) {
    if (!loom::tok::text::first_invalid_utf8(first) && !loom::tok::text::first_invalid_utf8(second)) std::abort();
  }
  return 0;
}
