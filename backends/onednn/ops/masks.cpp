// key_mask: the additive mask of attention's valid lengths and causality, 0 or `fill` (-inf) per
// (batch row, query, key), as a plain loop. Each valid length is checked before it is used.
#include "kernel.hpp"

#include <limits>

namespace loom::onednn {
namespace {

class KeyMaskStep final : public Step {
 public:
  KeyMaskStep(const NodeInfo& info, int64_t batch, int64_t queries, int64_t keys, bool causal, float fill)
      : info_(info), batch_(batch), queries_(queries), keys_(keys), causal_(causal), fill_(fill) {}

  void run(const RunContext& ctx) const override {
    const int64_t* lengths = info_.inputs.size() > 1 && info_.inputs[1] >= 0 ? ctx.as<const int64_t>(info_.inputs[1]) : nullptr;
    if (lengths)
      for (int64_t b = 0; b < batch_; ++b)
        if (lengths[b] < 0 || lengths[b] > keys_)
          info_.fail("valid_length[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) + " is outside 0.." +
                     std::to_string(keys_) + " (the number of keys)");
    float* out = ctx.as<float>(info_.outputs[0]);
    for (int64_t b = 0; b < batch_; ++b) {
      const int64_t valid = lengths ? lengths[b] : keys_;
      for (int64_t i = 0; i < queries_; ++i) {
        // Query i is at absolute position valid - queries + i: the queries are the last ones.
        const int64_t last = causal_ ? valid - queries_ + i : keys_ - 1;
        for (int64_t j = 0; j < keys_; ++j) *out++ = j < valid && j <= last ? 0.0f : fill_;
      }
    }
  }

 private:
  NodeInfo info_;
  int64_t batch_, queries_, keys_;
  bool causal_;
  float fill_;
};

class KeyMaskKernel final : public NodeKernel {
 public:
  KeyMaskKernel(NodeInfo info, bool causal, float fill) : NodeKernel(std::move(info)), causal_(causal), fill_(fill) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto s = in_dims(shapes, 0);
    const size_t r = s.size();
    if (r < 3) info_.fail("scores " + dims_str(s) + " must have rank >= 3 [batch, ..., queries, keys]");
    Dims out(r, 1);
    out[0] = s[0];
    out[r - 2] = s[r - 2];
    out[r - 1] = s[r - 1];
    expect_output(shapes, 0, out);
    if (has_input(1)) {
      auto v = in_dims(shapes, 1);
      if (v.size() != 1 || v[0] != s[0])
        info_.fail("valid_length " + dims_str(v) + " must be [" + std::to_string(s[0]) + "] (one per batch row)");
    }
    if (count(out) == 0) {
      if (has_input(1) && s[0] > 0) return std::make_unique<BatchValuesCheckStep>(info_, 1, s[0], 0, s[r - 1], "valid_length");
      return std::make_unique<NoStep>();
    }
    return std::make_unique<KeyMaskStep>(info_, s[0], s[r - 2], s[r - 1], causal_, fill_);
  }

 private:
  bool causal_;
  float fill_;
};

std::optional<std::string> check_key_mask(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 2, 1)) return r;
  if (auto r = check_dtype(node, 0, {LOOM_DTYPE_F32})) return r;
  if (auto r = check_dtype(node, 1, {LOOM_DTYPE_I64})) return r;
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_key_mask(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<KeyMaskKernel>(std::move(info), attr_bool(node, "causal", false),
                                        static_cast<float>(attr_float(node, "fill", -std::numeric_limits<double>::infinity())));
}

}  // namespace

std::vector<OpEntry> mask_ops() { return {{"key_mask", check_key_mask, compile_key_mask}}; }

}  // namespace loom::onednn
