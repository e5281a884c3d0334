// What a graph pass sees and how it changes the graph. A pass reads the validated Program (value
// types, producers, readers, constant bytes) and records its edits here; the pass manager turns
// the edits into a new Graph and validates that again before the next pass runs, so no pass
// works on stale analysis and a faulty rewrite is caught where it happens.
#pragma once

#include "graph/program.hpp"

#include <loom/engine.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace loom::passes {

class GraphEdit {
 public:
  explicit GraphEdit(const Program& program);

  const Program& program() const { return p_; }
  size_t num_nodes() const { return p_.nodes.size(); }
  const Node& node(int i) const { return p_.nodes[i].node; }
  const ProgramNode& program_node(int i) const { return p_.nodes[i]; }
  const TensorInfo& info(int value) const { return p_.values[value].info; }
  // The node producing `value`, or -1 (graph input, constant, state, absent input).
  int producer(int value) const { return value < 0 ? -1 : p_.values[value].producer; }
  // The producer of input `port` of node `n` when it is an op `op`, else -1.
  int input_from(int n, size_t port, std::string_view op) const;
  // Whether anything but one read by node `reader` needs `value`: another reader, a second read
  // by `reader`, a graph output, a state's update.
  bool read_elsewhere(int value, int reader) const;
  // Whether `fused` (its attributes normalised here) is a valid node that yields the dtype and
  // shape of `value`: the check every fusion makes before it replaces a pattern.
  bool computes(Node& fused, int value) const;
  // A graph output or a state's update: the value must keep its name and its producer a node.
  bool escapes(int value) const;

  // Edits. A node takes part in one edit per pass (taken()).
  bool taken(int n) const { return taken_.count(n) > 0; }
  // Replaces `nodes` by `fused`, which produces the outputs the rest of the graph reads; recorded
  // as a rewrite with the replaced node names.
  void replace(const std::vector<int>& nodes, Node fused);
  // Replaces node `n` by `nodes` (a decomposition), in their order, where `n` was.
  void expand(int n, std::vector<Node> nodes);
  void update(int n, Node changed);
  void remove(int n);
  // Declares state `name` with another dtype (its readers and the producer of its update are
  // the pass's to change to match).
  void retype_state(const std::string& name, DType dtype);
  void add_initializer(Initializer init);
  void remove_initializer(const std::string& name);
  // A value or node name that is not in use yet: `base`, or `base.2`, `base.3`, ...
  std::string unique_name(const std::string& base);

  bool changed() const { return changed_; }
  size_t rewrites() const { return rewrites_; }
  void count_rewrite() { ++rewrites_; }
  const std::vector<RewrittenNode>& replaced() const { return replaced_; }
  // The edited graph, its nodes in an order where every value is produced before it is read.
  Graph result() const;

 private:
  void take(int n);

  const Program& p_;
  std::set<int> taken_;
  std::set<int> removed_;
  std::map<int, Node> updated_;
  std::map<int, std::vector<Node>> inserted_;  // new nodes, emitted right after (removed) node n
  std::vector<Initializer> added_;
  std::map<std::string, DType> retyped_states_;
  std::set<std::string> dropped_initializers_;
  std::set<std::string> names_;
  std::set<int> escaping_;
  std::vector<RewrittenNode> replaced_;
  size_t rewrites_ = 0;
  bool changed_ = false;
};

// A node a pass adds on behalf of `from` (its backend hint and source location), its attributes
// normalised by the registry (defaults filled in, absent trailing inputs dropped).
Node make_node(const Node& from, std::string name, std::string op, std::vector<std::string> inputs,
               std::vector<std::string> outputs, std::map<std::string, AttrValue> attrs);

// Attribute values of a node whose attributes the registry has normalised (defaults filled in).
bool attr_bool(const Node& n, const std::string& name);
int64_t attr_int(const Node& n, const std::string& name);
double attr_float(const Node& n, const std::string& name);
const std::string& attr_string(const Node& n, const std::string& name);
const std::vector<int64_t>& attr_ints(const Node& n, const std::string& name);

}  // namespace loom::passes
