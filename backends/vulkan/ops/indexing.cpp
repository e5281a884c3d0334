// positions (i64 position ids from an optional offset, per batch row with per_row), gather and
// gather_rows (f32, i32 or i64 data; i64 or i32 indices, checked on the device), key_mask
// (valid lengths checked on the device) and cache_write (offsets checked on the device, in place
// when the host hands it the cache as its output): shaders/positions.comp, gather.comp,
// key_mask.comp, cache_write.comp.
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kPositions{"positions", 2, 6 * 4};
const ShaderInterface kGather{"gather", 4, 11 * 4};
const ShaderInterface kKeyMask{"key_mask", 3, 9 * 4};
const ShaderInterface kCacheWrite{"cache_write", 5, 12 * 4};

class PositionsKernel final : public GridKernel {
 public:
  PositionsKernel(const sdk::NodeView& node, const CompileContext& c)
      : GridKernel(node, c, kPositions, {}), axis_(*normalize_axis(node.attr_int("axis"), node.input(0).rank())),
        per_row_(node.attr_bool("per_row")) {}

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
    const Grid g = grid(count);
    out.push_back({node_.name, pipeline_, {offset, node_.outputs[0]},
                   {0, 0, index32(count, node_.where()), g.row_groups, index32(n, node_.where()), offset >= 0 ? 1u : 0u},
                   {g.x, g.y, 1}});
  }

 private:
  int64_t axis_;
  bool per_row_;
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

// gather, and gather_rows (`rows`: row b of data takes index b, along axis 1).
class GatherKernel final : public GridKernel {
 public:
  GatherKernel(const sdk::NodeView& node, const CompileContext& c, bool rows)
      : GridKernel(node, c, kGather, {node.input(1).dtype() == LOOM_DTYPE_I64 ? 1u : 0u, rows ? 1u : 0u, is_half(node, c) ? 1u : 0u}),
        axis_(rows ? 1 : *normalize_axis(node.attr_int("axis"), node.input(0).rank())), rows_(rows),
        words_(node.input(0).dtype() == LOOM_DTYPE_I64 ? 2 : 1), half_(is_half(node, c)) {}

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto data = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const auto a = static_cast<size_t>(axis_);
    const int64_t tokens = shapes.numel(static_cast<size_t>(node_.inputs[1]));
    const std::string where = node_.where();
    if (rows_ && tokens != data[0])
      throw Error(where + ": " + std::to_string(tokens) + " indices for " + std::to_string(data[0]) + " rows of data",
                  LOOM_STATUS_INVALID_ARGUMENT);
    const int64_t inner = numel(data.subspan(a + 1)) * words_;
    const int64_t count = (rows_ ? 1 : numel(data.first(a))) * tokens * inner;
    if (count == 0) return;
    const Grid g = grid(count);
    // Data past one binding's reach (an embedding table of a large vocabulary) is split along its
    // outermost dim: a dispatch per chunk of rows, each writing the outputs that read from it.
    // Units of data: 32-bit words, or halves where the data is stored as f16.
    const uint64_t data_units = index32(numel(data) * words_, where);
    const int64_t row_units = data.empty() ? 1 : numel(data.subspan(1)) * words_;
    const uint64_t data_bytes = half_ ? packed_half_bytes(data_units) : data_units * 4;
    const bool split = data_bytes > binding_capacity(limits_) && row_units > 0;
    const auto row = static_cast<uint64_t>(row_units);
    const int64_t rows = !split ? 1
                         : half_ ? half_rows_per_binding(limits_, row, where + ": data")
                                 : rows_per_binding(limits_, row * 4, where + ": data");
    const int64_t total_rows = split ? data[0] : 1;
    // (std::to_string inside one long concatenation trips GCC 12's -Wrestrict; named strings do not.)
    const std::string lo = std::to_string(-data[a]), hi = std::to_string(data[a] - 1), n = std::to_string(data[a]);
    for (int64_t r0 = 0; r0 < total_rows; r0 += rows) {
      uint64_t base = split ? static_cast<uint64_t>(r0 * row_units) : 0;
      uint64_t len = split ? static_cast<uint64_t>(std::min(rows, total_rows - r0) * row_units) : data_units;
      uint64_t view_at = base * 4, view_bytes = len * 4;
      if (half_) {
        const HalfChunk h = half_chunk(base, len);
        base = h.first;
        len = h.count;
        view_at = h.offset;
        view_bytes = h.bytes;
      }
      Dispatch d{node_.name, pipeline_, {node_.inputs[0], node_.inputs[1], node_.outputs[0], kStatus},
                 {0, 0, 0, 0, index32(count, where), g.row_groups, index32(tokens, where), index32(inner, where), index32(data[a], where),
                  static_cast<uint32_t>(base), static_cast<uint32_t>(len)},
                 {g.x, g.y, 1}};
      if (split) d.view(0, view_at, view_bytes);
      d.where = where;
      d.checked = "index";
      d.allowed = lo + " .. " + hi + " (a dim of " + n + ")";
      out.push_back(std::move(d));
    }
  }

 private:
  static bool is_half(const sdk::NodeView& node, const CompileContext& c) {
    const int32_t v = node.input_index(0);
    return v >= 0 && static_cast<size_t>(v) < c.half.size() && c.half[static_cast<size_t>(v)];
  }

  int64_t axis_;
  bool rows_;
  uint32_t words_;
  bool half_;  // the data is a constant stored as f16 (precision=f16)
};

class KeyMaskKernel final : public GridKernel {
 public:
  KeyMaskKernel(const sdk::NodeView& node, const CompileContext& c)
      : GridKernel(node, c, kKeyMask, {node.attr_bool("causal") ? 1u : 0u}), fill_(static_cast<float>(node.attr_float("fill"))) {}

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto scores = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const int32_t length = node_.inputs.size() > 1 ? node_.inputs[1] : -1;
    const int64_t batch = scores[0], tq = scores[scores.size() - 2], tk = scores.back();
    const std::string where = node_.where();
    if (length >= 0 && shapes.numel(static_cast<size_t>(length)) != batch)
      throw Error(where + ": valid_length has " + std::to_string(shapes.numel(static_cast<size_t>(length))) + " elements, expected " +
                      std::to_string(batch),
                  LOOM_STATUS_INVALID_ARGUMENT);
    const int64_t count = batch * tq * tk;
    if (count == 0) return;
    const Grid g = grid(count);
    Dispatch d{node_.name, pipeline_, {length, node_.outputs[0], kStatus},
               {0, 0, 0, index32(count, where), g.row_groups, index32(tq, where), index32(tk, where), length >= 0 ? 1u : 0u,
                float_bits(fill_)},
               {g.x, g.y, 1}};
    d.where = where;
    d.checked = "valid_length";
    d.allowed = "0.." + std::to_string(tk) + ", the number of keys";
    out.push_back(std::move(d));
  }

 private:
  float fill_;
};

std::optional<std::string> check_key_mask(const sdk::NodeView& node) {
  if (node.num_inputs() < 1 || !node.has_input(0) || node.num_outputs() != 1) return "expects input scores and one output";
  if (node.output(0).dtype() != LOOM_DTYPE_F32) return "the vulkan backend makes f32 masks only";
  if (node.has_input(1) && node.input(1).dtype() != LOOM_DTYPE_I64) return "valid_length is not i64";
  if (node.input(0).rank() < 3) return "scores must have rank >= 3";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_key_mask(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<KeyMaskKernel>(node, c);
}

// Two dispatches of which a run records one (Dispatch::alias_when): the update's words into the
// cache when the output is the cache itself, else the whole output.
class CacheWriteKernel final : public NodeKernel {
 public:
  CacheWriteKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size),
        axis_(*normalize_axis(node.attr_int("axis"), node.input(0).rank())),
        words_(node.input(0).dtype() == LOOM_DTYPE_I64 ? 2 : 1) {
    check_workgroup(limits_, wg_, 1, 0, node_.where());
    for (uint32_t full : {0u, 1u}) pipelines_[full] = &c.device.pipelines().get(kCacheWrite, {wg_, full});
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const int32_t cache = node_.inputs[0], update = node_.inputs[1], offset = node_.inputs[2], o = node_.outputs[0];
    const auto c = shapes.dims(static_cast<size_t>(cache)), u = shapes.dims(static_cast<size_t>(update));
    const std::string where = node_.where();
    const auto a = static_cast<size_t>(axis_);
    bool fits = u.size() == c.size() && u[a] <= c[a];
    for (size_t i = 0; fits && i < c.size(); ++i) fits = i == a || u[i] == c[i];
    if (!fits)
      throw Error(where + ": update " + sdk::dims_str(u) + " does not fit cache " + sdk::dims_str(c) + " along axis " + std::to_string(a),
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (shapes.numel(static_cast<size_t>(offset)) != c[0])
      throw Error(where + ": offset has " + std::to_string(shapes.numel(static_cast<size_t>(offset))) + " elements, expected " +
                      std::to_string(c[0]),
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (numel(c) == 0) return;
    const int64_t batch = c[0], mid = numel(c.subspan(1, a - 1)), len = c[a], t = u[a];
    const int64_t inner = numel(c.subspan(a + 1)) * words_;
    const std::string lo = std::to_string(len - t), n = std::to_string(len), tt = std::to_string(t);
    for (uint32_t full : {0u, 1u}) {
      const int64_t count = full ? numel(c) * words_ : numel(u) * words_;
      if (count == 0) continue;
      const Grid g = grid_for(static_cast<uint64_t>(count), wg_, limits_, where);
      Dispatch d{node_.name, pipelines_[full], {cache, update, offset, o, kStatus},
                 {0, 0, 0, 0, 0, index32(count, where), g.row_groups, index32(batch, where), index32(std::max<int64_t>(mid, 1), where),
                  index32(len, where), index32(t, where), index32(inner, where)},
                 {g.x, g.y, 1}};
      d.where = where;
      d.checked = "offset";
      d.allowed = "0.." + lo + " (" + tt + " new position" + (t == 1 ? "" : "s") + " in a cache of " + n + ")";
      d.alias_when = full ? Dispatch::kIfDistinct : Dispatch::kIfSame;
      d.alias_a = cache;
      d.alias_b = o;
      out.push_back(std::move(d));
    }
  }

 private:
  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  int64_t axis_;
  uint32_t words_;
  const Pipeline* pipelines_[2] = {};
};

std::optional<std::string> check_cache_write(const sdk::NodeView& node) {
  if (node.num_inputs() != 3 || !node.has_input(0) || !node.has_input(1) || !node.has_input(2) || node.num_outputs() != 1)
    return "expects inputs cache, update, offset and one output";
  const int32_t t = node.input(0).dtype();
  if (t != LOOM_DTYPE_F32 && t != LOOM_DTYPE_I32 && t != LOOM_DTYPE_I64)
    return "the vulkan backend writes f32, i32 and i64 caches only, not " + sdk::dtype_name(t);
  if (node.input(1).dtype() != t) return "update dtype differs from the cache's";
  if (node.input(2).dtype() != LOOM_DTYPE_I64) return "the offset is not i64";
  auto axis = normalize_axis(node.attr_int("axis"), node.input(0).rank());
  if (!axis || *axis == 0) return "axis is not a non-batch axis";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_cache_write(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<CacheWriteKernel>(node, c);
}

std::optional<std::string> check_gather_inputs(const sdk::NodeView& node) {
  if (node.num_inputs() != 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() != 1)
    return "expects inputs data, indices and one output";
  const int32_t t = node.input(0).dtype(), it = node.input(1).dtype();
  if (t != LOOM_DTYPE_F32 && t != LOOM_DTYPE_I32 && t != LOOM_DTYPE_I64)
    return "the vulkan backend gathers f32, i32 and i64 only, not " + sdk::dtype_name(t);
  if (it != LOOM_DTYPE_I64 && it != LOOM_DTYPE_I32) return "the indices are " + sdk::dtype_name(it) + ", not i64 or i32";
  return std::nullopt;
}

std::optional<std::string> check_gather(const sdk::NodeView& node) {
  if (auto why = check_gather_inputs(node)) return why;
  if (!normalize_axis(node.attr_int("axis"), node.input(0).rank())) return "axis out of range";
  return std::nullopt;
}

std::optional<std::string> check_gather_rows(const sdk::NodeView& node) {
  if (auto why = check_gather_inputs(node)) return why;
  if (node.input(0).rank() < 2 || node.input(1).rank() != 1) return "expects data [B, R, ...] and indices [B]";
  return std::nullopt;
}

template <bool Rows>
std::unique_ptr<NodeKernel> compile_gather(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<GatherKernel>(node, c, Rows);
}

}  // namespace

std::vector<OpEntry> indexing_ops() {
  return {{"positions", check_positions, compile_positions},
          {"gather", check_gather, compile_gather<false>},
          {"gather_rows", check_gather_rows, compile_gather<true>},
          {"key_mask", check_key_mask, compile_key_mask},
          {"cache_write", check_cache_write, compile_cache_write}};
}

}  // namespace loom::vulkan
