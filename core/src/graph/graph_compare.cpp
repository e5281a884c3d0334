#include "graph/graph_compare.hpp"

#include <cstring>

namespace loom {

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string attr_text(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return "'" + x + "'";
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) return std::to_string(x);
        else return std::to_string(x.size()) + " numbers";
      },
      v);
}

bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) return same_bits(*x, std::get<double>(b));
  if (const auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    if (x->size() != y.size()) return false;
    for (size_t i = 0; i < x->size(); ++i)
      if (!same_bits((*x)[i], y[i])) return false;
    return true;
  }
  return a == b;
}

std::string shape_text(const std::optional<Shape>& s) { return s ? shape_str(*s) : "none"; }
std::string dtype_text(const std::optional<DType>& t) { return t ? std::string(dtype_name(*t)) : "none"; }

template <class T>
std::string names(const std::vector<T>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + std::string(x);
  return "[" + out + "]";
}

// The processing structs compare member by member (operator==); this names the part that differs.
std::string processing_difference(const std::optional<Processing>& a, const std::optional<Processing>& b) {
  if (a == b) return "";
  if (!a || !b) return std::string("processing: ") + (a ? "present" : "absent") + " vs " + (b ? "present" : "absent");
  if (a->version != b->version) return "processing.version differs";
  if (a->tokenizer != b->tokenizer) return "processing.tokenizer differs";
  if (a->image != b->image) return "processing.image differs";
  if (a->generation != b->generation) return "processing.generation differs";
  if (a->tasks.size() != b->tasks.size()) return "processing.tasks: " + std::to_string(a->tasks.size()) + " vs " + std::to_string(b->tasks.size());
  for (size_t i = 0; i < a->tasks.size(); ++i)
    if (a->tasks[i] != b->tasks[i]) return "processing.tasks[" + std::to_string(i) + "] differs";
  return "processing differs";
}

}  // namespace

std::string graph_difference(const Graph& a, const Graph& b) {
  auto diff = [](const std::string& what, const std::string& x, const std::string& y) { return what + ": " + x + " vs " + y; };
  if (a.name != b.name) return diff("name", a.name, b.name);
  if (a.metadata != b.metadata) return "metadata differs";
  if (a.inputs.size() != b.inputs.size()) return diff("inputs", std::to_string(a.inputs.size()), std::to_string(b.inputs.size()));
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto &x = a.inputs[i], &y = b.inputs[i];
    std::string at = "inputs[" + std::to_string(i) + "]";
    if (x.name != y.name) return diff(at + ".name", x.name, y.name);
    if (x.info.dtype != y.info.dtype) return diff(at + ".dtype", std::string(dtype_name(x.info.dtype)), std::string(dtype_name(y.info.dtype)));
    if (x.info.shape != y.info.shape) return diff(at + ".shape", sym_shape_str(x.info.shape), sym_shape_str(y.info.shape));
    if (x.default_value != y.default_value) return at + ".default differs";
    if (x.values != y.values) return at + ".values differs";
  }
  if (a.outputs.size() != b.outputs.size()) return diff("outputs", std::to_string(a.outputs.size()), std::to_string(b.outputs.size()));
  for (size_t i = 0; i < a.outputs.size(); ++i)
    if (a.outputs[i].name != b.outputs[i].name) return diff("outputs[" + std::to_string(i) + "]", a.outputs[i].name, b.outputs[i].name);
  if (a.initializers.size() != b.initializers.size())
    return diff("initializers", std::to_string(a.initializers.size()), std::to_string(b.initializers.size()));
  for (size_t i = 0; i < a.initializers.size(); ++i) {
    const auto &x = a.initializers[i], &y = b.initializers[i];
    std::string at = "initializers[" + std::to_string(i) + "]";
    if (x.name != y.name) return diff(at + ".name", x.name, y.name);
    if (x.dtype != y.dtype) return diff(at + ".dtype", dtype_text(x.dtype), dtype_text(y.dtype));
    if (x.shape != y.shape) return diff(at + ".shape", shape_text(x.shape), shape_text(y.shape));
    if (x.file != y.file) return diff(at + ".file", x.file, y.file);
    if (x.tensor != y.tensor) return diff(at + ".tensor", x.tensor, y.tensor);
    if (x.values.size() != y.values.size()) return diff(at + ".values", std::to_string(x.values.size()), std::to_string(y.values.size()));
    for (size_t k = 0; k < x.values.size(); ++k)
      if (!same_bits(x.values[k], y.values[k]))
        return diff(at + ".values[" + std::to_string(k) + "]", std::to_string(x.values[k]), std::to_string(y.values[k]));
  }
  if (a.symbols.size() != b.symbols.size()) return diff("symbols", std::to_string(a.symbols.size()), std::to_string(b.symbols.size()));
  for (size_t i = 0; i < a.symbols.size(); ++i) {
    if (a.symbols[i].name != b.symbols[i].name) return diff("symbols[" + std::to_string(i) + "]", a.symbols[i].name, b.symbols[i].name);
    if (a.symbols[i].max != b.symbols[i].max)
      return diff("symbols." + a.symbols[i].name + ".max", std::to_string(a.symbols[i].max), std::to_string(b.symbols[i].max));
  }
  if (a.states.size() != b.states.size()) return diff("state", std::to_string(a.states.size()), std::to_string(b.states.size()));
  for (size_t i = 0; i < a.states.size(); ++i) {
    const auto &x = a.states[i], &y = b.states[i];
    std::string at = "state[" + std::to_string(i) + "]";
    if (x.name != y.name) return diff(at + ".name", x.name, y.name);
    if (x.dtype != y.dtype) return diff(at + ".dtype", std::string(dtype_name(x.dtype)), std::string(dtype_name(y.dtype)));
    if (x.shape != y.shape) return diff(at + ".shape", shape_str(x.shape), shape_str(y.shape));
    if (x.update != y.update) return diff(at + ".update", x.update, y.update);
  }
  if (a.nodes.size() != b.nodes.size()) return diff("nodes", std::to_string(a.nodes.size()), std::to_string(b.nodes.size()));
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const auto &x = a.nodes[i], &y = b.nodes[i];
    std::string at = "nodes[" + std::to_string(i) + "]";
    if (x.name != y.name) return diff(at + ".name", x.name, y.name);
    if (x.op != y.op) return diff(at + ".op", x.op, y.op);
    if (x.inputs != y.inputs) return diff(at + ".inputs", names(x.inputs), names(y.inputs));
    if (x.outputs != y.outputs) return diff(at + ".outputs", names(x.outputs), names(y.outputs));
    if (x.backend != y.backend) return diff(at + ".backend", x.backend, y.backend);
    for (const auto& [k, v] : x.attrs) {
      auto it = y.attrs.find(k);
      if (it == y.attrs.end()) return diff(at + ".attrs." + k, attr_text(v), "absent");
      if (!same_attr(v, it->second)) return diff(at + ".attrs." + k, attr_text(v), attr_text(it->second));
    }
    for (const auto& [k, v] : y.attrs)
      if (!x.attrs.count(k)) return diff(at + ".attrs." + k, "absent", attr_text(v));
  }
  return processing_difference(a.processing, b.processing);
}

}  // namespace loom
