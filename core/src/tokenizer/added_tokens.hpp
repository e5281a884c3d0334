// Tokens matched in the text before the model sees it: the special tokens ("[MASK]",
// "<|endoftext|>") and tokenizer.json's added_tokens. Matching follows Hugging Face tokenizers:
// leftmost first, the longest at a position; single_word, lstrip and rstrip as its AddedToken.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tok {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = true;       // skipped by decode(skip_special_tokens)
  bool single_word = false;  // matched only between non-word characters
  bool lstrip = false;       // takes the whitespace on its left
  bool rstrip = false;       // takes the whitespace on its right
  bool normalized = false;   // matched in the normalized text rather than the raw text
};

// A stretch of text: an added token's id, or text for the model (id < 0).
struct Piece {
  std::string_view text;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);
  bool empty() const { return tokens_.empty(); }
  // Appends the pieces of `text`, in order; text pieces are never empty.
  void split(std::string_view text, std::vector<Piece>& out) const;

 private:
  // A byte trie of the tokens' contents: node 0 is the root.
  struct Node {
    std::map<unsigned char, uint32_t> next;
    int32_t token = -1;  // index into tokens_ of the token ending here
  };
  std::vector<Node> nodes_;
  std::vector<AddedToken> tokens_;
};

}  // namespace loom::tok
