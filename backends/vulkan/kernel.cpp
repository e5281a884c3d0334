#include "kernel.hpp"

#include <algorithm>
#include <cstring>

namespace loom::vulkan {

Limits effective_limits(const Limits& device, const Config& config) {
  Limits l = device;
  if (config.max_buffer_range) l.max_storage_buffer_range = std::min(l.max_storage_buffer_range, config.max_buffer_range);
  if (config.max_allocation) l.max_allocation = std::min(l.max_allocation, config.max_allocation);
  return l;
}

uint64_t binding_capacity(const Limits& limits) {
  const uint64_t slack = limits.min_storage_buffer_offset_alignment - 4;
  return limits.max_storage_buffer_range > slack ? limits.max_storage_buffer_range - slack : 0;
}

int64_t rows_per_binding(const Limits& limits, uint64_t row_bytes, const std::string& what) {
  const uint64_t rows = row_bytes ? binding_capacity(limits) / row_bytes : UINT32_MAX;
  if (rows == 0)
    throw Error(what + ": one row of " + std::to_string(row_bytes) + " bytes is more than the device's maxStorageBufferRange of " +
                    std::to_string(limits.max_storage_buffer_range) + " that one shader binding can reach",
                LOOM_STATUS_UNSUPPORTED);
  return static_cast<int64_t>(std::min<uint64_t>(rows, INT32_MAX));
}

int64_t half_rows_per_binding(const Limits& limits, uint64_t row_halves, const std::string& what) {
  int64_t rows = rows_per_binding(limits, row_halves * 2, what);
  if (rows > 1 && static_cast<uint64_t>(rows) * row_halves * 2 + 4 > binding_capacity(limits)) --rows;
  return rows;
}

HalfChunk half_chunk(uint64_t first, uint64_t count) {
  const uint64_t even = first & ~uint64_t{1};
  const uint64_t halves = count + (first - even);
  return {even, halves, even * 2, (halves + 1) / 2 * 4};
}

int32_t Prepared::scratch(uint64_t bytes) {
  const uint64_t offset = node_offset_;
  node_offset_ += (bytes + alignment_ - 1) / alignment_ * alignment_;
  scratch_bytes_ = std::max(scratch_bytes_, node_offset_);
  regions_.push_back({offset, bytes});
  return static_cast<int32_t>(num_values_ + regions_.size() - 1);
}

GridKernel::GridKernel(const sdk::NodeView& node, const CompileContext& c, const ShaderInterface& shader, std::vector<uint32_t> spec)
    : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size) {
  check_workgroup(limits_, wg_, 1, 0, node_.where());
  spec.insert(spec.begin(), wg_);
  pipeline_ = &c.device.pipelines().get(shader, spec);
}

Grid GridKernel::grid(int64_t items) const { return grid_for(static_cast<uint64_t>(items), wg_, limits_, node_.where()); }

void ElementKernel::prepare(const sdk::ShapeSet& shapes, Prepared& out) const {
  const int64_t count = shapes.numel(static_cast<size_t>(node_.outputs[0]));
  if (count == 0) return;
  const Grid g = grid(count);
  out.push_back({node_.name, pipeline_, {node_.inputs[0], node_.outputs[0]}, {0, 0, index32(count, node_.where()), g.row_groups},
                 {g.x, g.y, 1}});
}

NodeRef NodeRef::from(const sdk::NodeView& node) {
  NodeRef r{std::string(node.name()), std::string(node.op()), {}, {}};
  for (size_t i = 0; i < node.num_inputs(); ++i) r.inputs.push_back(node.input_index(i));
  for (size_t i = 0; i < node.num_outputs(); ++i) r.outputs.push_back(node.output_index(i));
  return r;
}

std::string NodeRef::where() const { return "node '" + name + "' (" + op + ")"; }

std::optional<std::string> check_f32(const sdk::NodeView& node) {
  for (size_t i = 0; i < node.num_inputs(); ++i)
    if (node.has_input(i) && node.input(i).dtype() != LOOM_DTYPE_F32)
      return "input " + std::to_string(i) + " is " + sdk::dtype_name(node.input(i).dtype()) + "; the vulkan backend computes f32 only";
  for (size_t i = 0; i < node.num_outputs(); ++i)
    if (node.output(i).dtype() != LOOM_DTYPE_F32)
      return "output " + std::to_string(i) + " is " + sdk::dtype_name(node.output(i).dtype()) + "; the vulkan backend computes f32 only";
  return std::nullopt;
}

std::optional<std::string> check_rank(const sdk::NodeView& node, size_t input, int64_t max_rank) {
  if (node.has_input(input) && node.input(input).rank() > max_rank)
    return "input " + std::to_string(input) + " has rank " + std::to_string(node.input(input).rank()) + ", more than the " +
           std::to_string(max_rank) + " the vulkan kernel takes";
  return std::nullopt;
}

std::optional<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

Grid grid_for(uint64_t items, uint64_t per_group, const Limits& limits, const std::string& where) {
  const uint64_t groups = (items + per_group - 1) / per_group;
  const uint64_t max_x = limits.max_workgroup_count[0], max_y = limits.max_workgroup_count[1];
  Grid g;
  g.x = static_cast<uint32_t>(std::min<uint64_t>(groups, max_x));
  g.row_groups = g.x;
  const uint64_t rows = g.x ? (groups + g.x - 1) / g.x : 1;
  if (rows > max_y)
    throw Error(where + ": " + std::to_string(groups) + " workgroups exceed the device's maxComputeWorkGroupCount of " +
                    std::to_string(max_x) + " x " + std::to_string(max_y),
                LOOM_STATUS_UNSUPPORTED);
  g.y = static_cast<uint32_t>(std::max<uint64_t>(rows, 1));
  return g;
}

void check_workgroup(const Limits& limits, uint32_t x, uint32_t y, uint64_t shared_bytes, const std::string& where) {
  if (x > limits.max_workgroup_size[0] || y > limits.max_workgroup_size[1])
    throw Error(where + ": a workgroup of " + std::to_string(x) + " x " + std::to_string(y) +
                    " invocations exceeds the device's maxComputeWorkGroupSize of " + std::to_string(limits.max_workgroup_size[0]) +
                    " x " + std::to_string(limits.max_workgroup_size[1]),
                LOOM_STATUS_UNSUPPORTED);
  if (static_cast<uint64_t>(x) * y > limits.max_workgroup_invocations)
    throw Error(where + ": a workgroup of " + std::to_string(static_cast<uint64_t>(x) * y) +
                    " invocations exceeds the device's maxComputeWorkGroupInvocations of " +
                    std::to_string(limits.max_workgroup_invocations),
                LOOM_STATUS_UNSUPPORTED);
  if (shared_bytes > limits.max_shared_memory)
    throw Error(where + ": " + std::to_string(shared_bytes) + " bytes of shared memory exceed the device's maxComputeSharedMemorySize of " +
                    std::to_string(limits.max_shared_memory),
                LOOM_STATUS_UNSUPPORTED);
}

uint32_t index32(int64_t n, const std::string& where) {
  if (n < 0 || n > static_cast<int64_t>(UINT32_MAX))
    throw Error(where + ": " + std::to_string(n) + " elements do not fit the shaders' 32-bit indices", LOOM_STATUS_UNSUPPORTED);
  return static_cast<uint32_t>(n);
}

Dims broadcast_strides(std::span<const int64_t> in, std::span<const int64_t> out) {
  Dims strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 1; i <= in.size() && i <= out.size(); ++i) {
    const int64_t d = in[in.size() - i];
    if (d != 1) strides[out.size() - i] = stride;
    stride *= d;
  }
  return strides;
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

uint16_t f16_bits(float f) {
  const uint32_t x = float_bits(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t exponent = (x >> 23) & 0xff, mantissa = x & 0x7fffff;
  if (exponent == 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >> 13) : 0);  // infinity, NaN kept quiet
  const int32_t e = static_cast<int32_t>(exponent) - 127 + 15;
  if (e >= 31) return sign | 0x7c00;  // past 65504 after rounding too
  // Normal halves keep the top 10 bits of the mantissa; subnormal ones (e <= 0) shift the
  // mantissa with its hidden bit right by 14 - e. Either way the bits shifted out round to
  // nearest, ties to even; a carry out of the mantissa correctly bumps the exponent.
  if (e < -10) return sign;  // below half the smallest subnormal
  const uint32_t full = e > 0 ? mantissa : mantissa | 0x800000;
  const uint32_t shift = e > 0 ? 13 : static_cast<uint32_t>(14 - e);
  uint32_t h = (e > 0 ? static_cast<uint32_t>(e) << 10 : 0) | (full >> shift);
  const uint32_t rest = full & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

int64_t numel(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

}  // namespace loom::vulkan
