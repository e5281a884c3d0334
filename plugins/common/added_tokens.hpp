// The tokens a checkpoint adds to its vocabulary (tokenizer.add_tokens, add_special_tokens), as
// transformers gathers them when it loads the tokenizer: tokenizer_config.json's
// added_tokens_decoder where it has one, else added_tokens.json with tokenizer.json's
// added_tokens over it (by id); and a fast tokenizer keeps tokenizer.json's own beside those.
#pragma once

#include "config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loom::models {

struct AddedEntry {
  std::string content;
  int64_t id = 0;
  bool special = false, single_word = false, lstrip = false, rstrip = false;
  bool normalized = true;
  std::string where;  // "tokenizer_config.json: added_tokens_decoder.30522", for messages
  bool same_as(const AddedEntry& o) const;  // every field but `where`
};

struct CheckpointAddedTokens {
  std::vector<AddedEntry> in_tokenizer_json;  // tokenizer.json's added_tokens (read by the core)
  // What the loaded tokenizer holds: in_tokenizer_json's entries first, each at its own index
  // (replaced where the saved ones give other flags), then the saved ones it lacks.
  std::vector<AddedEntry> all;
  const AddedEntry* find(const std::string& content) const;
};

// `tokenizer_json`: the checkpoint's tokenizer.json, parsed (an empty object where there is none);
// `special_texts`: the special tokens' texts, which added_tokens.json's entries are special for.
// Errors name the file and the entry.
CheckpointAddedTokens read_added_tokens(const std::string& dir, const JsonFile& tokenizer_config, const JsonFile& tokenizer_json,
                                        const std::vector<std::string>& special_texts);

}  // namespace loom::models
