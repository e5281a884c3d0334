// reduce_mean, argmax and topk as plain loops: they run on pooled vectors and logits, small
// beside the matmuls, and each needs an exact rule (torch's tie and NaN order) more than speed.
#include "kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace loom::onednn {
namespace {

// torch's order for argmax and topk: NaN above every number, then by value.
template <class T>
bool above(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

// ---------------------------------------------------------------- reduce_mean

class ReduceMeanStep final : public Step {
 public:
  ReduceMeanStep(const NodeInfo& info, Dims dims, std::vector<bool> reduced, int64_t out_count)
      : info_(info), dims_(std::move(dims)), reduced_(std::move(reduced)), out_count_(out_count) {
    // The output offset of each input dim's step: 0 along a reduced dim.
    out_stride_.assign(dims_.size(), 0);
    int64_t s = 1;
    for (size_t i = dims_.size(); i-- > 0;) {
      if (reduced_[i]) continue;
      out_stride_[i] = s;
      s *= dims_[i];
    }
    per_out_ = count(dims_) / std::max<int64_t>(out_count_, 1);
  }
  size_t scratch_bytes() const override { return static_cast<size_t>(out_count_) * sizeof(double); }
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(info_.inputs[0]);
    float* y = ctx.as<float>(info_.outputs[0]);
    auto* sum = reinterpret_cast<double*>(ctx.scratch);
    std::fill(sum, sum + out_count_, 0.0);
    const size_t rank = dims_.size();
    Dims index(rank, 0);
    int64_t at = 0;
    const int64_t n = count(dims_);
    for (int64_t e = 0; e < n; ++e) {
      sum[at] += x[e];
      for (size_t k = rank; k-- > 0;) {  // the next index, row-major
        at += out_stride_[k];
        if (++index[k] < dims_[k]) break;
        at -= out_stride_[k] * dims_[k];
        index[k] = 0;
      }
    }
    for (int64_t o = 0; o < out_count_; ++o) y[o] = static_cast<float>(sum[o] / static_cast<double>(per_out_));
  }

 private:
  NodeInfo info_;
  Dims dims_;
  std::vector<bool> reduced_;
  Dims out_stride_;
  int64_t out_count_, per_out_ = 1;
};

class ReduceMeanKernel final : public NodeKernel {
 public:
  ReduceMeanKernel(NodeInfo info, std::vector<int64_t> axes, bool keep) : NodeKernel(std::move(info)), axes_(std::move(axes)), keep_(keep) {}
  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    std::vector<bool> reduced(x.size(), false);
    for (int64_t a : axes_) {
      auto axis = normalize_axis(a, static_cast<int64_t>(x.size()));
      if (!axis || reduced[static_cast<size_t>(*axis)]) info_.fail("axes name axis " + std::to_string(a) + " badly for " + dims_str(x));
      reduced[static_cast<size_t>(*axis)] = true;
    }
    Dims out;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!reduced[i]) out.push_back(x[i]);
      else if (keep_) out.push_back(1);
    }
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    // A mean over no elements is 0/0: NaN, as torch.mean gives.
    return std::make_unique<ReduceMeanStep>(info_, Dims(x.begin(), x.end()), std::move(reduced), count(out));
  }

 private:
  std::vector<int64_t> axes_;
  bool keep_;
};

// ---------------------------------------------------------------- argmax and topk

template <class T>
class ArgmaxStep final : public Step {
 public:
  ArgmaxStep(const NodeInfo& info, AxisView a) : info_(info), a_(a) {}
  void run(const RunContext& ctx) const override {
    const T* x = ctx.as<const T>(info_.inputs[0]);
    auto* y = ctx.as<int64_t>(info_.outputs[0]);
    for (int64_t o = 0; o < a_.outer; ++o)
      for (int64_t j = 0; j < a_.inner; ++j) {
        const T* v = x + o * a_.n * a_.inner + j;
        int64_t best = 0;
        for (int64_t i = 1; i < a_.n; ++i)
          if (above(v[i * a_.inner], v[best * a_.inner])) best = i;
        y[o * a_.inner + j] = best;
      }
  }

 private:
  NodeInfo info_;
  AxisView a_;
};

template <class T>
class TopkStep final : public Step {
 public:
  TopkStep(const NodeInfo& info, AxisView a, int64_t k) : info_(info), a_(a), k_(k) {}
  size_t scratch_bytes() const override { return static_cast<size_t>(a_.n) * sizeof(int64_t); }
  void run(const RunContext& ctx) const override {
    const T* x = ctx.as<const T>(info_.inputs[0]);
    T* values = ctx.as<T>(info_.outputs[0]);
    auto* indices = ctx.as<int64_t>(info_.outputs[1]);
    auto* order = reinterpret_cast<int64_t*>(ctx.scratch);
    for (int64_t o = 0; o < a_.outer; ++o)
      for (int64_t j = 0; j < a_.inner; ++j) {
        const T* v = x + o * a_.n * a_.inner + j;
        for (int64_t i = 0; i < a_.n; ++i) order[i] = i;
        // Largest first; the lower index first among equals.
        std::partial_sort(order, order + k_, order + a_.n, [&](int64_t p, int64_t q) {
          const T a = v[p * a_.inner], b = v[q * a_.inner];
          return above(a, b) || (!above(b, a) && p < q);
        });
        for (int64_t i = 0; i < k_; ++i) {
          const int64_t at = o * k_ * a_.inner + i * a_.inner + j;
          values[at] = v[order[i] * a_.inner];
          indices[at] = order[i];
        }
      }
  }

 private:
  NodeInfo info_;
  AxisView a_;
  int64_t k_;
};

template <template <class> class S, class... Args>
std::unique_ptr<Step> typed(int32_t dtype, const NodeInfo& info, Args... args) {
  switch (dtype) {
    case LOOM_DTYPE_F32: return std::make_unique<S<float>>(info, args...);
    case LOOM_DTYPE_I64: return std::make_unique<S<int64_t>>(info, args...);
    case LOOM_DTYPE_I32: return std::make_unique<S<int32_t>>(info, args...);
    default: info.fail("dtype " + dtype_name(dtype) + " is not supported");
  }
}

class ArgKernel final : public NodeKernel {
 public:
  ArgKernel(NodeInfo info, int64_t axis, bool keep, int64_t k) : NodeKernel(std::move(info)), axis_(axis), keep_(keep), k_(k) {}
  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    const auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for " + dims_str(x));
    const AxisView a = view_around(x, *axis);
    Dims out(x.begin(), x.end());
    if (k_ > 0) {  // topk
      if (k_ > a.n) info_.fail("k = " + std::to_string(k_) + " is larger than axis " + std::to_string(*axis) + " of " + dims_str(x));
      out[static_cast<size_t>(*axis)] = k_;
      expect_output(shapes, 0, out);
      expect_output(shapes, 1, out);
      if (count(out) == 0) return std::make_unique<NoStep>();
      return typed<TopkStep>(info_.input_dtypes[0], info_, a, k_);
    }
    if (a.n == 0) info_.fail("argmax along axis " + std::to_string(*axis) + " of size 0 in " + dims_str(x));
    if (keep_) out[static_cast<size_t>(*axis)] = 1;
    else out.erase(out.begin() + *axis);
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    return typed<ArgmaxStep>(info_.input_dtypes[0], info_, a);
  }

 private:
  int64_t axis_;
  bool keep_;
  int64_t k_;  // topk's k; 0 for argmax
};

std::optional<std::string> check_reduce_mean(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  return check_dtype(node, 0, {LOOM_DTYPE_F32});
}

std::optional<std::string> check_arg(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, node.op() == "topk" ? 2 : 1)) return r;
  return check_dtype(node, 0, {LOOM_DTYPE_F32, LOOM_DTYPE_I64, LOOM_DTYPE_I32});
}

std::unique_ptr<NodeKernel> compile_reduce_mean(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<ReduceMeanKernel>(std::move(info), attr_ints(node, "axes"), attr_bool(node, "keepdims", false));
}

std::unique_ptr<NodeKernel> compile_arg(const sdk::NodeView& node, NodeInfo info) {
  const bool topk = node.op() == "topk";
  const int64_t k = topk ? attr_int(node, "k", 1) : 0;
  if (topk && k < 1) info.fail("k = " + std::to_string(k) + " must be at least 1");
  return std::make_unique<ArgKernel>(std::move(info), attr_int(node, "axis", -1), attr_bool(node, "keepdims", false), k);
}

}  // namespace

std::vector<OpEntry> reduce_ops() {
  return {{"reduce_mean", check_reduce_mean, compile_reduce_mean},
          {"argmax", check_arg, compile_arg},
          {"topk", check_arg, compile_arg}};
}

}  // namespace loom::onednn
