// reduce_mean (f32, any set of axes): shaders/mean.comp, one invocation per output element.
#include "kernel.hpp"

#include <set>

namespace loom::vulkan {
namespace {

const ShaderInterface kMean{"mean", 2, 31 * 4};
constexpr size_t kMaxDims = 6;  // mean.comp's arrays

// Dims with their strides, adjacent ones merged where they walk as one, size-1 ones dropped.
void merged(Dims& dims, Dims& strides, int64_t d, int64_t s) {
  if (d == 1) return;
  if (!dims.empty() && strides.back() == s * d) {
    dims.back() *= d;
    strides.back() = s;
    return;
  }
  dims.push_back(d);
  strides.push_back(s);
}

class MeanKernel final : public GridKernel {
 public:
  MeanKernel(const sdk::NodeView& node, const CompileContext& c) : GridKernel(node, c, kMean, {}) {
    const int64_t rank = node.input(0).rank();
    for (int64_t a : node.attr_ints("axes")) axes_.insert(*normalize_axis(a, rank));
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto dims = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const int64_t count = shapes.numel(static_cast<size_t>(node_.outputs[0]));
    if (count == 0) return;
    const std::string where = node_.where();
    Dims strides(dims.size());
    int64_t s = 1;
    for (size_t i = dims.size(); i-- > 0;) {
      strides[i] = s;
      s *= dims[i];
    }
    Dims kd, ks, rd, rs;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (axes_.count(static_cast<int64_t>(i))) merged(rd, rs, dims[i], strides[i]);
      else merged(kd, ks, dims[i], strides[i]);
    }
    if (kd.size() > kMaxDims || rd.size() > kMaxDims) throw Error(where + ": more than 6 dims after merging", LOOM_STATUS_UNSUPPORTED);
    const Grid g = grid(count);
    Dispatch d{node_.name, pipeline_, {node_.inputs[0], node_.outputs[0]}, std::vector<uint32_t>(31, 0), {g.x, g.y, 1}};
    d.push[2] = index32(count, where);
    d.push[3] = g.row_groups;
    d.push[4] = static_cast<uint32_t>(kd.size());
    d.push[5] = static_cast<uint32_t>(rd.size());
    d.push[6] = index32(numel(rd), where);
    for (size_t i = 0; i < kd.size(); ++i) {
      d.push[7 + i] = index32(kd[i], where);
      d.push[13 + i] = index32(ks[i], where);
    }
    for (size_t i = 0; i < rd.size(); ++i) {
      d.push[19 + i] = index32(rd[i], where);
      d.push[25 + i] = index32(rs[i], where);
    }
    out.push_back(std::move(d));
  }

 private:
  std::set<int64_t> axes_;
};

std::optional<std::string> check_mean(const sdk::NodeView& node) {
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  if (auto why = check_f32(node)) return why;
  const int64_t rank = node.input(0).rank();
  if (rank > static_cast<int64_t>(kMaxDims)) return "the vulkan backend reduces up to 6 dims";
  for (int64_t a : node.attr_ints("axes"))
    if (!normalize_axis(a, rank)) return "axis " + std::to_string(a) + " out of range";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_mean(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<MeanKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> reduce_ops() { return {{"reduce_mean", check_mean, compile_mean}}; }

}  // namespace loom::vulkan
