#include "tokenizer/added_tokens.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/unicode_text.hpp"

#include <string>

namespace loom::tok {

namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The character that ends at `end` / starts at `start` of valid UTF-8 `text`.
char32_t char_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && is_continuation(text[start])) --start;
  return text::decode_utf8(text.substr(start, end - start)).front();
}
size_t char_length_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && is_continuation(text[start])) --start;
  return end - start;
}
size_t char_length_at(std::string_view text, size_t start) {
  size_t end = start + 1;
  while (end < text.size() && is_continuation(text[end])) ++end;
  return end - start;
}
char32_t char_at(std::string_view text, size_t start) {
  return text::decode_utf8(text.substr(start, char_length_at(text, start))).front();
}

// A word character as the tokenizers library's single_word check has it (Rust's Unicode \w:
// Alphabetic, marks, decimal digits, connector punctuation and the joiners U+200C / U+200D),
// from PCRE2's property tables: Alphabetic takes in letters' other forms (the circled ⓐ, a
// symbol) that the general categories leave out.
bool is_word_char(char32_t c) {
  static const Regex word(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])");
  const std::string utf8 = text::encode_utf8(std::u32string(1, c));
  return !word.matches(utf8).empty();
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) : tokens_(tokens) {
  nodes_.emplace_back();
  for (size_t t = 0; t < tokens_.size(); ++t) {
    uint32_t node = 0;
    for (char c : tokens_[t].content) {
      const auto byte = static_cast<unsigned char>(c);
      auto it = nodes_[node].next.find(byte);
      if (it == nodes_[node].next.end()) {
        nodes_.emplace_back();
        it = nodes_[node].next.emplace(byte, static_cast<uint32_t>(nodes_.size() - 1)).first;
      }
      node = it->second;
    }
    nodes_[node].token = static_cast<int32_t>(t);
  }
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Piece>& out) const {
  size_t pending = 0;  // where the text not yet given out starts
  for (size_t i = 0; i < text.size();) {
    if (tokens_.empty()) break;
    // The longest token starting at i.
    int32_t found = -1;
    size_t stop = i;
    uint32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      auto it = nodes_[node].next.find(static_cast<unsigned char>(text[j]));
      if (it == nodes_[node].next.end()) break;
      node = it->second;
      if (nodes_[node].token >= 0) {
        found = nodes_[node].token;
        stop = j + 1;
      }
    }
    if (found < 0) {
      ++i;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(found)];
    size_t start = i;
    // A single-word token inside a word stays text, as a whole: matching goes on after it.
    if (token.single_word && ((start > 0 && is_word_char(char_before(text, start))) ||
                              (stop < text.size() && is_word_char(char_at(text, stop))))) {
      i = stop;
      continue;
    }
    if (token.lstrip)
      while (start > pending && text::is_white_space(char_before(text, start))) start -= char_length_before(text, start);
    if (token.rstrip)
      while (stop < text.size() && text::is_white_space(char_at(text, stop))) stop += char_length_at(text, stop);
    if (start > pending) out.push_back(Piece{text.substr(pending, start - pending), -1});
    out.push_back(Piece{text.substr(start, stop - start), token.id});
    pending = i = stop;
  }
  if (pending < text.size()) out.push_back(Piece{text.substr(pending), -1});
}

}  // namespace loom::tok
