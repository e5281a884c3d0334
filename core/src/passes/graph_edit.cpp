#include "passes/graph_edit.hpp"

#include "ops/registry.hpp"

#include <loom/error.hpp>

#include <queue>
#include <unordered_map>

namespace loom::passes {

GraphEdit::GraphEdit(const Program& program) : p_(program) {
  for (const auto& v : p_.values) names_.insert(v.name);
  for (const auto& n : p_.nodes) names_.insert(n.node.name);
  for (int v : p_.outputs) escaping_.insert(v);
  for (const auto& st : p_.states)
    if (st.update >= 0) escaping_.insert(st.update);
}

int GraphEdit::input_from(int n, size_t port, std::string_view op) const {
  const ProgramNode& pn = p_.nodes[n];
  if (port >= pn.inputs.size()) return -1;
  const int prod = producer(pn.inputs[port]);
  return prod >= 0 && p_.nodes[prod].node.op == op ? prod : -1;
}

bool GraphEdit::escapes(int value) const { return escaping_.count(value) > 0; }

bool GraphEdit::read_elsewhere(int value, int reader) const {
  if (escapes(value)) return true;
  int reads = 0;
  for (int c : p_.values[value].consumers) {
    if (c != reader) return true;
    ++reads;
  }
  return reads != 1;
}

bool GraphEdit::computes(Node& fused, int value) const {
  std::vector<const TensorInfo*> inputs;
  try {
    ops::normalize_attrs(fused);
    for (const auto& name : fused.inputs) {
      const int v = name.empty() ? -1 : p_.find(name);
      if (!name.empty() && v < 0) return false;
      inputs.push_back(v < 0 ? nullptr : &p_.values[v].info);
    }
    const auto outs = ops::infer(fused, inputs);
    return outs[0].dtype == info(value).dtype && outs[0].shape == info(value).shape;
  } catch (const Error&) {
    return false;
  }
}

void GraphEdit::take(int n) {
  if (!taken_.insert(n).second)
    throw Error("graph pass: node '" + p_.nodes[n].node.name + "' is rewritten twice in one pass");
  changed_ = true;
}

void GraphEdit::replace(const std::vector<int>& nodes, Node fused) {
  int last = -1;
  RewrittenNode record{fused.name, fused.op, {}};
  for (int n : nodes) {
    take(n);
    removed_.insert(n);
    last = std::max(last, n);
    record.nodes.push_back(p_.nodes[n].node.name);
  }
  names_.insert(fused.name);
  inserted_[last].push_back(std::move(fused));
  replaced_.push_back(std::move(record));
  ++rewrites_;
}

void GraphEdit::expand(int n, std::vector<Node> nodes) {
  take(n);
  removed_.insert(n);
  for (const auto& node : nodes) names_.insert(node.name);
  auto& slot = inserted_[n];
  slot.insert(slot.end(), std::make_move_iterator(nodes.begin()), std::make_move_iterator(nodes.end()));
  ++rewrites_;
}

Node make_node(const Node& from, std::string name, std::string op, std::vector<std::string> inputs,
               std::vector<std::string> outputs, std::map<std::string, AttrValue> attrs) {
  Node n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  n.backend = from.backend;
  n.loc = from.loc;
  ops::normalize_attrs(n);  // defaults filled in, absent trailing inputs dropped
  return n;
}

void GraphEdit::retype_state(const std::string& name, DType dtype) {
  retyped_states_[name] = dtype;
  changed_ = true;
}

void GraphEdit::update(int n, Node changed) {
  take(n);
  updated_[n] = std::move(changed);
}

void GraphEdit::remove(int n) {
  take(n);
  removed_.insert(n);
}

void GraphEdit::add_initializer(Initializer init) {
  changed_ = true;
  added_.push_back(std::move(init));
}

void GraphEdit::remove_initializer(const std::string& name) {
  changed_ = true;
  dropped_initializers_.insert(name);
}

std::string GraphEdit::unique_name(const std::string& base) {
  std::string name = base;
  for (int i = 2; names_.count(name); ++i) name = base + "." + std::to_string(i);
  names_.insert(name);
  return name;
}

Graph GraphEdit::result() const {
  Graph g = p_.graph;
  g.initializers.clear();
  for (const auto& init : p_.graph.initializers)
    if (!dropped_initializers_.count(init.name)) g.initializers.push_back(init);
  g.initializers.insert(g.initializers.end(), added_.begin(), added_.end());
  for (auto& st : g.states)
    if (auto it = retyped_states_.find(st.name); it != retyped_states_.end()) st.dtype = it->second;

  std::vector<Node> nodes;
  for (size_t i = 0; i < p_.nodes.size(); ++i) {
    const int n = static_cast<int>(i);
    if (auto it = updated_.find(n); it != updated_.end()) nodes.push_back(it->second);
    else if (!removed_.count(n)) nodes.push_back(p_.nodes[i].node);
    if (auto it = inserted_.find(n); it != inserted_.end()) nodes.insert(nodes.end(), it->second.begin(), it->second.end());
  }

  // A fused node sits where the last node of its pattern was; a reader of one of its outputs
  // (add_layer_norm's sum) may come earlier. Reorder as the program does: stable, so the graph
  // keeps its written order wherever that is valid, and a file written from it reads back.
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& out : nodes[i].outputs) producer.emplace(out, i);
  std::vector<std::vector<size_t>> users(nodes.size());
  std::vector<int> pending(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& in : nodes[i].inputs)
      if (auto it = producer.find(in); !in.empty() && it != producer.end()) {
        users[it->second].push_back(i);
        ++pending[i];
      }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<bool> emitted(nodes.size(), false);
  g.nodes.clear();
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    emitted[i] = true;
    g.nodes.push_back(nodes[i]);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  // A cycle (a faulty rewrite) is left for the program to report by node name.
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!emitted[i]) g.nodes.push_back(nodes[i]);
  return g;
}

bool attr_bool(const Node& n, const std::string& name) { return std::get<bool>(n.attrs.at(name)); }
int64_t attr_int(const Node& n, const std::string& name) { return std::get<int64_t>(n.attrs.at(name)); }
double attr_float(const Node& n, const std::string& name) { return std::get<double>(n.attrs.at(name)); }
const std::string& attr_string(const Node& n, const std::string& name) { return std::get<std::string>(n.attrs.at(name)); }
const std::vector<int64_t>& attr_ints(const Node& n, const std::string& name) {
  return std::get<std::vector<int64_t>>(n.attrs.at(name));
}

}  // namespace loom::passes
