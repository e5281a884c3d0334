// The `processing.tokenizer` section of an expanded graph, from a checkpoint's tokenizer files:
// which files (vocab.txt, vocab.json + merges.txt, or tokenizer.json), the settings of
// tokenizer_config.json, and the special tokens with the ids the vocabulary gives them (never
// constants: checkpoints differ).
#pragma once

#include "config.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loom::models {

struct TokenizerSetup {
  std::string kind;                  // "wordpiece", "byte_level_bpe" or "clip_bpe"
  std::map<std::string, std::string> special_tokens;  // role -> token text (defaults, then the config's)
  bool lowercase = false;            // the default of do_lower_case
  bool add_prefix_space = false;
  bool frame_with_cls_sep = false;   // [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP]
  bool frame_with_bos_eos = false;   // CLIP's <|startoftext|> $A <|endoftext|> (pairs: bos A eos eos B eos)
  // GPT-2's: tokenizer_config.json's add_bos_token (default false) frames <bos> $A / <bos> $A $B
  // (types 0, 0, 1), as GPT2TokenizerFast converted from vocab.json and merges.txt does.
  bool frame_with_add_bos_token = false;
  bool truncate = false;             // truncate to max_length (longest_first), keeping the frame
  bool pad_to_longest = false;
  int64_t max_positions = 0;         // config.json's limit; caps model_max_length
  int64_t vocab_size = 0;            // config.json's
  std::string input_ids = "input_ids", token_type_ids, attention_mask;
  // A model without token_type_ids to which transformers would still feed them where the
  // tokenizer returns them (GPT2Model, which adds their embeddings): such a tokenizer is refused.
  bool refuse_type_ids = false;
};

// The YAML of the section (under `processing:`), or "" when the checkpoint ships no tokenizer
// files. Reads tokenizer_config.json and special_tokens_map.json when present.
std::string tokenizer_section(const std::string& checkpoint_dir, TokenizerSetup setup);

}  // namespace loom::models
