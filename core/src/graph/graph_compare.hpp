// Field-by-field comparison of graphs, ignoring source locations: what "read(write(g)) == g"
// means for the YAML round trip. Floats of nodes and initializers compare bit for bit (NaN equals
// itself, -0 is not 0); the processing section, whose numbers are finite, compares with ==.
#pragma once

#include <loom/graph.hpp>

#include <string>

namespace loom {

// The first difference between `a` and `b` in words ("nodes[3].attrs.axis: 1 vs 2"), or "".
std::string graph_difference(const Graph& a, const Graph& b);

}  // namespace loom
