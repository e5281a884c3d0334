#include "tokenizer/byte_level_bpe.hpp"
#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

#include <cstdio>

namespace loom::tok {

namespace {

// GPT-2's pre-tokenizer: English contractions (lower case only), letters, numbers and other
// symbols each with one optional leading space, then whitespace: a run of spaces before a word
// leaves its last space to that word (\s+(?!\S)). PCRE2 (10.42) counts U+180E, white space no
// longer (Cf since Unicode 6.3), as \s, where Python's regex and the Rust tokenizers do not:
// here it is a symbol, not white space.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?(?:[^\s\p{L}\p{N}]|\x{180E})+|[^\S\x{180E}]+(?!\S|\x{180E})|[^\S\x{180E}]+)";

// Every symbol is below U+0100 + 68.
constexpr char32_t kSymbolLimit = 0x100 + 68;

std::array<int16_t, kSymbolLimit> make_inverse() {
  std::array<int16_t, kSymbolLimit> inverse;
  inverse.fill(-1);
  for (int b = 0; b < 256; ++b) inverse[byte_symbols()[b]] = static_cast<int16_t>(b);
  return inverse;
}

}  // namespace

const std::array<char32_t, 256>& byte_symbols() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

int byte_of_symbol(char32_t c) {
  static const std::array<int16_t, kSymbolLimit> inverse = make_inverse();
  return c < kSymbolLimit ? inverse[c] : -1;
}

void encode_byte_pieces(const Bpe& bpe, const std::vector<std::string_view>& pieces, std::vector<int32_t>& ids) {
  std::string symbols;
  for (std::string_view piece : pieces) {
    symbols.clear();
    for (char byte : piece) text::append_utf8(symbols, byte_symbols()[static_cast<unsigned char>(byte)]);
    bpe.encode_word(symbols, ids);
  }
}

void append_symbol_bytes(std::string_view token, std::string& bytes) {
  const size_t start = bytes.size();
  for (char32_t c : text::decode_utf8(token)) {
    const int b = byte_of_symbol(c);
    if (b < 0) {
      bytes.resize(start);
      bytes += token;
      return;
    }
    bytes.push_back(static_cast<char>(b));
  }
}

void check_byte_symbols(const Vocabulary& vocab, const std::string& suffix, const std::string& vocab_name) {
  for (int pass = 0; pass < (suffix.empty() ? 1 : 2); ++pass) {
    for (int b = 0; b < 256; ++b) {
      std::string symbol;
      text::append_utf8(symbol, byte_symbols()[b]);
      if (pass == 1) symbol += suffix;
      if (vocab.find(symbol)) continue;
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02x", b);
      throw Error(printable(vocab_name) + ": the symbol '" + printable(symbol) + "' of byte " + byte +
                  (pass == 1 ? " at a word's end" : "") + " is not in the vocabulary (" +
                  (suffix.empty() ? "byte-level BPE without an unknown token needs all 256)"
                                  : "BPE over bytes with an end-of-word suffix and no unknown token needs all 512)"));
    }
  }
}

ByteLevelBpeModel::ByteLevelBpeModel(Vocabulary vocab, const std::vector<Merge>& merges, BpeOptions options, bool add_prefix_space,
                                     const std::function<std::string(size_t)>& merge_where, const std::string& vocab_name,
                                     bool raw_decode)
    : vocab_(std::move(vocab)),
      bpe_(vocab_, merges, options, merge_where, vocab_name),
      add_prefix_space_(add_prefix_space),
      raw_decode_(raw_decode),
      pre_tokenizer_(kGpt2Pattern) {
  if (!options.unk_token) check_byte_symbols(vocab_, "", vocab_name);
}

void ByteLevelBpeModel::encode(std::string_view normalized, std::vector<int32_t>& ids) const {
  std::string prefixed;
  if (add_prefix_space_ && !normalized.empty() && normalized.front() != ' ') {
    prefixed.reserve(normalized.size() + 1);
    prefixed.append(1, ' ').append(normalized);
    normalized = prefixed;
  }
  encode_byte_pieces(bpe_, pre_tokenizer_.split(normalized), ids);
}

void ByteLevelBpeModel::decode_token(std::string_view token, bool first, std::string& bytes) const {
  if (!raw_decode_) return append_symbol_bytes(token, bytes);
  if (!first) bytes += ' ';
  bytes += token;
}

}  // namespace loom::tok
