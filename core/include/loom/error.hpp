// Errors inside libloom are exceptions of one type whose message already says where
// (file, file:line:column, node, tensor) and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace loom {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace loom
