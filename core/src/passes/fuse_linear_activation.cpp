// linear (activation none) followed by relu, tanh, gelu, quick_gelu or silu becomes one linear with that
// activation, which backends apply as the matmul's epilogue. Only when the linear's output is
// read by the activation alone.
#include "passes/passes.hpp"

namespace loom::passes {

namespace {

// linear's activation name for an activation node, or "" when linear has none like it.
std::string activation_of(const Node& n) {
  if (n.op == "relu" || n.op == "tanh" || n.op == "quick_gelu" || n.op == "silu") return n.op;
  if (n.op == "gelu") return attr_string(n, "approximate") == "tanh" ? "gelu_tanh" : "gelu";
  return "";
}

}  // namespace

void fuse_linear_activation(GraphEdit& edit) {
  for (size_t i = 0; i < edit.num_nodes(); ++i) {
    const int act = static_cast<int>(i);
    const std::string activation = activation_of(edit.node(act));
    if (activation.empty() || edit.taken(act)) continue;
    const int lin = edit.input_from(act, 0, "linear");
    if (lin < 0 || edit.taken(lin) || attr_string(edit.node(lin), "activation") != "none") continue;
    if (edit.read_elsewhere(edit.program_node(act).inputs[0], act)) continue;
    Node fused = edit.node(lin);
    fused.name = edit.node(act).name;
    fused.outputs = edit.node(act).outputs;
    fused.attrs["activation"] = activation;
    edit.replace({lin, act}, std::move(fused));
  }
}

}  // namespace loom::passes
