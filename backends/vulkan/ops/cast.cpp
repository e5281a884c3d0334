// cast between f32, i32 and i64, and from u8 to those (a mask of booleans, BEiT's
// bool_masked_pos): shaders/cast.comp, one pipeline per pair of dtypes.
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kCast{"cast", 2, 4 * 4};

// cast.comp's numbering of the dtypes it converts; UINT32_MAX for the others.
uint32_t cast_code(int32_t dtype) {
  switch (dtype) {
    case LOOM_DTYPE_F32: return 0;
    case LOOM_DTYPE_I32: return 1;
    case LOOM_DTYPE_I64: return 2;
    case LOOM_DTYPE_U8: return 3;
    default: return UINT32_MAX;
  }
}

std::optional<std::string> check_cast(const sdk::NodeView& node) {
  if (node.num_inputs() != 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input x and one output";
  for (int32_t t : {node.input(0).dtype(), node.output(0).dtype()})
    if (cast_code(t) == UINT32_MAX)
      return "the vulkan backend casts between f32, i32 and i64, and from u8, only, not " + sdk::dtype_name(t);
  // Writing single bytes would need byte stores or atomics on shared words.
  if (node.output(0).dtype() == LOOM_DTYPE_U8) return "the vulkan backend does not cast to u8";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_cast(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<ElementKernel>(node, c, kCast,
                                         std::vector<uint32_t>{cast_code(node.input(0).dtype()), cast_code(node.output(0).dtype())});
}

}  // namespace

std::vector<OpEntry> cast_ops() { return {{"cast", check_cast, compile_cast}}; }

}  // namespace loom::vulkan
