// layer_norm, add_layer_norm and softmax. Layer norm views the tensor as [outer, inner]
// (normalising dims axis..rank-1 at once) and runs rows.hpp's row loop, the rows split over the
// session's threads; add_layer_norm's residual add goes with each thread's rows (a broadcasting
// loop first where a and b differ in shape). Softmax along the last axis runs row by row on
// activation.hpp's softmax_row, which adds a mask that runs along the rows as it scales them;
// another mask is added into the output first (its broadcasting loop split over the session's
// threads). Along another axis it runs oneDNN's softmax_v2_forward. (BERT-base's softmaxes at 1
// thread on an AMX Xeon, traces alternated: 2.1-2.2 ms with the mask in a pass of its own and rows
// over 8 lanes, 1.4 with the mask in the rows over 16; oneDNN's primitive with its NaN scan was
// slower than either.)
#include "activation.hpp"
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"

#include <algorithm>
#include <limits>

namespace loom::onednn {
namespace {

using dt = dnnl::memory::data_type;

// Which partition values a layer norm step reads and writes. add_layer_norm first adds a and b
// into its `sum` output, or into its normalised output when the node has no sum output (the row
// loop normalises in place), and normalises that.
struct LayerNormPorts {
  int32_t x = -1;                   // layer_norm's input
  int32_t a = -1, b = -1, sum = -1;  // add_layer_norm's; sum is -1 when the node leaves it out
  std::optional<Broadcast> add;
  int32_t scale = -1, shift = -1, out = -1;
  int32_t sum_target() const { return sum >= 0 ? sum : out; }  // where add_layer_norm writes a + b
};

// The value a layer norm step normalises: x, or a + b written into sum (or into out).
const float* layer_norm_source(const LayerNormPorts& ports, const RunContext& ctx) {
  if (!ports.add) return ctx.as<const float>(ports.x);
  float* sum = ctx.as<float>(ports.sum_target());
  ports.add->apply(ctx.as<const float>(ports.a), ctx.as<const float>(ports.b), sum,
                   [](float x, float y) { return x + y; });
  return sum;
}

// The rows split over the session's threads; add_layer_norm's add, where a and b have the
// sum's shape, goes with each thread's rows, so that each row is read from cache right after it
// is written. A few rows (a decode step) stay on the calling thread.
class LayerNormStep final : public Step {
 public:
  LayerNormStep(LayerNormPorts ports, int64_t rows, int64_t inner, float eps, int threads)
      : ports_(std::move(ports)), rows_(rows), inner_(inner), eps_(eps), threads_(threads) {}
  void run(const RunContext& ctx) const override {
    const bool rowwise_add = ports_.add && ports_.add->mode == Broadcast::kSame;
    float* sum = rowwise_add ? ctx.as<float>(ports_.sum_target()) : nullptr;
    const float* src = rowwise_add ? sum : layer_norm_source(ports_, ctx);
    const float* a = rowwise_add ? ctx.as<const float>(ports_.a) : nullptr;
    const float* b = rowwise_add ? ctx.as<const float>(ports_.b) : nullptr;
    float* out = ctx.as<float>(ports_.out);
    const float* scale = ports_.scale >= 0 ? ctx.as<const float>(ports_.scale) : nullptr;
    const float* shift = ports_.shift >= 0 ? ctx.as<const float>(ports_.shift) : nullptr;
    split_rows(rows_, rows_ * inner_, threads_, [&](int64_t r0, int64_t r1) {
      const int64_t begin = r0 * inner_;
      if (rowwise_add) add_layer_norm_rows(a + begin, b + begin, sum + begin, out + begin, r1 - r0, inner_, eps_, scale, shift);
      else layer_norm_rows(src + begin, out + begin, r1 - r0, inner_, eps_, scale, shift);
    });
  }

 private:
  LayerNormPorts ports_;
  int64_t rows_, inner_;
  float eps_;
  int threads_;
};

// layer_norm (x, weight, bias) and add_layer_norm (a, b, weight, bias; out, sum).
class LayerNormKernel final : public NodeKernel {
 public:
  LayerNormKernel(NodeInfo info, int64_t axis, float eps, bool fused_add)
      : NodeKernel(std::move(info)), axis_(axis), eps_(eps), fused_add_(fused_add) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    LayerNormPorts ports;
    Dims x;
    const size_t first_param = fused_add_ ? 2 : 1;
    if (fused_add_) {
      auto a = in_dims(shapes, 0), b = in_dims(shapes, 1);
      auto sum = broadcast_dims(a, b);
      if (!sum) info_.fail("a " + dims_str(a) + " and b " + dims_str(b) + " do not broadcast");
      x = *sum;
      ports.add = Broadcast::make(x, a, b);
      if (!ports.add) info_.fail("a " + dims_str(a) + " and b " + dims_str(b) + " need more than " + std::to_string(kMaxLoopRank) + " dims");
      ports.a = info_.inputs[0];
      ports.b = info_.inputs[1];
      if (info_.outputs.size() > 1) {
        expect_output(shapes, 1, x);
        ports.sum = info_.outputs[1];
      }
    } else {
      auto in = in_dims(shapes, 0);
      x.assign(in.begin(), in.end());
      ports.x = info_.inputs[0];
    }
    expect_output(shapes, 0, x);
    ports.out = info_.outputs[0];
    auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(x.size()));
    auto norm = std::span<const int64_t>(x).subspan(static_cast<size_t>(*axis));
    for (size_t i = first_param; i <= first_param + 1; ++i) {
      if (!has_input(i)) continue;
      auto p = in_dims(shapes, i);
      if (!std::equal(p.begin(), p.end(), norm.begin(), norm.end()))
        info_.fail(std::string(i == first_param ? "weight " : "bias ") + dims_str(p) + " must have shape " + dims_str(norm));
      (i == first_param ? ports.scale : ports.shift) = info_.inputs[i];
    }
    const int64_t inner = count(norm), outer = count(std::span<const int64_t>(x).first(static_cast<size_t>(*axis)));
    if (inner == 0 || outer == 0) return std::make_unique<NoStep>();
    return std::make_unique<LayerNormStep>(std::move(ports), outer, inner, eps_, resolved_threads(info_.threads));
  }

 private:
  int64_t axis_;
  float eps_;
  bool fused_add_;
};

// f32 inputs up to `max_rank`, and an axis inside the normalised value's `rank`.
std::optional<std::string> check_norm_node(const sdk::NodeView& node, int64_t rank, int64_t max_rank) {
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
    if (auto r = check_rank(node, i, max_rank)) return r;
  }
  if (!normalize_axis(attr_int(node, "axis", -1), rank))
    return "axis " + std::to_string(attr_int(node, "axis", -1)) + " is out of range for rank " + std::to_string(rank);
  return std::nullopt;
}

std::optional<std::string> check_layer_norm(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 3, 1)) return r;
  return check_norm_node(node, node.input(0).rank(), kMaxDnnlRank);
}

std::optional<std::string> check_add_layer_norm(const sdk::NodeView& node) {
  if (node.num_outputs() != 1 && node.num_outputs() != 2)
    return "has 1 or 2 outputs (out, sum), the node has " + std::to_string(node.num_outputs());
  if (auto r = check_arity(node, 2, 4, node.num_outputs())) return r;
  // The add runs as a broadcasting loop, the norm as a oneDNN primitive on the sum's shape.
  return check_norm_node(node, std::max(node.input(0).rank(), node.input(1).rank()),
                         std::min<int64_t>(kMaxLoopRank, kMaxDnnlRank));
}

std::unique_ptr<NodeKernel> compile_layer_norm(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<LayerNormKernel>(std::move(info), attr_int(node, "axis", -1),
                                           static_cast<float>(attr_float(node, "epsilon", 1e-5)), false);
}

std::unique_ptr<NodeKernel> compile_add_layer_norm(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<LayerNormKernel>(std::move(info), attr_int(node, "axis", -1),
                                           static_cast<float>(attr_float(node, "epsilon", 1e-5)), true);
}

// ---------------------------------------------------------------- softmax

class SoftmaxStep final : public Step {
 public:
  SoftmaxStep(const NodeInfo& info, std::span<const int64_t> x, int axis, std::optional<Broadcast> mask,
              std::span<const int64_t> mask_dims, int threads)
      : info_(info), mask_(mask), threads_(threads) {
    for (size_t i = 0; i < x.size(); ++i) (static_cast<int>(i) < axis ? outer_ : static_cast<int>(i) > axis ? inner_ : len_) *= x[i];
    if (inner_ == 1) {  // rows of the last axis: softmax_row, which adds a mask row as it scales
      mask_in_rows_ = mask_ && !mask_dims.empty() && mask_dims.back() == len_ && len_ > 1;
      if (mask_in_rows_) {
        // x's outer dims and the mask's strides along them, 0 where it broadcasts.
        outer_rank_ = static_cast<int>(x.size()) - 1;
        const size_t pad = x.size() - mask_dims.size();
        int64_t stride = len_;
        for (int d = outer_rank_ - 1; d >= 0; --d) {
          outer_dims_[d] = x[d];
          const int64_t m = static_cast<size_t>(d) < pad ? 1 : mask_dims[d - pad];
          mask_strides_[d] = m == 1 ? 0 : stride;
          stride *= m;
        }
      }
      return;
    }
    auto md = plain_md(x, dt::f32);
    dnnl::softmax_v2_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate, md, md, axis},
        user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::softmax_v2_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {md, md, pd.scratchpad_desc()};
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    float* dst = ctx.as<float>(info_.outputs[0]);
    const float* src = ctx.as<const float>(info_.inputs[0]);
    if (mask_in_rows_) return rows(src, dst, ctx.as<const float>(info_.inputs[1]));
    if (mask_) {
      const float* mask = ctx.as<const float>(info_.inputs[1]);
      split_rows(mask_->runs(), mask_->n, threads_, [&](int64_t r0, int64_t r1) {
        mask_->apply(src, mask, dst, [](float a, float b) { return a + b; }, r0, r1);
      });
      src = dst;
    }
    if (inner_ == 1) return rows(src, dst, nullptr);
    execute(prim_, ctx,
            {{DNNL_ARG_SRC, const_cast<float*>(src)}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
            info_);
    split_rows(outer_, outer_ * len_ * inner_, threads_, [&](int64_t r0, int64_t r1) { spread_nan(dst, r0, r1); });
  }

 private:
  // Along the last axis, row by row on softmax_row (activation.hpp), each row while it is in L1,
  // where oneDNN's primitive and the NaN scan below each pass over the whole tensor: ViT-B/16's
  // softmaxes (12 heads x 197 rows of 197 a layer) 4.8 against 5.8-6.0 ms a run at 1 thread, 2.5
  // against 3.0 at 2 (traces, the two alternated, Zen 4). NaN or +inf in a row makes it NaN
  // throughout, and a row of -inf only is NaN, as in PyTorch. A mask that runs along the rows is
  // added to each as it is scaled, not in a pass of its own.
  void rows(const float* src, float* dst, const float* mask) const {
    split_rows(outer_, outer_ * len_, threads_, [&](int64_t r0, int64_t r1) {
      MaskRows m(*this, r0);
      for (int64_t r = r0; r < r1; ++r, m.next()) {
        float* row = dst + r * len_;
        if (src != dst) std::copy(src + r * len_, src + (r + 1) * len_, row);
        const float* mrow = mask ? mask + m.offset : nullptr;
        if (!softmax_row(row, len_, len_, 1.0f, mrow, 1)) std::fill(row, row + len_, std::numeric_limits<float>::quiet_NaN());
      }
    });
  }

  // oneDNN 2.6's max and sum skip a NaN: a line holding NaN or +inf comes out finite but for NaN at
  // that element, where PyTorch's whole line is NaN. Lines [o0, o1) of the outer dims that hold a
  // NaN become NaN throughout.
  void spread_nan(float* y, int64_t o0, int64_t o1) const {
    for (int64_t o = o0; o < o1; ++o) {
      float* block = y + o * len_ * inner_;
      for (int64_t i = 0; i < inner_; ++i) {
        int nan = 0;
#pragma omp simd reduction(| : nan)
        for (int64_t j = 0; j < len_; ++j) nan |= block[j * inner_ + i] != block[j * inner_ + i];
        if (nan)
          for (int64_t j = 0; j < len_; ++j) block[j * inner_ + i] = std::numeric_limits<float>::quiet_NaN();
      }
    }
  }

  // Where rows of x start in the mask: an odometer over x's outer dims from row `first` on.
  struct MaskRows {
    const SoftmaxStep& s;
    int64_t offset = 0;
    int64_t idx[kMaxLoopRank] = {};
    MaskRows(const SoftmaxStep& step, int64_t first) : s(step) {
      for (int d = s.outer_rank_ - 1; d >= 0; --d) {
        idx[d] = first % s.outer_dims_[d];
        offset += idx[d] * s.mask_strides_[d];
        first /= s.outer_dims_[d];
      }
    }
    void next() {
      for (int d = s.outer_rank_ - 1; d >= 0; --d) {
        offset += s.mask_strides_[d];
        if (++idx[d] < s.outer_dims_[d]) return;
        offset -= s.mask_strides_[d] * s.outer_dims_[d];
        idx[d] = 0;
      }
    }
  };

  NodeInfo info_;
  std::optional<Broadcast> mask_;
  bool mask_in_rows_ = false;
  int outer_rank_ = 0;
  int64_t outer_dims_[kMaxLoopRank] = {};
  int64_t mask_strides_[kMaxLoopRank] = {};
  dnnl::softmax_v2_forward prim_;
  size_t scratch_ = 0;
  int threads_;
  int64_t outer_ = 1, len_ = 1, inner_ = 1;  // x as [outer, len, inner], len along the axis
};

class SoftmaxKernel final : public NodeKernel {
 public:
  SoftmaxKernel(NodeInfo info, int64_t axis) : NodeKernel(std::move(info)), axis_(axis) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(x.size()));
    std::optional<Broadcast> mask;
    std::span<const int64_t> m;
    if (has_input(1)) {
      m = in_dims(shapes, 1);
      auto b = broadcast_dims(x, m);
      if (!b || !std::equal(b->begin(), b->end(), x.begin(), x.end()))
        info_.fail("mask " + dims_str(m) + " does not broadcast to x " + dims_str(x));
      mask = Broadcast::make(x, x, m);
      if (!mask) info_.fail("mask " + dims_str(m) + " needs more than " + std::to_string(kMaxLoopRank) + " dims");
    }
    if (count(x) == 0) return std::make_unique<NoStep>();
    return std::make_unique<SoftmaxStep>(info_, x, static_cast<int>(*axis), mask, m, resolved_threads(info_.threads));
  }

 private:
  int64_t axis_;
};

std::optional<std::string> check_softmax(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 2, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
    if (auto r = check_rank(node, i, kMaxLoopRank)) return r;
  }
  if (node.input(0).rank() < 1) return "input '" + std::string(node.input(0).name()) + "' is a scalar";
  if (!normalize_axis(attr_int(node, "axis", -1), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", -1)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_softmax(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<SoftmaxKernel>(std::move(info), attr_int(node, "axis", -1));
}

}  // namespace

std::vector<OpEntry> norm_ops() {
  return {{"layer_norm", check_layer_norm, compile_layer_norm},
          {"add_layer_norm", check_add_layer_norm, compile_add_layer_norm},
          {"softmax", check_softmax, compile_softmax}};
}

}  // namespace loom::onednn
