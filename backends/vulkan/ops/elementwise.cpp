// add, sub, mul, div (f32, and i32 and i64 through shaders/int_binary.comp; NumPy broadcasting)
// and the activations relu, tanh, sigmoid, exp, gelu (erf and tanh forms), quick_gelu, silu:
// shaders/binary.comp and shaders/unary.comp.
#include "kernel.hpp"

#include <array>

namespace loom::vulkan {
namespace {

constexpr int kMaxRank = 6;  // the push-constant arrays of binary.comp

const ShaderInterface kUnary{"unary", 2, 4 * 4};

// The output's dims with each input's element strides along them (0 where it broadcasts),
// adjacent dims merged where both inputs walk them as one, size-1 dims dropped.
struct Broadcast {
  Dims dims, sa, sb;
};

Broadcast collapse(std::span<const int64_t> a, std::span<const int64_t> b, std::span<const int64_t> out) {
  const Dims sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  Broadcast r;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (!r.dims.empty() && r.sa.back() == sa[i] * out[i] && r.sb.back() == sb[i] * out[i]) {
      r.dims.back() *= out[i];
      r.sa.back() = sa[i];
      r.sb.back() = sb[i];
      continue;
    }
    r.dims.push_back(out[i]);
    r.sa.push_back(sa[i]);
    r.sb.push_back(sb[i]);
  }
  return r;
}

class BinaryKernel final : public GridKernel {
 public:
  BinaryKernel(const sdk::NodeView& node, const CompileContext& c, uint32_t op) : GridKernel(node, c, kBinaryShader, {op}) {}

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const int32_t a = node_.inputs[0], b = node_.inputs[1], o = node_.outputs[0];
    binary_dispatch(node_.name, *pipeline_, limits_, wg_, {a, b, o}, shapes.dims(static_cast<size_t>(a)),
                    shapes.dims(static_cast<size_t>(b)), shapes.dims(static_cast<size_t>(o)), out);
  }
};

const ShaderInterface kIntBinary{"int_binary", 4, 25 * 4};

// i32 and i64: the push block of binary.comp with the status slot's offset after the tensors'.
class IntBinaryKernel final : public GridKernel {
 public:
  IntBinaryKernel(const sdk::NodeView& node, const CompileContext& c, uint32_t op)
      : GridKernel(node, c, kIntBinary, {op, node.input(0).dtype() == LOOM_DTYPE_I64 ? 2u : 1u}), div_(op == 3) {}

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const int32_t a = node_.inputs[0], b = node_.inputs[1], o = node_.outputs[0];
    const auto oshape = shapes.dims(static_cast<size_t>(o));
    const int64_t count = numel(oshape);
    if (count == 0) return;
    const std::string where = node_.where();
    const Broadcast bc = collapse(shapes.dims(static_cast<size_t>(a)), shapes.dims(static_cast<size_t>(b)), oshape);
    if (bc.dims.size() > kMaxRank) throw Error(where + ": more than 6 broadcast dims", LOOM_STATUS_UNSUPPORTED);
    const Grid g = grid(count);
    // Only a division reads the status slot; the others bind another tensor there.
    Dispatch d{node_.name, pipeline_, {a, b, o, div_ ? kStatus : -1}, std::vector<uint32_t>(25, 0), {g.x, g.y, 1}};
    d.push[4] = index32(count, where);
    d.push[5] = g.row_groups;
    d.push[6] = static_cast<uint32_t>(bc.dims.size());
    for (size_t i = 0; i < bc.dims.size(); ++i) {
      d.push[7 + i] = index32(bc.dims[i], where);
      d.push[13 + i] = index32(bc.sa[i], where);
      d.push[19 + i] = index32(bc.sb[i], where);
    }
    d.where = where;
    d.failure = "integer division by zero";
    out.push_back(std::move(d));
  }

 private:
  bool div_;
};

std::optional<std::string> check_binary(const sdk::NodeView& node) {
  if (node.num_inputs() != 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() != 1)
    return "expects inputs a, b and one output";
  const int32_t t = node.input(0).dtype();
  if (t == LOOM_DTYPE_I32 || t == LOOM_DTYPE_I64) {
    if (node.input(1).dtype() != t || node.output(0).dtype() != t) return "inputs and output of different dtypes";
  } else if (t != LOOM_DTYPE_F32) {
    return "input 0 is " + sdk::dtype_name(t) + "; the vulkan backend's arithmetic takes f32, i32 and i64 only";
  } else if (auto why = check_f32(node)) {
    return why;
  }
  for (size_t i = 0; i < 2; ++i)
    if (auto why = check_rank(node, i, kMaxRank)) return why;
  return std::nullopt;
}

std::optional<std::string> check_unary(const sdk::NodeView& node) {
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  return check_f32(node);
}

std::optional<std::string> check_gelu(const sdk::NodeView& node) {
  if (auto why = check_unary(node)) return why;
  const loom_attr* a = node.find_attr("approximate");
  const std::string_view form = a && a->type == LOOM_ATTR_STRING && a->s ? a->s : "none";
  if (form != "none" && form != "tanh") return "approximate='" + std::string(form) + "' is unknown to the vulkan backend";
  return std::nullopt;
}

template <uint32_t Op>
std::unique_ptr<NodeKernel> compile_binary(const sdk::NodeView& node, const CompileContext& c) {
  if (node.input(0).dtype() != LOOM_DTYPE_F32) return std::make_unique<IntBinaryKernel>(node, c, Op);
  return std::make_unique<BinaryKernel>(node, c, Op);
}

template <uint32_t Act>
std::unique_ptr<NodeKernel> compile_unary(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<ElementKernel>(node, c, kUnary, std::vector<uint32_t>{Act});
}

std::unique_ptr<NodeKernel> compile_gelu(const sdk::NodeView& node, const CompileContext& c) {
  const loom_attr* a = node.find_attr("approximate");
  const bool tanh_form = a && a->type == LOOM_ATTR_STRING && a->s && std::string_view(a->s) == "tanh";
  return std::make_unique<ElementKernel>(node, c, kUnary, std::vector<uint32_t>{tanh_form ? kActGeluTanh : kActGelu});
}

}  // namespace

const ShaderInterface kBinaryShader{"binary", 3, 24 * 4};

void binary_dispatch(const std::string& node, const Pipeline& pipeline, const Limits& limits, uint32_t workgroup,
                     std::array<int32_t, 3> values, std::span<const int64_t> a, std::span<const int64_t> b,
                     std::span<const int64_t> out, Prepared& prepared) {
  const int64_t count = numel(out);
  if (count == 0) return;
  const std::string where = "node '" + node + "'";
  const Broadcast bc = collapse(a, b, out);
  if (bc.dims.size() > kMaxRank) throw Error(where + ": more than 6 broadcast dims", LOOM_STATUS_UNSUPPORTED);
  const Grid g = grid_for(static_cast<uint64_t>(count), workgroup, limits, where);
  Dispatch d{node, &pipeline, {values.begin(), values.end()}, std::vector<uint32_t>(24, 0), {g.x, g.y, 1}};
  d.push[3] = index32(count, where);
  d.push[4] = g.row_groups;
  d.push[5] = static_cast<uint32_t>(bc.dims.size());
  for (size_t i = 0; i < bc.dims.size(); ++i) {
    d.push[6 + i] = static_cast<uint32_t>(bc.dims[i]);
    d.push[12 + i] = static_cast<uint32_t>(bc.sa[i]);
    d.push[18 + i] = static_cast<uint32_t>(bc.sb[i]);
  }
  prepared.push_back(std::move(d));
}

std::vector<OpEntry> elementwise_ops() {
  return {
      {"add", check_binary, compile_binary<0>},       {"sub", check_binary, compile_binary<1>},
      {"mul", check_binary, compile_binary<2>},       {"div", check_binary, compile_binary<3>},
      {"relu", check_unary, compile_unary<kActRelu>},
      {"gelu", check_gelu, compile_gelu},
      {"quick_gelu", check_unary, compile_unary<kActQuickGelu>},
      {"silu", check_unary, compile_unary<kActSilu>},
      {"tanh", check_unary, compile_unary<kActTanh>},
      {"sigmoid", check_unary, compile_unary<kActSigmoid>},
      {"exp", check_unary, compile_unary<kActExp>},
  };
}

}  // namespace loom::vulkan
