// The Unicode the tokenizers need: UTF-8 in and out, character classes (utf8proc's tables),
// NFD and NFC, Python's str.lower() and Rust's char::to_lowercase(), and UTF-8 repair as
// Python's errors="replace" does it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace loom::tok::text {

// UTF-8 -> code points. `text` must be valid UTF-8 (see first_invalid_utf8).
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(std::u32string_view text);

// The byte offset of the first ill-formed sequence (overlong forms and surrogates included), or
// nullopt when `text` is valid UTF-8.
std::optional<size_t> first_invalid_utf8(std::string_view text);

// `bytes` as UTF-8 with each maximal ill-formed subpart replaced by one U+FFFD (the Unicode
// recommendation that Python's decode(errors="replace") and Rust's from_utf8_lossy follow).
// When `hold` is given, a trailing sequence that is incomplete but could still become valid is
// not replaced: its length goes to *hold and it is left out of the result (streaming).
std::string repair_utf8(std::string_view bytes, size_t* hold = nullptr);

// General category tests (utf8proc).
bool is_category_c(char32_t c);    // Cc Cf Cs Co Cn
bool is_category_p(char32_t c);    // Pc Pd Ps Pe Pi Pf Po
bool is_category_zs(char32_t c);
bool is_nonspacing_mark(char32_t c);  // Mn
// Unicode's White_Space property (Rust's char::is_whitespace, the tokenizers library's \s).
bool is_white_space(char32_t c);
// Python's str.isspace(): White_Space and the separators U+001C..U+001F (what str.strip() drops).
bool is_python_space(char32_t c);

// NFD (canonical decomposition and ordering).
std::u32string nfd(std::u32string_view text);
// NFC (canonical decomposition, then composition) of valid UTF-8.
std::string nfc(std::string_view text);
// Python's str.lower(): the full lower-case mapping (U+0130 becomes "i" U+0307) and the
// Final_Sigma rule for U+03A3. Cased and case-ignorable are approximated from the general
// categories (Lu Ll Lt; Mn Me Cf Lm Sk and the word-internal punctuation of Word_Break).
std::u32string python_lower(std::u32string_view text);
// Each character's full lower case alone (Rust's char::to_lowercase, which the tokenizers
// library's Lowercase normalizer applies): as python_lower but without the Final_Sigma rule.
std::u32string lower_each(std::u32string_view text);

// `s` with every `from` replaced by `to`, left to right (Python's str.replace).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

}  // namespace loom::tok::text
