// Constant folding: a node whose inputs are all constants (initializers, or outputs of nodes
// folded before it) is evaluated on the host when the op is one the host evaluates exactly
// (host_eval.hpp) and its result is small; the result becomes an inline initializer under the
// output's name, so readers and graph outputs need no change.
#include "passes/host_eval.hpp"
#include "passes/passes.hpp"

#include <map>

namespace loom::passes {

namespace {

// Folded results are written into the graph as inline values (and so into exported files);
// bigger results stay nodes. 16 Ki elements covers masks, position tables and shape constants.
constexpr int64_t kMaxFoldedElements = 16 * 1024;

// Inline values are doubles: integers beyond 2^53 would not read back exactly.
bool fits_inline(const Tensor& t) {
  if (t.dtype() != DType::i64) return true;
  const int64_t* v = t.data_as<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (v[i] > (int64_t(1) << 53) || v[i] < -(int64_t(1) << 53)) return false;
  return true;
}

}  // namespace

void fold_constants(GraphEdit& edit) {
  const Program& p = edit.program();
  std::map<int, Tensor> folded;  // value -> its computed tensor
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const ProgramNode& pn = p.nodes[i];
    std::vector<const Tensor*> inputs;
    bool constant = true;
    for (int v : pn.inputs) {
      if (v < 0) {
        inputs.push_back(nullptr);
      } else if (p.values[v].kind == ValueKind::Constant && p.values[v].constant.defined()) {
        inputs.push_back(&p.values[v].constant);
      } else if (auto it = folded.find(v); it != folded.end()) {
        inputs.push_back(&it->second);
      } else {
        constant = false;
        break;
      }
    }
    if (!constant) continue;
    // A state's update must stay the output of a node.
    bool updates_state = false;
    for (int v : pn.outputs) updates_state |= edit.escapes(v) && !p.values[v].graph_output;
    if (updates_state) continue;
    auto outs = evaluate_on_host(pn.node, inputs, kMaxFoldedElements);
    if (!outs) continue;
    bool ok = true;
    for (const Tensor& t : *outs) ok &= fits_inline(t);
    if (!ok) continue;
    edit.remove(static_cast<int>(i));
    edit.count_rewrite();
    for (size_t k = 0; k < outs->size(); ++k) {
      const Tensor& t = (*outs)[k];
      Initializer init;
      init.name = pn.node.outputs[k];
      init.dtype = t.dtype();
      init.shape = t.shape();
      init.loc = pn.node.loc;
      init.values.reserve(static_cast<size_t>(t.numel()));
      for (int64_t e = 0; e < t.numel(); ++e) init.values.push_back(element_as_double(t, e));
      edit.add_initializer(std::move(init));
      folded.emplace(pn.outputs[k], t);
    }
  }
}

}  // namespace loom::passes
