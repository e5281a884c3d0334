// reshape (a copy of the bytes) and transpose (a strided gather): shaders/strided_copy.comp, on
// 32-bit words, so any dtype whose elements are whole words moves (f32, i32, and i64 as two).
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kStridedCopy{"strided_copy", 2, 17 * 4};
constexpr size_t kMaxRank = 6;  // strided_copy.comp's arrays

uint32_t words_per_element(int32_t dtype) { return dtype == LOOM_DTYPE_I64 ? 2 : 1; }

class CopyKernel final : public NodeKernel {
 public:
  CopyKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.device.limits()), wg_(c.config.workgroup_size),
        words_(words_per_element(node.input(0).dtype())) {
    check_workgroup(limits_, wg_, 1, 0, node_.where());
    pipeline_ = &c.device.pipelines().get(kStridedCopy, {wg_});
    if (node_.op == "transpose") {
      auto perm = node.attr_ints("perm");
      perm_.assign(perm.begin(), perm.end());
    }
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const int32_t x = node_.inputs[0], o = node_.outputs[0];
    const int64_t count = shapes.numel(static_cast<size_t>(o)) * words_;
    if (count == 0) return;
    // The output's dims in words, with the input's word strides along them.
    Dims dims{count}, strides{1};
    if (!perm_.empty()) {
      auto in = shapes.dims(static_cast<size_t>(x));
      Dims in_strides(in.size());
      int64_t s = words_;
      for (size_t i = in.size(); i-- > 0;) {
        in_strides[i] = s;
        s *= in[i];
      }
      dims.clear();
      strides.clear();
      for (size_t j = 0; j <= perm_.size(); ++j) {
        const bool word = j == perm_.size();  // an i64's two words, innermost
        if (word && words_ == 1) break;
        const int64_t d = word ? words_ : in[static_cast<size_t>(perm_[j])];
        const int64_t st = word ? 1 : in_strides[static_cast<size_t>(perm_[j])];
        if (d == 1) continue;
        if (!dims.empty() && strides.back() == st * d) {
          dims.back() *= d;
          strides.back() = st;
          continue;
        }
        dims.push_back(d);
        strides.push_back(st);
      }
      if (dims.size() > kMaxRank) throw Error(node_.where() + ": more than 6 dims after merging", LOOM_STATUS_UNSUPPORTED);
    }
    const Grid g = grid_for(static_cast<uint64_t>(count), wg_, limits_, node_.where());
    Dispatch d{node_.name, pipeline_, {x, o}, std::vector<uint32_t>(17, 0), {g.x, g.y, 1}};
    d.push[2] = index32(count, node_.where());
    d.push[3] = g.row_groups;
    d.push[4] = static_cast<uint32_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
      d.push[5 + i] = index32(dims[i], node_.where());
      d.push[11 + i] = index32(strides[i], node_.where());
    }
    out.push_back(std::move(d));
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  uint32_t words_;
  Dims perm_;  // transpose only
  const Pipeline* pipeline_ = nullptr;
};

std::optional<std::string> check_copy(const sdk::NodeView& node) {
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  const int32_t t = node.input(0).dtype();
  if (t != LOOM_DTYPE_F32 && t != LOOM_DTYPE_I32 && t != LOOM_DTYPE_I64)
    return "the vulkan backend moves f32, i32 and i64 only, not " + sdk::dtype_name(t);
  if (node.op() == "transpose" && node.input(0).rank() > static_cast<int64_t>(kMaxRank) - (t == LOOM_DTYPE_I64 ? 1 : 0))
    return "the vulkan backend transposes up to 6 dims (5 for i64)";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_copy(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<CopyKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> layout_ops() {
  return {{"reshape", check_copy, compile_copy}, {"transpose", check_copy, compile_copy}};
}

}  // namespace loom::vulkan
