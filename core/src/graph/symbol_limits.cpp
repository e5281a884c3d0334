#include "graph/symbol_limits.hpp"

#include <loom/error.hpp>

#include <variant>

namespace loom {

namespace {

// An axis attribute normalised against a rank, or -1 when out of range (validation has already
// refused those; this only keeps the analysis from indexing out of bounds).
int64_t axis_of(const Node& node, size_t rank) {
  auto it = node.attrs.find("axis");
  if (it == node.attrs.end() || !std::holds_alternative<int64_t>(it->second)) return -1;
  int64_t axis = std::get<int64_t>(it->second);
  if (axis < 0) axis += static_cast<int64_t>(rank);
  return axis >= 0 && axis < static_cast<int64_t>(rank) ? axis : -1;
}

}  // namespace

std::string SymbolLimit::str() const {
  return symbol + " <= " + std::to_string(max) + " (node '" + node + "' " + why + ")";
}

std::vector<SymbolLimit> find_symbol_limits(const Program& p) {
  std::map<std::string, SymbolLimit> tightest;
  for (const ProgramNode& n : p.nodes) {
    if (n.node.op != "gather" || n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0) continue;
    const ProgramValue& indices = p.values[n.inputs[1]];
    if (indices.producer < 0) continue;
    const ProgramNode& positions = p.nodes[indices.producer];
    if (positions.node.op != "positions" || positions.inputs.empty() || positions.inputs[0] < 0) continue;
    if (positions.inputs.size() > 1 && positions.inputs[1] >= 0) continue;  // an offset known only at run time
    const SymShape& like = p.values[positions.inputs[0]].info.shape;
    const int64_t like_axis = axis_of(positions.node, like.size());
    if (like_axis < 0) continue;
    const Dim& count = like[like_axis];
    if (!count.is_symbolic() || count.symbols().size() != 1 || count.factor() != 1) continue;

    const ProgramValue& data = p.values[n.inputs[0]];
    const int64_t data_axis = axis_of(n.node, data.info.shape.size());
    if (data_axis < 0 || !data.info.shape[data_axis].is_known()) continue;

    const std::string& symbol = count.symbols()[0];
    SymbolLimit limit{symbol, data.info.shape[data_axis].value(), n.node.name,
                      "gathers position ids 0.." + symbol + "-1 from '" + data.name + "' " +
                          sym_shape_str(data.info.shape) +
                          (data_axis ? " along axis " + std::to_string(data_axis) : "")};
    auto [it, fresh] = tightest.emplace(symbol, limit);
    if (!fresh && limit.max < it->second.max) it->second = limit;
  }
  std::vector<SymbolLimit> out;
  for (auto& [symbol, limit] : tightest) out.push_back(std::move(limit));
  return out;
}

void check_symbol_limits(const std::vector<SymbolLimit>& limits, const std::map<std::string, int64_t>& bindings,
                         const std::string& graph, const std::string& context) {
  for (const SymbolLimit& limit : limits) {
    auto it = bindings.find(limit.symbol);
    if (it != bindings.end() && it->second > limit.max)
      throw Error(context + ": " + limit.symbol + " = " + std::to_string(it->second) + " is more than graph '" + graph +
                  "' takes: " + limit.str());
  }
}

}  // namespace loom
