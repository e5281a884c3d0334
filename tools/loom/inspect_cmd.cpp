#include "commands.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace loom::cli {

namespace {

// An input's default as the graph file writes it: "1", or "range over axis 1".
std::string default_str(const InputDefault& d) {
  if (d.kind == InputDefault::Kind::Range) return "range over axis " + std::to_string(d.axis);
  std::ostringstream os;
  os << d.fill;
  return os.str();
}

std::string info_str(const TensorInfo& t) { return std::string(dtype_name(t.dtype)) + " " + sym_shape_str(t.shape); }

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

nlohmann::json optimization_json(const OptimizationReport& r) {
  nlohmann::json j{{"level", optimize_level_name(r.level)}, {"nodes_before", r.nodes_before}, {"nodes_after", r.nodes_after},
                   {"passes", nlohmann::json::array()}, {"fused", nlohmann::json::array()}, {"decomposed", nlohmann::json::array()}};
  for (const auto& p : r.passes)
    j["passes"].push_back({{"pass", p.pass}, {"nodes_before", p.nodes_before}, {"nodes_after", p.nodes_after}, {"rewrites", p.rewrites}});
  for (const auto& f : r.fused) j["fused"].push_back({{"node", f.node}, {"op", f.op}, {"replaced", f.nodes}});
  for (const auto& d : r.decomposed) j["decomposed"].push_back({{"node", d.node}, {"op", d.op}, {"into", d.nodes}, {"why", d.why}});
  return j;
}

void print_optimization(const OptimizationReport& r) {
  std::cout << "optimize " << optimize_level_name(r.level) << ": " << r.nodes_before << " nodes as written, " << r.nodes_after
            << " after the passes\n";
  for (const auto& p : r.passes)
    std::cout << "  " << p.pass << ": " << p.nodes_before << " -> " << p.nodes_after << " nodes (" << p.rewrites << " rewrites)\n";
  if (!r.fused.empty()) std::cout << "fused nodes:\n";
  for (const auto& f : r.fused) std::cout << "  " << f.node << " (" << f.op << ") replaced " << joined(f.nodes) << "\n";
  if (!r.decomposed.empty()) std::cout << "decomposed (the backend placement tries first declines the fused op):\n";
  for (const auto& d : r.decomposed)
    std::cout << "  " << d.node << " (" << d.op << ") into " << joined(d.nodes) << (d.why.empty() ? "" : "\n    why: " + d.why) << "\n";
}

// The checkpoint a model plugin expanded the graph from, and the tensors of it that no initializer reads.
nlohmann::json checkpoint_json(const Graph& g) {
  if (!g.checkpoint) return nullptr;
  uint64_t bytes = 0, unused_bytes = 0;
  for (const auto& t : g.checkpoint->tensors) bytes += t.bytes;
  nlohmann::json unused = nlohmann::json::array();
  for (const auto& t : unused_checkpoint_tensors(g)) {
    unused.push_back({{"name", t.name}, {"file", t.file}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.bytes}});
    unused_bytes += t.bytes;
  }
  return {{"dir", g.checkpoint->dir.string()}, {"weights", g.checkpoint->weights_file}, {"tensors", g.checkpoint->tensors.size()},
          {"bytes", bytes}, {"unused", {{"count", unused.size()}, {"bytes", unused_bytes}, {"tensors", unused}}}};
}

void print_checkpoint(const Graph& g) {
  if (!g.checkpoint) return;
  const Checkpoint& c = *g.checkpoint;
  uint64_t bytes = 0, unused_bytes = 0;
  for (const auto& t : c.tensors) bytes += t.bytes;
  const auto unused = unused_checkpoint_tensors(g);
  for (const auto& t : unused) unused_bytes += t.bytes;
  std::cout << "checkpoint " << printable(c.dir.string()) << " (" << printable(c.weights_file) << "): " << c.tensors.size() << " tensors, "
            << human_bytes(bytes) << "; unused by the graph: " << unused.size() << " tensors, " << human_bytes(unused_bytes)
            << (unused.empty() ? "" : ":") << "\n";
  // A tensor's file is named when it is not the weights file itself (a shard of an index).
  for (const auto& t : unused)
    std::cout << "  " << printable(t.name) << ": " << dtype_name(t.dtype) << " " << shape_str(t.shape)
              << (t.file == c.weights_file ? "" : " (" + printable(t.file) + ")") << "\n";
}

}  // namespace

int cmd_validate(const PluginOptions& p, const ValidateArgs& a) {
  Engine engine = make_engine(p);
  Graph g = task_graph(engine, a.graph, a.task);
  engine.validate(g);
  if (a.json) {
    std::cout << nlohmann::json{{"graph", a.graph}, {"valid", true}, {"nodes", g.nodes.size()},
                                {"initializers", g.initializers.size()}}.dump(2) << "\n";
  } else {
    std::cout << a.graph << ": ok (" << g.nodes.size() << " nodes, " << g.initializers.size() << " initializers, "
              << g.inputs.size() << " inputs, " << g.outputs.size() << " outputs)\n";
  }
  return 0;
}

int cmd_inspect(const PluginOptions& p, const InspectArgs& a) {
  const auto bindings = parse_dims(a.dims);
  Engine engine = make_engine(p);
  Graph g = task_graph(engine, a.graph, a.task);
  Session s = engine.compile(g, session_options(a.backends, 0, a.options, a.optimize, a.precision));
  check_dims(s, bindings);
  MemoryReport mem = s.plan_memory(bindings);
  const SessionStats stats = s.stats();
  const PlacementReport& pl = s.placement();
  const OptimizationReport& opt = s.optimization();
  // What the session runs: the graph after the passes and any decomposition.
  const Graph& run_graph = s.graph();
  std::map<std::string, int> op_counts;
  for (const auto& n : run_graph.nodes) ++op_counts[n.op];

  if (a.json) {
    nlohmann::json j;
    j["graph"] = g.name;
    j["file"] = a.graph;
    for (const auto& in : g.inputs) {
      nlohmann::json input = {{"name", in.name}, {"dtype", dtype_name(in.info.dtype)}, {"shape", sym_shape_str(in.info.shape)}};
      if (in.default_value) input["default"] = default_str(*in.default_value);
      j["inputs"].push_back(std::move(input));
    }
    for (const auto& out : g.outputs) j["outputs"].push_back(out.name);
    j["nodes"] = run_graph.nodes.size();
    j["ops"] = op_counts;
    j["optimize"] = optimization_json(opt);
    j["initializers"] = run_graph.initializers.size();
    j["memory"] = {{"bindings", mem.bindings}, {"arena_bytes", mem.arena_bytes}, {"activation_bytes", mem.activation_bytes},
                   {"without_reuse_bytes", mem.unplanned_bytes}, {"scratch_bytes", mem.scratch_bytes},
                   {"weight_bytes", mem.weight_bytes}, {"converted_bytes", mem.converted_bytes}, {"state_bytes", mem.state_bytes},
                   {"packed_bytes", mem.packed_bytes}};
    j["checkpoint"] = checkpoint_json(g);
    j["plans"] = {{"made", stats.plans_made}, {"cached", stats.plans_cached}, {"evicted", stats.plans_evicted},
                  {"at_bounds", stats.plans_at_bounds}};
    j["processing"] = g.processing ? processing_json(*g.processing) : nlohmann::json();
    j["symbol_limits"] = nlohmann::json::array();
    for (const auto& l : s.symbol_limits())
      j["symbol_limits"].push_back({{"symbol", l.symbol}, {"max", l.max}, {"node", l.node}, {"why", l.why}});
    j["symbol_bounds"] = nlohmann::json::array();  // the graph's own (`symbols:`; a checkpoint's position table)
    for (const SymbolBound& b : run_graph.symbols) j["symbol_bounds"].push_back({{"symbol", b.name}, {"max", b.max}});
    j["partitions"] = nlohmann::json::array();
    for (const auto& part : pl.partitions) j["partitions"].push_back({{"backend", part.backend}, {"nodes", part.nodes}});
    if (a.placement) {
      for (const auto& n : pl.nodes)
        j["placement"].push_back({{"node", n.node}, {"op", n.op}, {"backend", n.backend}, {"reason", n.reason}, {"declined", n.declined}});
      j["copies"] = nlohmann::json::array();
      for (const auto& c : pl.copies) j["copies"].push_back({{"value", c.value}, {"from", c.from_backend}, {"to", c.to_backend}});
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }

  std::cout << "graph " << (g.name.empty() ? a.graph : g.name) << "  (" << a.graph << ")\n";
  std::cout << "inputs:\n";
  for (const auto& in : g.inputs)
    std::cout << "  " << in.name << ": " << info_str(in.info)
              << (in.default_value ? " (optional: default " + default_str(*in.default_value) + ")" : "") << "\n";
  std::cout << "outputs:";
  for (const auto& out : g.outputs) std::cout << " " << out.name;
  std::cout << "\nnodes: " << run_graph.nodes.size() << " (";
  bool first = true;
  for (const auto& [op, n] : op_counts) {
    std::cout << (first ? "" : ", ") << op << " " << n;
    first = false;
  }
  std::cout << ")\n";
  print_optimization(opt);
  std::cout << "initializers: " << run_graph.initializers.size() << ", weights " << human_bytes(mem.weight_bytes)
            << (mem.converted_bytes ? " (" + human_bytes(mem.converted_bytes) + " of them converted to f32 on load)" : "")
            << (mem.state_bytes ? ", state " + human_bytes(mem.state_bytes) : "")
            << (mem.packed_bytes ? ", packed copies " + human_bytes(mem.packed_bytes) + " (shared by sessions of the engine)" : "") << "\n";
  print_checkpoint(g);
  std::cout << "memory plan for";
  for (const auto& [sym, v] : mem.bindings) std::cout << " " << sym << "=" << v;
  if (mem.bindings.empty()) std::cout << " the declared shapes";
  std::cout << ":\n";
  // Like with like: the activations with reuse against the same activations without; the
  // backend's scratch, the same either way, apart.
  for (const auto& [backend, bytes] : mem.arena_bytes)
    std::cout << "  " << backend << " arena: " << human_bytes(bytes) << " = activations " << human_bytes(mem.activation_bytes[backend])
              << " (" << human_bytes(mem.unplanned_bytes[backend]) << " without reuse) + scratch "
              << human_bytes(mem.scratch_bytes[backend]) << "\n";
  for (const SymbolBound& b : run_graph.symbols) std::cout << "limit: " << b.name << " <= " << b.max << " (declared by the graph)\n";
  for (const auto& l : s.symbol_limits()) std::cout << "limit: " << l.str() << "\n";
  std::cout << "plans made: " << stats.plans_made << " (one per input-shape signature; " << stats.plans_cached << " cached)\n";
  std::cout << "partitions: " << pl.partitions.size() << "\n";
  for (size_t i = 0; i < pl.partitions.size(); ++i)
    std::cout << "  #" << i << " " << pl.partitions[i].backend << ": " << pl.partitions[i].nodes.size() << " nodes\n";
  if (g.processing) print_processing(std::cout, *g.processing);
  if (a.placement) {
    std::cout << "placement:\n";
    for (const auto& n : pl.nodes) {
      std::cout << "  " << n.node << " (" << n.op << ") -> " << n.backend << ": " << n.reason << "\n";
      for (const auto& d : n.declined) std::cout << "      declined by " << d << "\n";
    }
    std::cout << "copies: " << (pl.copies.empty() ? "none" : "") << "\n";
    for (const auto& c : pl.copies) std::cout << "  " << c.value << ": " << c.from_backend << " -> " << c.to_backend << "\n";
  }
  return 0;
}

}  // namespace loom::cli
