// Upper bounds that a graph puts on its symbols, found from its structure before any run, so
// that a value too large is refused with the node that limits it instead of failing mid-run.
#pragma once

#include "graph/program.hpp"

#include <loom/engine.hpp>

#include <map>
#include <string>
#include <vector>

namespace loom {

// The tightest bound per symbol, in symbol order. Today one pattern sets bounds: a `gather`
// whose indices are a `positions` node without an offset (ids 0..n-1, n a symbol) from data
// whose gathered dimension is fixed, as in an absolute position embedding.
std::vector<SymbolLimit> find_symbol_limits(const Program& program);

// Throws loom::Error naming the graph, the symbol, its value and the limit when a binding
// exceeds one; `context` starts the message ("run").
void check_symbol_limits(const std::vector<SymbolLimit>& limits, const std::map<std::string, int64_t>& bindings,
                         const std::string& graph, const std::string& context);

}  // namespace loom
