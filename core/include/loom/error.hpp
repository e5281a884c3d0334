// Errors inside libloom are exceptions of one type whose message already says where
// (file, file:line:column, node, tensor) and what was expected.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace loom {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `text` (a name, a path, a string read from a file or a plugin) made safe to put into a
// message: control characters (C0, DEL, C1), Unicode bidirectional controls and bytes that are
// not UTF-8 are written as escapes (\n, \t, \x1b, \u202e), so a hostile name cannot rewrite the
// terminal or hide text. Printable text, including non-ASCII UTF-8, is unchanged, and so is
// text that is already printable: printable(printable(s)) == printable(s).
std::string printable(std::string_view text);

}  // namespace loom
