#include "tokenizer/regex.hpp"

#include <loom/error.hpp>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace loom::tok {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern) : code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &error,
                              &offset, nullptr);
  if (!code_->code)
    throw Error("pre-tokenizer regex: " + pcre2_message(error) + " at offset " + std::to_string(offset) + " of " + pattern);
  // Without JIT (a platform PCRE2 lacks it for) the interpreter gives the same matches, slower.
  (void)pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;

template <class OnMatch>
void Regex::for_each_match(std::string_view text, OnMatch on_match) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(pcre2_match_data_create_from_pattern(code_->code, nullptr));
  if (!match) throw std::bad_alloc();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t at = 0;  // where the next search starts
  while (at < text.size()) {
    // The text was checked to be UTF-8 once, by the caller.
    const int rc = pcre2_match(code_->code, subject, text.size(), at, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("pre-tokenizer regex: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const size_t start = ovector[0], end = ovector[1];
    if (end <= start) {  // an empty match: step over one character
      at = start + 1;
      while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
      continue;
    }
    on_match(start, end);
    at = end;
  }
}

std::vector<std::string_view> Regex::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  size_t pending = 0;  // the start of text not yet in a piece
  for_each_match(text, [&](size_t start, size_t end) {
    if (start > pending) pieces.push_back(text.substr(pending, start - pending));
    pieces.push_back(text.substr(start, end - start));
    pending = end;
  });
  if (pending < text.size()) pieces.push_back(text.substr(pending));
  return pieces;
}

std::vector<std::string_view> Regex::matches(std::string_view text) const {
  std::vector<std::string_view> pieces;
  for_each_match(text, [&](size_t start, size_t end) { pieces.push_back(text.substr(start, end - start)); });
  return pieces;
}

}  // namespace loom::tok
