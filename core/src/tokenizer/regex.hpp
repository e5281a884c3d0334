// A pre-tokenizer regex: PCRE2 in UTF and Unicode-property mode (\p{L}, \s for all of
// Unicode), compiled once (JIT where the platform has it) and shared by every thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tok {

class Regex {
 public:
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // `text` (valid UTF-8) cut into pieces that cover it: each match, and each stretch between
  // matches (Hugging Face's "isolated" split). Throws loom::Error when the matcher fails.
  std::vector<std::string_view> split(std::string_view text) const;
  // The matches alone, the stretches between them dropped (Hugging Face's Split with `invert`
  // and the "removed" behaviour).
  std::vector<std::string_view> matches(std::string_view text) const;

 private:
  // Calls on_match(start, end) for each non-empty match, left to right.
  template <class OnMatch>
  void for_each_match(std::string_view text, OnMatch on_match) const;

  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace loom::tok
