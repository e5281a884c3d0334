// conv2d on oneDNN's convolution primitive, over the plain layouts the host holds (NCHW data,
// OIHW weights). A patch embedding (a constant weight, stride equal to the kernel, no padding:
// ViT's, CLIP's) runs instead as one product: the image cut into patch rows, times the weight
// copied once per engine as a linear layer's, on the GEMM that runs the linear layers (the packed
// GEMM's panels, or with gemm=blocked the f32 panels of blocked_gemm.hpp for up to
// kPanelGemmMaxRows patches and oneDNN's matmul over those panels past them, where oneDNN's own
// convolution took im2col and its jit sgemm; with precision=bf16 on AMX, the bf16 tiles of
// blocked_amx.hpp for any number of patches).
#include "blocked_amx.hpp"
#include "blocked_gemm.hpp"
#include "blocked_rows.hpp"
#include "gemm.hpp"
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"
#include "weights.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

namespace loom::onednn {
namespace {

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// A patch embedding's weight, read as a linear layer's [O, C * P * Q]: the packed GEMM's panels
// (kp 0), or blocked_gemm.hpp's f32 panels of padded K `kp`, or (bf16) blocked_amx.hpp's.
struct PatchWeight {
  ConstantCopy copy;
  dnnl::memory::desc md;  // blocked_gemm.hpp's f32 panels: their oneDNN layout
  int64_t kp = 0;
  bool bf16 = false;
  // The most patch rows its GEMM's own kernel takes; past them, oneDNN's matmul over f32 panels
  // (panels_matmul), else its convolution.
  int64_t max_rows() const { return kp == 0 || bf16 ? std::numeric_limits<int64_t>::max() : kPanelGemmMaxRows; }
};

// out[b, o, gi, gj] = bias[o] + sum over (c, kh, kw) of x[b, c, gi P + kh, gj Q + kw] w[o, c, kh, kw]:
// rows [b, gi, gj] of x's patches, each laid out as w's rows are (c, kh, kw), times the packed
// weight, then transposed to channels first. With `matmul`, f32 panels too many patches for
// their kernel go through oneDNN's matmul over the same panels, as the linear layers' rows do.
class PatchConvStep final : public Step {
 public:
  PatchConvStep(const NodeInfo& info, const PatchWeight& weight, const Dims& x, const Dims& w, const Dims& out, bool bias,
                std::optional<dnnl::matmul::primitive_desc> matmul = std::nullopt)
      : info_(info), packed_(weight.copy.data), kp_(weight.kp), bf16_(weight.bf16), batch_(x[0]), channels_(x[1]), height_(x[2]), width_(x[3]), out_(w[0]),
        p_(w[2]), q_(w[3]), gh_(out[2]), gw_(out[3]), bias_(bias), threads_(std::max(1, info.threads)) {
    m_ = batch_ * gh_ * gw_;
    k_ = channels_ * p_ * q_;
    gemm_bytes_ = bf16_ ? align64(amx_gemm_scratch_bytes(m_, kp_)) : kp_ ? 0 : align64(gemm::scratch_bytes(k_));
    if (matmul) {
      matmul_ = dnnl::matmul(*matmul);
      memory_descs = {matmul->src_desc(), matmul->weights_desc(), matmul->dst_desc(), matmul->scratchpad_desc()};
      if (bias) memory_descs.push_back(matmul->bias_desc());
      gemm_bytes_ = align64(matmul->scratchpad_desc().get_size());
    }
  }
  size_t scratch_bytes() const override {
    return gemm_bytes_ + static_cast<size_t>(round16(m_ * k_) + round16(m_ * out_)) * sizeof(float);
  }
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(info_.inputs[0]);
    const float* bias = bias_ ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    float* out = ctx.as<float>(info_.outputs[0]);
    float* patches = reinterpret_cast<float*>(ctx.scratch + gemm_bytes_);
    float* rows = patches + round16(m_ * k_);
    // Patch rows [b, gi] of the grid, split over the threads.
    split_rows(batch_ * gh_, m_ * k_, threads_, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / gh_, gi = r % gh_;
        float* dst = patches + r * gw_ * k_;
        for (int64_t gj = 0; gj < gw_; ++gj)
          for (int64_t c = 0; c < channels_; ++c)
            for (int64_t kh = 0; kh < p_; ++kh, dst += q_)
              std::memcpy(dst, x + ((b * channels_ + c) * height_ + gi * p_ + kh) * width_ + gj * q_,
                          static_cast<size_t>(q_) * sizeof(float));
      }
    });
    if (matmul_) {
      void* w = const_cast<void*>(packed_);
      if (bias)
        execute(*matmul_, ctx,
                {{DNNL_ARG_SRC, patches}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, rows}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
                 {DNNL_ARG_BIAS, const_cast<float*>(bias)}},
                info_);
      else
        execute(*matmul_, ctx, {{DNNL_ARG_SRC, patches}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, rows}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
                info_);
    } else if (bf16_)
      linear_panels_amx(patches, static_cast<const uint16_t*>(packed_), kp_, bias, rows, m_, out_, k_, Activation::none,
                        threads_, ctx.scratch);
    else if (kp_)
      linear_panels_f32(patches, static_cast<const float*>(packed_), kp_, bias, rows, m_, out_, k_, Activation::none, threads_);
    else
      gemm::linear(patches, static_cast<const float*>(packed_), bias, rows, m_, out_, k_, threads_, ctx.scratch);
    // rows [b, g, o] -> out [b, o, g], in 16 x 16 blocks; blocks of 16 channels split over the threads.
    const int64_t grid = gh_ * gw_, bands = (out_ + 15) / 16;
    split_rows(batch_ * bands, m_ * out_, threads_, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / bands, o0 = r % bands * 16;
        for (int64_t g0 = 0; g0 < grid; g0 += 16)
          for (int64_t o = o0; o < std::min(out_, o0 + 16); ++o)
            for (int64_t g = g0; g < std::min(grid, g0 + 16); ++g)
              out[(b * out_ + o) * grid + g] = rows[(b * grid + g) * out_ + o];
      }
    });
  }

 private:
  NodeInfo info_;
  const void* packed_;
  int64_t kp_;
  bool bf16_;
  int64_t batch_, channels_, height_, width_, out_, p_, q_, gh_, gw_;
  int64_t m_ = 0, k_ = 0;
  size_t gemm_bytes_ = 0;
  bool bias_;
  int threads_;
  std::optional<dnnl::matmul> matmul_;
};

using dt = dnnl::memory::data_type;

class ConvStep final : public Step {
 public:
  ConvStep(const NodeInfo& info, const Dims& x, const Dims& w, const Dims& out, const Dims& stride, const Dims& padding, bool bias)
      : info_(info), bias_(bias) {
    const auto src = plain_md(x, dt::f32), weights = plain_md(w, dt::f32), dst = plain_md(out, dt::f32);
    const int64_t b[] = {w[0]};
    const auto bias_md = plain_md(b, dt::f32);
    const dnnl::memory::dims strides(stride.begin(), stride.end()), pads(padding.begin(), padding.end());
    auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                                       weights, bias_md, dst, strides, pads, pads)
                     : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                                       weights, dst, strides, pads, pads);
    dnnl::convolution_forward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::convolution_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {src, weights, dst, pd.scratchpad_desc()};
    if (bias) memory_descs.push_back(bias_md);
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    void* src = ctx.data(info_.inputs[0]);
    void* w = ctx.data(info_.inputs[1]);
    void* dst = ctx.data(info_.outputs[0]);
    if (bias_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_BIAS, ctx.data(info_.inputs[2])}},
              info_);
    else
      execute(prim_, ctx, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}}, info_);
  }

 private:
  NodeInfo info_;
  dnnl::convolution_forward prim_;
  size_t scratch_ = 0;
  bool bias_;
};

// A convolution over no input channels: every sum is empty, so each output plane is its bias (or
// 0), as the reference computes it (oneDNN refuses 0 channels).
class NoChannelsStep final : public Step {
 public:
  NoChannelsStep(const NodeInfo& info, Dims out, bool bias) : info_(info), out_(std::move(out)), bias_(bias) {}
  void run(const RunContext& ctx) const override {
    float* y = ctx.as<float>(info_.outputs[0]);
    const float* b = bias_ ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    const int64_t plane = out_[2] * out_[3];
    for (int64_t i = 0; i < out_[0] * out_[1]; ++i) std::fill(y + i * plane, y + (i + 1) * plane, b ? b[i % out_[1]] : 0.0f);
  }

 private:
  NodeInfo info_;
  Dims out_;
  bool bias_;
};

// oneDNN's matmul of m patch rows over f32 panels as they are laid out; nullopt where it would
// take another layout, or reads them only through its reference implementation.
std::optional<dnnl::matmul::primitive_desc> panels_matmul(int64_t m, int64_t n, int64_t k, const dnnl::memory::desc& panels, bool bias) {
  try {
    auto pd = blocked_pd(m, n, k, false, panels, bias, user_scratchpad_attr());
    if (pd.weights_desc() == panels && !std::string_view(pd.impl_info_str()).starts_with("ref")) return pd;
  } catch (const dnnl::error&) {
  }
  return std::nullopt;
}

class ConvKernel final : public NodeKernel {
 public:
  ConvKernel(NodeInfo info, Dims stride, Dims padding, std::optional<PatchWeight> packed)
      : NodeKernel(std::move(info)), stride_(std::move(stride)), padding_(std::move(padding)), packed_(std::move(packed)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0), w = in_dims(shapes, 1);
    if (x[1] != w[1]) info_.fail("x " + dims_str(x) + " has " + std::to_string(x[1]) + " channels, weight " + dims_str(w) + " takes " + std::to_string(w[1]));
    if (has_input(2)) {
      auto b = in_dims(shapes, 2);
      if (b.size() != 1 || b[0] != w[0]) info_.fail("bias " + dims_str(b) + " does not match weight " + dims_str(w));
    }
    Dims out = {x[0], w[0], 0, 0};
    for (int i = 0; i < 2; ++i) {
      const int64_t span = x[2 + i] + 2 * padding_[i];
      if (w[2 + i] > span || w[2 + i] < 1) info_.fail("kernel " + dims_str(w) + " does not fit the padded input " + dims_str(x));
      out[2 + i] = (span - w[2 + i]) / stride_[i] + 1;
    }
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    if (x[1] == 0) return std::make_unique<NoChannelsStep>(info_, out, has_input(2));
    // blocked_gemm.hpp's panels take tens of patch rows (CLIP ViT-B/32's 49: 2.5-3.6 -> 1.7 ms at
    // 1 thread); more go through oneDNN's matmul over the same panels (ViT-B/16's 196: 2.5 -> 2.0
    // ms at 1 thread against oneDNN's convolution, traces alternated on an AMX Xeon), or, where
    // the matmul takes another layout, the convolution.
    const int64_t patches = x[0] * out[2] * out[3];
    if (packed_ && patches <= packed_->max_rows())
      return std::make_unique<PatchConvStep>(info_, *packed_, Dims(x.begin(), x.end()),
                                             Dims(w.begin(), w.end()), out, has_input(2));
    if (packed_ && packed_->kp && !packed_->bf16)
      if (auto pd = panels_matmul(patches, w[0], w[1] * w[2] * w[3], packed_->md, has_input(2)))
        return std::make_unique<PatchConvStep>(info_, *packed_, Dims(x.begin(), x.end()), Dims(w.begin(), w.end()), out,
                                               has_input(2), std::move(pd));
    return std::make_unique<ConvStep>(info_, Dims(x.begin(), x.end()), Dims(w.begin(), w.end()), out, stride_, padding_, has_input(2));
  }

 private:
  Dims stride_, padding_;
  std::optional<PatchWeight> packed_;  // a patch embedding's weight as a linear layer's panels
};

std::optional<std::string> check_conv(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 3, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i)
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
  if (node.input(0).rank() != 4 || node.input(1).rank() != 4) return std::string("conv2d needs 4-D x and weight");
  const auto stride = attr_ints(node, "stride"), padding = attr_ints(node, "padding");
  if (stride.size() != 2 || padding.size() != 2) return std::string("conv2d needs two strides and two paddings");
  return std::nullopt;
}

// An [n, k] f32 weight in blocked_gemm.hpp's panels (oneDNN's BA16a64b, reordered by oneDNN), or
// (bf16) in blocked_amx.hpp's tiles (rounded to nearest even by the reorder); nullopt where
// oneDNN lays that tag out otherwise, or the bf16 tiles' K does not suit the tile products.
std::optional<PatchWeight> blocked_panels(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k, bool bf16) {
  const auto to_md = panel_md(k, n, PanelLayout{.tiles = bf16}, bf16);
  const auto layout = panel_layout(to_md, k, n, bf16);
  if (!layout || (bf16 && layout->kp % kAmxTileK != 0)) return std::nullopt;
  const std::string key = std::string("onednn.patch.") + (bf16 ? "BA4b16a16b2a" : "BA16a64b") + ":N=" + std::to_string(n) +
                          ":K=" + std::to_string(k);
  PatchWeight out;
  out.md = to_md;
  out.kp = layout->kp;
  out.bf16 = bf16;
  out.copy = engine_copy(info, w, key, to_md.get_size(), "patch embedding's weight", [&](void* buf) {
    const ThreadScope threads(std::max(1, info.threads));
    dnnl::stream stream(cpu_engine());
    const int64_t dims[] = {k, n}, strides[] = {1, k};
    dnnl::memory from(strided_md(dims, strides, dt::f32), cpu_engine(), const_cast<void*>(w.data()));
    dnnl::memory to(to_md, cpu_engine(), buf);
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    // The tiles take every grid, so the mapped f32 weight's pages may go; with f32 panels they
    // stay: a grid of more patches than their kernel takes falls back to oneDNN's convolution,
    // which reads the weight as mapped, where oneDNN's matmul does not take the panels.
    if (bf16 && info.constants) info.constants->release(w.data(), static_cast<size_t>(n * k) * sizeof(float));
  });
  return out;
}

// A patch embedding's weight copied for the GEMM that runs the linear layers: a constant
// [O, C, P, Q] weight with stride (P, Q) and no padding. Under precision=bf16 the product is in
// bf16 where the linear layers run on AMX tiles, and in f32 elsewhere (as oneDNN's convolution
// computes it).
std::optional<PatchWeight> patch_weight(const sdk::NodeView& node, const NodeInfo& info, const Dims& stride,
                                        const Dims& padding) {
  const bool blocked = info.linear.gemm == Gemm::blocked && panel_gemm_supported();
  const bool packed = info.linear.gemm == Gemm::packed && !info.linear.bf16 && gemm::available();
  if (!blocked && !packed) return std::nullopt;
  const sdk::ValueView w = node.input(1);
  auto dims = w.dims();
  if (dims.size() != 4 || stride[0] != dims[2] || stride[1] != dims[3] || padding[0] != 0 || padding[1] != 0)
    return std::nullopt;
  if (dims[1] <= 0 || dims[2] <= 0 || dims[3] <= 0 || dims[1] > (int64_t{1} << 20) / dims[2] / dims[3]) return std::nullopt;
  const int64_t n = dims[0], k = dims[1] * dims[2] * dims[3];
  if (!copyable_f32(w, n, k)) return std::nullopt;
  if (blocked && info.linear.bf16 && amx_gemm_supported())
    if (auto panels = blocked_panels(info, w, n, k, true)) return panels;
  if (blocked) return blocked_panels(info, w, n, k, false);
  return PatchWeight{pack_weight(info, w, n, k, false, false), {}, 0};
}

std::unique_ptr<NodeKernel> compile_conv(const sdk::NodeView& node, NodeInfo info) {
  const Dims stride = attr_ints(node, "stride"), padding = attr_ints(node, "padding");
  auto packed = patch_weight(node, info, stride, padding);
  return std::make_unique<ConvKernel>(std::move(info), stride, padding, std::move(packed));
}

}  // namespace

std::vector<OpEntry> conv_ops() { return {{"conv2d", check_conv, compile_conv}}; }

}  // namespace loom::onednn
