// Any bytes as text, with small tokenizers (a WordPiece vocab.txt with BERT's special tokens,
// byte-level BPE tokenizer.json files whose added tokens use every flag, and a CLIP BPE
// tokenizer.json): valid UTF-8 always encodes, decoding streamed says what decoding whole says,
// byte-level BPE ids without a prefix space or stripping decode back to the very bytes, CLIP's
// frame every text with its special tokens and decode to text without white space at its ends;
// text that is not UTF-8 is loom::Error. A pair (the input cut in two) keeps to the template,
// truncation and padding.
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

// CLIP's BPE: the byte symbols alone (id b) and ending a word (256 + b), a few merges, and CLIP's
// special tokens framing every text.
const loom::Tokenizer& clip() {
  static const loom::Tokenizer t = [] {
    nlohmann::json vocab = nlohmann::json::object();
    for (int end = 0; end < 2; ++end)
      for (int b = 0; b < 256; ++b) {
        std::string symbol;
        loom::tok::text::append_utf8(symbol, loom::tok::byte_symbols()[b]);
        vocab[symbol + (end ? "</w>" : "")] = 256 * end + b;
      }
    nlohmann::json merges = nlohmann::json::array();
    for (const char* m : {"h e", "l l", "he ll", "hell o</w>", "c a", "ca t</w>", "! !</w>"}) {
      const std::string s = m;
      merges.push_back(s);
      vocab[s.substr(0, s.find(' ')) + s.substr(s.find(' ') + 1)] = static_cast<int>(vocab.size());
    }
    const int bos = static_cast<int>(vocab.size()), eos = bos + 1;
    vocab["<|startoftext|>"] = bos;
    vocab["<|endoftext|>"] = eos;
    nlohmann::json added = nlohmann::json::array();
    for (const auto& [id, content] : {std::pair{bos, "<|startoftext|>"}, std::pair{eos, "<|endoftext|>"}})
      added.push_back({{"id", id}, {"content", content}, {"special", true}, {"normalized", true}});
    const nlohmann::json file = {
        {"added_tokens", added},
        {"normalizer",
         {{"type", "Sequence"},
          {"normalizers",
           {{{"type", "NFC"}}, {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}}, {{"type", "Lowercase"}}}}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)"}}},
             {"behavior", "Removed"},
             {"invert", true}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"end_of_word_suffix", "</w>"}, {"unk_token", "<|endoftext|>"}}}};
    loom::TokenizerSpec s = tokenizer_fuzz::spec(TokenizerKind::ClipBpe, {.tokenizer = "tokenizer.json"});
    s.special_tokens = {{"bos", {"<|startoftext|>", bos}}, {"eos", {"<|endoftext|>", eos}}, {"unk", {"<|endoftext|>", eos}},
                        {"pad", {"<|endoftext|>", eos}}};
    s.post_processor = loom::TokenizerTemplate{{"bos", "$A", "eos"}, {"bos", "$A", "eos", "eos", "$B", "eos"}, {0, 0, 0, 0, 0, 0}};
    s.padding = loom::Padding::Longest;
    return loom::Tokenizer::from_texts(s, {.tokenizer = file.dump()});
  }();
  return t;
}

bool space_at_an_end(const std::string& text) {
  if (text.empty()) return false;
  const std::u32string chars = loom::tok::text::decode_utf8(text);
  return loom::tok::text::is_python_space(chars.front()) || loom::tok::text::is_python_space(chars.back());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = !loom::tok::text::first_invalid_utf8(text);
  for (const loom::Tokenizer* t : {&wordpiece(), &bpe(), &bpe_with_flags(), &clip()}) {
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
    if (t == &clip() && (space_at_an_end(back) || space_at_an_end(t->decode(ids, {.skip_special_tokens = true})))) std::abort();
  }
  // CLIP frames every text, cut to max_length (12) with its frame kept.
  if (valid) {
    const loom::Encoding e = clip().encode({text});
    const std::vector<int64_t>& row = e.input_ids[0];
    if (row.size() < 2 || row.size() > 12 || row.front() != *clip().token_to_id("<|startoftext|>") ||
        row.back() != *clip().token_to_id("<|endoftext|>"))
      std::abort();
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
