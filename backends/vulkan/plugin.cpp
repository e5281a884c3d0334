// The Vulkan compute backend plugin: descriptor, devices, options, and the Backend / Executable /
// Plan classes of the SDK. Kernels live in ops/<family>.cpp behind kernel.hpp; shaders in
// shaders/*.comp. docs/vulkan.md describes the whole.
#include "command.hpp"
#include "constants.hpp"
#include "kernel.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace loom::vulkan {
namespace {

const std::map<std::string_view, OpEntry>& op_table() {
  static const std::map<std::string_view, OpEntry> table = [] {
    std::map<std::string_view, OpEntry> t;
    for (auto family : {elementwise_ops, norm_ops, matmul_ops, layout_ops, cast_ops, indexing_ops, reduce_ops, conv_ops, attention_ops})
      for (const OpEntry& e : family()) t.emplace(e.name, e);
    return t;
  }();
  return table;
}

// The values of a partition as compiled: names, dtypes and (possibly symbolic) dims.
struct ValueInfo {
  std::string name;
  int32_t dtype = 0;
  Dims dims;
  bool constant = false;
};

class VulkanPlan final : public sdk::Plan {
 public:
  VulkanPlan(std::shared_ptr<Device> device, const Config& config, Prepared prepared, std::vector<uint64_t> bytes,
             std::vector<Location> constants, const std::vector<ValueInfo>& values)
      : device_(std::move(device)), limits_(effective_limits(device_->limits(), config)), runs_before_loss_(config.runs_before_loss),
        dispatches_(std::move(prepared.dispatches())), regions_(prepared.regions()), scratch_bytes_(prepared.scratch_bytes()), bytes_(std::move(bytes)), constants_(std::move(constants)) {
    for (const auto& v : values) names_.push_back(v.name);
  }

  uint64_t scratch_bytes() const override { return scratch_bytes_; }

  void run(const loom_run_args& args) const override { execute(args, false); }
  // --profile: the same commands with a timestamp before and after (a recording of their own).
  std::optional<uint64_t> run_timed(const loom_run_args& args) const override { return execute(args, true); }

 private:
  std::optional<uint64_t> execute(const loom_run_args& args, bool timed) const {
    if (args.num_values != bytes_.size())
      throw Error("run: " + std::to_string(args.num_values) + " tensors given, the partition has " + std::to_string(bytes_.size()),
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (dispatches_.empty()) return uint64_t{0};  // nothing for the device to do
    // The partition's values, then the scratch regions of the dispatches.
    std::vector<Location> locations(bytes_.size() + regions_.size());
    if (!regions_.empty() && (!args.scratch_buffer || args.scratch_bytes < scratch_bytes_))
      throw Error("run: the plan needs " + std::to_string(scratch_bytes_) + " bytes of device scratch, " +
                      std::to_string(args.scratch_buffer ? args.scratch_bytes : 0) + " given",
                  LOOM_STATUS_INVALID_ARGUMENT);
    for (size_t k = 0; k < regions_.size(); ++k) {
      const uint64_t offset = args.scratch_offset + regions_[k].offset;
      Buffer* b = device_->memory().buffer(args.scratch_buffer, offset, regions_[k].bytes, "the run's scratch");
      locations[bytes_.size() + k] = {b, b->id, offset, regions_[k].bytes};
    }
    for (size_t v = 0; v < bytes_.size(); ++v) {
      if (constants_[v].buffer) {
        locations[v] = constants_[v];
        continue;
      }
      const loom_tensor& t = sdk::record(args.tensors, v);
      if (!t.buffer) {
        if (bytes_[v] == 0) continue;
        throw Error("value '" + names_[v] + "' came without a device buffer (host memory?)", LOOM_STATUS_INVALID_ARGUMENT);
      }
      Buffer* b = device_->memory().buffer(t.buffer, t.offset, bytes_[v], "value '" + names_[v] + "'");
      locations[v] = {b, b->id, t.offset, bytes_[v]};
    }
    if (sdk::stop_requested(args)) sdk::stopped("before the partition was submitted");
    if (runs_before_loss_ && runs_before_loss_->fetch_sub(1) <= 0) {
      runs_before_loss_->store(0);
      throw Error("the device was lost (backend option lose_device_after_runs)", LOOM_STATUS_DEVICE_LOST);
    }
    // One run at a time per plan: its command buffer may not be pending twice.
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(recordings_.begin(), recordings_.end(),
                           [&](const auto& r) { return r->timed() == timed && r->locations() == locations; });
    if (it == recordings_.end()) {
      if (recordings_.size() >= kMaxRecordings) recordings_.erase(recordings_.begin());
      recordings_.push_back(std::make_unique<Recording>(*device_, limits_, dispatches_, locations, timed));
      it = recordings_.end() - 1;
    }
    return (*it)->submit("running the partition");
  }

  // Recordings kept for distinct buffer sets (the session pools a few sets of arenas).
  static constexpr size_t kMaxRecordings = 4;
  std::shared_ptr<Device> device_;
  Limits limits_;
  std::shared_ptr<std::atomic<int64_t>> runs_before_loss_;
  std::vector<Dispatch> dispatches_;
  std::vector<Prepared::Region> regions_;
  uint64_t scratch_bytes_;
  std::vector<uint64_t> bytes_;
  std::vector<Location> constants_;
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Recording>> recordings_;
};

class VulkanExecutable final : public sdk::Executable {
 public:
  VulkanExecutable(std::shared_ptr<Device> device, const Config& config, const sdk::GraphView& g, const loom_compile_options& options,
                   const std::string& upload_key)
      : device_(std::move(device)), config_(config), limits_(effective_limits(device_->limits(), config_)) {
    for (size_t i = 0; i < g.num_values(); ++i) {
      sdk::ValueView v = g.value(i);
      values_.push_back({std::string(v.name()), v.dtype(), Dims(v.dims().begin(), v.dims().end()), v.is_constant()});
      if (!v.is_constant()) continue;
      uint64_t expected = sdk::dtype_size(v.dtype());
      for (int64_t d : v.dims()) expected *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
      if ((!v.data() && expected) || v.nbytes() != expected)
        throw Error("constant '" + values_.back().name + "' holds " + std::to_string(v.nbytes()) + " bytes, its shape " +
                        sdk::dims_str(v.dims()) + " needs " + std::to_string(expected),
                    LOOM_STATUS_INVALID_ARGUMENT);
    }
    half_ = half_weights(g);
    const CompileContext context{*device_, config_, limits_, half_};
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      sdk::NodeView node = g.node(i);
      auto it = op_table().find(node.op());
      if (it == op_table().end())
        throw Error("node '" + std::string(node.name()) + "': op '" + std::string(node.op()) + "' is unknown to the vulkan backend",
                    LOOM_STATUS_UNSUPPORTED);
      if (auto why = it->second.check(node))
        throw Error("node '" + std::string(node.name()) + "' (" + std::string(node.op()) + "): " + *why, LOOM_STATUS_UNSUPPORTED);
      kernels_.push_back(it->second.compile(node, context));
    }
    // Constants go to the device once per engine (constants.hpp): an upload another session
    // made is found through the host's cache and shared.
    constants_ = std::make_unique<ExecutableConstants>(device_, config_, g, options, upload_key, half_);
  }

  // precision=f16: the f32 constants read only as the weight of a linear, the b of a matmul or
  // the table of a gather (every node that reads them reads them there: the embedding tables,
  // and GPT-2's tied wte, which its head reads as a weight) are stored as f16. Biases, norms'
  // weights, constants that other ops read and every activation stay f32.
  std::vector<bool> half_weights(const sdk::GraphView& g) const {
    std::vector<bool> half(g.num_values(), false);
    if (!config_.half_weights) return half;
    std::vector<bool> other(g.num_values(), false);
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      sdk::NodeView node = g.node(i);
      const bool weighted = node.op() == "linear" || node.op() == "matmul";
      const bool table = node.op() == "gather" || node.op() == "gather_rows";
      for (size_t k = 0; k < node.num_inputs(); ++k) {
        const int32_t v = node.input_index(k);
        if (v < 0 || static_cast<size_t>(v) >= half.size()) continue;
        ((weighted && k == 1) || (table && k == 0) ? half : other)[static_cast<size_t>(v)] = true;
      }
    }
    for (size_t v = 0; v < half.size(); ++v) {
      sdk::ValueView value = g.value(v);
      half[v] = half[v] && !other[v] && value.is_constant() && value.dtype() == LOOM_DTYPE_F32;
    }
    return half;
  }

  // A shader sees a tensor, or the chunk of it a dispatch binds (Dispatch::views), through one
  // descriptor range, which starts at most one alignment unit before it: a binding past
  // maxStorageBufferRange is refused here, before anything runs, naming the node that would not
  // split it.
  void check_ranges(const Prepared& prepared, const std::vector<uint64_t>& bytes, const sdk::ShapeSet& shapes) const {
    const uint64_t capacity = binding_capacity(limits_);
    const std::string limit = "the device's maxStorageBufferRange of " + std::to_string(limits_.max_storage_buffer_range);
    for (const Dispatch& d : prepared.dispatches())
      for (size_t b = 0; b < d.values.size(); ++b) {
        const int32_t v = d.values[b];
        if (v < 0) continue;
        const auto value = static_cast<size_t>(v);
        const bool whole = d.views.size() <= b || d.views[b].bytes == Dispatch::kWhole;
        const uint64_t n = value < bytes.size() ? bytes[value] : prepared.regions()[value - bytes.size()].bytes;
        const uint64_t seen = whole ? n : d.views[b].bytes;
        if ((seen + 3) / 4 * 4 <= capacity) continue;
        std::string what;
        if (value >= bytes.size()) what = "its scratch of " + std::to_string(n) + " bytes";
        else
          what = "value '" + values_[value].name + "' of shape " + sdk::dims_str(shapes.dims(value)) + " (" + std::to_string(n) + " bytes)";
        if (!whole) throw Error("node '" + d.node + "': a chunk of " + std::to_string(seen) + " bytes of " + what + " exceeds " + limit);
        throw Error("node '" + d.node + "': " + what + " holds more than " + limit +
                        " that one shader binding can reach, and this node does not split it over several",
                    LOOM_STATUS_UNSUPPORTED);
      }
  }

  std::unique_ptr<sdk::Plan> prepare(const sdk::ShapeSet& shapes) override {
    if (shapes.size() != values_.size())
      throw Error("prepare: shapes for " + std::to_string(shapes.size()) + " values given, the partition has " +
                      std::to_string(values_.size()),
                  LOOM_STATUS_INVALID_ARGUMENT);
    std::vector<uint64_t> bytes(values_.size());
    const Limits& limits = limits_;
    for (size_t i = 0; i < values_.size(); ++i) {
      auto d = shapes.dims(i);
      bool ok = d.size() == values_[i].dims.size();
      for (size_t k = 0; ok && k < d.size(); ++k) ok = d[k] >= 0 && (values_[i].dims[k] < 0 || values_[i].dims[k] == d[k]);
      if (!ok)
        throw Error("prepare: value '" + values_[i].name + "' gets shape " + sdk::dims_str(d) + ", which does not fit " +
                        sdk::dims_str(values_[i].dims),
                    LOOM_STATUS_INVALID_ARGUMENT);
      bytes[i] = static_cast<uint64_t>(shapes.numel(i)) * sdk::dtype_size(values_[i].dtype);
      if (half_[i]) bytes[i] = packed_half_bytes(static_cast<uint64_t>(shapes.numel(i)));
    }
    Prepared prepared(values_.size(), limits.min_storage_buffer_offset_alignment);
    for (const auto& k : kernels_) {
      prepared.next_node();
      k->prepare(shapes, prepared);
    }
    check_ranges(prepared, bytes, shapes);
    return std::make_unique<VulkanPlan>(device_, config_, std::move(prepared), std::move(bytes), constants_->locations(), values_);
  }

 private:
  std::shared_ptr<Device> device_;
  Config config_;
  Limits limits_;
  std::vector<ValueInfo> values_;
  std::vector<bool> half_;  // by value: a constant stored as f16 (half_weights)
  std::vector<std::unique_ptr<NodeKernel>> kernels_;
  std::unique_ptr<ExecutableConstants> constants_;
};

class VulkanBackend final : public sdk::Backend {
 public:
  VulkanBackend(std::shared_ptr<Device> device, Config config, size_t device_index)
      : device_(std::move(device)), config_(config), upload_key_("vulkan.device-upload:device=" + std::to_string(device_index)) {}

  int32_t memory_kind() const override { return LOOM_MEMORY_DEVICE; }

  // Device times for --profile where the compute queue writes timestamps; elsewhere the host
  // times the partitions alone.
  const void* extension(std::string_view name) override {
    if (name == LOOM_EXTENSION_DEVICE_TIME && device_->physical().timestamp_bits) return sdk::device_time_extension();
    return nullptr;
  }

  std::optional<std::string> unsupported_reason(const sdk::GraphView& graph, size_t node_index) override {
    if (node_index >= graph.num_nodes()) throw Error("no node " + std::to_string(node_index), LOOM_STATUS_INVALID_ARGUMENT);
    sdk::NodeView node = graph.node(node_index);
    auto it = op_table().find(node.op());
    if (it == op_table().end()) return "op '" + std::string(node.op()) + "' is not implemented by the vulkan backend";
    return it->second.check(node);
  }

  std::unique_ptr<sdk::Executable> compile(const sdk::GraphView& partition, const loom_compile_options& options) override {
    return std::make_unique<VulkanExecutable>(device_, config_, partition, options, upload_key_);
  }

  void* buffer_alloc(uint64_t bytes) override { return device_->memory().alloc(bytes, "buffer_alloc"); }
  void buffer_free(void* buffer) override { device_->memory().free(buffer); }
  void buffer_write(void* buffer, uint64_t offset, const void* src, uint64_t bytes) override {
    Memory& m = device_->memory();
    m.write(*m.buffer(buffer, offset, bytes, "buffer_write"), offset, src, bytes, config_.force_staging);
  }
  void buffer_read(void* buffer, uint64_t offset, void* dst, uint64_t bytes) override {
    Memory& m = device_->memory();
    m.read(*m.buffer(buffer, offset, bytes, "buffer_read"), offset, dst, bytes, config_.force_staging);
  }

 private:
  std::shared_ptr<Device> device_;
  Config config_;
  std::string upload_key_;  // the host cache's layout key of this device's uploads
};

// A whole number from an option's text, within [lo, hi].
uint32_t option_number(const std::string& key, const std::string& text, uint32_t lo, uint32_t hi) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi)
    throw Error("option " + key + "=" + text + ": the value must be a whole number from " + std::to_string(lo) + " to " +
                    std::to_string(hi),
                LOOM_STATUS_INVALID_ARGUMENT);
  return n;
}

class VulkanPlugin final : public sdk::BackendPlugin {
 public:
  // Creating the instance is the plugin's init: without a driver or a device, init fails and
  // `loom plugins` shows why.
  VulkanPlugin() : instance_(std::make_shared<Instance>()), devices_(instance_->devices().size()) {}

  std::vector<sdk::DeviceInfo> devices() override {
    std::vector<sdk::DeviceInfo> out;
    for (const PhysicalDevice& d : instance_->devices()) out.push_back({d.name, d.description, LOOM_MEMORY_DEVICE});
    return out;
  }

  // A CPU driver (lavapipe) computes on the same cores as the CPU backends, only slower: the
  // plugin then runs only in sessions that name it, never by default placement.
  const void* extension(std::string_view name) override {
    static const int on_request = 1;
    if (name == LOOM_EXTENSION_ON_REQUEST && instance_->devices().front().properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
      return &on_request;
    return nullptr;
  }

  std::unique_ptr<sdk::Backend> create_backend(size_t, sdk::BackendOptions& options) override {
    const auto& list = instance_->devices();
    const std::string device_text = options.get("device", "0");
    uint32_t index = 0;
    {
      auto [end, ec] = std::from_chars(device_text.data(), device_text.data() + device_text.size(), index);
      if (ec != std::errc() || end != device_text.data() + device_text.size() || index >= list.size()) {
        std::string names;
        for (size_t i = 0; i < list.size(); ++i) names += (i ? ", " : "") + std::to_string(i) + ": " + list[i].name;
        throw Error("option device=" + device_text + ": the vulkan backend has " + std::to_string(list.size()) + " device" +
                        (list.size() == 1 ? "" : "s") + " (" + names + ")",
                    LOOM_STATUS_INVALID_ARGUMENT);
      }
    }
    // f16 is storage of the matmul and linear weights read into f32 arithmetic, through GLSL's
    // unpackHalf2x16 on 32-bit words: core SPIR-V, so every Vulkan 1.2 device honours it.
    const std::string precision = options.get("precision", "f32", {"f32", "bf16", "f16"});
    if (precision == "bf16")
      throw Error("option precision=bf16: the vulkan backend computes in f32 only (precision=f16 stores the weights of matmul "
                  "and linear as f16; bf16 is not implemented)",
                  LOOM_STATUS_UNSUPPORTED);
    Config config;
    config.half_weights = precision == "f16";
    const std::string wg = options.get("workgroup_size", "128");
    config.workgroup_size = option_number("workgroup_size", wg, 1, 65536);
    if (config.workgroup_size & (config.workgroup_size - 1))
      throw Error("option workgroup_size=" + wg + ": the value must be a power of two", LOOM_STATUS_INVALID_ARGUMENT);
    config.matmul_tile = option_number("matmul_tile", options.get("matmul_tile", "16"), 1, 256);
    config.force_staging = options.get("staging", "auto", {"auto", "always"}) == "always";
    const std::string loss = options.get("lose_device_after_runs", "");
    if (!loss.empty())
      config.runs_before_loss = std::make_shared<std::atomic<int64_t>>(option_number("lose_device_after_runs", loss, 0, UINT32_MAX));
    const std::string range = options.get("max_buffer_range", "");
    if (!range.empty()) config.max_buffer_range = option_number("max_buffer_range", range, 256, UINT32_MAX);
    const std::string allocation = options.get("max_allocation", "");
    if (!allocation.empty()) config.max_allocation = option_number("max_allocation", allocation, 256, UINT32_MAX);
    options.finish("vulkan");
    return std::make_unique<VulkanBackend>(device(index), config, index);
  }

 private:
  // One logical device per physical device, made by the first session that uses it and shared
  // by the later ones (with its pipelines).
  std::shared_ptr<Device> device(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!devices_[index]) devices_[index] = std::make_shared<Device>(instance_, instance_->devices()[index]);
    return devices_[index];
  }

  std::shared_ptr<const Instance> instance_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Device>> devices_;
};

}  // namespace
}  // namespace loom::vulkan

LOOM_BACKEND_PLUGIN(loom::vulkan::VulkanPlugin, "vulkan", "0.1.0",
                    "Vulkan 1.2 compute backend: GLSL shaders built in, device-local buffers, one command buffer per partition")

// A test hook (tests/vulkan): the process's constant uploads so far and the device bytes of the
// constant blocks alive now, so that a test can check that sessions share them.
extern "C" __attribute__((visibility("default"))) void loom_vulkan_constant_uploads(uint64_t* constants, uint64_t* bytes,
                                                                                     uint64_t* live_bytes) {
  const loom::vulkan::UploadCounts c = loom::vulkan::upload_counts();
  if (constants) *constants = c.constants;
  if (bytes) *bytes = c.bytes;
  if (live_bytes) *live_bytes = c.live_bytes;
}
