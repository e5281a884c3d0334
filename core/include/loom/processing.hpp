// The processing section of a graph (docs/graph-format.md, "Processing"): how text or images
// become the graph's inputs, how a decoder graph is driven token by token, and what each task
// does with the graph's outputs. It is data only: the engine keeps, checks and writes it;
// loom::Tokenizer (loom/tokenizer.hpp) follows TokenizerSpec, loom::ImageProcessor
// (loom/image.hpp) ImageProcessorSpec, and the generation loops that read the rest live elsewhere.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

enum class TokenizerKind {
  WordPiece,     // BERT: vocab.txt, basic tokenizer then greedy longest-match WordPiece
  ByteLevelBpe,  // GPT-2: vocab.json + merges.txt over bytes mapped to printable characters
  ClipBpe,       // CLIP: lower-cased, whitespace-collapsed BPE with an end-of-word marker
};
enum class Padding { None, Longest, MaxLength };
enum class Truncation { None, LongestFirst, OnlyFirst, OnlySecond };
enum class Side { Right, Left };
// Pillow's filters (Image.Resampling 0, 2, 3, 4, 5, 1), each computed as Pillow 9.4 computes it
// (loom/image.hpp).
enum class Resample { Nearest, Bilinear, Bicubic, Box, Hamming, Lanczos };
enum class ScoreFunction { None, Softmax, Sigmoid };

struct SpecialToken {
  std::string token;  // its text, "[CLS]", "<|endoftext|>"
  int64_t id = 0;
  bool operator==(const SpecialToken&) const = default;
};

// A token matched in the text before the model sees it (Hugging Face's AddedToken): what
// tokenizer.add_tokens() adds, saved in tokenizer_config.json's added_tokens_decoder,
// added_tokens.json or tokenizer.json's added_tokens.
struct AddedTokenSpec {
  std::string token;
  int64_t id = 0;
  bool special = false;              // skipped by decode(skip_special_tokens)
  bool single_word = false;          // matched only between non-word characters
  bool lstrip = false, rstrip = false;  // takes the whitespace on that side
  std::optional<bool> normalized;    // matched in the normalized text; unset: !special
  bool operator==(const AddedTokenSpec&) const = default;
};

// File names are relative to the graph's folder (Graph::base_dir), like weights files.
struct TokenizerFiles {
  std::string vocab;      // vocab.txt (WordPiece) or vocab.json (BPE)
  std::string merges;     // merges.txt (BPE)
  std::string tokenizer;  // tokenizer.json (Hugging Face tokenizers), instead of the two above
  bool operator==(const TokenizerFiles&) const = default;
};

// How special tokens frame one sequence ($A) or a pair ($A, $B). Items are special-token roles
// ("cls", "sep", "bos", "eos", ...) or "$A" / "$B"; pair_type_ids gives each item's token type.
struct TokenizerTemplate {
  std::vector<std::string> single;
  std::vector<std::string> pair;
  std::vector<int64_t> pair_type_ids;
  bool operator==(const TokenizerTemplate&) const = default;
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::WordPiece;
  TokenizerFiles files;
  int64_t vocab_size = 0;
  bool lowercase = false;
  std::optional<bool> strip_accents;     // unset: strip when lower-casing (Hugging Face's rule)
  bool tokenize_chinese_chars = true;    // WordPiece: spaces around CJK ideographs
  bool add_prefix_space = false;         // byte-level BPE: a space before the first word
  // With a tokenizer.json: lowercase, strip_accents and tokenize_chinese_chars replace its
  // BertNormalizer's, and add_prefix_space its ByteLevel pre-tokenizer's (as BertTokenizerFast
  // and GPT2TokenizerFast apply tokenizer_config.json's values). Unset: they must agree.
  bool replace_file_options = false;
  // transformers' clean_up_tokenization_spaces of decode (tokenizer_config.json's); unset: the
  // kind's default (on for WordPiece, off for the BPE kinds).
  std::optional<bool> clean_up_tokenization_spaces;
  std::map<std::string, SpecialToken> special_tokens;  // by role: bos eos unk sep pad cls mask
  std::vector<AddedTokenSpec> added_tokens;            // besides the files' own (tokenizer.json)
  std::optional<TokenizerTemplate> post_processor;     // unset: no special tokens are added
  int64_t max_length = 0;
  Padding padding = Padding::None;
  Side padding_side = Side::Right;
  Truncation truncation = Truncation::None;
  Side truncation_side = Side::Right;
  // The graph inputs the encoding feeds: ids (required), token types and attention mask.
  std::string input_ids, token_type_ids, attention_mask;
  bool operator==(const TokenizerSpec&) const = default;
};

// An image size: height and width, or the shortest edge (the other keeps the aspect ratio,
// truncated as Hugging Face's int()).
struct ImageSize {
  int64_t height = 0, width = 0;
  int64_t shortest_edge = 0;  // non-zero: this form
  bool operator==(const ImageSize&) const = default;
};

// Hugging Face image processors, in their order: convert to RGB, resize, centre crop, rescale,
// normalize, and for ImageGPT colour quantization (nearest of the clusters, as token ids).
struct ImageProcessorSpec {
  std::string input;  // the graph input: f32 [batch, 3, H, W], or i64 [batch, H*W] when quantized
  bool do_convert_rgb = false;
  bool do_resize = false;
  std::optional<ImageSize> size;
  std::optional<Resample> resample;
  bool do_center_crop = false;
  std::optional<ImageSize> crop_size;  // height and width
  bool do_rescale = false;
  std::optional<double> rescale_factor;
  bool do_normalize = false;
  std::vector<double> image_mean, image_std;  // one per channel
  bool do_color_quantize = false;
  std::vector<std::array<double, 3>> clusters;  // inline RGB clusters in [-1, 1]
  std::string clusters_file;                    // or a JSON file with a "clusters" array
  bool operator==(const ImageProcessorSpec&) const = default;
};

// How a decoder graph is driven: per step the new ids go to `input_ids` [batch, seq] and the
// positions already filled in the caches to `past_length` [batch]; the caches are session
// states written in place; `logits` [batch, seq, vocab] scores the next token.
struct GenerationSpec {
  std::string input_ids, past_length;
  std::string position_ids, attention_mask;  // optional inputs
  std::vector<std::string> caches;           // state names
  std::string logits;                        // graph output
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;
  int64_t max_length = 0;                    // prompt and generated tokens together
  // Decoding defaults, as generation_config.json gives them (a caller's options override them):
  // sample rather than take the most likely token, and how.
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p;  // temperature > 0; 0 <= top_p <= 1
  std::optional<int64_t> top_k;              // >= 0; 0: no limit
  std::optional<int64_t> max_new_tokens;     // >= 1
  // transformers' GenerationConfig.max_length: prompt and new tokens together, where no
  // max_new_tokens is given (at least one new token is made).
  std::optional<int64_t> max_total_length;   // >= 1
  // transformers' logits processors, applied before choosing (greedy or sampled), in its order:
  // scores of tokens already in the sequence divided by the penalty (multiplied where
  // negative); tokens that would repeat an n-gram of the sequence banned; eos tokens banned
  // while the sequence is shorter than min_length or fewer than min_new_tokens are new.
  std::optional<double> repetition_penalty;     // > 0; 1: none
  std::optional<int64_t> no_repeat_ngram_size;  // >= 0; 0: none
  std::optional<int64_t> min_length, min_new_tokens;  // >= 0
  // transformers' beam search: its width (>= 1; 1: greedy or sampling), the exponent of the new
  // length that divides a finished hypothesis' log-probability, and when the search stops
  // (early_stopping false: once no open beam can beat the finished ones by transformers'
  // estimate; true: once num_beams hypotheses are finished; never: once none can, at the longest).
  std::optional<int64_t> num_beams;
  std::optional<double> length_penalty;  // finite
  enum class EarlyStopping { Heuristic, AtOnce, Never };  // early_stopping false, true, "never"
  std::optional<EarlyStopping> early_stopping;
  // How many sequences generate() returns (>= 1): samples, or a beam search's best hypotheses
  // (at most num_beams); greedy decoding has one.
  std::optional<int64_t> num_return_sequences;
  // The other logits processors of generation_config.json, each where transformers' order puts
  // it: sequence_bias before the repetition penalty; bad_words_ids after the n-gram ban; then
  // (after the eos bans) forced_bos_token_id, forced_eos_token_id,
  // exponential_decay_length_penalty, suppress_tokens and begin_suppress_tokens.
  // A bias added to the score of a sequence's last token wherever the tokens before it end the
  // text (a sequence of one token: at every step).
  struct SequenceBias {
    std::vector<int64_t> ids;  // at least one
    double bias = 0;           // finite
    bool operator==(const SequenceBias&) const = default;
  };
  std::vector<SequenceBias> sequence_bias;
  std::vector<std::vector<int64_t>> bad_words_ids;  // each banned where it would complete
  std::optional<int64_t> forced_bos_token_id;       // the only choice after a one-token prompt
  std::vector<int64_t> forced_eos_token_ids;        // the only choices at the last step the length allows
  // The eos scores raised by |score| * (factor^k - 1) once more than `start` tokens are new, k of
  // them past `start`.
  struct LengthDecay {
    int64_t start = 0;   // >= 0
    double factor = 1;   // finite
    bool operator==(const LengthDecay&) const = default;
  };
  std::optional<LengthDecay> exponential_decay_length_penalty;
  std::vector<int64_t> suppress_tokens;        // never chosen
  std::vector<int64_t> begin_suppress_tokens;  // not chosen as the first new token
  // Sampling filters after top_p, in this order: min_p (drop tokens less likely than min_p times
  // the most likely; 0: none), typical_p (keep the tokens whose information is closest to the
  // entropy until their probability reaches typical_p; 1: none), epsilon_cutoff and eta_cutoff
  // (drop tokens less likely than epsilon, or than min(eta, sqrt(eta) * exp(-entropy)); 0: none).
  std::optional<double> min_p;           // [0, 1]
  std::optional<double> typical_p;       // (0, 1]
  std::optional<double> epsilon_cutoff;  // [0, 1)
  std::optional<double> eta_cutoff;      // [0, 1)
  bool operator==(const GenerationSpec&) const = default;
};

// What a task (a Hugging Face pipeline name) reads and how it scores it.
struct TaskSpec {
  std::string task;                   // "text-classification", "fill-mask", ...
  std::string output;                 // graph output
  ScoreFunction function = ScoreFunction::None;
  std::vector<std::string> id2label;  // label of class i; empty: none
  std::optional<int64_t> top_k;
  bool operator==(const TaskSpec&) const = default;
};

struct Processing {
  int64_t version = 1;
  std::optional<TokenizerSpec> tokenizer;
  std::optional<ImageProcessorSpec> image;
  std::optional<GenerationSpec> generation;
  std::vector<TaskSpec> tasks;  // the first is the graph's default task
  bool operator==(const Processing&) const = default;
};

// The YAML spellings of the enums ("wordpiece", "longest_first", "bicubic", "softmax", ...).
std::string_view enum_name(TokenizerKind v);
std::string_view enum_name(Padding v);
std::string_view enum_name(Truncation v);
std::string_view enum_name(Side v);
std::string_view enum_name(Resample v);
std::string_view enum_name(ScoreFunction v);

}  // namespace loom
