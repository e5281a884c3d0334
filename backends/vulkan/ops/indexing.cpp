// positions (i64 position ids from an optional offset, per batch row with per_row):
// shaders/positions.comp.
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kPositions{"positions", 2, 6 * 4};

class PositionsKernel final : public NodeKernel {
 public:
  PositionsKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.device.limits()), wg_(c.config.workgroup_size),
        axis_(*normalize_axis(node.attr_int("axis"), node.input(0).rank())), per_row_(node.attr_bool("per_row")) {
    check_workgroup(limits_, wg_, 1, 0, node_.where());
    pipeline_ = &c.device.pipelines().get(kPositions, {wg_});
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto like = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const int32_t offset = node_.inputs.size() > 1 ? node_.inputs[1] : -1;
    const int64_t rows = per_row_ ? like[0] : 1, n = like[static_cast<size_t>(axis_)];
    // The offset's size is known with the shapes: checked here, before anything runs.
    if (offset >= 0 && shapes.numel(static_cast<size_t>(offset)) != rows)
      throw Error(node_.where() + ": offset has " + std::to_string(shapes.numel(static_cast<size_t>(offset))) +
                      " elements, expected " + std::to_string(rows),
                  LOOM_STATUS_INVALID_ARGUMENT);
    const int64_t count = rows * n;
    if (count == 0) return;
    const Grid g = grid_for(static_cast<uint64_t>(count), wg_, limits_, node_.where());
    out.push_back({node_.name, pipeline_, {offset, node_.outputs[0]},
                   {0, 0, index32(count, node_.where()), g.row_groups, index32(n, node_.where()), offset >= 0 ? 1u : 0u},
                   {g.x, g.y, 1}});
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  int64_t axis_;
  bool per_row_;
  const Pipeline* pipeline_ = nullptr;
};

std::optional<std::string> check_positions(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input like and one output";
  if (node.output(0).dtype() != LOOM_DTYPE_I64) return "the output is not i64";
  if (node.has_input(1) && node.input(1).dtype() != LOOM_DTYPE_I64) return "the offset is not i64";
  const int64_t rank = node.input(0).rank();
  auto axis = normalize_axis(node.attr_int("axis"), rank);
  if (!axis) return "axis out of range";
  if (node.attr_bool("per_row") && (!node.has_input(1) || *axis == 0))
    return "per_row needs an offset per batch row and an axis other than 0";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_positions(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<PositionsKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> indexing_ops() { return {{"positions", check_positions, compile_positions}}; }

}  // namespace loom::vulkan
