// Reference decompositions: each fused op rewritten into the basic ops it stands for, so that a
// session whose backends lack a fused op still runs the graph (docs/architecture.md).
//
//   attention(q, k, v, mask, valid_length; causal, scale)
//     -> scores = matmul(q, k, transpose_b, alpha = scale or 1/sqrt(D))
//        [keys = key_mask(scores, valid_length; causal)]   with valid_length or causal
//        [mask = add(mask, keys)]                          with both
//        probs = softmax(scores, mask)
//        out = matmul(probs, v)
//   attention with k and v in another dtype than q (a bf16 KV cache)
//     -> cast of k and v to q's dtype, attention of q and them: a backend that runs attention in
//        one dtype still runs it fused
//   attention with layout bshd
//     -> transpose([0, 2, 1, 3]) of q, k and v, attention (bhsd) of them, transpose of its out:
//        a backend that runs only the bhsd form still runs it fused
//   add_layer_norm(a, b, weight, bias) -> sum = add(a, b); out = layer_norm(sum, weight, bias)
#include "passes/passes.hpp"

#include "ops/registry.hpp"
#include "plan/placement.hpp"

#include <loom/error.hpp>

#include <cmath>

namespace loom::passes {

namespace {

std::string input_or_empty(const Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : ""; }

std::vector<Node> decompose_attention(GraphEdit& edit, int index) {
  const ProgramNode& pn = edit.program_node(index);
  const Node& node = pn.node;
  std::vector<Node> out;
  const DType q_dtype = edit.info(pn.inputs[0]).dtype;
  if (edit.info(pn.inputs[1]).dtype != q_dtype) {
    std::vector<std::string> inputs = node.inputs;
    for (size_t i = 1; i < 3; ++i) {
      const std::string c = edit.unique_name(node.name + "." + "qkv"[i] + ".widened");
      out.push_back(make_node(node, c, "cast", {inputs[i]}, {c}, {{"to", std::string(dtype_name(q_dtype))}}));
      inputs[i] = c;
    }
    out.push_back(make_node(node, node.name, "attention", inputs, node.outputs, node.attrs));
    return out;
  }
  if (attr_string(node, "layout") == "bshd") {
    const std::vector<int64_t> swap{0, 2, 1, 3};
    std::vector<std::string> inputs = node.inputs;
    for (size_t i = 0; i < 3; ++i) {
      const std::string t = edit.unique_name(node.name + "." + "qkv"[i] + ".heads_first");
      out.push_back(make_node(node, t, "transpose", {inputs[i]}, {t}, {{"perm", swap}}));
      inputs[i] = t;
    }
    const std::string heads = edit.unique_name(node.name + ".heads_first");
    auto attrs = node.attrs;
    attrs["layout"] = std::string("bhsd");
    out.push_back(make_node(node, heads, "attention", inputs, {heads}, std::move(attrs)));
    out.push_back(make_node(node, node.name, "transpose", {heads}, node.outputs, {{"perm", swap}}));
    return out;
  }
  double scale = attr_float(node, "scale");
  if (scale == 0) {
    const Dim& d = edit.info(pn.inputs[0]).shape[3];
    if (!d.is_known())
      throw Error(ops::node_prefix(node) + "cannot be decomposed into basic ops: 'scale' is 0 (1/sqrt(head_dim)) and head_dim " +
                  d.str() + " is not known; give 'scale' explicitly");
    if (d.value() <= 0)
      throw Error(ops::node_prefix(node) + "cannot be decomposed into basic ops: 'scale' is 0 (1/sqrt(head_dim)) and head_dim is " +
                  d.str() + ", which has no finite scale");
    scale = 1.0 / std::sqrt(static_cast<double>(d.value()));
  }
  const std::string mask = input_or_empty(node, 3), valid_length = input_or_empty(node, 4);
  const bool causal = attr_bool(node, "causal");
  const std::string scores = edit.unique_name(node.name + ".scores");
  out.push_back(make_node(node, scores, "matmul", {node.inputs[0], node.inputs[1]}, {scores},
                          {{"transpose_a", false}, {"transpose_b", true}, {"alpha", scale}}));
  std::string softmax_mask = mask;
  if (!valid_length.empty() || causal) {
    const std::string keys = edit.unique_name(node.name + ".key_mask");
    out.push_back(make_node(node, keys, "key_mask", {scores, valid_length}, {keys}, {{"causal", causal}}));
    softmax_mask = keys;
    if (!mask.empty()) {
      softmax_mask = edit.unique_name(node.name + ".mask");
      out.push_back(make_node(node, softmax_mask, "add", {mask, keys}, {softmax_mask}, {}));
    }
  }
  const std::string probs = edit.unique_name(node.name + ".probs");
  out.push_back(make_node(node, probs, "softmax", {scores, softmax_mask}, {probs}, {{"axis", int64_t(-1)}}));
  out.push_back(make_node(node, node.name, "matmul", {probs, node.inputs[2]}, node.outputs,
                          {{"transpose_a", false}, {"transpose_b", false}, {"alpha", 1.0}}));
  return out;
}

std::vector<Node> decompose_add_layer_norm(GraphEdit& edit, int index) {
  const Node& node = edit.node(index);
  const std::string sum = node.outputs.size() > 1 ? node.outputs[1] : edit.unique_name(node.name + ".sum");
  return {make_node(node, sum, "add", {node.inputs[0], node.inputs[1]}, {sum}, {}),
          make_node(node, node.name, "layer_norm", {sum, input_or_empty(node, 2), input_or_empty(node, 3)}, {node.outputs[0]},
                    {{"axis", attr_int(node, "axis")}, {"epsilon", attr_float(node, "epsilon")}})};
}

using Decomposition = std::vector<Node> (*)(GraphEdit&, int);

Decomposition decomposition_of(std::string_view op) {
  if (op == "attention") return decompose_attention;
  if (op == "add_layer_norm") return decompose_add_layer_norm;
  return nullptr;
}

}  // namespace

bool has_decomposition(std::string_view op) { return decomposition_of(op) != nullptr; }

std::shared_ptr<const Program> decompose(std::shared_ptr<const Program> program, const DecomposeWhich& which,
                                         std::vector<RewrittenNode>& decomposed) {
  // Each round rewrites the fused nodes `which` picks; a decomposition yields at most one more
  // level of fused nodes (attention of a bf16 cache -> of one dtype -> bhsd -> basic ops), so
  // three rounds end it, the fourth finds nothing.
  for (int round = 0; round < 4; ++round) {
    GraphEdit edit(*program);
    const std::function<std::optional<std::string>(int)> picked = which(*program);
    for (size_t i = 0; i < program->nodes.size(); ++i) {
      const int n = static_cast<int>(i);
      const Decomposition d = decomposition_of(program->nodes[i].node.op);
      if (!d) continue;
      const std::optional<std::string> why = picked(n);
      if (!why) continue;
      std::vector<Node> nodes = d(edit, n);
      RewrittenNode record{program->nodes[i].node.name, program->nodes[i].node.op, {}, *why};
      for (const auto& node : nodes) record.nodes.push_back(node.name);
      edit.expand(n, std::move(nodes));
      decomposed.push_back(std::move(record));
    }
    if (!edit.changed()) break;
    program = build_program(edit.result(), true, program->weight_files);
  }
  return program;
}

std::shared_ptr<const Program> decompose_unsupported(std::shared_ptr<const Program> program,
                                                     const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                                                     std::vector<RewrittenNode>& decomposed) {
  bool any = false;
  for (const auto& pn : program->nodes) any |= has_decomposition(pn.node.op);
  if (!any) return program;
  // The backend that placement asks first for the node (plan::first_candidate: its hint, else the
  // first in priority order) decides: a fused node it declines is decomposed, so that its
  // parts run there beside their neighbours rather than the whole on a backend further down the
  // list, with copies both ways (oneDNN declines attention without a causal mask or valid
  // length: decomposed, it runs faster there than on a GPU across two copies).
  return decompose(program, [&](const Program& p) {
    std::shared_ptr<const plugins::GraphViewStorage> view = plan::whole_program_view(p);
    return [&p, &backends, view](int n) -> std::optional<std::string> {
      const Node& node = p.nodes[static_cast<size_t>(n)].node;
      // A fused node with an attribute or input dtypes newer than the op set of the backend
      // placement would try first (a plugin built before attention's layout) is decomposed too,
      // so that its parts run there rather than the whole on a later backend.
      for (int b : plan::placement_order(node, backends)) {
        const auto& backend = *backends[static_cast<size_t>(b)];
        if (backend.lost()) continue;
        if (auto newer = plan::newer_feature(p, static_cast<size_t>(n), backend.opset_version()))
          return "backend '" + backend.name() + "': " + *newer;
        break;
      }
      const plugins::BackendInstance* first = plan::first_candidate(p, static_cast<size_t>(n), backends);
      if (!first) return std::string("no backend of the session is usable");
      std::string why;
      if (plan::supports(*first, *view, static_cast<size_t>(n), &why)) return std::nullopt;
      return "backend '" + first->name() + "': " + why;
    };
  }, decomposed);
}

}  // namespace loom::passes
