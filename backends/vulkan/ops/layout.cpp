// reshape, transpose, slice, concat, roll and pad as strided copies (shaders/strided_copy.comp)
// of 32-bit words, so any dtype whose elements are whole words moves: f32, i32, and i64 as two
// words. roll copies one block per combination of the rolled axes' two parts; pad fills the
// output (shaders/fill.comp, f32) and copies the input into its interior.
#include "kernel.hpp"

#include <algorithm>

namespace loom::vulkan {
namespace {

const ShaderInterface kStridedCopy{"strided_copy", 2, 25 * 4};
const ShaderInterface kFill{"fill", 1, 4 * 4};
constexpr size_t kMaxRank = 6;  // strided_copy.comp's arrays

uint32_t words_per_element(int32_t dtype) { return dtype == LOOM_DTYPE_I64 ? 2 : 1; }

Dims dense_strides(std::span<const int64_t> dims) {
  Dims s(dims.size());
  int64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = stride;
    stride *= dims[i];
  }
  return s;
}

// One copy in elements: the dims walked, the input's and the output's strides along them, and
// where each starts.
struct Copy {
  Dims dims, sx, so;
  int64_t base_x = 0, base_o = 0;
};

class CopyKernel final : public GridKernel {
 public:
  CopyKernel(const sdk::NodeView& node, const CompileContext& c)
      : GridKernel(node, c, kStridedCopy, {}), words_(words_per_element(node.input(0).dtype())) {
    const int64_t rank = node_.op == "concat" ? node.output(0).rank() : node.input(0).rank();
    if (node_.op == "transpose") {
      auto perm = node.attr_ints("perm");
      perm_.assign(perm.begin(), perm.end());
    }
    if (node_.op == "slice" || node_.op == "concat") axis_ = *normalize_axis(node.attr_int("axis"), rank);
    if (node_.op == "slice") {
      start_ = node.attr_int("start");
      end_ = node.attr_int("end");
      step_ = node.attr_int("step");
    }
    if (node_.op == "roll") {
      // Shifts summed per axis, as torch.roll does with an axis named twice.
      shift_.assign(static_cast<size_t>(rank), 0);
      auto shifts = node.attr_ints("shifts"), axes = node.attr_ints("axes");
      for (size_t k = 0; k < axes.size(); ++k) shift_[static_cast<size_t>(*normalize_axis(axes[k], rank))] += shifts[k];
    }
    if (node_.op == "pad") {
      auto before = node.attr_ints("before");
      before_.assign(before.begin(), before.end());
      value_ = float_bits(static_cast<float>(node.attr_float("value")));
      fill_ = &c.device.pipelines().get(kFill, {wg_});
    }
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    auto dims_of = [&](int32_t v) { return shapes.dims(static_cast<size_t>(v)); };
    const int32_t o = node_.outputs[0];
    const auto od = dims_of(o);
    if (node_.op == "concat") {
      const Dims so = dense_strides(od);
      int64_t at = 0;  // where this input starts along the axis
      for (int32_t x : node_.inputs) {
        const auto xd = dims_of(x);
        emit(x, o, {Dims(xd.begin(), xd.end()), dense_strides(xd), so, 0, at * so[static_cast<size_t>(axis_)]}, out);
        at += xd[static_cast<size_t>(axis_)];
      }
      return;
    }
    const int32_t x = node_.inputs[0];
    const auto xd = dims_of(x);
    const Dims in = dense_strides(xd);
    Copy c{Dims(od.begin(), od.end()), {}, dense_strides(od), 0, 0};
    if (node_.op == "roll") return roll(x, o, xd, out);
    if (node_.op == "pad") {
      const int64_t count = numel(od);
      if (count == 0) return;
      const Grid g = grid(count);
      out.push_back({node_.name, fill_, {o}, {0, index32(count, node_.where()), g.row_groups, value_}, {g.x, g.y, 1}});
      c = {Dims(xd.begin(), xd.end()), in, dense_strides(od), 0, 0};
      for (size_t i = 0; i < before_.size(); ++i) c.base_o += before_[i] * c.so[i];
    } else if (node_.op == "reshape") {
      c = {{numel(od)}, {1}, {1}, 0, 0};
    } else if (node_.op == "transpose") {
      for (int64_t p : perm_) c.sx.push_back(in[static_cast<size_t>(p)]);
    } else {  // slice
      const auto a = static_cast<size_t>(axis_);
      const sdk::SliceRange r = sdk::slice_range(xd[a], start_, end_, step_);
      c.sx = in;
      c.sx[a] *= step_;
      c.base_x = r.first * in[a];
    }
    emit(x, o, c, out);
  }

 private:
  // out[..., (i + shift) mod n, ...] = x[..., i, ...]: along each rolled axis the input's first
  // n - s elements go to the output's last n - s places and its last s to the first s; one copy
  // per combination of those parts.
  void roll(int32_t x, int32_t o, std::span<const int64_t> dims, Prepared& out) const {
    const Dims strides = dense_strides(dims);
    std::vector<size_t> rolled;
    for (size_t a = 0; a < dims.size(); ++a)
      if (dims[a] > 0 && ((shift_[a] % dims[a]) + dims[a]) % dims[a] != 0) rolled.push_back(a);
    for (uint64_t mask = 0; mask < (uint64_t{1} << rolled.size()); ++mask) {
      Copy c{Dims(dims.begin(), dims.end()), strides, strides, 0, 0};
      for (size_t k = 0; k < rolled.size(); ++k) {
        const size_t a = rolled[k];
        const int64_t n = dims[a], s = ((shift_[a] % n) + n) % n;
        const bool wrapped = (mask >> k) & 1;  // the input's last s elements, to the front
        c.dims[a] = wrapped ? s : n - s;
        c.base_x += (wrapped ? n - s : 0) * strides[a];
        c.base_o += (wrapped ? 0 : s) * strides[a];
      }
      emit(x, o, c, out);
    }
  }

  // The copy in words, its dims merged where both sides walk them as one, size-1 dims dropped.
  void emit(int32_t x, int32_t o, Copy c, Prepared& out) const {
    const int64_t count = numel(c.dims) * words_;
    if (count == 0) return;
    if (words_ > 1) {
      for (auto* s : {&c.sx, &c.so})
        for (int64_t& v : *s) v *= words_;
      c.dims.push_back(words_);
      c.sx.push_back(1);
      c.so.push_back(1);
      c.base_x *= words_;
      c.base_o *= words_;
    }
    Dims dims, sx, so;
    for (size_t i = 0; i < c.dims.size(); ++i) {
      if (c.dims[i] == 1) continue;
      if (!dims.empty() && sx.back() == c.sx[i] * c.dims[i] && so.back() == c.so[i] * c.dims[i]) {
        dims.back() *= c.dims[i];
        sx.back() = c.sx[i];
        so.back() = c.so[i];
        continue;
      }
      dims.push_back(c.dims[i]);
      sx.push_back(c.sx[i]);
      so.push_back(c.so[i]);
    }
    const std::string where = node_.where();
    if (dims.size() > kMaxRank) throw Error(where + ": more than 6 dims after merging", LOOM_STATUS_UNSUPPORTED);
    const Grid g = grid(count);
    Dispatch d{node_.name, pipeline_, {x, o}, std::vector<uint32_t>(25, 0), {g.x, g.y, 1}};
    d.push[2] = index32(count, where);
    d.push[3] = g.row_groups;
    d.push[4] = static_cast<uint32_t>(dims.size());
    d.push[5] = index32(c.base_x, where);
    d.push[6] = index32(c.base_o, where);
    for (size_t i = 0; i < dims.size(); ++i) {
      d.push[7 + i] = index32(dims[i], where);
      d.push[13 + i] = index32(sx[i], where);
      d.push[19 + i] = index32(so[i], where);
    }
    out.push_back(std::move(d));
  }

  uint32_t words_;
  Dims perm_;  // transpose
  int64_t axis_ = 0, start_ = 0, end_ = 0, step_ = 1;  // slice, concat
  Dims shift_;  // roll: per axis
  Dims before_;  // pad
  uint32_t value_ = 0;
  const Pipeline* fill_ = nullptr;
};

std::optional<std::string> check_copy(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || node.num_outputs() != 1) return "expects an input and one output";
  const int32_t t = node.output(0).dtype();
  if (t != LOOM_DTYPE_F32 && t != LOOM_DTYPE_I32 && t != LOOM_DTYPE_I64)
    return "the vulkan backend moves f32, i32 and i64 only, not " + sdk::dtype_name(t);
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (!node.has_input(i)) return "input " + std::to_string(i) + " is absent";
    if (node.input(i).dtype() != t) return "input " + std::to_string(i) + " has another dtype than the output";
  }
  if (node.op() == "pad" && t != LOOM_DTYPE_F32) return "the vulkan backend pads f32 only";
  // Every dim may stay apart after merging; i64 adds one for its two words.
  if (node.output(0).rank() > static_cast<int64_t>(kMaxRank) - (t == LOOM_DTYPE_I64 ? 1 : 0))
    return "the vulkan backend moves up to 6 dims (5 for i64)";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_copy(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<CopyKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> layout_ops() {
  return {{"reshape", check_copy, compile_copy},
          {"transpose", check_copy, compile_copy},
          {"slice", check_copy, compile_copy},
          {"concat", check_copy, compile_copy},
          {"roll", check_copy, compile_copy},
          {"pad", check_copy, compile_copy}};
}

}  // namespace loom::vulkan
