// A residual add read by a layer_norm becomes one add_layer_norm. When the sum is read by
// anything else too (a pre-norm residual stream, a graph output, a state update), the fused node
// also outputs it under its old name; otherwise the sum never leaves the node.
#include "passes/passes.hpp"

namespace loom::passes {

void fuse_add_layer_norm(GraphEdit& edit) {
  for (size_t i = 0; i < edit.num_nodes(); ++i) {
    const int ln = static_cast<int>(i);
    const ProgramNode& pl = edit.program_node(ln);
    if (pl.node.op != "layer_norm" || edit.taken(ln)) continue;
    const int add = edit.input_from(ln, 0, "add");
    if (add < 0 || edit.taken(add)) continue;
    const int sum = pl.inputs[0];
    // The layer norm must read the sum only as x, not as its weight or bias as well.
    bool reads_once = true;
    for (size_t k = 1; k < pl.inputs.size(); ++k) reads_once &= pl.inputs[k] != sum;
    if (!reads_once) continue;
    const Node& a = edit.node(add);

    Node fused;
    fused.name = pl.node.name;
    fused.op = "add_layer_norm";
    fused.inputs = {a.inputs[0], a.inputs[1]};
    for (size_t k = 1; k <= 2; ++k) fused.inputs.push_back(k < pl.node.inputs.size() ? pl.node.inputs[k] : "");
    fused.outputs = pl.node.outputs;
    if (edit.read_elsewhere(sum, ln)) fused.outputs.push_back(a.outputs[0]);
    fused.attrs = {{"axis", attr_int(pl.node, "axis")}, {"epsilon", attr_float(pl.node, "epsilon")}};
    fused.loc = pl.node.loc;
    if (!edit.computes(fused, pl.outputs[0])) continue;
    edit.replace({add, ln}, std::move(fused));
  }
}

}  // namespace loom::passes
