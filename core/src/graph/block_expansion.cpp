// Turns a Document into a flat Graph: checks each block once (its names resolve, its uses bind
// every formal input, no block uses itself), instantiates blocks with prefixed names, then checks
// the flat graph's names and order (every value defined once and before it is read, no cycles).
#include "graph/yaml_document.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <unordered_map>

namespace loom::yaml {

namespace {

std::string at_line(const SourceLoc& loc) {
  return loc.line > 0 ? " (line " + std::to_string(loc.line) + ")" : "";
}

std::string join_names(const std::vector<NameRef>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.name;
  return out.empty() ? "none" : out;
}

const NameRef* find_binding(const std::vector<std::pair<std::string, NameRef>>& map, const std::string& formal) {
  for (const auto& [k, v] : map)
    if (k == formal) return &v;
  return nullptr;
}

bool has_name(const std::vector<NameRef>& names, const std::string& n) {
  for (const auto& r : names)
    if (r.name == n) return true;
  return false;
}

// Replaces ${i} (the instance index, 0 without `repeat`) and ${prefix} (the instance's name
// prefix, e.g. "layer.3") in a block initializer's `tensor` and `file`.
std::string substitute(const std::string& text, int64_t index, const std::string& instance, const Where* where) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("${", pos);
    if (start == std::string::npos) break;
    size_t end = text.find('}', start);
    if (end == std::string::npos) {
      if (where) fail(*where, "unclosed '${' in '" + text + "'");
      break;
    }
    std::string var = text.substr(start + 2, end - start - 2);
    out += text.substr(pos, start - pos);
    if (var == "i") {
      out += std::to_string(index);
    } else if (var == "prefix") {
      out += instance;
    } else {
      if (where) fail(*where, "unknown substitution '${" + var + "}' (known: ${i}, ${prefix})");
      out += text.substr(start, end + 1 - start);
    }
    pos = end + 1;
  }
  return out + text.substr(pos);
}

// A local name inside a block instance: the global value name, and for a formal input the
// binding that supplied it (so that errors point at the `use:` that passed a bad name).
struct Bound {
  std::string global;
  const Where* origin = nullptr;
};
using Scope = std::unordered_map<std::string, Bound>;

// A node of the expanded graph and what its error messages need, kept cheap because a graph
// may hold many instances: the entry it came from, its instance, and for each input the `use`
// binding that supplied it, if any.
struct FlatNode {
  Node node;
  const OpEntry* entry = nullptr;
  size_t instance = 0;               // index into Expander::instances_
  std::vector<const Where*> origins;  // empty, or one per input (null: the entry's own input)
};

class Expander {
 public:
  explicit Expander(Document doc) : doc_(std::move(doc)) {}
  Graph run();

 private:
  void check_use(const UseEntry& u) const;
  void check_block(const BlockDef& b) const;
  void check_nesting() const;
  void check_prefixes(const std::vector<Entry>& entries) const;

  void add_node(const OpEntry& e, const Scope* scope, const std::string& prefix, size_t instance);
  Where in_instance(Where w, size_t instance) const {
    if (!instances_[instance].empty()) w.key += " (in " + instances_[instance] + ")";
    return w;
  }
  Where node_where(const FlatNode& f) const { return in_instance(f.entry->where, f.instance); }
  Where input_where(const FlatNode& f, size_t input) const {
    if (!f.origins.empty() && f.origins[input]) return *f.origins[input];
    return in_instance(f.entry->input_where[input], f.instance);
  }
  using Outer = std::function<Bound(const NameRef&)>;
  void expand_use(const UseEntry& u, const Outer& outer, const std::string& outer_prefix);
  // Nodes, initializers and states that one instance of a block expands to, saturating just
  // past the cap so that `repeat` inside `repeat` cannot overflow.
  int64_t block_size(const std::string& name);
  int64_t use_size(const UseEntry& u) { return capped(u.repeat.value_or(1) * block_size(u.block.name)); }
  static int64_t capped(int64_t v) { return std::min<int64_t>(v, kMaxExpandedEntries + 1); }
  void check_flat();
  [[noreturn]] void report_forward_reference(size_t consumer, size_t input, size_t producer);

  Document doc_;
  Graph g_;
  std::vector<FlatNode> flat_;
  std::vector<std::string> instances_{""};  // instance names ("layer.3"); "" for the top level
  std::vector<Where> init_where_, state_where_, update_where_;
  std::map<std::string, int64_t> sizes_;
};

void Expander::check_use(const UseEntry& u) const {
  auto it = doc_.blocks.find(u.block.name);
  if (it == doc_.blocks.end()) {
    std::string known;
    for (const auto& [name, b] : doc_.blocks) known += (known.empty() ? "" : ", ") + name;
    fail(u.block.where, "unknown block '" + u.block.name + "' (blocks: " + (known.empty() ? "none" : known) + ")");
  }
  const BlockDef& b = it->second;
  for (const auto& [formal, ref] : u.inputs)
    if (!has_name(b.inputs, formal))
      fail(Where{u.inputs_where.key + "." + formal, ref.where.loc}, "block '" + b.name + "' has no input '" + formal + "' (inputs: " + join_names(b.inputs) + ")");
  for (const auto& [formal, ref] : u.outputs)
    if (!has_name(b.outputs, formal))
      fail(Where{u.outputs_where.key + "." + formal, ref.where.loc}, "block '" + b.name + "' has no output '" + formal + "' (outputs: " + join_names(b.outputs) + ")");
  if (!u.chain.empty() && !u.repeat) fail(u.chain_where, "`chain` links one instance to the next and needs `repeat`");
  std::set<std::string> chained;
  for (const auto& [out, in] : u.chain) {
    Where w{u.chain_where.key + "." + out, in.where.loc};
    if (!has_name(b.outputs, out)) fail(w, "block '" + b.name + "' has no output '" + out + "' (outputs: " + join_names(b.outputs) + ")");
    if (!has_name(b.inputs, in.name)) fail(w, "block '" + b.name + "' has no input '" + in.name + "' (inputs: " + join_names(b.inputs) + ")");
    if (!chained.insert(in.name).second) fail(w, "input '" + in.name + "' is chained from two outputs");
  }
  for (const auto& formal : b.inputs)
    if (!find_binding(u.inputs, formal.name))
      fail(u.inputs_where, "block '" + b.name + "' input '" + formal.name + "' is not bound (a chained input is bound for the first instance)");
}

void Expander::check_prefixes(const std::vector<Entry>& entries) const {
  std::map<std::string, const Where*> prefixes;
  for (const Entry& e : entries) {
    const auto* u = std::get_if<UseEntry>(&e);
    if (!u) continue;
    auto [it, fresh] = prefixes.emplace(u->prefix, &u->where);
    if (!fresh)
      fail(u->where, "instance name '" + u->prefix + "' is already used" + at_line(it->second->loc) + ": give this `use` a distinct `name`");
  }
}

void Expander::check_block(const BlockDef& b) const {
  std::map<std::string, const Where*> defined;
  std::set<std::string> produced;  // by nodes: what a block output may name
  auto define = [&](const std::string& name, const Where& where) {
    auto [it, fresh] = defined.emplace(name, &where);
    if (!fresh) fail(where, "'" + name + "' is already defined in block '" + b.name + "'" + at_line(it->second->loc));
  };
  for (const auto& in : b.inputs) define(in.name, in.where);
  for (const auto& i : b.initializers) {
    define(i.init.name, i.where);
    substitute(i.init.tensor, 0, "", &i.where);
    substitute(i.init.file, 0, "", &i.where);
  }
  for (const auto& s : b.states) define(s.state.name, s.where);
  for (const Entry& e : b.nodes) {
    if (const auto* op = std::get_if<OpEntry>(&e)) {
      for (size_t k = 0; k < op->node.outputs.size(); ++k) {
        define(op->node.outputs[k], op->output_where[k]);
        produced.insert(op->node.outputs[k]);
      }
    } else {
      const auto& u = std::get<UseEntry>(e);
      check_use(u);
      for (const auto& [formal, ref] : u.outputs) {
        define(ref.name, ref.where);
        produced.insert(ref.name);
      }
    }
  }
  auto resolve = [&](const std::string& name, const Where& where) {
    if (!defined.count(name))
      fail(where, "'" + name + "' is neither an input of block '" + b.name + "' nor defined in it (inputs: " + join_names(b.inputs) + ")");
  };
  for (const auto& s : b.states)
    if (!s.state.update.empty()) resolve(s.state.update, s.update_where);
  for (const Entry& e : b.nodes) {
    if (const auto* op = std::get_if<OpEntry>(&e)) {
      for (size_t k = 0; k < op->node.inputs.size(); ++k)
        if (!op->node.inputs[k].empty()) resolve(op->node.inputs[k], op->input_where[k]);
    } else {
      for (const auto& [formal, ref] : std::get<UseEntry>(e).inputs) resolve(ref.name, ref.where);
    }
  }
  std::set<std::string> outs;
  for (const auto& out : b.outputs) {
    if (!produced.count(out.name)) fail(out.where, "block output '" + out.name + "' is not produced by a node of block '" + b.name + "'");
    if (!outs.insert(out.name).second) fail(out.where, "block output '" + out.name + "' is listed twice");
  }
  check_prefixes(b.nodes);
}

// Checks "block uses block" for cycles and for nesting deeper than kMaxBlockNesting, whatever
// order the blocks are visited in: every block's height (1 + the highest height among the
// blocks it uses) is computed once and reused, so a chain seen from its middle first still
// counts in full. Depth-first with an explicit stack, so the depth of the input is never the
// depth of the call stack; a path longer than the limit is refused as soon as it is on the stack.
void Expander::check_nesting() const {
  struct Frame {
    explicit Frame(const BlockDef* b) : block(b) {}
    const BlockDef* block;
    size_t next = 0;  // the entry of block->nodes to look at next
    int height = 1;
    std::string deepest;  // the used block that gives `height`
  };
  std::map<std::string, int> height;  // 0 while the block is on the stack
  std::map<std::string, std::string> deepest;
  auto chain_from = [&](std::string name) {
    std::string text = name;
    for (int i = 0; i < kMaxBlockNesting + 1 && deepest.count(name) && !deepest.at(name).empty(); ++i) {
      name = deepest.at(name);
      text += " -> " + name;
    }
    return text;
  };
  auto too_deep = [&](const UseEntry& u, const std::string& chain) {
    fail(u.block.where, "blocks nest deeper than " + std::to_string(kMaxBlockNesting) + " levels: " + chain);
  };
  for (const auto& [root_name, root] : doc_.blocks) {
    if (height.count(root_name)) continue;
    std::vector<Frame> stack{Frame{&root}};
    height[root_name] = 0;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < f.block->nodes.size()) {
        const auto* u = std::get_if<UseEntry>(&f.block->nodes[f.next++]);
        if (!u) continue;
        const std::string& target = u->block.name;
        auto it = height.find(target);
        if (it != height.end() && it->second == 0) {
          std::string path;
          for (auto s = std::find_if(stack.begin(), stack.end(), [&](const Frame& x) { return x.block->name == target; }); s != stack.end(); ++s)
            path += s->block->name + " -> ";
          fail(u->block.where, "block '" + target + "' uses itself: " + path + target);
        }
        if (it == height.end()) {
          if (stack.size() >= static_cast<size_t>(kMaxBlockNesting)) {
            std::string path;
            for (const Frame& x : stack) path += x.block->name + " -> ";
            too_deep(*u, path + target + " -> ...");
          }
          height[target] = 0;
          stack.push_back(Frame{&doc_.blocks.at(target)});
          continue;
        }
        if (it->second + 1 > f.height) f.height = it->second + 1, f.deepest = target;
        if (f.height > kMaxBlockNesting) {
          deepest[f.block->name] = f.deepest;
          too_deep(*u, chain_from(f.block->name));
        }
        continue;
      }
      // Done with this block: its height counts for the block that uses it.
      height[f.block->name] = f.height;
      deepest[f.block->name] = f.deepest;
      const std::string done = f.block->name;
      const int h = f.height;
      stack.pop_back();
      if (stack.empty()) break;
      Frame& parent = stack.back();
      if (h + 1 > parent.height) parent.height = h + 1, parent.deepest = done;
      if (parent.height > kMaxBlockNesting) {
        deepest[parent.block->name] = parent.deepest;
        too_deep(std::get<UseEntry>(parent.block->nodes[parent.next - 1]), chain_from(parent.block->name));
      }
    }
  }
}

void Expander::add_node(const OpEntry& e, const Scope* scope, const std::string& prefix, size_t instance) {
  FlatNode f;
  f.node = e.node;
  f.node.name = prefix + (e.node.name.empty() ? e.node.outputs[0] : e.node.name);
  f.entry = &e;
  f.instance = instance;
  if (scope) {
    f.origins.assign(e.node.inputs.size(), nullptr);
    for (size_t k = 0; k < e.node.inputs.size(); ++k) {
      if (e.node.inputs[k].empty()) continue;
      const Bound& b = scope->at(e.node.inputs[k]);
      f.node.inputs[k] = b.global;
      f.origins[k] = b.origin;
    }
    for (auto& out : f.node.outputs) out = scope->at(out).global;
  }
  flat_.push_back(std::move(f));
}

void Expander::expand_use(const UseEntry& u, const Outer& outer, const std::string& outer_prefix) {
  const BlockDef& b = doc_.blocks.at(u.block.name);
  const int64_t n = u.repeat.value_or(1);
  const std::string base = outer_prefix + u.prefix;
  Scope previous;
  for (int64_t i = 0; i < n; ++i) {
    const std::string instance = u.repeat ? base + "." + std::to_string(i) : base;
    const std::string prefix = instance + ".";
    const bool last = i == n - 1;
    Scope s;
    for (const auto& formal : b.inputs) {
      const std::string* chained_from = nullptr;
      for (const auto& [out, in] : u.chain)
        if (in.name == formal.name) chained_from = &out;
      s[formal.name] = chained_from && i > 0 ? previous.at(*chained_from) : outer(*find_binding(u.inputs, formal.name));
    }
    auto local = [&](const std::string& name) {
      const NameRef* bound = last ? find_binding(u.outputs, name) : nullptr;
      s[name] = Bound{bound ? outer(*bound).global : prefix + name, nullptr};
    };
    for (const auto& init : b.initializers) local(init.init.name);
    for (const auto& st : b.states) local(st.state.name);
    for (const Entry& e : b.nodes) {
      if (const auto* op = std::get_if<OpEntry>(&e)) {
        for (const auto& out : op->node.outputs) local(out);
      } else {
        for (const auto& [formal, ref] : std::get<UseEntry>(e).outputs) local(ref.name);
      }
    }
    instances_.push_back(instance);
    const size_t instance_index = instances_.size() - 1;
    const std::string in_instance = " (in " + instance + ")";
    for (const auto& e : b.initializers) {
      Initializer init = e.init;
      init.name = s.at(e.init.name).global;
      if (!init.file.empty()) {  // inline values have neither file nor tensor
        init.tensor = e.tensor_given ? substitute(e.init.tensor, i, instance, nullptr) : init.name;
        init.file = substitute(e.init.file, i, instance, nullptr);
      }
      g_.initializers.push_back(std::move(init));
      init_where_.push_back(Where{e.where.key + in_instance, e.where.loc});
    }
    for (const auto& e : b.states) {
      StateDecl st = e.state;
      st.name = s.at(e.state.name).global;
      if (!st.update.empty()) st.update = s.at(e.state.update).global;
      g_.states.push_back(std::move(st));
      state_where_.push_back(Where{e.where.key + in_instance, e.where.loc});
      update_where_.push_back(Where{e.update_where.key + in_instance, e.update_where.loc});
    }
    for (const Entry& e : b.nodes) {
      if (const auto* op = std::get_if<OpEntry>(&e)) {
        add_node(*op, &s, prefix, instance_index);
      } else {
        expand_use(std::get<UseEntry>(e), [&s](const NameRef& r) { return s.at(r.name); }, prefix);
      }
    }
    previous.clear();
    for (const auto& out : b.outputs) previous[out.name] = s.at(out.name);
  }
}

int64_t Expander::block_size(const std::string& name) {
  if (auto it = sizes_.find(name); it != sizes_.end()) return it->second;
  const BlockDef& b = doc_.blocks.at(name);
  int64_t size = static_cast<int64_t>(b.initializers.size() + b.states.size());
  for (const Entry& e : b.nodes) size = capped(size + (std::holds_alternative<OpEntry>(e) ? 1 : use_size(std::get<UseEntry>(e))));
  sizes_[name] = size;
  return size;
}

[[noreturn]] void Expander::report_forward_reference(size_t consumer, size_t input, size_t producer) {
  const std::string& value = flat_[consumer].node.inputs[input];
  const Where where = input_where(flat_[consumer], input);
  if (producer == consumer) fail(where, "node '" + flat_[consumer].node.name + "' reads its own output '" + value + "' (a cycle)");
  // Is there a path consumer -> ... -> producer? Then the producer needs the consumer: a cycle.
  std::unordered_map<std::string, std::vector<size_t>> readers;
  for (size_t k = 0; k < flat_.size(); ++k)
    for (const auto& in : flat_[k].node.inputs) readers[in].push_back(k);
  std::vector<size_t> parent(flat_.size(), SIZE_MAX);
  std::deque<size_t> queue{consumer};
  parent[consumer] = consumer;
  while (!queue.empty() && parent[producer] == SIZE_MAX) {
    size_t k = queue.front();
    queue.pop_front();
    for (const auto& out : flat_[k].node.outputs)
      for (size_t r : readers[out])
        if (parent[r] == SIZE_MAX) parent[r] = k, queue.push_back(r);
  }
  const Node& p = flat_[producer].node;
  if (parent[producer] == SIZE_MAX)
    fail(where, "'" + value + "' is read before node '" + p.name + "'" + at_line(flat_[producer].entry->where.loc) +
                    " produces it: nodes run in the order they are written, so list '" + p.name + "' first");
  std::vector<std::string> path;
  for (size_t k = producer; k != consumer; k = parent[k]) path.push_back(flat_[k].node.name);
  std::string text = flat_[consumer].node.name;
  for (auto it = path.rbegin(); it != path.rend(); ++it) text += " -> " + *it;
  fail(where, "cycle: " + text + " -> " + flat_[consumer].node.name + " (node '" + flat_[consumer].node.name + "' reads '" + value +
                  "', which depends on its own output)");
}

void Expander::check_flat() {
  // Where each value is defined: what kind of definition and its index.
  enum class Kind { Input, Initializer, State, NodeOutput };
  struct Def {
    Kind kind;
    size_t index;
  };
  auto where_of = [&](Def d) {
    switch (d.kind) {
      case Kind::Input: return doc_.input_where[d.index];
      case Kind::Initializer: return init_where_[d.index];
      case Kind::State: return state_where_[d.index];
      default: return node_where(flat_[d.index]);
    }
  };
  auto what_of = [&](Def d) -> std::string {
    switch (d.kind) {
      case Kind::Input: return "a graph input";
      case Kind::Initializer: return "an initializer";
      case Kind::State: return "a state";
      default: return "an output of node '" + flat_[d.index].node.name + "'";
    }
  };
  std::unordered_map<std::string, Def> defined;
  auto define = [&](const std::string& name, Def d) {
    auto [it, fresh] = defined.emplace(name, d);
    if (!fresh) {
      Where prev = where_of(it->second);
      fail(where_of(d), "'" + name + "' is already defined as " + what_of(it->second) + (prev.loc.line > 0 ? " at " + prev.loc.str() : ""));
    }
  };
  for (size_t k = 0; k < g_.inputs.size(); ++k) define(g_.inputs[k].name, Def{Kind::Input, k});
  for (size_t k = 0; k < g_.initializers.size(); ++k) define(g_.initializers[k].name, Def{Kind::Initializer, k});
  for (size_t k = 0; k < g_.states.size(); ++k) define(g_.states[k].name, Def{Kind::State, k});
  std::unordered_map<std::string, size_t> node_names;
  for (size_t k = 0; k < flat_.size(); ++k) {
    const Node& n = flat_[k].node;
    auto [it, fresh] = node_names.emplace(n.name, k);
    if (!fresh)
      fail(node_where(flat_[k]), "node name '" + n.name + "' is already used" + at_line(flat_[it->second].entry->where.loc) +
                                     " (a node is named after its first output unless it has a `name`)");
    for (const auto& out : n.outputs) define(out, Def{Kind::NodeOutput, k});
  }
  for (size_t k = 0; k < flat_.size(); ++k) {
    const Node& n = flat_[k].node;
    for (size_t j = 0; j < n.inputs.size(); ++j) {
      if (n.inputs[j].empty()) continue;
      auto it = defined.find(n.inputs[j]);
      if (it == defined.end())
        fail(input_where(flat_[k], j), "'" + n.inputs[j] + "' is not defined: no graph input, initializer, state or node output has this name");
      if (it->second.kind == Kind::NodeOutput && it->second.index >= k) report_forward_reference(k, j, it->second.index);
    }
  }
  std::set<std::string> outputs;
  for (size_t k = 0; k < g_.outputs.size(); ++k) {
    const std::string& name = g_.outputs[k].name;
    if (!defined.count(name)) fail(doc_.output_where[k], "graph output '" + name + "' is not defined by any input, initializer, state or node");
    if (!outputs.insert(name).second) fail(doc_.output_where[k], "graph output '" + name + "' is listed twice");
  }
  for (size_t k = 0; k < g_.states.size(); ++k) {
    const StateDecl& s = g_.states[k];
    if (!s.update.empty() && !defined.count(s.update))
      fail(update_where_[k], "state '" + s.name + "' is updated from '" + s.update + "', which is not defined");
  }
}

Graph Expander::run() {
  for (const auto& [name, b] : doc_.blocks) check_block(b);
  check_nesting();
  for (const Entry& e : doc_.nodes)
    if (const auto* u = std::get_if<UseEntry>(&e)) check_use(*u);
  check_prefixes(doc_.nodes);

  g_ = std::move(doc_.header);
  for (const auto& e : doc_.initializers) {
    g_.initializers.push_back(e.init);
    init_where_.push_back(e.where);
  }
  for (const auto& e : doc_.states) {
    g_.states.push_back(e.state);
    state_where_.push_back(e.where);
    update_where_.push_back(e.update_where);
  }
  const std::string too_many = "the graph has more than " + std::to_string(kMaxExpandedEntries) +
                               " nodes, initializers and states (counted with blocks expanded)";
  int64_t total = capped(static_cast<int64_t>(g_.initializers.size() + g_.states.size()));
  if (total > kMaxExpandedEntries) fail(doc_.root, too_many);
  for (const Entry& e : doc_.nodes) {
    total = capped(total + (std::holds_alternative<OpEntry>(e) ? 1 : use_size(std::get<UseEntry>(e))));
    if (total > kMaxExpandedEntries) fail(std::visit([](const auto& x) -> const Where& { return x.where; }, e), too_many);
  }
  for (const Entry& e : doc_.nodes) {
    if (const auto* op = std::get_if<OpEntry>(&e)) {
      add_node(*op, nullptr, "", 0);
    } else {
      expand_use(std::get<UseEntry>(e), [](const NameRef& r) { return Bound{r.name, &r.where}; }, "");
    }
  }
  check_flat();
  g_.nodes.reserve(flat_.size());
  for (auto& f : flat_) g_.nodes.push_back(std::move(f.node));
  return std::move(g_);
}

}  // namespace

Graph expand_document(Document doc) { return Expander(std::move(doc)).run(); }

}  // namespace loom::yaml
