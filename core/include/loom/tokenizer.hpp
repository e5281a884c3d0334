// Text tokenizers driven by a graph's processing section (processing.tokenizer): text in,
// the graph's int64 inputs out, with Hugging Face's semantics (docs/tokenizers.md).
//
//   loom::Graph g = engine.load_graph("bert/");
//   loom::Tokenizer tok = loom::Tokenizer::from_graph(g);
//   loom::Encoding e = tok.encode({"Hello world!"});          // [CLS] hello world ! [SEP]
//   loom::TensorMap inputs = tok.tensors(e);                  // input_ids, token_type_ids, ...
//
// Kinds: WordPiece (BERT: vocab.txt), byte-level BPE (GPT-2: vocab.json + merges.txt) and CLIP's
// BPE (vocab.json + merges.txt), each also from a Hugging Face tokenizer.json. A Tokenizer is immutable once made and its methods
// may be called from any number of threads; copies share one loaded vocabulary.
#pragma once

#include <loom/graph.hpp>
#include <loom/processing.hpp>
#include <loom/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

namespace tok {
class TokenizerImpl;
}

// One row per text: the ids after the template, truncation and padding, their token types
// (0 for the first text and its frame, the template's type for a pair's second text, 0 at pads)
// and the attention mask (1 for a token, 0 for a pad). Rows differ in length when the spec
// does not pad.
struct Encoding {
  std::vector<std::vector<int64_t>> input_ids, token_type_ids, attention_mask;
  size_t size() const { return input_ids.size(); }
};

struct DecodeOptions {
  bool skip_special_tokens = false;  // leave out the spec's special tokens and special added tokens
  // Hugging Face's clean_up_tokenization_spaces (" ." -> ".", " n't" -> "n't", ...). Unset: the
  // spec's (tokenizer_config.json's), else the kind's default, as Hugging Face's tokenizer
  // classes have it: on for WordPiece (BERT), off for byte-level BPE (GPT-2) and CLIP.
  std::optional<bool> clean_up_tokenization_spaces;
};

// The contents of a tokenizer's files, for a host that holds them in memory; each is used when
// the spec names that file.
struct TokenizerFileTexts {
  std::string vocab, merges, tokenizer;
};

class Tokenizer {
 public:
  // Reads the files `spec` names (relative ones against `base_dir`, like Graph::base_dir) and
  // checks them with the spec: every special token must be in the vocabulary with the id the spec
  // gives (a token missing from the vocabulary is added with that id when no token has it), every
  // id below spec.vocab_size. Throws loom::Error naming the file and the line or entry at fault.
  Tokenizer(const TokenizerSpec& spec, const std::filesystem::path& base_dir);
  // The tokenizer of a graph's processing section; an Error when the graph has none.
  static Tokenizer from_graph(const Graph& g);
  // The same from file contents; the spec's file names name them in messages.
  static Tokenizer from_texts(const TokenizerSpec& spec, const TokenizerFileTexts& texts);

  const TokenizerSpec& spec() const;

  // Texts (and, when given, one pair text per text) -> rows, with the spec's post_processor
  // template, truncation to spec.max_length (the template's special tokens count) and padding.
  // Text that is not valid UTF-8 is an Error naming the text's index ("text 2", "pair text 0").
  Encoding encode(const std::vector<std::string>& texts, const std::vector<std::string>& pairs = {}) const;
  // One text's ids alone: no template, truncation or padding (a prompt to generate from).
  std::vector<int64_t> encode_text(std::string_view text) const;
  // int64 [batch, seq] tensors under the graph input names of the spec: input_ids, and
  // token_type_ids and attention_mask where the spec names them. Rows of different lengths are
  // an Error (the spec does not pad).
  std::map<std::string, Tensor> tensors(const Encoding& e) const;

  // Ids -> text. Byte-level BPE: the bytes the tokens stand for, each ill-formed UTF-8 sequence
  // replaced by U+FFFD (Python's errors="replace"). CLIP: the same, each "</w>" a space, the ends
  // stripped. WordPiece: tokens joined by spaces, "##" continuations glued. An id outside the
  // vocabulary (a model whose vocab_size exceeds its tokenizer's) gives no text, as Hugging
  // Face's fast tokenizers skip it.
  std::string decode(std::span<const int64_t> ids, const DecodeOptions& options = {}) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;  // added tokens, then the vocabulary
  std::optional<std::string> id_to_token(int64_t id) const;
  bool is_special(int64_t id) const;
  // The number of distinct ids the files define (vocabulary and added tokens).
  size_t vocabulary_size() const;

 private:
  friend class StreamDecoder;
  explicit Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl);
  std::shared_ptr<const tok::TokenizerImpl> impl_;
};

// Decodes generated ids one at a time: step() returns the text that became complete with `id`
// (bytes of a UTF-8 character split over tokens are held until it is whole; with CLIP, spaces
// that may still turn out to end the text are held too), finish() what is left (held bytes that
// never completed, as U+FFFD). The texts together equal
// decode(ids, {skip_special_tokens, clean_up_tokenization_spaces = false}). One stream per
// sequence; it keeps the tokenizer alive.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string step(int64_t id);
  std::string finish();

 private:
  std::string finish_text(const std::string& text, bool at_end);

  std::shared_ptr<const tok::TokenizerImpl> impl_;
  bool skip_special_ = false;
  bool first_ = true;
  std::string held_;       // the start of an incomplete UTF-8 character
  std::string held_text_;  // text the decoder's last pass may still change
  bool started_ = false;   // some text was given out
};

}  // namespace loom
