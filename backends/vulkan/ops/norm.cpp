// softmax over the last axis (with an optional broadcast mask), and layer_norm, rms_norm and
// l2_normalize over trailing dims, one workgroup per row: shaders/softmax.comp and
// shaders/layer_norm.comp; add_layer_norm as binary.comp's add (into its `sum` output, or
// scratch) then layer_norm.comp.
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kSoftmax{"softmax", 3, 19 * 4};
const ShaderInterface kNormShader{"layer_norm", 4, 10 * 4};
constexpr size_t kMaxRowDims = 5;  // softmax.comp's mask strides

// A row kernel's workgroup: a power of two (the shaders' tree reductions), one float of shared
// memory per invocation.
const Pipeline& row_pipeline(const ShaderInterface& shader, const CompileContext& c, const NodeRef& node,
                             std::vector<uint32_t> spec = {}) {
  const uint32_t wg = c.config.workgroup_size;
  check_workgroup(c.limits, wg, 1, uint64_t{wg} * 4, node.where());
  spec.insert(spec.begin(), wg);
  return c.device.pipelines().get(shader, spec);
}

// layer_norm.comp's MODE.
enum NormMode : uint32_t { kLayerNorm = 0, kRmsNorm = 1, kL2 = 2 };

class SoftmaxKernel final : public NodeKernel {
 public:
  SoftmaxKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.limits), pipeline_(&row_pipeline(kSoftmax, c, node_)) {}

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const int32_t x = node_.inputs[0], mask = node_.inputs.size() > 1 ? node_.inputs[1] : -1, o = node_.outputs[0];
    auto dims = shapes.dims(static_cast<size_t>(x));
    const int64_t total = numel(dims);
    if (total == 0) return;
    const int64_t n = dims.empty() ? 1 : dims.back();
    const int64_t rows = total / n;
    const Grid g = grid_for(static_cast<uint64_t>(rows), 1, limits_, node_.where());
    Dispatch d{node_.name, pipeline_, {x, mask, o}, std::vector<uint32_t>(19, 0), {g.x, g.y, 1}};
    d.push[3] = index32(rows, node_.where());
    d.push[4] = index32(n, node_.where());
    d.push[5] = g.row_groups;
    if (mask >= 0) {
      // The mask's strides along the row dims (merged where it walks them as one) and the last.
      const Dims sm = broadcast_strides(shapes.dims(static_cast<size_t>(mask)), dims);
      Dims rdims, rstrides;
      for (size_t i = 0; i + 1 < dims.size(); ++i) {
        if (dims[i] == 1) continue;
        if (!rdims.empty() && rstrides.back() == sm[i] * dims[i]) {
          rdims.back() *= dims[i];
          rstrides.back() = sm[i];
          continue;
        }
        rdims.push_back(dims[i]);
        rstrides.push_back(sm[i]);
      }
      if (rdims.size() > kMaxRowDims) throw Error(node_.where() + ": the mask broadcasts over more than 5 dims", LOOM_STATUS_UNSUPPORTED);
      d.push[6] = 1;
      d.push[7] = static_cast<uint32_t>(rdims.size());
      for (size_t i = 0; i < rdims.size(); ++i) {
        d.push[8 + i] = static_cast<uint32_t>(rdims[i]);
        d.push[13 + i] = static_cast<uint32_t>(rstrides[i]);
      }
      d.push[18] = dims.empty() ? 0 : static_cast<uint32_t>(sm.back());
    }
    out.push_back(std::move(d));
  }

 private:
  NodeRef node_;
  Limits limits_;
  const Pipeline* pipeline_;
};

// layer_norm, rms_norm, l2_normalize, and add_layer_norm (`add`): inputs a and b summed first,
// then weight and bias.
class LayerNormKernel final : public NodeKernel {
 public:
  LayerNormKernel(const sdk::NodeView& node, const CompileContext& c, NormMode mode, bool add)
      : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size),
        pipeline_(&row_pipeline(kNormShader, c, node_, {mode})), axis_(*normalize_axis(node.attr_int("axis"), node.output(0).rank())),
        epsilon_(static_cast<float>(node.attr_float("epsilon"))) {
    if (add) add_ = &c.device.pipelines().get(kBinaryShader, {wg_, 0});
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const size_t first = add_ ? 2 : 1;
    auto input = [&](size_t i) { return node_.inputs.size() > i ? node_.inputs[i] : -1; };
    const int32_t o = node_.outputs[0], w = input(first), b = input(first + 1);
    auto dims = shapes.dims(static_cast<size_t>(o));
    const int64_t total = numel(dims);
    if (total == 0) return;
    int32_t x = node_.inputs[0];
    if (add_) {
      // The sum goes to the node's `sum` output when something reads it, else to scratch.
      x = node_.outputs.size() > 1 ? node_.outputs[1] : out.scratch(static_cast<uint64_t>(total) * sizeof(float));
      binary_dispatch(node_.name, *add_, limits_, wg_, {node_.inputs[0], node_.inputs[1], x}, shapes.dims(static_cast<size_t>(node_.inputs[0])),
                      shapes.dims(static_cast<size_t>(node_.inputs[1])), dims, out);
    }
    const int64_t n = numel(dims.subspan(static_cast<size_t>(axis_)));
    const int64_t rows = total / n;
    const Grid g = grid_for(static_cast<uint64_t>(rows), 1, limits_, node_.where());
    out.push_back({node_.name, pipeline_, {x, w, b, o},
                   {0, 0, 0, 0, index32(rows, node_.where()), index32(n, node_.where()), g.row_groups, w >= 0 ? 1u : 0u,
                    b >= 0 ? 1u : 0u, float_bits(epsilon_)},
                   {g.x, g.y, 1}});
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  const Pipeline* pipeline_;
  const Pipeline* add_ = nullptr;
  int64_t axis_;
  float epsilon_;
};

std::optional<std::string> check_softmax(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  if (auto why = check_f32(node)) return why;
  const int64_t rank = node.input(0).rank();
  auto axis = normalize_axis(node.attr_int("axis"), rank);
  if (rank > 0 && (!axis || *axis != rank - 1)) return "the vulkan backend runs softmax over the last axis only";
  if (node.has_input(1) && node.input(1).rank() > rank) return "the mask has a higher rank than x";
  return std::nullopt;
}

std::optional<std::string> check_layer_norm(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  if (auto why = check_f32(node)) return why;
  if (!normalize_axis(node.attr_int("axis"), node.input(0).rank())) return "axis out of range";
  return std::nullopt;
}

std::optional<std::string> check_rms_norm(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || node.num_inputs() > 2 || !node.has_input(0) || node.num_outputs() != 1)
    return "expects input x (and weight) and one output";
  return check_layer_norm(node);
}

// Along one axis: the vulkan kernel normalises rows, so every dim after the axis must be 1.
std::optional<std::string> check_l2_normalize(const sdk::NodeView& node) {
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  if (auto why = check_f32(node)) return why;
  const auto dims = node.input(0).dims();
  auto axis = normalize_axis(node.attr_int("axis"), static_cast<int64_t>(dims.size()));
  if (!axis) return "axis out of range";
  for (size_t i = static_cast<size_t>(*axis) + 1; i < dims.size(); ++i)
    if (dims[i] != 1) return "the vulkan backend normalises along the last axis only";
  return std::nullopt;
}

std::optional<std::string> check_add_layer_norm(const sdk::NodeView& node) {
  if (node.num_inputs() < 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() < 1 || node.num_outputs() > 2)
    return "expects inputs a, b and outputs out (and sum)";
  if (auto why = check_f32(node)) return why;
  for (size_t i = 0; i < 2; ++i)
    if (auto why = check_rank(node, i, 6)) return why;
  if (!normalize_axis(node.attr_int("axis"), node.output(0).rank())) return "axis out of range";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_softmax(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<SoftmaxKernel>(node, c);
}

template <NormMode Mode, bool Add = false>
std::unique_ptr<NodeKernel> compile_norm(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<LayerNormKernel>(node, c, Mode, Add);
}

}  // namespace

std::vector<OpEntry> norm_ops() {
  return {{"softmax", check_softmax, compile_softmax},
          {"layer_norm", check_layer_norm, compile_norm<kLayerNorm>},
          {"add_layer_norm", check_add_layer_norm, compile_norm<kLayerNorm, true>},
          {"rms_norm", check_rms_norm, compile_norm<kRmsNorm>},
          {"l2_normalize", check_l2_normalize, compile_norm<kL2>}};
}

}  // namespace loom::vulkan
