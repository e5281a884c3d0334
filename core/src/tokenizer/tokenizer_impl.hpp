// A loaded tokenizer: the model of its kind, the added and special tokens on top of it, and the
// spec. Text -> ids follows Hugging Face tokenizers' order: tokens that are not normalized are
// split out of the raw text, the rest is normalized, normalized added tokens are split out of
// that, and the model encodes what is left.
#pragma once

#include "tokenizer/added_tokens.hpp"
#include "tokenizer/model_files.hpp"
#include "tokenizer/token_model.hpp"

#include <loom/processing.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace loom::tok {

class TokenizerImpl {
 public:
  // Builds the model from `files` and checks them with `spec` (see Tokenizer's constructor).
  TokenizerImpl(const TokenizerSpec& spec, ModelFiles files);

  const TokenizerSpec& spec() const { return spec_; }
  // Appends the ids of `text`; `what` names it in the error when it is not valid UTF-8.
  void encode_text(std::string_view text, const std::string& what, std::vector<int32_t>& ids) const;
  // The token of `id`, or an Error naming the id.
  const std::string& token(int64_t id) const;
  const std::string* find_token(int64_t id) const;
  std::optional<int32_t> find_id(std::string_view token) const;
  bool is_special(int64_t id) const { return id >= 0 && id <= INT32_MAX && special_ids_.count(static_cast<int32_t>(id)); }
  size_t vocabulary_size() const;
  const TokenModel& model() const { return *model_; }

 private:
  void add_spec_special_tokens(const ModelFiles& files);
  void check_ids_fit(const ModelFiles& files) const;
  void encode_normalized(std::string_view normalized, std::vector<int32_t>& ids) const;

  TokenizerSpec spec_;
  std::unique_ptr<TokenModel> model_;
  std::vector<AddedToken> added_;
  std::unordered_map<int32_t, size_t> added_by_id_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> added_by_content_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::unordered_set<int32_t> special_ids_;
};

// Reads the files the spec names, through `read(file_name, role)` -> contents, and builds the
// tokenizer. `name(file_name)` is how messages name a file.
std::shared_ptr<const TokenizerImpl> load_tokenizer(const TokenizerSpec& spec,
                                                    const std::function<std::string(const std::string&, const char*)>& read,
                                                    const std::function<std::string(const std::string&)>& name);

// Hugging Face's clean_up_tokenization: " ." -> ".", " ' " -> "'", " n't" -> "n't", ...
std::string clean_up_tokenization(std::string text);

}  // namespace loom::tok
