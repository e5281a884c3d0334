// How a plain (unquoted) YAML scalar of a Loom graph reads: int, float, bool or string. The
// reader and the writer share these rules so that the writer quotes exactly the strings that
// would otherwise read back as something else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace YAML {
class Emitter;
}

namespace loom::yaml {

enum class PlainKind { Int, Float, Bool, String };

// YAML 1.2 core schema, restricted: decimal integers, decimal floats with `.inf`/`.nan`, and
// true/false only (no yes/no/on/off, no hex or octal, no digit separators).
PlainKind plain_kind(std::string_view text);

// For text of kind Int / Float / Bool; nullopt when the number is out of range.
std::optional<int64_t> parse_int(std::string_view text);
std::optional<double> parse_float(std::string_view text);
bool parse_bool(std::string_view text);

// Whether `text` holds U+0085, U+2028 or U+2029, YAML 1.1's other line breaks, which the
// writers then quote with every non-ASCII character escaped (\x85, \u2028): other readers
// (PyYAML) take them raw for line breaks.
bool holds_other_line_breaks(std::string_view text);
// Whether a string must be quoted so that it reads back as a string (not null, a number or a bool).
bool needs_quotes(std::string_view text);

// Writes `s` plain, or double-quoted exactly where it would read back as something else, with
// the non-ASCII characters escaped where it holds one of the other line breaks (both writers).
void put_string(YAML::Emitter& out, const std::string& s);

// The shortest text that reads back as exactly `v` and as a float (never as an int).
std::string format_float(double v);

}  // namespace loom::yaml
