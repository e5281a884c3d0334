// A tokenizer model's vocabulary (token <-> id) and the readers of the files that hold one:
// vocab.txt (WordPiece: one token a line, id = line index, as transformers reads it), vocab.json (BPE: {token: id}) and
// merges.txt (BPE: "a b" a line, rank = line order). Each reader refuses a malformed file with
// an Error that names the file and the line or entry.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace loom::tok {

// The longest token text a vocabulary entry may have, in bytes: the longest of GPT-2 is 256,
// and WordPiece never matches a word of more than 100 characters.
inline constexpr size_t kMaxTokenBytes = 1024;
// Token ids are held as int32_t.
inline constexpr int64_t kMaxTokenId = INT32_MAX - 1;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocabulary {
 public:
  void reserve(size_t tokens);
  // Adds `token` as `id`; false when the token or the id is already taken (nothing is added).
  bool add(const std::string& token, int32_t id);
  // Gives `token` the fresh `id`; a token already present leaves its old id with no token.
  void assign(const std::string& token, int32_t id);
  std::optional<int32_t> find(std::string_view token) const;
  const std::string* token(int32_t id) const;  // null when no token has the id
  size_t size() const { return ids_.size(); }
  int32_t max_id() const { return max_id_; }  // -1 when empty
  size_t longest_token_bytes() const { return longest_; }

 private:
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  std::unordered_map<int32_t, const std::string*> tokens_;  // points at the keys of ids_
  int32_t max_id_ = -1;
  size_t longest_ = 0;
};

// One line of merges.txt or one entry of tokenizer.json's model.merges, in rank order.
struct Merge {
  std::string left, right;
  size_t place = 0;  // merges.txt: the line number; tokenizer.json: the index in model.merges
};

// `name` is the file as messages name it.
Vocabulary read_vocab_txt(std::string_view text, const std::string& name);
Vocabulary read_vocab_json(std::string_view text, const std::string& name);
// A {token: id} object (vocab.json, tokenizer.json's model.vocab); `where` starts each message.
Vocabulary vocabulary_from_json(const nlohmann::json& object, const std::string& where);
// Which class's reading of merges.txt (read_merges_txt says how they differ).
enum class MergesReader { gpt2, clip };
std::vector<Merge> read_merges_txt(std::string_view text, const std::string& name, MergesReader reader = MergesReader::gpt2);

// Checks one token text of a vocabulary: not empty, at most kMaxTokenBytes, valid UTF-8.
// Returns what is wrong, or "" when nothing is.
std::string token_text_problem(std::string_view token);

}  // namespace loom::tok
