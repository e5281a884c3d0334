// GPT-2's byte-level BPE (Hugging Face GPT2Tokenizer / ByteLevel + BPE): the text is cut by
// GPT-2's regex, each piece's UTF-8 bytes become printable characters (bytes_to_unicode, so a
// space is 'Ġ'), and BPE merges those. Every byte has a symbol, so any text encodes and decode
// gives the bytes back.
#pragma once

#include "tokenizer/bpe.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/token_model.hpp"

#include <array>
#include <functional>
#include <string>

namespace loom::tok {

// bytes_to_unicode: the character standing for each byte. The printable bytes '!'..'~',
// U+00A1..U+00AC and U+00AE..U+00FF stand for themselves; the 68 others, in increasing order,
// for U+0100, U+0101, ...
const std::array<char32_t, 256>& byte_symbols();
// The byte a symbol stands for, or -1.
int byte_of_symbol(char32_t c);

// Appends the ids of `pieces`, each a word of bytes: its symbols merged by `bpe`.
void encode_byte_pieces(const Bpe& bpe, const std::vector<std::string_view>& pieces, std::vector<int32_t>& ids);
// Appends the bytes `token` stands for. A token with a character outside the map (an added token
// written in other characters) stands for its own UTF-8 text, as in Hugging Face's ByteLevel
// decoder.
void append_symbol_bytes(std::string_view token, std::string& bytes);
// Without an unknown token every byte's symbol must be in the vocabulary, and with an
// end-of-word suffix each symbol followed by it too, so that no byte of any text can be lost.
// Throws an Error naming `vocab_name` and the first that is missing.
void check_byte_symbols(const Vocabulary& vocab, const std::string& end_of_word_suffix, const std::string& vocab_name);

class ByteLevelBpeModel final : public TokenModel {
 public:
  // Without an unknown token every byte symbol must be in the vocabulary (check_byte_symbols).
  // `raw_decode`: decode joins the tokens by spaces as they are (a tokenizer.json without decoder).
  ByteLevelBpeModel(Vocabulary vocab, const std::vector<Merge>& merges, BpeOptions options, bool add_prefix_space,
                    const std::function<std::string(size_t)>& merge_where, const std::string& vocab_name,
                    bool raw_decode = false);

  const Vocabulary& vocab() const override { return vocab_; }
  std::string normalize(std::string_view text) const override { return std::string(text); }
  void encode(std::string_view normalized, std::vector<int32_t>& ids) const override;
  void decode_token(std::string_view token, bool first, std::string& bytes) const override;
  bool clean_up_by_default() const override { return false; }

 private:
  Vocabulary vocab_;
  Bpe bpe_;
  bool add_prefix_space_;
  bool raw_decode_;
  Regex pre_tokenizer_;
};

}  // namespace loom::tok
