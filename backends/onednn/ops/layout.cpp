// roll and pad: data movement by contiguous runs of the last axis, as plain loops.
#include "convert.hpp"
#include "kernel.hpp"

#include <cstring>

namespace loom::onednn {
namespace {

// Calls f(out_offset, in_offset or -1, run) for each run of the last axis of `out`, where
// `source(axis, index)` maps an output index to the input's (or -1: padding). Runs break where the
// source along the last axis stops being consecutive.
template <class Source, class F>
void walk(std::span<const int64_t> out, std::span<const int64_t> in, Source&& source, F&& f) {
  const size_t rank = out.size();
  const int64_t total = count(out);
  if (total == 0) return;
  Dims in_strides(rank, 1);
  for (size_t i = rank - 1; i-- > 0;) in_strides[i] = in_strides[i + 1] * in[i + 1];
  Dims index(rank, 0);
  const int64_t last = out[rank - 1];
  for (int64_t at = 0; at < total; at += last) {
    int64_t base = 0;
    bool inside = true;
    for (size_t i = 0; i + 1 < rank; ++i) {
      const int64_t s = source(i, index[i]);
      if (s < 0) inside = false;
      base += s * in_strides[i];
    }
    int64_t j = 0;
    while (j < last) {
      const int64_t s = inside ? source(rank - 1, j) : -1;
      int64_t n = 1;
      while (j + n < last) {
        const int64_t t = inside ? source(rank - 1, j + n) : -1;
        if ((s < 0) != (t < 0) || (s >= 0 && t != s + n)) break;
        ++n;
      }
      f(at + j, s < 0 ? -1 : base + s, n);
      j += n;
    }
    for (size_t i = rank - 1; i-- > 0;) {
      if (++index[i] < out[i]) break;
      index[i] = 0;
    }
  }
}

// A scalar's pad or roll: its one element, copied.
class ScalarStep final : public Step {
 public:
  explicit ScalarStep(const NodeInfo& info) : info_(info) {}
  void run(const RunContext& ctx) const override {
    const void* x = ctx.data(info_.inputs[0]);
    void* y = ctx.data(info_.outputs[0]);
    if (x != y) std::memmove(y, x, sdk::dtype_size(info_.input_dtypes[0]));
  }

 private:
  NodeInfo info_;
};

class LayoutStep final : public Step {
 public:
  LayoutStep(const NodeInfo& info, Dims in, Dims out, std::vector<int64_t> shift, Dims before, double value)
      : info_(info), in_(std::move(in)), out_(std::move(out)), shift_(std::move(shift)), before_(std::move(before)), value_(value) {}

  void run(const RunContext& ctx) const override {
    const auto* x = ctx.as<const std::byte>(info_.inputs[0]);
    auto* y = ctx.as<std::byte>(info_.outputs[0]);
    const int32_t dtype = info_.input_dtypes[0];
    const size_t size = sdk::dtype_size(dtype);
    std::byte fill[8] = {};
    if (dtype == LOOM_DTYPE_F32) { const float v = static_cast<float>(value_); std::memcpy(fill, &v, 4); }
    // Integers take the value as cast does: truncated, saturated, NaN as 0.
    if (dtype == LOOM_DTYPE_I64) { const auto v = convert<int64_t>(value_); std::memcpy(fill, &v, 8); }
    if (dtype == LOOM_DTYPE_I32) { const auto v = convert<int32_t>(value_); std::memcpy(fill, &v, 4); }
    auto source = [&](size_t axis, int64_t i) -> int64_t {
      const int64_t n = in_[axis];
      if (!before_.empty()) {
        const int64_t s = i - before_[axis];
        return s >= 0 && s < n ? s : -1;
      }
      const int64_t s = (i - shift_[axis]) % n;
      return s < 0 ? s + n : s;
    };
    walk(out_, in_, source, [&](int64_t to, int64_t from, int64_t n) {
      if (from >= 0) {
        std::memcpy(y + static_cast<size_t>(to) * size, x + static_cast<size_t>(from) * size, static_cast<size_t>(n) * size);
      } else {
        for (int64_t k = 0; k < n; ++k) std::memcpy(y + static_cast<size_t>(to + k) * size, fill, size);
      }
    });
  }

 private:
  NodeInfo info_;
  Dims in_, out_;
  std::vector<int64_t> shift_;  // roll: per axis, reduced mod the dim
  Dims before_;                 // pad: per axis
  double value_;
};

class LayoutKernel final : public NodeKernel {
 public:
  LayoutKernel(NodeInfo info, std::vector<int64_t> a, std::vector<int64_t> b, double value, bool pad)
      : NodeKernel(std::move(info)), a_(std::move(a)), b_(std::move(b)), value_(value), pad_(pad) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    const size_t rank = x.size();
    Dims out(x.begin(), x.end());
    std::vector<int64_t> shift(rank, 0);
    if (pad_) {
      if (a_.size() != rank || b_.size() != rank) info_.fail("before and after need one entry per axis of " + dims_str(x));
      for (size_t i = 0; i < rank; ++i) out[i] += a_[i] + b_[i];
    } else {
      if (a_.size() != b_.size()) info_.fail("shifts and axes differ in length");
      for (size_t k = 0; k < b_.size(); ++k) {
        auto axis = normalize_axis(b_[k], static_cast<int64_t>(rank));
        if (!axis) info_.fail("axis " + std::to_string(b_[k]) + " is out of range for " + dims_str(x));
        if (x[*axis]) shift[*axis] = ((shift[*axis] + a_[k] % x[*axis]) % x[*axis] + x[*axis]) % x[*axis];
      }
    }
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    if (rank == 0) return std::make_unique<ScalarStep>(info_);  // no axis to pad or roll: a copy
    return std::make_unique<LayoutStep>(info_, Dims(x.begin(), x.end()), out, shift, pad_ ? a_ : Dims{}, value_);
  }

 private:
  std::vector<int64_t> a_, b_;  // pad: before, after; roll: shifts, axes
  double value_;
  bool pad_;
};

std::optional<std::string> check_layout(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  return check_dtype(node, 0, {LOOM_DTYPE_F32, LOOM_DTYPE_I64, LOOM_DTYPE_I32});
}

std::unique_ptr<NodeKernel> compile_roll(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<LayoutKernel>(std::move(info), attr_ints(node, "shifts"), attr_ints(node, "axes"), 0.0, false);
}

std::unique_ptr<NodeKernel> compile_pad(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<LayoutKernel>(std::move(info), attr_ints(node, "before"), attr_ints(node, "after"),
                                        attr_float(node, "value", 0.0), true);
}

}  // namespace

std::vector<OpEntry> layout_ops() {
  return {{"roll", check_layout, compile_roll}, {"pad", check_layout, compile_pad}};
}

}  // namespace loom::onednn
