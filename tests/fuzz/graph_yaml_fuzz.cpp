// Fuzzes the YAML graph reader. Any input must either read or throw loom::Error (yaml-cpp's own
// exceptions are converted inside the reader). What reads must also survive the writer: reading
// the written text gives back the same graph.
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include "graph/graph_compare.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  loom::Graph g;
  try {
    g = loom::parse_graph_yaml(text, "fuzz.yaml");
  } catch (const loom::Error&) {
    return 0;
  }
  // The round trip is about content, not size: skip it for the large expansions that a few
  // bytes of `repeat` make, which would only slow the fuzzer down.
  if (g.nodes.size() + g.initializers.size() + g.states.size() > 2000) return 0;
  std::string written = loom::write_graph_yaml(g);
  loom::Graph back;
  try {
    back = loom::parse_graph_yaml(written, "written.yaml");
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "written graph does not read back: %s\n--- written:\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  std::string difference = loom::graph_difference(g, back);
  if (!difference.empty()) {
    std::fprintf(stderr, "round trip changed the graph: %s\n--- written:\n%s\n", difference.c_str(), written.c_str());
    std::abort();
  }
  return 0;
}
