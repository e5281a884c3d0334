// Scaled dot-product attention written as ops becomes one `attention` node:
//
//   scores = matmul(q, k, transpose_b, alpha)     q [B,H,Tq,D], k [B,H,Tk,D], alpha > 0
//   probs  = softmax(scores, mask)                or softmax(add(scores, mask)), or no mask
//   out    = matmul(probs, v)                     v [B,H,Tk,Dv]
//
// -> attention(q, k, v, mask, scale: alpha). Only when scores, the masked scores and probs are
// read by nothing else (no other node, no graph output, no state update).
#include "passes/passes.hpp"

namespace loom::passes {

namespace {

bool plain_matmul(const Node& n) {
  return n.op == "matmul" && !attr_bool(n, "transpose_a") && !attr_bool(n, "transpose_b") && attr_float(n, "alpha") == 1.0;
}

bool scores_matmul(const Node& n) {
  return n.op == "matmul" && !attr_bool(n, "transpose_a") && attr_bool(n, "transpose_b") && attr_float(n, "alpha") > 0;
}

// q, k and v as attention takes them: 4-D, with batch and heads equal (not broadcast), keys of k
// and v equal and the head dims of q and k equal. Unknown dims are not trusted.
bool attention_shapes(const SymShape& q, const SymShape& k, const SymShape& v) {
  if (q.size() != 4 || k.size() != 4 || v.size() != 4) return false;
  for (const SymShape* s : {&q, &k, &v})
    for (const Dim& d : *s)
      if (d.is_unknown()) return false;
  return q[0] == k[0] && k[0] == v[0] && q[1] == k[1] && k[1] == v[1] && k[2] == v[2] && q[3] == k[3];
}

struct Match {
  std::vector<int> nodes;  // scores matmul, [mask add], softmax, output matmul
  int scores = -1;
  std::string mask;
};

// The scores matmul feeding `x` of the softmax, directly or through an add of the mask.
std::optional<Match> scores_of(const GraphEdit& edit, int softmax) {
  const ProgramNode& sm = edit.program_node(softmax);
  const int x = sm.inputs[0];
  Match m;
  if (sm.inputs.size() > 1 && sm.inputs[1] >= 0) m.mask = sm.node.inputs[1];
  int s = edit.input_from(softmax, 0, "matmul");
  if (s >= 0) {
    if (edit.read_elsewhere(x, softmax)) return std::nullopt;
    m.scores = s;
    m.nodes = {s};
    return m;
  }
  const int add = edit.input_from(softmax, 0, "add");
  if (add < 0 || !m.mask.empty() || edit.read_elsewhere(x, softmax)) return std::nullopt;
  const ProgramNode& a = edit.program_node(add);
  for (size_t port = 0; port < 2; ++port) {
    s = edit.input_from(add, port, "matmul");
    if (s < 0 || edit.read_elsewhere(a.inputs[port], add) || !scores_matmul(edit.node(s))) continue;
    // The mask must not widen the scores: the sum keeps their shape.
    if (!(edit.info(a.inputs[port]).shape == edit.info(x).shape)) continue;
    m.scores = s;
    m.mask = a.node.inputs[1 - port];
    m.nodes = {s, add};
    return m;
  }
  return std::nullopt;
}

}  // namespace

void fuse_attention(GraphEdit& edit) {
  for (size_t i = 0; i < edit.num_nodes(); ++i) {
    const int out = static_cast<int>(i);
    const ProgramNode& pv = edit.program_node(out);
    if (!plain_matmul(pv.node) || edit.taken(out)) continue;
    const int softmax = edit.input_from(out, 0, "softmax");
    if (softmax < 0 || edit.read_elsewhere(pv.inputs[0], out)) continue;
    const ProgramNode& sm = edit.program_node(softmax);
    const int64_t axis = attr_int(sm.node, "axis");
    if (axis != -1 && axis != 3) continue;
    auto m = scores_of(edit, softmax);
    if (!m || !scores_matmul(edit.node(m->scores))) continue;
    const ProgramNode& ps = edit.program_node(m->scores);
    if (!attention_shapes(edit.info(ps.inputs[0]).shape, edit.info(ps.inputs[1]).shape, edit.info(pv.inputs[1]).shape))
      continue;
    m->nodes.push_back(softmax);
    m->nodes.push_back(out);
    bool free = true;
    for (int n : m->nodes) free &= !edit.taken(n);
    if (!free) continue;

    Node fused;
    fused.name = pv.node.name;
    fused.op = "attention";
    fused.inputs = {ps.node.inputs[0], ps.node.inputs[1], pv.node.inputs[1], m->mask};
    fused.outputs = pv.node.outputs;
    fused.attrs = {{"causal", false}, {"scale", attr_float(ps.node, "alpha")}};
    fused.loc = pv.node.loc;
    if (!edit.computes(fused, pv.outputs[0])) continue;
    edit.replace(m->nodes, std::move(fused));
  }
}

}  // namespace loom::passes
