// attention (fused, f32) with valid_length and causality: the probabilities of each query row,
// one workgroup per row reading only the keys it sees, into the run's scratch
// (shaders/attention_probs.comp), then their weighted sum of v (shaders/attention_out.comp).
// Like oneDNN, the backend declines an attention with neither valid_length nor causal: the
// session then decomposes it into matmul, softmax, matmul, whose tiled matmul does that better.
#include "kernel.hpp"

#include <cmath>

namespace loom::vulkan {
namespace {

const ShaderInterface kProbs{"attention_probs", 6, 19 * 4};
const ShaderInterface kOut{"attention_out", 4, 11 * 4};

class AttentionKernel final : public NodeKernel {
 public:
  AttentionKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size),
        scale_(static_cast<float>(node.attr_float("scale"))) {
    const uint32_t causal = node.attr_bool("causal") ? 1u : 0u;
    check_workgroup(limits_, wg_, 1, uint64_t{wg_} * 4, node_.where());
    probs_ = &c.device.pipelines().get(kProbs, {wg_, causal});
    out_ = &c.device.pipelines().get(kOut, {wg_, causal});
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    auto input = [&](size_t i) { return node_.inputs.size() > i ? node_.inputs[i] : -1; };
    const int32_t q = input(0), k = input(1), v = input(2), mask = input(3), length = input(4), o = node_.outputs[0];
    const auto qd = shapes.dims(static_cast<size_t>(q)), kd = shapes.dims(static_cast<size_t>(k)), vd = shapes.dims(static_cast<size_t>(v));
    const std::string where = node_.where();
    const int64_t batch = qd[0], heads = qd[1], tq = qd[2], d = qd[3], tk = kd[2], dv = vd[3];
    if (kd[0] != batch || kd[1] != heads || kd[3] != d || vd[0] != batch || vd[1] != heads || vd[2] != tk)
      throw Error(where + ": q " + sdk::dims_str(qd) + ", k " + sdk::dims_str(kd) + " and v " + sdk::dims_str(vd) + " do not agree",
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (length >= 0 && shapes.numel(static_cast<size_t>(length)) != batch)
      throw Error(where + ": valid_length has " + std::to_string(shapes.numel(static_cast<size_t>(length))) + " elements, expected " +
                      std::to_string(batch),
                  LOOM_STATUS_INVALID_ARGUMENT);
    const int64_t rows = batch * heads * tq;
    if (rows == 0 || dv == 0) return;
    const float scale = scale_ > 0 ? scale_ : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    const Dims scores{batch, heads, tq, tk};
    const Dims sm = mask >= 0 ? broadcast_strides(shapes.dims(static_cast<size_t>(mask)), scores) : Dims(4, 0);
    const int32_t probs = out.scratch(static_cast<uint64_t>(rows * tk) * sizeof(float));
    const Grid g = grid_for(static_cast<uint64_t>(rows), 1, limits_, where);
    Dispatch d1{node_.name, probs_, {q, k, mask, length, probs, kStatus},
                {0, 0, 0, 0, 0, 0, index32(rows, where), g.row_groups, index32(heads, where), index32(tq, where), index32(tk, where),
                 index32(d, where), mask >= 0 ? 1u : 0u, length >= 0 ? 1u : 0u, float_bits(scale), index32(sm[0], where),
                 index32(sm[1], where), index32(sm[2], where), index32(sm[3], where)},
                {g.x, g.y, 1}};
    d1.where = where;
    d1.checked = "valid_length";
    d1.allowed = "0.." + std::to_string(tk) + ", the number of keys";
    out.push_back(std::move(d1));
    const int64_t count = rows * dv;
    const Grid g2 = grid_for(static_cast<uint64_t>(count), wg_, limits_, where);
    out.push_back({node_.name, out_, {probs, v, length, o},
                   {0, 0, 0, 0, index32(count, where), g2.row_groups, index32(heads, where), index32(tq, where), index32(tk, where),
                    index32(dv, where), length >= 0 ? 1u : 0u},
                   {g2.x, g2.y, 1}});
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  float scale_;
  const Pipeline* probs_ = nullptr;
  const Pipeline* out_ = nullptr;
};

std::optional<std::string> check_attention(const sdk::NodeView& node) {
  if (node.num_inputs() < 3 || node.num_inputs() > 5 || node.num_outputs() != 1) return "expects q, k, v, mask, valid_length and one output";
  for (size_t i = 0; i < 3; ++i) {
    if (!node.has_input(i)) return "input " + std::to_string(i) + " is missing";
    if (node.input(i).rank() != 4) return "q, k and v must be 4-D";
  }
  for (size_t i = 0; i < 4 && i < node.num_inputs(); ++i)
    if (node.has_input(i) && node.input(i).dtype() != LOOM_DTYPE_F32)
      return "input " + std::to_string(i) + " is " + sdk::dtype_name(node.input(i).dtype()) + "; the vulkan backend computes f32 only";
  if (node.output(0).dtype() != LOOM_DTYPE_F32) return "the output is not f32";
  if (node.num_inputs() > 3 && node.has_input(3) && node.input(3).rank() > 4) return "mask must have rank 4 or less";
  const bool length = node.num_inputs() > 4 && node.has_input(4);
  if (length && node.input(4).dtype() != LOOM_DTYPE_I64) return "valid_length is not i64";
  if (node.attr_float("scale") < 0) return "scale must not be negative";
  if (!length && !node.attr_bool("causal"))
    return "attention without valid_length or causal runs better here as matmul, softmax and matmul (decomposed)";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_attention(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<AttentionKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> attention_ops() { return {{"attention", check_attention, compile_attention}}; }

}  // namespace loom::vulkan
