#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace loom::tok::text {

namespace {

// The well-formed UTF-8 sequences of the Unicode standard (table 3-7), read at s[i]: how many
// bytes belong to the sequence (the whole sequence when `valid`, else its maximal ill-formed
// subpart, at least one byte) and whether the text ended inside a sequence still valid so far.
struct Sequence {
  size_t length = 1;
  bool valid = false;
  bool truncated = false;
};

Sequence sequence_at(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return {1, true, false};
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte; later bytes are 80..BF
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return {1, false, false};
  }
  size_t n = 1;
  for (size_t k = 0; k < need; ++k, ++n, lo = 0x80, hi = 0xBF) {
    if (i + n >= s.size()) return {n, false, true};
    const auto b = static_cast<uint8_t>(s[i + n]);
    if (b < lo || b > hi) return {n, false, false};
  }
  return {n, true, false};
}

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

bool is_cased(char32_t c) {
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

bool is_case_ignorable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  // Word_Break MidLetter, MidNumLet and Single_Quote.
  switch (c) {
    case U'\'': case U'.': case U':': case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      return false;
  }
}

// Python's rule for a capital sigma at `i`: final when a cased letter precedes it and none
// follows it, case-ignorable characters skipped on both sides.
bool is_final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    const size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    if (i + n > text.size()) throw Error("decode_utf8: truncated UTF-8");  // callers validate first
    char32_t c = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    out.push_back(c);
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const Sequence s = sequence_at(text, i);
    if (!s.valid) return i;
    i += s.length;
  }
  return std::nullopt;
}

std::string repair_utf8(std::string_view bytes, size_t* hold) {
  std::string out;
  out.reserve(bytes.size());
  if (hold) *hold = 0;
  for (size_t i = 0; i < bytes.size();) {
    const Sequence s = sequence_at(bytes, i);
    if (s.valid) {
      out.append(bytes.substr(i, s.length));
    } else if (s.truncated && hold) {
      *hold = s.length;
      break;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
    }
    i += s.length;
  }
  return out;
}

bool is_category_c(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

bool is_category_p(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_category_zs(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ZS; }
bool is_nonspacing_mark(char32_t c) { return category(c) == UTF8PROC_CATEGORY_MN; }

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_python_space(char32_t c) { return is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string nfd(std::u32string_view text) {
  const std::string utf8 = encode_utf8(text);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto length = static_cast<utf8proc_ssize_t>(utf8.size());
  // A canonical decomposition is at most 4 code points per character (Unicode's stability
  // policy bounds it well below this); ask utf8proc for the size rather than trusting that.
  const utf8proc_ssize_t need = utf8proc_decompose(bytes, length, nullptr, 0, UTF8PROC_DECOMPOSE);
  if (need < 0) throw Error(std::string("NFD: ") + utf8proc_errmsg(need));
  std::u32string out(static_cast<size_t>(need), U'\0');
  const utf8proc_ssize_t got =
      utf8proc_decompose(bytes, length, reinterpret_cast<utf8proc_int32_t*>(out.data()), need, UTF8PROC_DECOMPOSE);
  if (got < 0 || got > need) throw Error(std::string("NFD: ") + (got < 0 ? utf8proc_errmsg(got) : "decomposition grew"));
  out.resize(static_cast<size_t>(got));
  return out;
}

std::string nfc(std::string_view text) {
  utf8proc_uint8_t* composed = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                                          &composed, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(composed, &std::free);
  if (n < 0) throw Error(std::string("NFC: ") + utf8proc_errmsg(n));
  return std::string(reinterpret_cast<const char*>(composed), static_cast<size_t>(n));
}

namespace {

// `c`'s full lower case, the Final_Sigma context aside.
void append_lower(std::u32string& out, char32_t c) {
  if (c == 0x130) out += U"i\u0307";  // the one unconditional multi-character lower case of SpecialCasing.txt
  else out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

}  // namespace

std::u32string python_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x3A3) out.push_back(is_final_sigma(text, i) ? 0x3C2 : 0x3C3);
    else append_lower(out, text[i]);
  }
  return out;
}

std::u32string lower_each(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) append_lower(out, c);
  return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0;;) {
    const size_t hit = from.empty() ? std::string_view::npos : s.find(from, i);
    out.append(s.substr(i, hit == std::string_view::npos ? std::string_view::npos : hit - i));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    i = hit + from.size();
  }
}

}  // namespace loom::tok::text
