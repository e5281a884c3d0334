// attention (fused, f32) with valid_length and causality in one dispatch, flash-style
// (shaders/attention.comp): scores, an online softmax and the weighted sum of v per tile of keys
// in shared memory, nothing written to device memory but the output. The tile shapes (rows a
// workgroup, keys a tile, the head size served) are specialisation constants chosen when the plan
// is prepared, once the head size and the number of queries are known. Every form of the op runs
// here: with valid_length, causal, a mask, or none of them (an encoder's padding mask).
#include "kernel.hpp"

#include <cmath>

namespace loom::vulkan {
namespace {

const ShaderInterface kAttention{"attention", 7, 22 * 4};

class AttentionKernel final : public NodeKernel {
 public:
  AttentionKernel(const sdk::NodeView& node, const CompileContext& c)
      : node_(NodeRef::from(node)), limits_(c.limits), wg_(c.config.workgroup_size), causal_(node.attr_bool("causal") ? 1u : 0u),
        scale_(static_cast<float>(node.attr_float("scale"))), pipelines_(&c.device.pipelines()) {
    check_workgroup(limits_, wg_, 1, 0, node_.where());
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    auto input = [&](size_t i) { return node_.inputs.size() > i ? node_.inputs[i] : -1; };
    const int32_t q = input(0), k = input(1), v = input(2), mask = input(3), length = input(4), o = node_.outputs[0];
    const auto qd = shapes.dims(static_cast<size_t>(q)), kd = shapes.dims(static_cast<size_t>(k)), vd = shapes.dims(static_cast<size_t>(v));
    const std::string where = node_.where();
    const int64_t batch = qd[0], heads = qd[1], tq = qd[2], d = qd[3], tk = kd[2], dv = vd[3];
    if (kd[0] != batch || kd[1] != heads || kd[3] != d || vd[0] != batch || vd[1] != heads || vd[2] != tk)
      throw Error(where + ": q " + sdk::dims_str(qd) + ", k " + sdk::dims_str(kd) + " and v " + sdk::dims_str(vd) + " do not agree",
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (length >= 0 && shapes.numel(static_cast<size_t>(length)) != batch)
      throw Error(where + ": valid_length has " + std::to_string(shapes.numel(static_cast<size_t>(length))) + " elements, expected " +
                      std::to_string(batch),
                  LOOM_STATUS_INVALID_ARGUMENT);
    const int64_t rows = batch * heads * tq;
    if (rows == 0 || dv == 0) return;
    const float scale = scale_ > 0 ? scale_ : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    const Dims scores{batch, heads, tq, tk};
    const Dims sm = mask >= 0 ? broadcast_strides(shapes.dims(static_cast<size_t>(mask)), scores) : Dims(4, 0);
    const Tiles tiles = choose_tiles(tq, d, dv, where);
    const uint32_t bq = tiles.rows, bk = tiles.keys, dmax = tiles.head;
    const int64_t blocks = (tq + bq - 1) / bq, groups = batch * heads * blocks;
    const Pipeline& pipeline = pipelines_->get(kAttention, {wg_, causal_, bq, bk, dmax});
    const Grid g = grid_for(static_cast<uint64_t>(groups), 1, limits_, where);
    Dispatch dispatch{node_.name, &pipeline, {q, k, v, mask, length, o, kStatus},
                      {0, 0, 0, 0, 0, 0, 0, index32(groups, where), g.row_groups, index32(blocks, where), index32(heads, where),
                       index32(tq, where), index32(tk, where), index32(d, where), index32(dv, where), mask >= 0 ? 1u : 0u,
                       length >= 0 ? 1u : 0u, float_bits(scale), index32(sm[0], where), index32(sm[1], where), index32(sm[2], where),
                       index32(sm[3], where)},
                      {g.x, g.y, 1}};
    dispatch.where = where;
    dispatch.checked = "valid_length";
    dispatch.allowed = "0.." + std::to_string(tk) + ", the number of keys";
    out.push_back(std::move(dispatch));
  }

 private:
  // Shared memory of the shader (attention.comp) for tiles of `rows` queries, `keys` keys and
  // values and a head size of `head`: the queries, keys and values, each row's weights, and two
  // floats an invocation.
  uint64_t shared_bytes(uint32_t rows, uint32_t keys, uint32_t head) const {
    return 4 * ((2 * uint64_t{keys} + rows) * head + uint64_t{rows} * keys + 2 * uint64_t{wg_});
  }
  struct Tiles {
    uint32_t rows, keys, head;
  };
  // The tile shapes (specialisation constants): one query row a workgroup for a decode step
  // (every invocation on the one row), else 16 rows sharing each tile of keys; 32 keys a tile (in
  // a decode step as many as the invocations); the head size, the larger of q . k's and v's,
  // rounded up to 16 so that few pipelines serve every model. Where that does not fit the device's
  // shared memory, the keys are halved down to 8, then the rows down to 1, then the keys down to
  // 1; a head size for which even that does not fit is refused, naming the limit.
  Tiles choose_tiles(int64_t tq, int64_t d, int64_t dv, const std::string& where) const {
    Tiles t;
    t.rows = tq == 1 ? 1u : std::min<uint32_t>(16, wg_);
    t.keys = std::max<uint32_t>(32, wg_ / t.rows);
    t.head = index32((std::max<int64_t>({d, dv, 1}) + 15) / 16 * 16, where);
    const uint64_t limit = limits_.max_shared_memory;
    while (shared_bytes(t.rows, t.keys, t.head) > limit && (t.keys > 1 || t.rows > 1)) {
      if (t.keys > 8 || t.rows == 1) t.keys /= 2;
      else t.rows /= 2;
    }
    if (shared_bytes(t.rows, t.keys, t.head) > limit)
      throw Error(where + ": a head size of " + std::to_string(d) + " (v: " + std::to_string(dv) + ") needs " +
                      std::to_string(shared_bytes(t.rows, t.keys, t.head)) + " bytes of shared memory for one query, key and value, more "
                      "than the device's maxComputeSharedMemorySize of " + std::to_string(limit),
                  LOOM_STATUS_UNSUPPORTED);
    return t;
  }

  NodeRef node_;
  Limits limits_;
  uint32_t wg_, causal_;
  float scale_;
  Pipelines* pipelines_;
};

std::optional<std::string> check_attention(const sdk::NodeView& node) {
  if (node.num_inputs() < 3 || node.num_inputs() > 5 || node.num_outputs() != 1) return "expects q, k, v, mask, valid_length and one output";
  for (size_t i = 0; i < 3; ++i) {
    if (!node.has_input(i)) return "input " + std::to_string(i) + " is missing";
    if (node.input(i).rank() != 4) return "q, k and v must be 4-D";
  }
  for (size_t i = 0; i < 4 && i < node.num_inputs(); ++i)
    if (node.has_input(i) && node.input(i).dtype() != LOOM_DTYPE_F32)
      return "input " + std::to_string(i) + " is " + sdk::dtype_name(node.input(i).dtype()) + "; the vulkan backend computes f32 only";
  if (node.output(0).dtype() != LOOM_DTYPE_F32) return "the output is not f32";
  if (node.num_inputs() > 3 && node.has_input(3) && node.input(3).rank() > 4) return "mask must have rank 4 or less";
  const bool length = node.num_inputs() > 4 && node.has_input(4);
  if (length && node.input(4).dtype() != LOOM_DTYPE_I64) return "valid_length is not i64";
  if (node.attr_float("scale") < 0) return "scale must not be negative";
  if (node.attr_string("layout") != "bhsd") return "layout bshd: the shader reads heads first (bhsd); decomposed";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_attention(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<AttentionKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> attention_ops() { return {{"attention", check_attention, compile_attention}}; }

}  // namespace loom::vulkan
