// kv-cache-bf16: KV caches kept in bf16 (the session option kv_cache, docs/architecture.md).
//
//   state cache: f32                      state cache: bf16
//   c = cache_write(cache, x, offset)  -> c = cache_write(cache, cast(x, to = bf16), offset)
//   attention(q, c_k, c_v)                attention(q, c_k, c_v)   (k and v bf16, op set 8)
//
// A decode step reads every layer's cache; in bf16 that is half the bytes. A cache qualifies
// when its cache_write is its only reader and writes its update, and every reader of that update
// is an attention that reads it as k or v beside another qualifying cache (k and v share a dtype).
#include "passes/passes.hpp"

#include "plan/placement.hpp"

#include <map>

namespace loom::passes {

std::shared_ptr<const Program> narrow_kv_caches(std::shared_ptr<const Program> program, OptimizationReport& report) {
  const Program& p = *program;
  // The cache_write node of each qualifying state's update value, by that value.
  std::map<int, int> writer;
  for (const ProgramState& st : p.states) {
    if (st.update < 0 || st.decl.dtype != DType::f32) continue;
    const ProgramValue& s = p.values[static_cast<size_t>(st.value)];
    const ProgramValue& u = p.values[static_cast<size_t>(st.update)];
    if (u.producer < 0 || s.graph_output || u.graph_output || s.consumers.size() != 1 || s.consumers[0] != u.producer) continue;
    const ProgramNode& w = p.nodes[static_cast<size_t>(u.producer)];
    if (w.node.op != "cache_write" || w.inputs[0] != st.value || w.outputs[0] != st.update) continue;
    writer[st.update] = u.producer;
  }
  // Drop the caches that some reader would see in bf16 other than as an attention's k and v
  // beside another qualifying cache, until none is left to drop.
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (auto it = writer.begin(); it != writer.end();) {
      bool ok = true;
      for (int c : p.values[static_cast<size_t>(it->first)].consumers) {
        const ProgramNode& r = p.nodes[static_cast<size_t>(c)];
        ok &= r.node.op == "attention" && r.inputs[0] != it->first && writer.count(r.inputs[1]) && writer.count(r.inputs[2]) &&
              p.values[static_cast<size_t>(r.inputs[0])].info.dtype == DType::f32 &&
              (r.inputs.size() < 4 || r.inputs[3] != it->first);
      }
      if (ok) {
        ++it;
      } else {
        it = writer.erase(it);
        dropped = true;
      }
    }
  }
  PassReport r{"kv-cache-bf16", p.nodes.size(), p.nodes.size(), 0};
  if (writer.empty()) {
    report.passes.push_back(r);
    return program;
  }
  GraphEdit edit(p);
  for (const auto& [update, w] : writer) {
    const ProgramNode& pn = p.nodes[static_cast<size_t>(w)];
    Node narrowed = pn.node;
    const std::string cast = edit.unique_name(pn.node.name + ".bf16");
    narrowed.inputs[1] = cast;
    edit.expand(w, {make_node(pn.node, cast, "cast", {pn.node.inputs[1]}, {cast}, {{"to", std::string("bf16")}}), std::move(narrowed)});
    edit.retype_state(p.values[static_cast<size_t>(pn.inputs[0])].name, DType::bf16);
  }
  auto result = build_program(edit.result(), true, p.weight_files);
  r.nodes_after = result->nodes.size();
  r.rewrites = writer.size();
  report.passes.push_back(r);
  report.nodes_after = result->nodes.size();
  return result;
}

std::optional<std::string> narrowed_caches_unsupported(const Program& narrowed,
                                                       const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends) {
  auto dtype = [&](int v) { return v < 0 ? DType::f32 : narrowed.values[static_cast<size_t>(v)].info.dtype; };
  std::shared_ptr<const plugins::GraphViewStorage> view;
  // The casts the pass inserted: each one's output is a bf16 cache_write's update.
  auto writes_cache = [&](int v) {
    for (int c : narrowed.values[static_cast<size_t>(v)].consumers)
      if (narrowed.nodes[static_cast<size_t>(c)].node.op == "cache_write" && narrowed.nodes[static_cast<size_t>(c)].inputs[1] == v) return true;
    return false;
  };
  for (size_t n = 0; n < narrowed.nodes.size(); ++n) {
    const ProgramNode& pn = narrowed.nodes[n];
    const std::string& op = pn.node.op;
    const bool holds = (op == "cache_write" && dtype(pn.inputs[0]) == DType::bf16) ||
                       (op == "attention" && dtype(pn.inputs[1]) != dtype(pn.inputs[0])) ||
                       (op == "cast" && dtype(pn.outputs[0]) == DType::bf16 && writes_cache(pn.outputs[0]));
    if (!holds) continue;
    if (!view) view = plan::whole_program_view(narrowed);
    const plugins::BackendInstance* first = plan::first_candidate(narrowed, n, backends);
    std::string why;
    if (!first) return "no backend of the session can run node '" + pn.node.name + "' (" + op + ")";
    if (!plan::supports(*first, *view, n, &why))
      return "backend '" + first->name() + "' does not run node '" + pn.node.name + "' (" + op + ") over a bf16 cache: " + why;
  }
  return std::nullopt;
}

}  // namespace loom::passes
