// BERT's tokenizer (Hugging Face BertTokenizer / BertTokenizerFast): the basic tokenizer's
// normalization (clean text, CJK spacing, lower case, accent stripping), a split at whitespace
// and punctuation, then greedy longest-match-first WordPiece with "##" continuations.
#pragma once

#include "tokenizer/token_model.hpp"

#include <cstddef>
#include <string>

namespace loom::tok {

struct BertNormalizerOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and control characters; whitespace -> ' '
  bool handle_chinese_chars = true;  // spaces around CJK ideographs
  bool lowercase = false;
  bool strip_accents = false;        // NFD, then drop nonspacing marks (Mn)
};

struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;  // longer words become unk_token
  bool decoder_cleanup = true;            // the decoder's per-token clean-up (" ." -> ".")
  bool no_decoder = false;                // a tokenizer.json without decoder: tokens joined by spaces, as they are
};

class WordPieceModel final : public TokenModel {
 public:
  // `name`: the vocabulary file, for messages (a missing unk token is an error).
  WordPieceModel(Vocabulary vocab, BertNormalizerOptions normalizer, WordPieceOptions options, const std::string& name);

  const Vocabulary& vocab() const override { return vocab_; }
  std::string normalize(std::string_view text) const override;
  void encode(std::string_view normalized, std::vector<int32_t>& ids) const override;
  void decode_token(std::string_view token, bool first, std::string& bytes) const override;
  bool clean_up_by_default() const override { return true; }

 private:
  void encode_word(std::u32string_view word, std::vector<int32_t>& ids) const;

  Vocabulary vocab_;
  BertNormalizerOptions normalizer_;
  WordPieceOptions options_;
  int32_t unk_id_ = 0;
};

}  // namespace loom::tok
