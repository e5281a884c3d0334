// reduce_mean (f32, any set of axes): shaders/mean.comp, one invocation per output element;
// argmax and topk (f32, i32, i64 in torch's order): shaders/topk.comp, one workgroup per row.
#include "kernel.hpp"

#include <algorithm>
#include <set>

namespace loom::vulkan {
namespace {

const ShaderInterface kMean{"mean", 2, 31 * 4};
const ShaderInterface kTopk{"topk", 3, 9 * 4};
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

// argmax (k 0: indices only) and topk.
class TopkKernel final : public NodeKernel {
 public:
  TopkKernel(const sdk::NodeView& node, const CompileContext& c, int64_t k)
      : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size),
        axis_(*normalize_axis(node.attr_int("axis"), node.input(0).rank())), k_(k),
        keepdims_(k == 0 && node.attr_bool("keepdims")) {
    check_workgroup(limits_, wg_, 1, uint64_t{wg_} * 12, node_.where());
    const int32_t t = node.input(0).dtype();
    pipeline_ = &c.device.pipelines().get(kTopk, {wg_, t == LOOM_DTYPE_F32 ? 0u : t == LOOM_DTYPE_I32 ? 1u : 2u});
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto x = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const std::string where = node_.where();
    const auto a = static_cast<size_t>(axis_);
    const int64_t n = x[a], k = k_ ? k_ : 1;
    if (n == 0 && k_ == 0) throw Error(where + ": argmax along axis " + std::to_string(a) + " of size 0 in " + sdk::dims_str(x), LOOM_STATUS_INVALID_ARGUMENT);
    if (k > n)
      throw Error(where + ": k = " + std::to_string(k) + " is larger than axis " + std::to_string(a) + " of " + sdk::dims_str(x),
                  LOOM_STATUS_INVALID_ARGUMENT);
    Dims expected(x.begin(), x.end());
    if (k_ || keepdims_) expected[a] = k;
    else expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(a));
    for (int32_t o : node_.outputs) {
      const auto got = shapes.dims(static_cast<size_t>(o));
      if (!std::equal(got.begin(), got.end(), expected.begin(), expected.end()))
        throw Error(where + ": output of shape " + sdk::dims_str(got) + ", expected " + sdk::dims_str(expected), LOOM_STATUS_INVALID_ARGUMENT);
    }
    const int64_t inner = numel(x.subspan(a + 1)), rows = numel(x.first(a)) * inner;
    if (rows == 0 || numel(x) == 0) return;
    const Grid g = grid_for(static_cast<uint64_t>(rows), 1, limits_, where);
    const int32_t values = k_ ? node_.outputs[0] : -1, indices = k_ ? node_.outputs[1] : node_.outputs[0];
    out.push_back({node_.name, pipeline_, {node_.inputs[0], values, indices},
                   {0, 0, 0, index32(rows, where), g.row_groups, index32(n, where), index32(inner, where), index32(k, where), k_ ? 1u : 0u},
                   {g.x, g.y, 1}});
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  int64_t axis_, k_;
  bool keepdims_;
  const Pipeline* pipeline_ = nullptr;
};

std::optional<std::string> check_topk(const sdk::NodeView& node) {
  const bool topk = node.op() == "topk";
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != (topk ? 2u : 1u))
    return topk ? "expects input x and outputs values, indices" : "expects input x and one output";
  const int32_t t = node.input(0).dtype();
  if (t != LOOM_DTYPE_F32 && t != LOOM_DTYPE_I32 && t != LOOM_DTYPE_I64)
    return "the vulkan backend compares f32, i32 and i64 only, not " + sdk::dtype_name(t);
  if (!normalize_axis(node.attr_int("axis"), node.input(0).rank())) return "axis out of range";
  if (topk && node.attr_int("k") < 1) return "k must be at least 1";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_topk(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<TopkKernel>(node, c, node.op() == "topk" ? node.attr_int("k") : 0);
}

}  // namespace

std::vector<OpEntry> reduce_ops() {
  return {{"reduce_mean", check_mean, compile_mean}, {"argmax", check_topk, compile_topk}, {"topk", check_topk, compile_topk}};
}

}  // namespace loom::vulkan
