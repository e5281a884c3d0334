// matmul and linear on oneDNN's matmul primitive. Transposes are strided memory descriptors
// (nothing is copied: weights are read where the host mapped them), batch dims broadcast
// through size-1 dims, alpha is an output scale, and linear's bias and activation are fused
// (bias argument, eltwise post-op). A linear layer with a constant weight runs on one of two
// GEMMs over a copy of that weight made once per engine (plugin.cpp picks, docs/performance.md,
// "Packed weights"): gemm.hpp's packed GEMM (AVX2; as bf16 panels with precision=bf16), or
// oneDNN's matmul over the weight reordered into the blocked layout it picks for it (AVX-512;
// bf16 weights and activations with precision=bf16 on AVX512-BF16 or AMX; on AMX the bf16 weight
// is kept in the tiles that blocked_amx.hpp's kernel reads, for every row count). Without either,
// a linear layer over a few rows (a decode step) runs on the row kernel (rows.hpp), which makes
// no oneDNN call.
#include "blocked_amx.hpp"
#include "blocked_gemm.hpp"
#include "blocked_rows.hpp"
#include "gemm.hpp"
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"
#include "weights.hpp"

#include <algorithm>
#include <memory>
#include <utility>

namespace loom::onednn {
namespace {

using dt = dnnl::memory::data_type;

// A product over an inner dim of 0: every sum is empty, so y is the bias (or `zero`: 0 times
// matmul's alpha, NaN for an infinite one) through the activation, as the reference computes it
// (oneDNN refuses K = 0).
class EmptySumStep final : public Step {
 public:
  EmptySumStep(const NodeInfo& info, int64_t m, int64_t n, bool bias, Activation act, float zero = 0.0f)
      : info_(info), m_(m), n_(n), bias_(bias), act_(act), zero_(zero) {}
  void run(const RunContext& ctx) const override {
    float* y = ctx.as<float>(info_.outputs[0]);
    const float* b = bias_ ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    for (int64_t r = 0; r < m_; ++r)
      for (int64_t j = 0; j < n_; ++j) y[r * n_ + j] = b ? b[j] : zero_;
    activate_rows(y, m_, n_, n_, act_);
  }

 private:
  NodeInfo info_;
  int64_t m_, n_;
  bool bias_;
  Activation act_;
  float zero_;
};

class MatmulStep final : public Step {
 public:
  // `after`: an activation applied to the `elements` outputs once oneDNN is done.
  MatmulStep(const NodeInfo& info, const dnnl::memory::desc& src, const dnnl::memory::desc& weights,
             const dnnl::memory::desc* bias, const dnnl::memory::desc& dst, const dnnl::primitive_attr& attr,
             Activation after = Activation::none, int64_t elements = 0)
      : info_(info), has_bias_(bias != nullptr), after_(after), elements_(elements) {
    auto desc = bias ? dnnl::matmul::desc(src, weights, *bias, dst) : dnnl::matmul::desc(src, weights, dst);
    dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    prim_ = dnnl::matmul(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {src, weights, dst, pd.scratchpad_desc()};
    if (bias) memory_descs.push_back(*bias);
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    void* src = ctx.data(info_.inputs[0]);
    void* w = ctx.data(info_.inputs[1]);
    void* dst = ctx.data(info_.outputs[0]);
    if (has_bias_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_BIAS, ctx.data(info_.inputs[2])}},
              info_);
    else
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
              info_);
    if (after_ != Activation::none) activate_inplace(static_cast<float*>(dst), elements_, after_);
  }

 private:
  NodeInfo info_;
  dnnl::matmul prim_;
  size_t scratch_ = 0;
  bool has_bias_;
  Activation after_;
  int64_t elements_;
};

// Row-major strides of `dims`.
Dims dense_strides(std::span<const int64_t> dims) {
  Dims s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(dims[i], 1);
  return s;
}

// The logical [..., rows, cols] view of a row-major tensor padded to `rank` dims, swapping the
// last two dims (by strides) when `transposed`.
std::pair<Dims, Dims> logical_view(std::span<const int64_t> physical, size_t rank, bool transposed) {
  Dims d(rank - physical.size(), 1);
  d.insert(d.end(), physical.begin(), physical.end());
  Dims s = dense_strides(d);
  if (transposed) {
    std::swap(d[rank - 1], d[rank - 2]);
    std::swap(s[rank - 1], s[rank - 2]);
  }
  return {d, s};
}

class MatmulKernel final : public NodeKernel {
 public:
  MatmulKernel(NodeInfo info, bool ta, bool tb, float alpha)
      : NodeKernel(std::move(info)), ta_(ta), tb_(tb), alpha_(alpha) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto a = in_dims(shapes, 0), b = in_dims(shapes, 1);
    const size_t ra = a.size(), rb = b.size();
    const int64_t m = ta_ ? a[ra - 1] : a[ra - 2], k = ta_ ? a[ra - 2] : a[ra - 1];
    const int64_t kb = tb_ ? b[rb - 1] : b[rb - 2], n = tb_ ? b[rb - 2] : b[rb - 1];
    if (k != kb)
      info_.fail("inner dims differ: a " + dims_str(a) + (ta_ ? " (transposed)" : "") + ", b " + dims_str(b) +
                 (tb_ ? " (transposed)" : ""));
    auto batch = broadcast_dims(a.first(ra - 2), b.first(rb - 2));
    if (!batch) info_.fail("batch dims of " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
    Dims out = *batch;
    out.push_back(m);
    out.push_back(n);
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    if (k == 0) return std::make_unique<EmptySumStep>(info_, count(out), 1, false, Activation::none, 0.0f * alpha_);
    if (out.size() > static_cast<size_t>(kMaxDnnlRank))
      info_.fail("rank " + std::to_string(out.size()) + " exceeds oneDNN's " + std::to_string(kMaxDnnlRank));
    auto [ad, as] = logical_view(a, out.size(), ta_);
    auto [bd, bs] = logical_view(b, out.size(), tb_);
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
    return std::make_unique<MatmulStep>(info_, strided_md(ad, as, dt::f32), strided_md(bd, bs, dt::f32), nullptr,
                                        plain_md(out, dt::f32), attr);
  }

 private:
  bool ta_, tb_;
  float alpha_;
};

std::optional<std::string> check_matmul(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 2, 1)) return r;
  for (size_t i = 0; i < 2; ++i) {
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
    if (auto r = check_rank(node, i, kMaxDnnlRank)) return r;
    if (node.input(i).rank() < 2)
      return "input '" + std::string(node.input(i).name()) + "' has rank " + std::to_string(node.input(i).rank()) +
             ", matmul needs rank >= 2";
  }
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_matmul(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<MatmulKernel>(std::move(info), attr_bool(node, "transpose_a", false),
                                        attr_bool(node, "transpose_b", false),
                                        static_cast<float>(attr_float(node, "alpha", 1.0)));
}

// ---------------------------------------------------------------- linear

// An activation name of linear's schema; nullopt for an unknown one.
std::optional<Activation> activation_of(std::string_view act) {
  if (act == "none") return Activation::none;
  if (act == "relu") return Activation::relu;
  if (act == "gelu") return Activation::gelu_erf;
  if (act == "gelu_tanh") return Activation::gelu_tanh;
  if (act == "quick_gelu") return Activation::quick_gelu;
  if (act == "silu") return Activation::silu;
  if (act == "tanh") return Activation::tanh;
  return std::nullopt;
}

// A linear layer's matmul attributes: the user scratchpad, and its activation as an eltwise
// post-op, except relu: oneDNN's turns NaN into 0 (PyTorch keeps it), so relu runs after the
// matmul instead (activate_inplace).
dnnl::primitive_attr linear_attr(Activation act) {
  dnnl::primitive_attr attr = user_scratchpad_attr();
  std::optional<dnnl::algorithm> alg;
  switch (act) {
    case Activation::none: case Activation::relu: break;
    case Activation::gelu_erf: alg = dnnl::algorithm::eltwise_gelu_erf; break;
    case Activation::gelu_tanh: alg = dnnl::algorithm::eltwise_gelu_tanh; break;
    case Activation::quick_gelu: case Activation::silu: alg = dnnl::algorithm::eltwise_swish; break;
    case Activation::tanh: alg = dnnl::algorithm::eltwise_tanh; break;
  }
  if (alg) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, *alg, act == Activation::quick_gelu ? kQuickGeluAlpha : act == Activation::silu ? 1.0f : 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

class RowLinearStep final : public Step {
 public:
  RowLinearStep(const NodeInfo& info, int64_t m, int64_t n, int64_t k, bool kn, Activation act)
      : info_(info), m_(m), n_(n), k_(k), kn_(kn), act_(act) {}
  void run(const RunContext& ctx) const override {
    const float* bias = info_.inputs.size() > 2 && info_.inputs[2] >= 0 ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    linear_rows(ctx.as<const float>(info_.inputs[0]), ctx.as<const float>(info_.inputs[1]), bias,
                ctx.as<float>(info_.outputs[0]), m_, n_, k_, kn_, act_, std::max(1, info_.threads));
  }

 private:
  NodeInfo info_;
  int64_t m_, n_, k_;
  bool kn_;
  Activation act_;
};

// The packed GEMM with the activation applied to each block of its output while that is in
// cache, by the thread that wrote it (activation.hpp). W: the packed weight's element, float or
// bf16 (uint16_t).
template <typename W>
class PackedLinearStep final : public Step {
 public:
  PackedLinearStep(const NodeInfo& info, const W* packed, int64_t m, int64_t n, int64_t k, Activation act)
      : info_(info), packed_(packed), m_(m), n_(n), k_(k), threads_(std::max(1, info.threads)), act_(act),
        scratch_(gemm::scratch_bytes(k)) {}
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    const float* bias = info_.inputs.size() > 2 && info_.inputs[2] >= 0 ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    gemm::linear(ctx.as<const float>(info_.inputs[0]), packed_, bias, ctx.as<float>(info_.outputs[0]), m_, n_, k_, threads_,
                 ctx.scratch, 0, 0, 0, act_);
  }

 private:
  NodeInfo info_;
  const W* packed_;
  int64_t m_, n_, k_;
  int threads_;
  Activation act_;
  size_t scratch_;
};

// A linear layer's constant weight as [N, K] sizes (`kn`: stored [K, N]) where a copy of it can
// be made: an f32 constant whose data is at hand.
std::optional<std::pair<int64_t, int64_t>> copyable_weight(const sdk::ValueView& w, bool kn) {
  auto dims = w.dims();
  const int64_t n = kn ? dims[1] : dims[0], k = kn ? dims[0] : dims[1];
  if (!copyable_f32(w, n, k)) return std::nullopt;
  return std::pair{n, k};
}

// The weight's packed copy, in f32 or (precision=bf16) in bf16.
std::optional<ConstantCopy> pack_linear_weight(const sdk::NodeView& node, const NodeInfo& info, bool kn) {
  if (info.linear.gemm != Gemm::packed || !gemm::available()) return std::nullopt;
  const sdk::ValueView w = node.input(1);
  const auto sizes = copyable_weight(w, kn);
  if (!sizes) return std::nullopt;
  return pack_weight(info, w, sizes->first, sizes->second, kn, info.linear.bf16);
}

// ---------------------------------------------------------------- blocked weights

// The rows the weight's layout is asked for with. oneDNN's brgemm matmul blocks the weight by N
// and K alone; a step whose matmul wants another layout reorders it per run (BlockedLinearStep).
constexpr int64_t kLayoutRows = 128;

// A [K, N] weight in the layout oneDNN picks (format_tag::any).
dnnl::memory::desc any_weights(int64_t k, int64_t n, bool bf16) {
  return dnnl::memory::desc(dnnl::memory::dims{k, n}, bf16 ? dt::bf16 : dt::f32, dnnl::memory::format_tag::any);
}

// A layout as text, for the cache key: a copy made for one layout is never read as another.
std::string layout_key(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  std::string key = "dt" + std::to_string(static_cast<int>(d.data_type)) + ".fk" + std::to_string(static_cast<int>(d.format_kind));
  if (d.format_kind == dnnl_blocked) {
    const auto& b = d.format_desc.blocking;
    for (int i = 0; i < d.ndims; ++i) key += ".s" + std::to_string(b.strides[i]);
    for (int i = 0; i < b.inner_nblks; ++i) key += ".b" + std::to_string(b.inner_blks[i]) + "i" + std::to_string(b.inner_idxs[i]);
  }
  return key + ".bytes" + std::to_string(md.get_size());
}

// A linear layer's constant weight reordered once into the layout oneDNN's matmul picks for it,
// as f32 or (precision=bf16) bf16; on AMX, bf16 panels in tiles instead.
struct BlockedWeight {
  dnnl::memory::desc md;
  ConstantCopy copy;
};

// The layout oneDNN picks for an [n, k] weight (format_tag::any).
dnnl::memory::desc blocked_layout(int64_t n, int64_t k, bool bf16, bool bias) {
  return blocked_pd(kLayoutRows, n, k, bf16, any_weights(k, n, bf16), bias, user_scratchpad_attr()).weights_desc();
}

std::string blocked_key(int64_t n, int64_t k, bool kn, const dnnl::memory::desc& md) {
  return std::string("onednn.blocked:") + (kn ? "kn" : "nk") + ":N=" + std::to_string(n) + ":K=" + std::to_string(k) + ":" +
         layout_key(md);
}

std::optional<BlockedWeight> block_weight(const sdk::NodeView& node, const NodeInfo& info, bool kn) {
  if (info.linear.gemm != Gemm::blocked) return std::nullopt;
  sdk::ValueView w = node.input(1);
  const auto sizes = copyable_weight(w, kn);
  if (!sizes) return std::nullopt;
  const auto [n, k] = *sizes;
  BlockedWeight out;
  try {
    out.md = blocked_layout(n, k, info.linear.bf16, node.has_input(2));
  } catch (const dnnl::error& e) {
    info.fail(std::string("oneDNN has no matmul for this weight (") + e.what() + ")", LOOM_STATUS_UNSUPPORTED);
  }
  // Where the AMX kernel runs, bf16 panels are kept in tiles (blocked_rows.hpp), which it loads a
  // contiguous KiB at a time.
  if (info.linear.bf16 && amx_gemm_supported() && panel_layout(out.md, k, n, true)) {
    const auto tiles = bf16_tiles_md(k, n);
    if (const auto layout = panel_layout(tiles, k, n, true); layout && layout->kp % kAmxTileK == 0) out.md = tiles;
  }
  const auto layout = panel_layout(out.md, k, n, info.linear.bf16);
  const std::string key = blocked_key(n, k, kn, out.md);
  out.copy = engine_copy(info, w, key, out.md.get_size(), "blocked weight", [&](void* buf) {
    // The mapped f32 weight reordered into `buf` on the session's threads (not every core), then
    // its pages given back.
    const ThreadScope threads(std::max(1, info.threads));
    dnnl::stream stream(cpu_engine());
    const auto* src = static_cast<const float*>(w.data());
    auto reorder = [&](const dnnl::memory::desc& from_md, const float* from_data, const dnnl::memory::desc& to_md, void* to_data) {
      dnnl::memory from(from_md, cpu_engine(), const_cast<float*>(from_data));
      dnnl::memory to(to_md, cpu_engine(), to_data);
      dnnl::reorder(from, to).execute(stream, from, to);
      stream.wait();
    };
    // An [n, k] weight in panels of 64 features (blocked_rows.hpp) is reordered a few thousand
    // rows at a time, each block's mapped pages given back before the next: an LM head's f32
    // copy and its whole mapping are then never resident together (GPT-2: 154 MB each).
    const auto panels = kn ? std::nullopt : layout;
    constexpr int64_t kRowsPerStep = 64 * kBlockedPanel;
    if (panels && n > kRowsPerStep) {
      const size_t element = info.linear.bf16 ? 2 : 4;
      bool same = true;
      for (int64_t n0 = 0; n0 < n; n0 += kRowsPerStep) {
        const int64_t rows = std::min(kRowsPerStep, n - n0);
        const int64_t dims[] = {k, rows}, strides[] = {1, k};
        const auto to_md = panel_md(k, rows, *panels, info.linear.bf16);
        // The block's layout must be the whole weight's, cut at panel n0 / 64.
        same = panel_layout(to_md, k, rows, info.linear.bf16) == panels;
        if (!same) break;
        reorder(strided_md(dims, strides, dt::f32), src + n0 * k, to_md,
                static_cast<std::byte*>(buf) + static_cast<size_t>(n0 * panels->kp) * element);
        if (info.constants) info.constants->release(src + n0 * k, static_cast<size_t>(rows * k) * sizeof(float));
      }
      if (same) return;
    }
    const int64_t w_dims[] = {k, n}, strides[] = {kn ? n : 1, kn ? 1 : k};
    reorder(strided_md(w_dims, strides, dt::f32), src, out.md, buf);
    if (info.constants) info.constants->release(w.data(), static_cast<size_t>(n * k) * sizeof(float));
  });
  return out;
}

// Rows over a blocked weight in a layout that blocked_rows.hpp reads, without oneDNN and
// without allocating: a few (a decode step) on blocked_rows.hpp's kernel, tens in f32 on
// blocked_gemm.hpp's, any number in bf16 on blocked_amx.hpp's AMX tiles.
class BlockedPanelsStep final : public Step {
 public:
  BlockedPanelsStep(const NodeInfo& info, const void* weights, PanelLayout layout, int64_t m, int64_t n, int64_t k, Activation act)
      : info_(info), weights_(weights), layout_(layout), m_(m), n_(n), k_(k), act_(act) {}
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(info_.inputs[0]);
    const float* bias = info_.inputs.size() > 2 && info_.inputs[2] >= 0 ? ctx.as<const float>(info_.inputs[2]) : nullptr;
    float* y = ctx.as<float>(info_.outputs[0]);
    const int threads = std::max(1, info_.threads);
    if (m_ <= kRowKernelMaxRows)
      linear_rows_blocked(x, weights_, info_.linear.bf16, layout_, bias, y, m_, n_, k_, act_, threads);
    else if (info_.linear.bf16)
      linear_panels_amx(x, static_cast<const uint16_t*>(weights_), layout_.kp, bias, y, m_, n_, k_, act_, threads, ctx.scratch);
    else
      linear_panels_f32(x, static_cast<const float*>(weights_), layout_.kp, bias, y, m_, n_, k_, act_, threads);
  }
  size_t scratch_bytes() const override {
    return info_.linear.bf16 && m_ > kRowKernelMaxRows ? amx_gemm_scratch_bytes(m_, layout_.kp) : 0;
  }

 private:
  NodeInfo info_;
  const void* weights_;
  PanelLayout layout_;
  int64_t m_, n_, k_;
  Activation act_;
};

// The bf16 matmul of a [k, n] weight stored in bf16 panels, run on n rounded up to 16
// features where n is not a multiple of 16 (BlockedLinearStep); nullopt where n is, where the
// weight is in another layout, or where oneDNN would not read the panels as they are.
struct PaddedMatmul {
  dnnl::matmul::primitive_desc pd;
  int64_t n;
};
std::optional<PaddedMatmul> padded_features(const dnnl::memory::desc& stored, int64_t m, int64_t n, int64_t k, bool bias,
                                            const dnnl::primitive_attr& attr) {
  constexpr int64_t kAmxFeatures = 16;
  if (n % kAmxFeatures == 0) return std::nullopt;
  const auto kp = panel_layout(stored, k, n, true);
  if (!kp) return std::nullopt;
  const int64_t np = (n + kAmxFeatures - 1) / kAmxFeatures * kAmxFeatures;
  const auto wide = panel_md(k, np, *kp, true);
  if (panel_layout(wide, k, np, true) != kp) return std::nullopt;
  auto pd = blocked_pd(m, np, k, true, wide, bias, attr);
  if (pd.weights_desc() != wide) return std::nullopt;
  return PaddedMatmul{std::move(pd), np};
}

// oneDNN's matmul over a blocked weight, for any row count. With precision=bf16 the activations
// are first reordered to bf16 (rounded to nearest even) in the scratch; bias and output are f32.
// Where the matmul for this row count wants another layout than the one stored, the weight is
// reordered into the scratch on every run (correct, slower; not seen with oneDNN 2.6).
//
// oneDNN 2.6's AMX bf16 matmul runs a last block of fewer than 16 output features on a slow
// path: BERT's head of 30,522 words took 2-3 times as long as one of 30,512 or 30,528
// (docs/performance.md, "bf16 prompts on AMX tiles"). With precision=bf16 such a layer runs on
// n rounded up to 16 features, the stored panels read as that many (they are padded to 64), into
// the scratch, whose rows are then copied out; the bias is padded with zeros in the scratch.
class BlockedLinearStep final : public Step {
 public:
  BlockedLinearStep(const NodeInfo& info, const BlockedWeight& w, int64_t m, int64_t n, int64_t k, Activation act)
      : info_(info), weights_(w.copy.data), bf16_(info.linear.bf16), has_bias_(info.inputs.size() > 2 && info.inputs[2] >= 0) {
    const dnnl::primitive_attr attr = linear_attr(act);
    if (act == Activation::relu) {  // after the matmul (linear_attr)
      after_ = act;
      elements_ = m * n;
    }
    const int64_t src_dims[] = {m, k};
    if (bf16_) {
      const auto from = plain_md(src_dims, dt::f32), to = plain_md(src_dims, dt::bf16);
      dnnl::primitive_attr reorder_attr = user_scratchpad_attr();
      dnnl::reorder::primitive_desc rpd(cpu_engine(), from, cpu_engine(), to, reorder_attr);
      to_bf16_ = dnnl::reorder(rpd);
      memory_descs = {from, to, rpd.scratchpad_desc()};
      src_bytes_ = align64(to.get_size());
      scratch_ = std::max(scratch_, src_bytes_ + align64(rpd.scratchpad_desc().get_size()));
    }
    auto pd = blocked_pd(m, n, k, bf16_, w.md, has_bias_, attr);
    if (auto wide = bf16_ ? padded_features(w.md, m, n, k, has_bias_, attr) : std::nullopt) {
      pd = std::move(wide->pd);
      m_ = m, n_ = n, np_ = wide->n;
      out_bytes_ = align64(static_cast<size_t>(m * np_) * sizeof(float));
      bias_bytes_ = has_bias_ ? align64(static_cast<size_t>(np_) * sizeof(float)) : 0;
    } else if (pd.weights_desc() != w.md) {
      pd = blocked_pd(m, n, k, bf16_, any_weights(k, n, bf16_), has_bias_, attr);
      dnnl::reorder::primitive_desc rpd(cpu_engine(), w.md, cpu_engine(), pd.weights_desc(), user_scratchpad_attr());
      relayout_ = dnnl::reorder(rpd);
      relayout_first_ = memory_descs.size();
      memory_descs.insert(memory_descs.end(), {w.md, pd.weights_desc(), rpd.scratchpad_desc()});
      relayout_bytes_ = align64(pd.weights_desc().get_size());
    }
    matmul_ = dnnl::matmul(pd);
    matmul_first_ = memory_descs.size();
    memory_descs.insert(memory_descs.end(), {pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.scratchpad_desc()});
    const int64_t bias_dims[] = {1, np_ ? np_ : n};
    if (has_bias_) memory_descs.push_back(plain_md(bias_dims, dt::f32));
    // Scratch: [bf16 activations][relaid weight or padded output and bias][the matmul's
    // scratchpad]; the reorders' own scratchpads (none in practice) go where the matmul's will
    // be, before it runs.
    pad_offset_ = src_bytes_ + relayout_bytes_ + out_bytes_ + bias_bytes_;
    scratch_ = std::max(scratch_, pad_offset_ + align64(pd.scratchpad_desc().get_size()));
    if (relayout_bytes_)
      scratch_ = std::max(scratch_, pad_offset_ + align64(memory_descs[relayout_first_ + 2].get_size()));
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    void* src = ctx.data(info_.inputs[0]);
    void* dst = ctx.data(info_.outputs[0]);
    std::byte* pad = ctx.scratch + pad_offset_;
    if (bf16_) {
      execute(to_bf16_, ctx, 0, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, ctx.scratch}, {DNNL_ARG_SCRATCHPAD, ctx.scratch + src_bytes_}}, info_);
      src = ctx.scratch;
    }
    void* weights = const_cast<void*>(weights_);
    if (relayout_bytes_) {
      void* to = ctx.scratch + src_bytes_;
      execute(relayout_, ctx, relayout_first_, {{DNNL_ARG_FROM, weights}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, pad}}, info_);
      weights = to;
    }
    void* out = np_ ? ctx.scratch + src_bytes_ : dst;
    void* bias = has_bias_ ? ctx.data(info_.inputs[2]) : nullptr;
    if (np_ && has_bias_) {
      float* padded = reinterpret_cast<float*>(ctx.scratch + src_bytes_ + out_bytes_);
      std::copy_n(static_cast<const float*>(bias), n_, padded);
      std::fill(padded + n_, padded + np_, 0.0f);
      bias = padded;
    }
    if (has_bias_)
      execute(matmul_, ctx, matmul_first_,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, out}, {DNNL_ARG_SCRATCHPAD, pad},
               {DNNL_ARG_BIAS, bias}},
              info_);
    else
      execute(matmul_, ctx, matmul_first_,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, out}, {DNNL_ARG_SCRATCHPAD, pad}}, info_);
    if (np_) {
      const float* from = static_cast<const float*>(out);
      float* to = static_cast<float*>(dst);
      split_rows(m_, m_ * n_, std::max(1, info_.threads), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::copy_n(from + r * np_, n_, to + r * n_);
      });
    }
    if (after_ != Activation::none) activate_inplace(static_cast<float*>(dst), elements_, after_);
  }

 private:
  NodeInfo info_;
  const void* weights_;
  bool bf16_, has_bias_;
  dnnl::reorder to_bf16_, relayout_;
  dnnl::matmul matmul_;
  size_t relayout_first_ = 0, matmul_first_ = 0;
  size_t src_bytes_ = 0, relayout_bytes_ = 0, out_bytes_ = 0, bias_bytes_ = 0, pad_offset_ = 0, scratch_ = 0;
  Activation after_ = Activation::none;
  int64_t elements_ = 0;
  int64_t m_ = 0, n_ = 0, np_ = 0;  // np_ > 0: the matmul runs on np_ features (padded_features)
};

class LinearKernel final : public NodeKernel {
 public:
  LinearKernel(NodeInfo info, Activation act, bool kn, std::optional<ConstantCopy> packed, std::optional<BlockedWeight> blocked)
      : NodeKernel(std::move(info)), act_(act), kn_(kn), packed_(std::move(packed)), blocked_(std::move(blocked)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0), w = in_dims(shapes, 1);
    const int64_t k = x.back(), n = kn_ ? w[1] : w[0];
    if ((kn_ ? w[0] : w[1]) != k)
      info_.fail("weight " + dims_str(w) + " does not match x " + dims_str(x) + (kn_ ? " (weight is [K, N])" : " (weight is [N, K])"));
    if (has_input(2)) {
      auto b = in_dims(shapes, 2);
      if (b.size() != 1 || b[0] != n) info_.fail("bias " + dims_str(b) + " does not match weight " + dims_str(w));
    }
    Dims out(x.begin(), x.end());
    out.back() = n;
    expect_output(shapes, 0, out);
    const int64_t m = count(x.first(x.size() - 1));
    if (m == 0 || n == 0) return std::make_unique<NoStep>();
    if (k == 0) return std::make_unique<EmptySumStep>(info_, m, n, has_input(2), act_);
    // The packed or blocked copy serves every row count, so that the weight as mapped is not read again.
    // bf16 tiles are made only where the AMX kernel runs (block_weight), for every row count.
    if (const auto layout = blocked_ ? panel_layout(blocked_->md, k, n, info_.linear.bf16) : std::nullopt) {
      const bool own_kernel = m <= kRowKernelMaxRows || layout->tiles ||
                              (!info_.linear.bf16 && m <= kPanelGemmMaxRows && panel_gemm_supported());
      if (own_kernel) return std::make_unique<BlockedPanelsStep>(info_, blocked_->copy.data, *layout, m, n, k, act_);
    }
    if (blocked_) return std::make_unique<BlockedLinearStep>(info_, *blocked_, m, n, k, act_);
    if (packed_ && info_.linear.bf16)
      return std::make_unique<PackedLinearStep<uint16_t>>(info_, static_cast<const uint16_t*>(packed_->data), m, n, k, act_);
    if (packed_) return std::make_unique<PackedLinearStep<float>>(info_, static_cast<const float*>(packed_->data), m, n, k, act_);
    if (m <= kRowKernelMaxRows) return std::make_unique<RowLinearStep>(info_, m, n, k, kn_, act_);
    const int64_t src_dims[] = {m, k}, w_dims[] = {k, n}, dst_dims[] = {m, n}, bias_dims[] = {1, n};
    const int64_t w_strides[] = {kn_ ? n : 1, kn_ ? 1 : k};
    auto bias_md = plain_md(bias_dims, dt::f32);
    const Activation after = act_ == Activation::relu ? act_ : Activation::none;  // linear_attr
    return std::make_unique<MatmulStep>(info_, plain_md(src_dims, dt::f32), strided_md(w_dims, w_strides, dt::f32),
                                        has_input(2) ? &bias_md : nullptr, plain_md(dst_dims, dt::f32), linear_attr(act_), after,
                                        m * n);
  }

 private:
  Activation act_;
  bool kn_;
  std::optional<ConstantCopy> packed_;  // gemm.hpp's panels, of bf16 with precision=bf16
  std::optional<BlockedWeight> blocked_;
};

std::optional<std::string> check_linear(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 3, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i)
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
  if (node.input(0).rank() < 1) return "input '" + std::string(node.input(0).name()) + "' is a scalar";
  if (node.input(1).rank() != 2)
    return "weight '" + std::string(node.input(1).name()) + "' has rank " + std::to_string(node.input(1).rank()) +
           ", linear needs [N, K] (or [K, N] with weight_transposed)";
  if (node.has_input(2) && node.input(2).rank() != 1)
    return "bias '" + std::string(node.input(2).name()) + "' has rank " + std::to_string(node.input(2).rank()) +
           ", linear needs [N]";
  std::string act = attr_string(node, "activation", "none");
  if (!activation_of(act))
    return "activation='" + act + "' is not one of none, relu, gelu, gelu_tanh, quick_gelu, silu, tanh";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_linear(const sdk::NodeView& node, NodeInfo info) {
  const bool kn = attr_bool(node, "weight_transposed", false);
  auto packed = pack_linear_weight(node, info, kn);
  auto blocked = block_weight(node, info, kn);
  return std::make_unique<LinearKernel>(std::move(info), *activation_of(attr_string(node, "activation", "none")), kn,
                                        std::move(packed), std::move(blocked));
}

}  // namespace

F32Panels find_blocked_f32_panels(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k) {
  if (!info.constants || !info.constants->available() || !copyable_weight(w, false)) return {};
  // The head's layout, asked for as block_weight asks: with a bias (BERT's decoder) or without
  // (GPT-2's head).
  for (bool bias : {false, true}) {
    dnnl::memory::desc md;
    try {
      md = blocked_layout(n, k, false, bias);
    } catch (const dnnl::error&) {
      return {};
    }
    const auto layout = panel_layout(md, k, n, false);
    if (!layout) continue;
    const auto copy = info.constants->find(w, blocked_key(n, k, false, md));
    if (copy.size() == md.get_size()) return {reinterpret_cast<const float*>(copy.data()), kBlockedPanel, layout->kp * kBlockedPanel};
  }
  return {};
}

std::vector<OpEntry> matmul_ops() {
  return {{"matmul", check_matmul, compile_matmul}, {"linear", check_linear, compile_linear}};
}

}  // namespace loom::onednn
