// "external": a third-party backend built only against the installed SDK. It plays a device
// backend (LOOM_MEMORY_DEVICE): its "device buffers" are host allocations hidden behind an
// opaque handle, so every tensor the engine hands it must come as buffer + offset, and every
// value that crosses to or from another backend must be copied by the engine through
// buffer_write / buffer_read. Constants arrive as host bytes at compile time and are uploaded
// once: the emulated device is one per process, as a real one is, so an upload can serve every
// session. When the host offers its packed-constant cache (ABI 2.1), each constant is uploaded
// under the layout key "device-upload" into the host-owned copy, which stands for device memory
// shared by all sessions of the engine: two sessions over one graph hold one copy. Without the
// cache, each executable uploads into buffers of its own.
//
// Ops: add, sub, mul, div (f32, NumPy broadcasting) and relu (f32).
#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace loom::sdk;

// ---------------------------------------------------------------- device memory

// A buffer handle. The magic number catches a host pointer passed where a handle belongs.
struct DeviceBuffer {
  static constexpr uint64_t kMagic = 0x6c6f6f6d2d657874ull;  // "loom-ext"
  uint64_t magic = kMagic;
  std::vector<unsigned char> bytes;
};

// Owns every buffer of one backend instance and checks each handle and range it is given.
class DeviceMemory {
 public:
  ~DeviceMemory() {
    for (DeviceBuffer* b : live_) delete b;
  }
  void* alloc(uint64_t n) {
    auto* b = new DeviceBuffer;
    b->bytes.assign(n, 0);
    std::lock_guard<std::mutex> lock(mutex_);
    live_.insert(b);
    return b;
  }
  void free(void* handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(static_cast<DeviceBuffer*>(handle));
    if (it == live_.end()) throw Error("buffer_free: unknown buffer handle", LOOM_STATUS_INVALID_ARGUMENT);
    delete *it;
    live_.erase(it);
  }
  // The bytes [offset, offset + n) of a live buffer.
  unsigned char* range(void* handle, uint64_t offset, uint64_t n, const std::string& what) const {
    auto* b = static_cast<DeviceBuffer*>(handle);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!live_.count(b) || b->magic != DeviceBuffer::kMagic)
        throw Error(what + ": not a buffer of this device (freed, or a host pointer?)", LOOM_STATUS_INVALID_ARGUMENT);
    }
    if (offset > b->bytes.size() || n > b->bytes.size() - offset)
      throw Error(what + ": bytes [" + std::to_string(offset) + ", " + std::to_string(offset + n) +
                      ") lie outside a buffer of " + std::to_string(b->bytes.size()) + " bytes",
                  LOOM_STATUS_INVALID_ARGUMENT);
    return b->bytes.data() + offset;
  }

  // A way to test what the engine does when a device goes away: with the backend option
  // lose_device_after_runs=N, the run after the first N fails with LOOM_STATUS_DEVICE_LOST, and
  // so does every run after it.
  void set_runs_before_loss(int64_t n) { runs_before_loss_ = n; }
  void run_started() const {
    if (runs_before_loss_.load() < 0) return;
    if (runs_before_loss_.fetch_sub(1) <= 0) {
      runs_before_loss_.store(0);
      throw Error("the emulated device is gone (backend option lose_device_after_runs)", LOOM_STATUS_DEVICE_LOST);
    }
  }

 private:
  mutable std::mutex mutex_;
  std::set<DeviceBuffer*> live_;
  mutable std::atomic<int64_t> runs_before_loss_{-1};
};

// ---------------------------------------------------------------- ops

enum class Op { Add, Sub, Mul, Div, Relu };

const std::map<std::string, Op, std::less<>>& op_table() {
  static const std::map<std::string, Op, std::less<>> ops = {
      {"add", Op::Add}, {"sub", Op::Sub}, {"mul", Op::Mul}, {"div", Op::Div}, {"relu", Op::Relu}};
  return ops;
}

bool binary(Op op) { return op != Op::Relu; }

// NumPy broadcasting of two (possibly symbolic, -1) shapes: false when known dims clash.
bool broadcastable(std::span<const int64_t> a, std::span<const int64_t> b) {
  for (size_t i = 1; i <= std::min(a.size(), b.size()); ++i) {
    int64_t x = a[a.size() - i], y = b[b.size() - i];
    if (x >= 0 && y >= 0 && x != y && x != 1 && y != 1) return false;
  }
  return true;
}

// Whether concrete `in` broadcasts to concrete `out`: each trailing dim is 1 or equal.
bool broadcasts_to(std::span<const int64_t> in, std::span<const int64_t> out) {
  if (in.size() > out.size()) return false;
  for (size_t i = 1; i <= in.size(); ++i) {
    const int64_t d = in[in.size() - i];
    if (d != 1 && d != out[out.size() - i]) return false;
  }
  return true;
}

// Element strides of `in` as seen from `out`'s index space: 0 along broadcast dims.
std::vector<int64_t> broadcast_strides(std::span<const int64_t> in, std::span<const int64_t> out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 1; i <= in.size(); ++i) {
    const size_t o = out.size() - i;
    const int64_t d = in[in.size() - i];
    if (d != 1) strides[o] = stride;
    stride *= d;
  }
  return strides;
}

struct Step {
  Op op = Op::Add;
  std::string node;
  int32_t a = -1, b = -1, out = -1;  // value indices in the partition
};

// A step bound to concrete shapes.
struct BoundStep {
  Step step;
  std::vector<int64_t> out_dims, a_strides, b_strides;
  int64_t count = 0;
};

// Binds steps to concrete shapes; dims(v) gives the dims of partition value v.
template <class DimsOf>
std::vector<BoundStep> bind_steps(const std::vector<Step>& steps, DimsOf dims, int64_t (*numel)(std::span<const int64_t>)) {
  std::vector<BoundStep> bound;
  for (const Step& s : steps) {
    BoundStep b;
    b.step = s;
    auto out = dims(s.out);
    b.out_dims.assign(out.begin(), out.end());
    b.count = numel(out);
    if (binary(s.op)) {
      auto a = dims(s.a), bb = dims(s.b);
      if (!broadcasts_to(a, out) || !broadcasts_to(bb, out))
        throw Error(s.node + ": input shapes do not broadcast to the output's");
      b.a_strides = broadcast_strides(a, out);
      b.b_strides = broadcast_strides(bb, out);
    } else if (numel(dims(s.a)) != b.count) {
      throw Error(s.node + ": input and output sizes differ");
    }
    bound.push_back(std::move(b));
  }
  return bound;
}

int64_t numel_of(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// ---------------------------------------------------------------- plan

class ExternalPlan : public Plan {
 public:
  ExternalPlan(const DeviceMemory& memory, std::vector<Step> steps, std::vector<BoundStep> bound, std::vector<int64_t> bytes,
               std::vector<const unsigned char*> constants, std::vector<std::string> names)
      : memory_(memory), steps_(std::move(steps)), bound_(std::move(bound)), bytes_(std::move(bytes)),
        constants_(std::move(constants)), names_(std::move(names)) {}

  // The emulated device is the host: the time of the run's work on it, for profiles
  // (LOOM_EXTENSION_DEVICE_TIME, docs/plugins.md "Device times for profiles").
  std::optional<uint64_t> run_timed(const loom_run_args& args) const override {
    const auto start = std::chrono::steady_clock::now();
    run(args);
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  }

  void run(const loom_run_args& args) const override {
    if (args.num_values != bytes_.size())
      throw Error("run: " + std::to_string(args.num_values) + " tensors given, the partition has " +
                      std::to_string(bytes_.size()),
                  LOOM_STATUS_INVALID_ARGUMENT);
    memory_.run_started();
    // The plan may have been prepared at symbol bounds (LOOM_BACKEND_BOUNDED_SHAPES): the run's
    // tensors carry the actual dims, at most the prepared ones.
    std::vector<int64_t> bytes(bytes_.size());
    bool same = true;
    for (size_t v = 0; v < bytes.size(); ++v) {
      const loom_tensor& t = record(args.tensors, v);
      bytes[v] = numel_of({t.dims, static_cast<size_t>(t.rank)}) * static_cast<int64_t>(sizeof(float));
      if (bytes[v] > bytes_[v])
        throw Error("value '" + names_[v] + "' is larger than the plan was prepared for", LOOM_STATUS_INVALID_ARGUMENT);
      same &= bytes[v] == bytes_[v];
    }
    std::vector<BoundStep> rebound;
    if (!same)
      rebound = bind_steps(steps_, [&](int32_t v) {
        const loom_tensor& t = record(args.tensors, static_cast<size_t>(v));
        return std::span<const int64_t>(t.dims, static_cast<size_t>(t.rank));
      }, numel_of);
    std::vector<unsigned char*> ptr(bytes_.size(), nullptr);
    auto resolve = [&](int32_t v) -> unsigned char* {
      if (ptr[v]) return ptr[v];
      if (constants_[v]) return ptr[v] = const_cast<unsigned char*>(constants_[v]);
      const loom_tensor& t = record(args.tensors, static_cast<size_t>(v));
      if (t.data || !t.buffer)
        throw Error("value '" + names_[v] + "' came in host memory; a device backend needs a device buffer",
                    LOOM_STATUS_INVALID_ARGUMENT);
      return ptr[v] = memory_.range(t.buffer, t.offset, bytes[v], "value '" + names_[v] + "'");
    };
    for (const BoundStep& s : same ? bound_ : rebound) {
      const float* a = reinterpret_cast<const float*>(resolve(s.step.a));
      const float* b = binary(s.step.op) ? reinterpret_cast<const float*>(resolve(s.step.b)) : nullptr;
      float* out = reinterpret_cast<float*>(resolve(s.step.out));
      if (!binary(s.step.op)) {
        for (int64_t i = 0; i < s.count; ++i) out[i] = a[i] > 0.f ? a[i] : 0.f;
        continue;
      }
      run_binary(s, a, b, out);
    }
  }

 private:
  static float apply(Op op, float x, float y) {
    switch (op) {
      case Op::Add: return x + y;
      case Op::Sub: return x - y;
      case Op::Mul: return x * y;
      case Op::Div: return x / y;
      case Op::Relu: break;
    }
    return 0.f;
  }

  // Walks the output in row-major order with a multi-index, advancing both input offsets.
  static void run_binary(const BoundStep& s, const float* a, const float* b, float* out) {
    const size_t rank = s.out_dims.size();
    std::vector<int64_t> index(rank, 0);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < s.count; ++i) {
      out[i] = apply(s.step.op, a[ia], b[ib]);
      for (size_t d = rank; d-- > 0;) {
        ia += s.a_strides[d];
        ib += s.b_strides[d];
        if (++index[d] < s.out_dims[d]) break;
        ia -= s.a_strides[d] * s.out_dims[d];
        ib -= s.b_strides[d] * s.out_dims[d];
        index[d] = 0;
      }
    }
  }

  const DeviceMemory& memory_;
  std::vector<Step> steps_;
  std::vector<BoundStep> bound_;
  std::vector<int64_t> bytes_;
  std::vector<const unsigned char*> constants_;  // the uploads, which outlive the plans
  std::vector<std::string> names_;
};

// ---------------------------------------------------------------- executable

class ExternalExecutable : public Executable {
 public:
  ExternalExecutable(DeviceMemory& memory, const GraphView& g, const loom_compile_options& options) : memory_(memory) {
    const ConstantCache cache(options);
    constants_.assign(g.num_values(), nullptr);
    for (size_t v = 0; v < g.num_values(); ++v) {
      ValueView value = g.value(v);
      names_.emplace_back(value.name());
      if (!value.is_constant()) continue;
      if (!value.data()) throw Error("constant '" + names_.back() + "' has no data");
      const auto bytes = std::span(static_cast<const std::byte*>(value.data()), value.nbytes());
      if (bytes.empty()) {  // nothing to upload, but a constant all the same
        static const unsigned char nothing = 0;
        constants_[v] = &nothing;
        continue;
      }
      if (cache.available()) {
        // Uploaded once per engine: an earlier session's upload of the same constant is reused.
        auto upload = cache.find(value, "device-upload");
        if (upload.empty()) upload = cache.store(value, "device-upload", bytes);
        if (upload.size() != bytes.size()) throw Error("constant '" + names_.back() + "': the cached upload has another size");
        constants_[v] = reinterpret_cast<const unsigned char*>(upload.data());
        continue;
      }
      // Upload into a buffer of this executable's own; the host's bytes are not needed after this.
      void* buf = memory_.alloc(value.nbytes());
      own_.push_back(buf);
      unsigned char* upload = memory_.range(buf, 0, value.nbytes(), "upload");
      std::memcpy(upload, value.data(), value.nbytes());
      constants_[v] = upload;
    }
    for (size_t n = 0; n < g.num_nodes(); ++n) {
      NodeView node = g.node(n);
      Step s;
      s.op = op_table().find(node.op())->second;
      s.node = std::string(node.name());
      s.a = node.input_index(0);
      if (binary(s.op)) s.b = node.input_index(1);
      s.out = node.output_index(0);
      steps_.push_back(s);
    }
  }
  ~ExternalExecutable() override {
    for (void* b : own_) memory_.free(b);
  }

  std::unique_ptr<Plan> prepare(const ShapeSet& shapes) override {
    std::vector<int64_t> bytes(shapes.size());
    for (size_t v = 0; v < shapes.size(); ++v) bytes[v] = shapes.numel(v) * static_cast<int64_t>(sizeof(float));
    auto bound = bind_steps(steps_, [&](int32_t v) { return shapes.dims(static_cast<size_t>(v)); }, numel_of);
    return std::make_unique<ExternalPlan>(memory_, steps_, std::move(bound), std::move(bytes), constants_, names_);
  }

 private:
  DeviceMemory& memory_;
  std::vector<const unsigned char*> constants_;  // per value: the uploaded copy of a constant, else null
  std::vector<void*> own_;                       // buffers of uploads made without the host's cache
  std::vector<std::string> names_;
  std::vector<Step> steps_;
};

// ---------------------------------------------------------------- backend

class ExternalBackend : public Backend {
 public:
  int32_t memory_kind() const override { return LOOM_MEMORY_DEVICE; }
  const void* extension(std::string_view name) override {
    return name == LOOM_EXTENSION_DEVICE_TIME ? device_time_extension() : nullptr;
  }
  // Its loops read the sizes of each run from the run's tensors: plans made at bounds are fine.
  uint32_t flags() const override { return LOOM_BACKEND_BOUNDED_SHAPES; }

  std::optional<std::string> unsupported_reason(const GraphView& graph, size_t index) override {
    NodeView node = graph.node(index);
    auto it = op_table().find(node.op());
    if (it == op_table().end()) return "op '" + std::string(node.op()) + "' is not implemented (add, sub, mul, div, relu only)";
    const size_t arity = binary(it->second) ? 2 : 1;
    for (size_t i = 0; i < arity; ++i) {
      if (!node.has_input(i)) return "input " + std::to_string(i) + " is absent";
      ValueView v = node.input(i);
      if (v.dtype() != LOOM_DTYPE_F32) return "only f32 (input '" + std::string(v.name()) + "')";
    }
    if (node.num_outputs() != 1 || node.output(0).dtype() != LOOM_DTYPE_F32) return "only one f32 output";
    if (arity == 2 && !broadcastable(node.input(0).dims(), node.input(1).dims())) return "input shapes do not broadcast";
    return std::nullopt;
  }

  std::unique_ptr<Executable> compile(const GraphView& partition, const loom_compile_options& options) override {
    for (size_t n = 0; n < partition.num_nodes(); ++n)
      if (auto why = unsupported_reason(partition, n))
        throw Error(std::string(partition.node(n).name()) + ": " + *why, LOOM_STATUS_UNSUPPORTED);
    return std::make_unique<ExternalExecutable>(memory_, partition, options);
  }

  void* buffer_alloc(uint64_t bytes) override { return memory_.alloc(bytes); }
  void buffer_free(void* buffer) override { memory_.free(buffer); }
  void buffer_write(void* buffer, uint64_t offset, const void* src, uint64_t bytes) override {
    if (bytes) std::memcpy(memory_.range(buffer, offset, bytes, "buffer_write"), src, bytes);
  }
  void buffer_read(void* buffer, uint64_t offset, void* dst, uint64_t bytes) override {
    if (bytes) std::memcpy(dst, memory_.range(buffer, offset, bytes, "buffer_read"), bytes);
  }
  DeviceMemory& device() { return memory_; }

 private:
  DeviceMemory memory_;
};

class ExternalPlugin : public BackendPlugin {
 public:
  std::vector<DeviceInfo> devices() override {
    return {{"emulated-device", "host memory behind device buffer handles; add, sub, mul, div, relu on f32",
             LOOM_MEMORY_DEVICE}};
  }
  std::unique_ptr<Backend> create_backend(size_t device, loom::sdk::BackendOptions& options) override {
    if (device != 0) throw Error("no device " + std::to_string(device), LOOM_STATUS_INVALID_ARGUMENT);
    options.get("precision", "f32", {"f32"});
    const std::string runs = options.get("lose_device_after_runs", "-1");
    int64_t n = -1;
    try {
      size_t used = 0;
      n = std::stoll(runs, &used);
      if (used != runs.size() || n < -1) throw std::invalid_argument(runs);
    } catch (const std::exception&) {
      throw Error("option lose_device_after_runs=" + runs + ": expected a whole number of runs (-1: never)",
                  LOOM_STATUS_INVALID_ARGUMENT);
    }
    options.finish("external");
    auto backend = std::make_unique<ExternalBackend>();
    backend->device().set_runs_before_loss(n);
    return backend;
  }
};

}  // namespace

LOOM_BACKEND_PLUGIN(ExternalPlugin, "external", "0.1.0", "example device-memory backend built outside the Loom tree")
