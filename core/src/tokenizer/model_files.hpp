// What a tokenizer's files say, before the graph's spec is applied: read from vocab.txt,
// vocab.json + merges.txt, or a Hugging Face tokenizer.json.
#pragma once

#include "tokenizer/added_tokens.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/vocabulary.hpp"
#include "tokenizer/wordpiece.hpp"

#include <loom/processing.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tok {

struct ModelFiles {
  std::string vocab_name;  // the file holding the vocabulary, for messages
  Vocabulary vocab;
  std::vector<Merge> merges;                          // BPE, in rank order
  std::function<std::string(size_t)> merge_where;     // "merges.txt:12", "tokenizer.json: model.merges[10]"
  std::vector<AddedToken> added;                      // tokenizer.json's added_tokens
  WordPieceOptions wordpiece;                         // its model's unk token, prefix, word limit, decoder
  BpeOptions bpe;                                     // its model's options
  // tokenizer.json only (unset for the vocabulary files), to be checked against the spec: its
  // BertNormalizer (null: none), its ByteLevel pre-tokenizer's add_prefix_space, and whether
  // CLIP's normalizer lower-cases.
  std::optional<BertNormalizerOptions> normalizer;
  bool normalizer_null = false;  // a WordPiece tokenizer.json whose normalizer is null
  std::optional<bool> add_prefix_space;
  std::optional<bool> lowercase;
  // A byte-level BPE tokenizer.json whose decoder is null: Hugging Face's tokenizers then join
  // the tokens by spaces as they are ("Ġhello Ġworld"), without mapping symbols back to bytes.
  bool bpe_no_decoder = false;
};

// The vocabulary files' contents; the names (the spec's file names, resolved) are for messages.
ModelFiles read_wordpiece_files(std::string_view vocab_txt, const std::string& vocab_name);
// merges.txt read as `reader`'s class reads it (read_merges_txt).
ModelFiles read_bpe_files(std::string_view vocab_json, const std::string& vocab_name, std::string_view merges_txt,
                          const std::string& merges_name, MergesReader reader = MergesReader::gpt2);
// A Hugging Face tokenizer.json whose model suits `kind` (WordPiece, or BPE for byte-level BPE
// and CLIP's BPE, each with its normalizer, pre-tokenizer and decoder).
ModelFiles read_tokenizer_json(std::string_view text, const std::string& name, TokenizerKind kind);

}  // namespace loom::tok
