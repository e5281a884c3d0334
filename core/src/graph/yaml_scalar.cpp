#include "graph/yaml_scalar.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace loom::yaml {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the run of digits starting at `pos`.
size_t digits(std::string_view s, size_t pos) {
  size_t n = 0;
  while (pos + n < s.size() && is_digit(s[pos + n])) ++n;
  return n;
}

bool is_int_text(std::string_view s) {
  size_t pos = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return pos < s.size() && digits(s, pos) == s.size() - pos;
}

bool is_special_float(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return s == ".inf" || s == ".Inf" || s == ".INF";
}

bool is_nan_text(std::string_view s) { return s == ".nan" || s == ".NaN" || s == ".NAN"; }

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool is_float_text(std::string_view s) {
  size_t pos = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t int_digits = digits(s, pos);
  pos += int_digits;
  size_t frac_digits = 0;
  if (pos < s.size() && s[pos] == '.') {
    frac_digits = digits(s, pos + 1);
    pos += 1 + frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) ++pos;
    size_t exp_digits = digits(s, pos);
    if (exp_digits == 0) return false;
    pos += exp_digits;
  }
  return pos == s.size();
}

}  // namespace

PlainKind plain_kind(std::string_view text) {
  if (is_int_text(text)) return PlainKind::Int;
  if (is_float_text(text) || is_special_float(text) || is_nan_text(text)) return PlainKind::Float;
  if (text == "true" || text == "True" || text == "TRUE" || text == "false" || text == "False" || text == "FALSE")
    return PlainKind::Bool;
  return PlainKind::String;
}

std::optional<int64_t> parse_int(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_float(std::string_view text) {
  if (is_nan_text(text)) return std::numeric_limits<double>::quiet_NaN();
  bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  if (is_special_float(text)) return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  // from_chars accepts neither a leading '+' nor (in some forms) a leading '.', so give it digits.
  std::string body;
  if (!text.empty() && text[0] == '.') body.push_back('0');
  body.append(text);
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return negative ? -v : v;
}

bool parse_bool(std::string_view text) { return text == "true" || text == "True" || text == "TRUE"; }

bool holds_other_line_breaks(std::string_view text) {
  for (std::string_view brk : {"\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9"})
    if (text.find(brk) != std::string_view::npos) return true;
  return false;
}

void put_string(YAML::Emitter& out, const std::string& s) {
  if (holds_other_line_breaks(s)) out << YAML::EscapeNonAscii << YAML::DoubleQuoted;
  else if (needs_quotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

bool needs_quotes(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL" || plain_kind(text) != PlainKind::String;
}

std::string format_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string out(buf, ec == std::errc() ? end : buf);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

}  // namespace loom::yaml
