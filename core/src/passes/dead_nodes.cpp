// Dead-node removal: a node none of whose outputs reaches a graph output or a state's update
// is removed, and so is an initializer that only such nodes read.
#include "passes/passes.hpp"

namespace loom::passes {

void remove_dead_nodes(GraphEdit& edit) {
  const Program& p = edit.program();
  std::vector<bool> live(p.values.size(), false);
  for (int v : p.outputs) live[v] = true;
  for (const auto& st : p.states)
    if (st.update >= 0) live[st.update] = true;
  // Execution order is topological, so one backward sweep sees every reader before its inputs.
  for (size_t i = p.nodes.size(); i-- > 0;) {
    const ProgramNode& pn = p.nodes[i];
    bool needed = false;
    for (int v : pn.outputs) needed |= live[v];
    if (!needed) {
      edit.remove(static_cast<int>(i));
      edit.count_rewrite();
      continue;
    }
    for (int v : pn.inputs)
      if (v >= 0) live[v] = true;
  }
  for (const auto& init : p.graph.initializers) {
    const int v = p.find(init.name);
    if (v >= 0 && !live[v]) edit.remove_initializer(init.name);
  }
}

}  // namespace loom::passes
