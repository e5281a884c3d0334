// cast between f32, i64, i32 and u8, and between f32 and bf16 (a KV cache kept in bf16). Float
// to integer truncates toward zero (as PyTorch); NaN becomes 0 and out-of-range values saturate,
// where C++ would leave them undefined. Integer narrowing keeps the low bits, as PyTorch's .to()
// does. f32 to bf16 rounds to nearest even, as PyTorch does.
#include "convert.hpp"
#include "gemm.hpp"
#include "kernel.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace loom::onednn {
namespace {

std::optional<int32_t> parse_dtype(std::string_view s) {
  if (s == "f32" || s == "float32") return LOOM_DTYPE_F32;
  if (s == "f16" || s == "float16") return LOOM_DTYPE_F16;
  if (s == "bf16" || s == "bfloat16") return LOOM_DTYPE_BF16;
  if (s == "i64" || s == "int64") return LOOM_DTYPE_I64;
  if (s == "i32" || s == "int32") return LOOM_DTYPE_I32;
  if (s == "u8" || s == "uint8") return LOOM_DTYPE_U8;
  return std::nullopt;
}


template <class To, class From>
class CastLoop final : public Step {
 public:
  CastLoop(const NodeInfo& info, int64_t n) : n_(n), x_(info.inputs[0]), y_(info.outputs[0]) {}
  void run(const RunContext& ctx) const override {
    const From* x = ctx.as<const From>(x_);
    To* y = ctx.as<To>(y_);
    if constexpr (std::is_same_v<To, From>) {
      if (x != y && n_) std::memmove(y, x, static_cast<size_t>(n_) * sizeof(To));
    } else {
      for (int64_t i = 0; i < n_; ++i) y[i] = convert<To>(x[i]);
    }
  }

 private:
  int64_t n_;
  int32_t x_, y_;
};

// bf16 as its 16 bits, beside f32.
class CastBf16 final : public Step {
 public:
  CastBf16(const NodeInfo& info, int64_t n, bool narrow) : n_(n), narrow_(narrow), x_(info.inputs[0]), y_(info.outputs[0]) {}
  void run(const RunContext& ctx) const override {
    if (narrow_) {
      const float* x = ctx.as<const float>(x_);
      uint16_t* y = ctx.as<uint16_t>(y_);
      for (int64_t i = 0; i < n_; ++i) y[i] = gemm::to_bf16(x[i]);
    } else {
      const uint16_t* x = ctx.as<const uint16_t>(x_);
      float* y = ctx.as<float>(y_);
      for (int64_t i = 0; i < n_; ++i) y[i] = gemm::from_bf16(x[i]);
    }
  }

 private:
  int64_t n_;
  bool narrow_;
  int32_t x_, y_;
};

template <class From>
std::unique_ptr<Step> make_from(const NodeInfo& info, int32_t to, int64_t n) {
  switch (to) {
    case LOOM_DTYPE_F32: return std::make_unique<CastLoop<float, From>>(info, n);
    case LOOM_DTYPE_I64: return std::make_unique<CastLoop<int64_t, From>>(info, n);
    case LOOM_DTYPE_I32: return std::make_unique<CastLoop<int32_t, From>>(info, n);
    case LOOM_DTYPE_U8: return std::make_unique<CastLoop<uint8_t, From>>(info, n);
    default: info.fail("cast to " + dtype_name(to) + " is not supported", LOOM_STATUS_UNSUPPORTED);
  }
}

class CastKernel final : public NodeKernel {
 public:
  using NodeKernel::NodeKernel;
  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    const int64_t n = count(x);
    const int32_t to = info_.output_dtypes[0];
    if (to == LOOM_DTYPE_BF16 || info_.input_dtypes[0] == LOOM_DTYPE_BF16) {
      if (to == info_.input_dtypes[0]) return std::make_unique<CastLoop<uint16_t, uint16_t>>(info_, n);
      if (to != LOOM_DTYPE_F32 && info_.input_dtypes[0] != LOOM_DTYPE_F32)
        info_.fail("cast between bf16 and " + dtype_name(to == LOOM_DTYPE_BF16 ? info_.input_dtypes[0] : to) + " is not supported",
                   LOOM_STATUS_UNSUPPORTED);
      return std::make_unique<CastBf16>(info_, n, to == LOOM_DTYPE_BF16);
    }
    switch (info_.input_dtypes[0]) {
      case LOOM_DTYPE_F32: return make_from<float>(info_, to, n);
      case LOOM_DTYPE_I64: return make_from<int64_t>(info_, to, n);
      case LOOM_DTYPE_I32: return make_from<int32_t>(info_, to, n);
      case LOOM_DTYPE_U8: return make_from<uint8_t>(info_, to, n);
      default: info_.fail("cast from " + dtype_name(info_.input_dtypes[0]) + " is not supported", LOOM_STATUS_UNSUPPORTED);
    }
  }
};

std::optional<std::string> check_cast(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  if (auto r = check_dtype(node, 0, {LOOM_DTYPE_F32, LOOM_DTYPE_I64, LOOM_DTYPE_I32, LOOM_DTYPE_U8, LOOM_DTYPE_BF16})) return r;
  std::string to = attr_string(node, "to", "");
  auto dt = parse_dtype(to);
  if (!dt) return "to='" + to + "' is not a dtype name";
  if (*dt != LOOM_DTYPE_F32 && *dt != LOOM_DTYPE_I64 && *dt != LOOM_DTYPE_I32 && *dt != LOOM_DTYPE_U8 && *dt != LOOM_DTYPE_BF16)
    return "cast to " + dtype_name(*dt) + " is not supported (onednn casts to f32, i64, i32, u8, bf16)";
  const int32_t from = node.input(0).dtype();
  if ((from == LOOM_DTYPE_BF16) != (*dt == LOOM_DTYPE_BF16) && from != LOOM_DTYPE_F32 && *dt != LOOM_DTYPE_F32)
    return "cast between bf16 and " + dtype_name(from == LOOM_DTYPE_BF16 ? *dt : from) + " is not supported (bf16 casts to and from f32)";
  if (node.output(0).dtype() != *dt)
    return "output dtype " + dtype_name(node.output(0).dtype()) + " differs from to='" + to + "'";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_cast(const sdk::NodeView&, NodeInfo info) {
  return std::make_unique<CastKernel>(std::move(info));
}

}  // namespace

std::vector<OpEntry> cast_ops() { return {{"cast", check_cast, compile_cast}}; }

}  // namespace loom::onednn
