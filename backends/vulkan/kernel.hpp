// The Vulkan backend's internal kernel interface. Every op family (ops/<family>.cpp) hands the
// backend a table of OpEntry: a placement check, and a compile function that copies what it
// needs out of the borrowed graph view and gets its pipelines (compile time: shaders and
// specialisation constants are fixed there). A NodeKernel's prepare() turns concrete shapes into
// dispatches: push constants, group counts, each checked against the device's limits.
#pragma once

#include "pipeline.hpp"

#include <loom/plugin_sdk.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <span>
#include <string_view>

namespace loom::vulkan {

using Dims = std::vector<int64_t>;

// The backend options that shape kernels (docs/vulkan.md, "Options").
struct Config {
  uint32_t workgroup_size = 128;  // invocations of the element-wise and row kernels
  uint32_t matmul_tile = 16;      // the matmul workgroup is tile x tile invocations, each 2 x 2 outputs
  bool force_staging = false;     // staging=always
  // lose_device_after_runs=N: the runs of the session's plans after the first N fail as if the
  // device were lost (LOOM_STATUS_DEVICE_LOST), to test what the engine does then. Shared by
  // the backend instance's plans; null when the option is not set.
  std::shared_ptr<std::atomic<int64_t>> runs_before_loss;
  // max_buffer_range=BYTES: a test switch that lowers the device's maxStorageBufferRange as the
  // backend sees it, so that small models get their tensors split over bindings (0: the device's).
  uint64_t max_buffer_range = 0;
  // max_allocation=BYTES: a test switch that lowers maxMemoryAllocationSize as the constant
  // blocks see it, so that a partition's constants go into several (0: the device's).
  uint64_t max_allocation = 0;
  // precision=f16: the constant weights of matmul and linear are stored on the device as IEEE
  // f16, two to a 32-bit word, and read into f32 arithmetic (docs/vulkan.md, "Precision").
  bool half_weights = false;
};

// The device's limits as the backend applies them: max_buffer_range and max_allocation lowered
// by the options.
Limits effective_limits(const Limits& device, const Config& config);

// One dispatch of a plan. `values` are the partition values bound to the shader's bindings in
// order (-1: an absent optional input, bound to another tensor of the dispatch and never read). The
// push block starts with one word per binding, the element offset of its tensor inside the
// bound range, which the recording fills in once the buffers are known.
struct Dispatch {
  std::string node;
  const Pipeline* pipeline = nullptr;
  std::vector<int32_t> values;
  std::vector<uint32_t> push;
  uint32_t groups[3] = {1, 1, 1};
  // A binding may see only a part of its tensor: `bytes` from byte `offset` (a chunk of a tensor
  // larger than maxStorageBufferRange, split along its outermost dim). Empty, or kWhole bytes:
  // the whole tensor.
  struct View {
    uint64_t offset = 0, bytes = kWhole;
  };
  static constexpr uint64_t kWhole = UINT64_MAX;
  std::vector<View> views;  // by binding, as `values`
  void view(size_t binding, uint64_t offset, uint64_t bytes) {
    if (views.size() < values.size()) views.resize(values.size());
    views[binding] = {offset, bytes};
  }
  // A dispatch that checks values it reads (gather's indices) binds kStatus: a slot of the
  // recording's status buffer where the shader leaves the first value out of range, which the
  // run then reports as "<where>: <checked> N is outside <allowed>".
  std::string where, checked, allowed;
  // Set where the value found means one thing whatever it is (an integer division by zero): the
  // run then reports "<where>: <failure>".
  std::string failure;
  // A dispatch recorded only when two of its values share their memory (`alias_when` kIfSame) or
  // only when they do not (kIfDistinct): cache_write writes just the new rows when the host hands
  // it the cache itself as the output, and the whole output otherwise. Known once the buffers are.
  enum AliasWhen { kAlways, kIfSame, kIfDistinct } alias_when = kAlways;
  int32_t alias_a = -1, alias_b = -1;
};

// The value index that binds a recording's status buffer (command.hpp).
inline constexpr int32_t kStatus = -2;

// The node's name and value indices, copied out of the borrowed view.
struct NodeRef {
  std::string name, op;
  std::vector<int32_t> inputs, outputs;
  static NodeRef from(const sdk::NodeView& node);
  std::string where() const;  // "node 'x' (add)"
};

// What preparing a partition for concrete shapes gives: its dispatches, and the scratch regions
// they bind. A region binds as a value past the partition's own (num_values + k) and lives in
// the scratch the host hands each run; nodes run one after another, so every node's regions
// start at the scratch's beginning again.
class Prepared {
 public:
  Prepared(size_t num_values, uint64_t alignment) : num_values_(num_values), alignment_(alignment) {}
  void push_back(Dispatch d) { dispatches_.push_back(std::move(d)); }
  // A scratch region of `bytes` for the current node, as the value index to bind.
  int32_t scratch(uint64_t bytes);
  void next_node() { node_offset_ = 0; }

  std::vector<Dispatch>& dispatches() { return dispatches_; }
  const std::vector<Dispatch>& dispatches() const { return dispatches_; }
  struct Region {
    uint64_t offset, bytes;
  };
  const std::vector<Region>& regions() const { return regions_; }
  uint64_t scratch_bytes() const { return scratch_bytes_; }

 private:
  size_t num_values_;
  uint64_t alignment_;
  std::vector<Dispatch> dispatches_;
  std::vector<Region> regions_;
  uint64_t node_offset_ = 0, scratch_bytes_ = 0;
};

class NodeKernel {
 public:
  virtual ~NodeKernel() = default;
  // Appends this node's dispatches for concrete shapes (none for empty tensors).
  virtual void prepare(const sdk::ShapeSet& shapes, Prepared& out) const = 0;
};

struct CompileContext {
  Device& device;
  const Config& config;
  const Limits& limits;  // effective_limits of the device
  // By value index: constants stored as f16 (half_weights), packed two to a word.
  const std::vector<bool>& half;
};

// Bytes a tensor of `count` f16 elements takes packed two to a 32-bit word (the last word
// half-used when the count is odd).
inline uint64_t packed_half_bytes(uint64_t count) { return (count + 1) / 2 * 4; }
// A float rounded to the nearest IEEE f16 (ties to even; overflow to infinity, subnormals kept),
// as its bits.
uint16_t f16_bits(float f);

// The most bytes one binding may reach of a tensor at any offset: the descriptor range starts up
// to one alignment unit (less a word) before the tensor (command.cpp).
uint64_t binding_capacity(const Limits& limits);
// Rows of `row_bytes` per chunk of a tensor split along its outermost dim, so that each chunk
// fits one binding; throws, naming the limit, when a single row does not.
int64_t rows_per_binding(const Limits& limits, uint64_t row_bytes, const std::string& what);
// The same for rows of `row_halves` f16 elements, packed two to a word: a chunk may take one word
// more than its halves (half_chunk), so a row less where that word would not fit.
int64_t half_rows_per_binding(const Limits& limits, uint64_t row_halves, const std::string& what);
// The halves [first, first + count) of an f16 tensor as one binding sees them: from the word
// holding the first (one half early when that one is odd) to the word holding the last. `first`
// and `count` are then counted from that even half; `offset` and `bytes` are the view's.
struct HalfChunk {
  uint64_t first, count, offset, bytes;
};
HalfChunk half_chunk(uint64_t first, uint64_t count);

// Workgroups for `count` invocations at `size` per group, folded into rows of at most
// maxComputeWorkGroupCount[0] groups: the shader recovers the flat index from row_groups.
struct Grid {
  uint32_t x = 1, y = 1, row_groups = 1;
};
Grid grid_for(uint64_t items, uint64_t per_group, const Limits& limits, const std::string& where);

// What the kernels over one-dimensional grids keep: the node, the device's limits, the
// workgroup size (constant_id 0 of their pipeline, checked against the device) and the pipeline,
// made with `spec` after the workgroup size.
class GridKernel : public NodeKernel {
 protected:
  GridKernel(const sdk::NodeView& node, const CompileContext& c, const ShaderInterface& shader, std::vector<uint32_t> spec);
  // Workgroups for one invocation per item (grid_for).
  Grid grid(int64_t items) const;

  NodeRef node_;
  Limits limits_;
  uint32_t wg_;
  const Pipeline* pipeline_ = nullptr;
};

// One invocation per output element, reading input 0: bindings (x, out) and the push block
// {off_x, off_o, count, row_groups} (unary.comp, cast.comp).
class ElementKernel final : public GridKernel {
 public:
  ElementKernel(const sdk::NodeView& node, const CompileContext& c, const ShaderInterface& shader, std::vector<uint32_t> spec)
      : GridKernel(node, c, shader, std::move(spec)) {}
  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override;
};

struct OpEntry {
  std::string_view name;
  // Why this backend cannot run the node, or nullopt.
  std::optional<std::string> (*check)(const sdk::NodeView& node);
  std::unique_ptr<NodeKernel> (*compile)(const sdk::NodeView& node, const CompileContext& context);
};

std::vector<OpEntry> elementwise_ops();  // add sub mul div, relu tanh sigmoid exp gelu quick_gelu silu
std::vector<OpEntry> norm_ops();         // softmax, layer_norm, add_layer_norm, rms_norm, l2_normalize
std::vector<OpEntry> matmul_ops();       // matmul, linear
std::vector<OpEntry> layout_ops();       // reshape, transpose, slice, concat, roll, pad
std::vector<OpEntry> cast_ops();         // cast (f32, i32, i64)
std::vector<OpEntry> indexing_ops();     // positions, gather, gather_rows, key_mask, cache_write
std::vector<OpEntry> reduce_ops();       // reduce_mean, argmax, topk
std::vector<OpEntry> conv_ops();         // conv2d
std::vector<OpEntry> attention_ops();    // attention (with valid_length or causal)

// ---------------------------------------------------------------- helpers for the op files

// out = a OP b (0 add, 1 sub, 2 mul, 3 div) with broadcasting, over values or scratch regions
// whose dims are given (ops/elementwise.cpp).
extern const ShaderInterface kBinaryShader;
void binary_dispatch(const std::string& node, const Pipeline& pipeline, const Limits& limits, uint32_t workgroup,
                     std::array<int32_t, 3> values, std::span<const int64_t> a, std::span<const int64_t> b,
                     std::span<const int64_t> out, Prepared& prepared);

// Placement checks: nullopt when fine, else the reason.
std::optional<std::string> check_f32(const sdk::NodeView& node);  // every present input and output f32
std::optional<std::string> check_rank(const sdk::NodeView& node, size_t input, int64_t max_rank);
std::optional<int64_t> normalize_axis(int64_t axis, int64_t rank);

// Refuses a workgroup of x * y invocations with `shared_bytes` of shared memory that the device
// cannot run, naming the limit.
void check_workgroup(const Limits& limits, uint32_t x, uint32_t y, uint64_t shared_bytes, const std::string& where);
// Refuses counts that do not fit the shaders' 32-bit indices.
uint32_t index32(int64_t n, const std::string& where);

// Numbered as shaders/activation.glsl's ACT_* constants (specialisation constants of unary.comp
// and matmul.comp).
enum Activation : uint32_t {
  kActNone = 0, kActRelu = 1, kActGelu = 2, kActGeluTanh = 3, kActQuickGelu = 4, kActTanh = 5, kActSigmoid = 6, kActExp = 7, kActSilu = 8
};

// The element strides of `in` seen from the index space of `out`, which it broadcasts to (NumPy
// rules): 0 along dims where it has size 1 or none.
Dims broadcast_strides(std::span<const int64_t> in, std::span<const int64_t> out);

// A float's bits, for push constants.
uint32_t float_bits(float f);

int64_t numel(std::span<const int64_t> dims);

}  // namespace loom::vulkan
