// CLIP's BPE (Hugging Face CLIPTokenizerFast, the tokenizer.json of CLIP checkpoints): the text is
// normalized (NFC, each run of white space to one space, each character lower-cased alone), cut
// by CLIP's regex keeping only its matches (white space is dropped, each digit is a piece of its
// own), each piece's UTF-8 bytes become GPT-2's byte symbols, and BPE merges them with "</w>"
// on the piece's last symbol. Decoding gives the bytes back, turns each "</w>" into a space and
// strips the ends of the text.
#pragma once

#include "tokenizer/bpe.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/token_model.hpp"

#include <cstddef>
#include <functional>
#include <string>

namespace loom::tok {

// How many merges CLIPTokenizer reads from merges.txt, whatever the file holds: 49,152 - 256 - 2,
// the merges of OpenAI's vocabulary of 49,408 (256 bytes, 256 bytes ending a word, the merges,
// two special tokens).
inline constexpr size_t kClipMergesRead = 49152 - 256 - 2;

class ClipBpeModel final : public TokenModel {
 public:
  // `options.end_of_word_suffix` must not be empty ("</w>"). Without an unknown token every byte
  // symbol, alone and with the suffix, must be in the vocabulary (check_byte_symbols).
  // `lowercase`: the normalizer lower-cases (CLIP's always does).
  ClipBpeModel(Vocabulary vocab, const std::vector<Merge>& merges, BpeOptions options, bool lowercase,
               const std::function<std::string(size_t)>& merge_where, const std::string& vocab_name);

  const Vocabulary& vocab() const override { return vocab_; }
  std::string normalize(std::string_view text) const override;
  void encode(std::string_view normalized, std::vector<int32_t>& ids) const override;
  void decode_token(std::string_view token, bool first, std::string& bytes) const override;
  // CLIPTokenizer sets no default; transformers' default is off (as for GPT-2).
  bool clean_up_by_default() const override { return false; }
  void finish_text(std::string_view text, bool at_start, bool at_end, std::string& out, std::string& held) const override;

 private:
  Vocabulary vocab_;
  Bpe bpe_;
  std::string suffix_;
  bool lowercase_;
  Regex pre_tokenizer_;
};

}  // namespace loom::tok
