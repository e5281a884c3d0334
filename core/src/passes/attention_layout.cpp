// The transposes around attention go where the backend reads the heads in place: an attention
// node whose q, k and v each come from a transpose([0, 2, 1, 3]) that nothing else reads, and
// whose output only such a transpose reads, takes layout bshd, the heads of each position side by
// side as the projections wrote them:
//
//   q = transpose(q', [0, 2, 1, 3]), k = ..., v = ...
//   out' = transpose(attention(q, k, v, mask, valid_length), [0, 2, 1, 3])
//
// -> out' = attention(q', k', v', mask, valid_length; layout: bshd). A backend that runs only the
// bhsd form gets the transposes back from the decomposition (decompose.cpp).
#include "passes/passes.hpp"

namespace loom::passes {

namespace {

bool swaps_heads(const Node& n) {
  return n.op == "transpose" && attr_ints(n, "perm") == std::vector<int64_t>{0, 2, 1, 3};
}

}  // namespace

void fold_attention_transposes(GraphEdit& edit) {
  const Program& program = edit.program();
  for (size_t i = 0; i < edit.num_nodes(); ++i) {
    const int a = static_cast<int>(i);
    const ProgramNode& pa = edit.program_node(a);
    if (pa.node.op != "attention" || attr_string(pa.node, "layout") != "bhsd" || edit.taken(a)) continue;
    std::vector<int> nodes;
    for (size_t port = 0; port < 3; ++port) {
      const int t = edit.input_from(a, port, "transpose");
      if (t < 0 || !swaps_heads(edit.node(t)) || edit.read_elsewhere(pa.inputs[port], a) || edit.taken(t)) break;
      nodes.push_back(t);
    }
    if (nodes.size() != 3) continue;
    const int out = pa.outputs[0];
    const std::vector<int>& readers = program.values[static_cast<size_t>(out)].consumers;
    if (readers.size() != 1 || edit.escapes(out)) continue;
    const int back = readers[0];
    if (!swaps_heads(edit.node(back)) || edit.taken(back)) continue;
    Node fused = pa.node;
    for (size_t port = 0; port < 3; ++port) fused.inputs[port] = edit.node(nodes[port]).inputs[0];
    fused.outputs = edit.node(back).outputs;
    fused.attrs["layout"] = std::string("bshd");
    if (!edit.computes(fused, edit.program_node(back).outputs[0])) continue;
    nodes.push_back(a);
    nodes.push_back(back);
    edit.replace(nodes, std::move(fused));
  }
}

}  // namespace loom::passes
