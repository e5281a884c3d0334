// Helpers of the graph-format tests: parse text as "g.yaml", the error a text gives, and the
// round trip through the writer.
#pragma once

#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include "graph/graph_compare.hpp"

#include <string>

namespace loom::test {

inline Graph parse(const std::string& text) { return parse_graph_yaml(text, "g.yaml"); }

// The message of the loom::Error that reading `text` throws, or "(no error)".
inline std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// read(write(g)) == g, and writing is stable: the second write is the first.
inline void check_round_trip(const Graph& g) {
  std::string text = write_graph_yaml(g);
  Graph back = parse_graph_yaml(text, "written.yaml");
  INFO(text);
  CHECK(graph_difference(g, back) == "");
  CHECK(write_graph_yaml(back) == text);
}

}  // namespace loom::test
