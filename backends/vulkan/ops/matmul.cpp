// matmul (transposes, alpha, broadcast batch dims) and linear (bias, activation, either weight
// layout): one tiled shader, shaders/matmul.comp, reading both operands through strides.
#include "kernel.hpp"

#include <algorithm>

namespace loom::vulkan {
namespace {

const ShaderInterface kMatmul{"matmul", 4, 30 * 4};
constexpr uint32_t kTileK = 16;
constexpr int kMaxBatchDims = 3;  // matmul.comp's batch arrays

// One product C = act(alpha * A . B + bias) per batch entry, in element strides.
struct Product {
  int64_t m = 0, n = 0, k = 0;
  int64_t a_sm = 0, a_sk = 0, b_sk = 0, b_sn = 0;
  Dims batch, a_sb, b_sb;  // merged batch dims of C and each operand's strides along them
  float alpha = 1;
  bool bias = false;
  // How the operands are stored: A as [K, M] (transpose_a), B as [N, K] (transpose_b, or a
  // linear's weight in its default layout); their rows are then K and N, else M and K.
  bool a_t = false, b_t = false;
};

// How a product is cut when an operand is larger than one binding can reach: each such operand
// is bound a chunk at a time, a run of rows of its outermost dim (M or K for A, K or N for B, M
// for C), and the product runs as blocks of m x n over spans of k that every chunk holds.
struct Operand {
  bool split = false;
  bool along_m = false, along_n = false;  // the outermost dim: A's m or k, B's n or k, C's m
  int64_t row = 0;                        // elements per row of that dim
};
struct Split {
  int64_t m, n, k;
  Operand a, b, c;
};

class MatmulKernel final : public NodeKernel {
 public:
  // `activation` and `tile` fix the pipeline; `shape` turns concrete shapes into a Product.
  using Shape = Product (*)(const MatmulKernel&, const sdk::ShapeSet&);

  MatmulKernel(const sdk::NodeView& node, const CompileContext& c, uint32_t activation, Shape shape)
      : node_(NodeRef::from(node)), limits_(c.limits), tile_(c.config.matmul_tile), shape_(shape) {
    const uint64_t shared = uint64_t{kTileK} * (2 * tile_ + 1) * 2 * sizeof(float);  // padded rows
    check_workgroup(limits_, tile_, tile_, shared, node_.where());
    const int32_t b = node_.inputs[1];
    half_b_ = b >= 0 && static_cast<size_t>(b) < c.half.size() && c.half[static_cast<size_t>(b)];
    pipeline_ = &c.device.pipelines().get(kMatmul, {tile_, tile_, kTileK, activation, half_b_ ? 1u : 0u});
    for (const char* flag : {"transpose_a", "transpose_b", "weight_transposed"})
      if (const loom_attr* a = node.find_attr(flag)) flags_.push_back(a->i != 0);
      else flags_.push_back(false);
    if (const loom_attr* a = node.find_attr("alpha"); a && a->type == LOOM_ATTR_FLOAT) alpha_ = static_cast<float>(a->f);
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const Product p = shape_(*this, shapes);
    int64_t batch = numel(p.batch);
    if (p.m == 0 || p.n == 0 || batch == 0) return;
    const std::string where = node_.where();
    const int64_t tm = 2 * tile_, tn = 2 * tile_;
    const int64_t gx = (p.n + tn - 1) / tn, gy = (p.m + tm - 1) / tm;
    if (gx > limits_.max_workgroup_count[0] || gy > limits_.max_workgroup_count[1] || batch > limits_.max_workgroup_count[2])
      throw Error(where + ": a grid of " + std::to_string(gx) + " x " + std::to_string(gy) + " x " + std::to_string(batch) +
                      " workgroups exceeds the device's maxComputeWorkGroupCount of " + std::to_string(limits_.max_workgroup_count[0]) +
                      " x " + std::to_string(limits_.max_workgroup_count[1]) + " x " + std::to_string(limits_.max_workgroup_count[2]),
                  LOOM_STATUS_UNSUPPORTED);
    const int32_t bias = node_.inputs.size() > 2 ? node_.inputs[2] : -1;
    const Split split = plan_split(p, shapes, where);
    // One dispatch per block of C (rows x columns) and span of K; the spans of K of one block
    // follow each other, summing into C (matmul.comp's modes).
    for (int64_t m0 = 0; m0 < p.m; m0 += split.m)
      for (int64_t n0 = 0; n0 < p.n; n0 += split.n)
        for (int64_t k0 = 0; k0 < std::max<int64_t>(p.k, 1); k0 += split.k) {
          const int64_t mc = std::min(split.m, p.m - m0), nc = std::min(split.n, p.n - n0), kc = std::min(split.k, p.k - k0);
          Dispatch d{node_.name, pipeline_, {node_.inputs[0], node_.inputs[1], bias, node_.outputs[0]}, std::vector<uint32_t>(30, 0),
                     {static_cast<uint32_t>((nc + tn - 1) / tn), static_cast<uint32_t>((mc + tm - 1) / tm), static_cast<uint32_t>(batch)}};
          // Where each operand's block starts, in elements of the whole tensor, and the start of
          // the chunk a split operand binds (its outermost dim's rows from the block's start).
          int64_t a_at = m0 * p.a_sm + k0 * p.a_sk, b_at = k0 * p.b_sk + n0 * p.b_sn, c_at = m0 * p.n + n0, bias_at = n0;
          auto view = [&](size_t binding, const Operand& o, int64_t first, int64_t count, int64_t& at) {
            if (!o.split) return;
            const int64_t start = first * o.row;
            if (binding == 1 && half_b_) {
              const HalfChunk h = half_chunk(static_cast<uint64_t>(start), static_cast<uint64_t>(count * o.row));
              d.view(binding, h.offset, h.bytes);
              at -= static_cast<int64_t>(h.first);
              return;
            }
            d.view(binding, static_cast<uint64_t>(start) * 4, static_cast<uint64_t>(count * o.row) * 4);
            at -= start;
          };
          view(0, split.a, split.a.along_m ? m0 : k0, split.a.along_m ? mc : kc, a_at);
          view(1, split.b, split.b.along_n ? n0 : k0, split.b.along_n ? nc : kc, b_at);
          view(3, split.c, m0, mc, c_at);
          if (split.b.along_n && split.b.split && bias >= 0) {
            d.view(2, static_cast<uint64_t>(n0) * 4, static_cast<uint64_t>(nc) * 4);
            bias_at = 0;
          }
          uint32_t* w = d.push.data();
          w[4] = index32(mc, where);
          w[5] = index32(nc, where);
          w[6] = index32(std::max<int64_t>(kc, 0), where);
          w[7] = index32(p.a_sm, where);
          w[8] = index32(p.a_sk, where);
          w[9] = index32(p.b_sk, where);
          w[10] = index32(p.b_sn, where);
          w[11] = static_cast<uint32_t>(p.batch.size());
          for (size_t i = 0; i < p.batch.size(); ++i) {
            w[12 + i] = index32(p.batch[i], where);
            w[15 + i] = index32(p.a_sb[i], where);
            w[18 + i] = index32(p.b_sb[i], where);
          }
          w[21] = p.bias ? 1 : 0;
          w[22] = float_bits(p.alpha);
          w[23] = index32(a_at, where);
          w[24] = index32(b_at, where);
          w[25] = index32(c_at, where);
          w[26] = index32(bias_at, where);
          w[27] = index32(p.n, where);
          w[28] = index32(p.m * p.n, where);
          const bool first = k0 == 0, last = k0 + split.k >= p.k;
          w[29] = first && last ? 0 : first ? 1 : last ? 3 : 2;
          out.push_back(std::move(d));
        }
  }

  // Chunks of rows that fit a binding, for every operand past one binding's reach. Operands with
  // batch strides are bound whole (a chunk would have to be one per batch entry): a split they
  // would need is refused when the plan's bindings are checked (plugin.cpp).
  Split plan_split(const Product& p, const sdk::ShapeSet& shapes, const std::string& where) const {
    Split s{p.m, p.n, std::max<int64_t>(p.k, 1), {}, {}, {}};
    const uint64_t capacity = binding_capacity(limits_);
    auto over = [&](int32_t value) {
      if (value < 0) return false;
      const auto n = static_cast<uint64_t>(shapes.numel(static_cast<size_t>(value)));
      return (value == node_.inputs[1] && half_b_ ? packed_half_bytes(n) : n * 4) > capacity;
    };
    auto unbatched = [](const Dims& strides) { return std::all_of(strides.begin(), strides.end(), [](int64_t x) { return x == 0; }); };
    // Rows of `row` elements per chunk, rounded down to whole tiles where that leaves any.
    // A chunk of f16 rows may take one word more than its halves (it starts a half early).
    auto cut = [&](int64_t& dim, int64_t row, int64_t tile, const char* what, bool half = false) {
      int64_t rows = half ? half_rows_per_binding(limits_, static_cast<uint64_t>(row), where + ": " + what)
                          : rows_per_binding(limits_, static_cast<uint64_t>(row) * 4, where + ": " + what);
      if (rows >= tile) rows = rows / tile * tile;
      dim = std::min(dim, rows);
    };
    const int64_t tm = 2 * tile_, tn = 2 * tile_;
    if (over(node_.inputs[0]) && unbatched(p.a_sb)) {
      s.a = {true, !p.a_t, false, p.a_t ? p.a_sk : p.a_sm};
      s.a.along_m ? cut(s.m, s.a.row, tm, "a") : cut(s.k, s.a.row, kTileK, "a");
    }
    if (over(node_.inputs[1]) && unbatched(p.b_sb)) {
      s.b = {true, false, p.b_t, p.b_t ? p.b_sn : p.b_sk};
      s.b.along_n ? cut(s.n, s.b.row, tn, "b", half_b_) : cut(s.k, s.b.row, kTileK, "b", half_b_);
    }
    if (over(node_.outputs[0]) && p.batch.empty()) {
      s.c = {true, true, false, p.n};
      cut(s.m, s.c.row, tm, "the output");
    }
    return s;
  }

  const NodeRef& node() const { return node_; }
  bool flag(size_t i) const { return flags_[i]; }
  float alpha() const { return alpha_; }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t tile_;
  Shape shape_;
  const Pipeline* pipeline_ = nullptr;
  bool half_b_ = false;  // b (a linear's weight) is a constant stored as f16 (precision=f16)
  std::vector<bool> flags_;  // transpose_a, transpose_b, weight_transposed
  float alpha_ = 1;
};

Product matmul_shape(const MatmulKernel& k, const sdk::ShapeSet& shapes) {
  const auto a = shapes.dims(static_cast<size_t>(k.node().inputs[0]));
  const auto b = shapes.dims(static_cast<size_t>(k.node().inputs[1]));
  const auto c = shapes.dims(static_cast<size_t>(k.node().outputs[0]));
  const bool ta = k.flag(0), tb = k.flag(1);
  Product p;
  const int64_t ar = a[a.size() - 2], ac = a.back(), br = b[b.size() - 2], bc = b.back();
  p.m = ta ? ac : ar;
  p.k = ta ? ar : ac;
  p.n = tb ? br : bc;
  p.a_sm = ta ? 1 : ac;
  p.a_sk = ta ? ac : 1;
  p.b_sk = tb ? 1 : bc;
  p.b_sn = tb ? bc : 1;
  p.alpha = k.alpha();
  p.a_t = ta;
  p.b_t = tb;
  // Batch dims of C, each operand's matrix strides along them, merged and without size-1 dims.
  const auto lead = c.first(c.size() - 2);
  const Dims sa = broadcast_strides(a.first(a.size() - 2), lead), sb = broadcast_strides(b.first(b.size() - 2), lead);
  for (size_t i = 0; i < lead.size(); ++i) {
    if (lead[i] == 1) continue;
    const int64_t da = sa[i] * ar * ac, db = sb[i] * br * bc;
    if (!p.batch.empty() && p.a_sb.back() == da * lead[i] && p.b_sb.back() == db * lead[i]) {
      p.batch.back() *= lead[i];
      p.a_sb.back() = da;
      p.b_sb.back() = db;
      continue;
    }
    p.batch.push_back(lead[i]);
    p.a_sb.push_back(da);
    p.b_sb.push_back(db);
  }
  if (p.batch.size() > kMaxBatchDims)
    throw Error(k.node().where() + ": more than 3 broadcast batch dims", LOOM_STATUS_UNSUPPORTED);
  return p;
}

Product linear_shape(const MatmulKernel& k, const sdk::ShapeSet& shapes) {
  const auto x = shapes.dims(static_cast<size_t>(k.node().inputs[0]));
  const auto w = shapes.dims(static_cast<size_t>(k.node().inputs[1]));
  const bool transposed = k.flag(2);  // weight [K, N] rather than [N, K]
  Product p;
  p.k = x.empty() ? 1 : x.back();
  p.m = p.k ? numel(x) / p.k : numel(x.first(x.size() - 1));
  p.n = transposed ? w[1] : w[0];
  p.a_sm = p.k;
  p.a_sk = 1;
  p.b_sk = transposed ? p.n : 1;
  p.b_sn = transposed ? 1 : p.k;
  p.bias = k.node().inputs.size() > 2 && k.node().inputs[2] >= 0;
  p.b_t = !transposed;
  return p;
}

std::optional<std::string> check_matmul(const sdk::NodeView& node) {
  if (node.num_inputs() != 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() != 1)
    return "expects inputs a, b and one output";
  if (auto why = check_f32(node)) return why;
  for (size_t i = 0; i < 2; ++i) {
    if (node.input(i).rank() < 2) return "input " + std::to_string(i) + " has rank below 2";
    if (auto why = check_rank(node, i, 2 + kMaxBatchDims)) return why;
  }
  return std::nullopt;
}

uint32_t linear_activation(std::string_view a) {
  if (a == "relu") return kActRelu;
  if (a == "gelu") return kActGelu;
  if (a == "gelu_tanh") return kActGeluTanh;
  if (a == "quick_gelu") return kActQuickGelu;
  if (a == "silu") return kActSilu;
  if (a == "tanh") return kActTanh;
  return a == "none" ? kActNone : UINT32_MAX;
}

std::string_view activation_attr(const sdk::NodeView& node) {
  const loom_attr* a = node.find_attr("activation");
  return a && a->type == LOOM_ATTR_STRING && a->s ? a->s : "none";
}

std::optional<std::string> check_linear(const sdk::NodeView& node) {
  if (node.num_inputs() < 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() != 1)
    return "expects inputs x, weight and one output";
  if (auto why = check_f32(node)) return why;
  if (node.input(1).rank() != 2) return "the weight is not a matrix";
  if (linear_activation(activation_attr(node)) == UINT32_MAX)
    return "activation '" + std::string(activation_attr(node)) + "' is unknown to the vulkan backend";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_matmul(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<MatmulKernel>(node, c, kActNone, matmul_shape);
}

std::unique_ptr<NodeKernel> compile_linear(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<MatmulKernel>(node, c, linear_activation(activation_attr(node)), linear_shape);
}

}  // namespace

std::vector<OpEntry> matmul_ops() {
  return {{"matmul", check_matmul, compile_matmul}, {"linear", check_linear, compile_linear}};
}

}  // namespace loom::vulkan
