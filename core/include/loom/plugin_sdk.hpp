// Header-only C++ SDK for plugin authors: write ordinary C++ classes, and the macros at the end
// fill the C descriptor of <loom/abi.h> with noexcept trampolines that turn exceptions into
// loom_status objects. Nothing here links against libloom.
#pragma once

#include <loom/abi.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace loom::sdk {

// ---------------------------------------------------------------- status

struct OwnedStatus : loom_status {
  std::string text;
};

inline loom_status* make_status(std::string message, int32_t code = LOOM_STATUS_ERROR) {
  auto* s = new OwnedStatus;
  s->text = std::move(message);
  s->struct_size = sizeof(loom_status);
  s->code = code;
  s->message = s->text.c_str();
  s->release = [](loom_status* self) { delete static_cast<OwnedStatus*>(self); };
  return s;
}

// Thrown by plugin code to pick a status code; any other std::exception becomes LOOM_STATUS_ERROR.
struct Error : std::runtime_error {
  int32_t code;
  explicit Error(const std::string& what, int32_t c = LOOM_STATUS_ERROR)
      : std::runtime_error(what), code(c) {}
};

template <class F>
loom_status* guard(F&& f) noexcept {
  try {
    f();
    return nullptr;
  } catch (const Error& e) {
    return make_status(e.what(), e.code);
  } catch (const std::bad_alloc&) {
    return make_status("out of memory", LOOM_STATUS_OUT_OF_MEMORY);
  } catch (const std::exception& e) {
    return make_status(e.what());
  } catch (...) {
    return make_status("unknown error");
  }
}

// ---------------------------------------------------------------- op semantics shared with the core

// The elements `slice` takes from a dimension of size n (docs/ops.md): Python's
// slice(start, end, step).indices(n) for step >= 1, for every int64 start and end. Negative
// start and end count from the end; both are clamped to [0, n]. The core's shape inference and
// backends use this one function, so they agree on every value, the int64 limits included.
struct SliceRange {
  int64_t first = 0;  // index of the first element taken
  int64_t count = 0;  // number of elements taken
};
inline SliceRange slice_range(int64_t n, int64_t start, int64_t end, int64_t step) {
  // v + n cannot overflow: v < 0 <= n. The count is computed without end - start + step.
  auto clamp = [n](int64_t v) { return v < 0 ? (v < -n ? 0 : v + n) : (v > n ? n : v); };
  const int64_t s = clamp(start), e = clamp(end);
  return {s, e > s ? (e - s - 1) / step + 1 : 0};
}

// The dims `reshape` gives an input of dims `in` (docs/ops.md): 0 copies the input's dim at that
// index, one -1 is inferred. The dims copied by 0 cancel out of both sides before -1 is inferred,
// so that an empty batch ([0, 5] to [0, 1, 1, -1]) gives [0, 1, 1, 5], as the graph's symbols do.
// nullopt when the shape cannot hold the input (or copies a dim the input lacks, or overflows).
inline std::optional<std::vector<int64_t>> reshape_dims(std::span<const int64_t> in, std::span<const int64_t> spec) {
  // The product of the dims `take` admits: 0 when one of them is 0 (whatever the others), so an
  // empty tensor with huge dims does not overflow; nullopt on overflow.
  auto product = [](std::span<const int64_t> dims, auto take) -> std::optional<int64_t> {
    int64_t n = 1;
    bool zero = false;
    for (size_t i = 0; i < dims.size(); ++i)
      if (take(i)) zero |= dims[i] == 0;
    if (zero) return 0;
    for (size_t i = 0; i < dims.size(); ++i)
      if (take(i) && __builtin_mul_overflow(n, dims[i], &n)) return std::nullopt;
    return n;
  };
  std::vector<int64_t> out(spec.size());
  int64_t inferred = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == 0) {
      if (i >= in.size()) return std::nullopt;
      out[i] = in[i];
    } else if (spec[i] == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(i);
    } else if (spec[i] < 0) {
      return std::nullopt;
    } else {
      out[i] = spec[i];
    }
  }
  if (inferred < 0) {  // every dim given: the counts must agree
    const auto a = product(in, [](size_t) { return true; }), b = product(out, [](size_t) { return true; });
    if (!a || !b || *a != *b) return std::nullopt;
    return out;
  }
  const auto rest = product(in, [&](size_t i) { return i >= spec.size() || spec[i] != 0; });
  const auto fixed = product(out, [&](size_t i) { return spec[i] > 0; });
  if (!rest || !fixed || *rest % *fixed != 0) return std::nullopt;
  out[static_cast<size_t>(inferred)] = *rest / *fixed;
  return out;
}

// ---------------------------------------------------------------- views over the C structs

// Element i of an array of records (loom_tensor, loom_value, loom_node, loom_attr, loom_option):
// arrays are walked by their elements' struct_size, so that the host can add members to a record
// without breaking plugins built before (see abi.h). A record smaller than this plugin's struct
// (an older host) is refused rather than read past its end.
template <class T>
const T& record(const T* array, size_t i) {
  if (array->struct_size < sizeof(T))
    throw std::runtime_error("the host's records are older than this plugin's ABI: rebuild the host or the plugin");
  return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(array) + i * array->struct_size);
}
template <class T>
T& record(T* array, size_t i) {
  return const_cast<T&>(record(static_cast<const T*>(array), i));
}

inline size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case LOOM_DTYPE_F32: case LOOM_DTYPE_I32: return 4;
    case LOOM_DTYPE_F16: case LOOM_DTYPE_BF16: return 2;
    case LOOM_DTYPE_I64: return 8;
    case LOOM_DTYPE_U8: return 1;
    default: return 0;
  }
}

// "f32", "i64", ... as the registry and docs spell them.
inline std::string dtype_name(int32_t dtype) {
  switch (dtype) {
    case LOOM_DTYPE_F32: return "f32";
    case LOOM_DTYPE_F16: return "f16";
    case LOOM_DTYPE_BF16: return "bf16";
    case LOOM_DTYPE_I64: return "i64";
    case LOOM_DTYPE_I32: return "i32";
    case LOOM_DTYPE_U8: return "u8";
    default: return "dtype#" + std::to_string(dtype);
  }
}

// "[2, 128, 768]"; a negative dim (not yet known) prints as "?".
inline std::string dims_str(std::span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

class ValueView {
 public:
  explicit ValueView(const loom_value* v) : v_(v) {}
  std::string_view name() const { return v_->name; }
  int32_t kind() const { return v_->kind; }
  int32_t dtype() const { return v_->dtype; }
  int32_t rank() const { return v_->rank; }
  std::span<const int64_t> dims() const { return {v_->dims, static_cast<size_t>(v_->rank)}; }
  bool is_constant() const { return v_->kind == LOOM_VALUE_CONSTANT; }
  const void* data() const { return v_->data; }
  uint64_t nbytes() const { return v_->nbytes; }
  const loom_value* raw() const { return v_; }

 private:
  const loom_value* v_;
};

class NodeView {
 public:
  NodeView(const loom_graph_view* g, size_t index) : g_(g), n_(&record(g->nodes, index)) {}
  std::string_view name() const { return n_->name; }
  std::string_view op() const { return n_->op; }
  size_t num_inputs() const { return n_->num_inputs; }
  size_t num_outputs() const { return n_->num_outputs; }
  bool has_input(size_t i) const { return i < n_->num_inputs && n_->inputs[i] >= 0; }
  int32_t input_index(size_t i) const { return i < n_->num_inputs ? n_->inputs[i] : -1; }
  int32_t output_index(size_t i) const { return n_->outputs[i]; }
  ValueView input(size_t i) const {
    if (!has_input(i)) throw Error(std::string(name()) + ": input " + std::to_string(i) + " is absent");
    return ValueView(&record(g_->values, static_cast<size_t>(n_->inputs[i])));
  }
  ValueView output(size_t i) const { return ValueView(&record(g_->values, static_cast<size_t>(n_->outputs[i]))); }

  const loom_attr* find_attr(std::string_view attr) const {
    for (size_t i = 0; i < n_->num_attrs; ++i)
      if (attr == record(n_->attrs, i).name) return &record(n_->attrs, i);
    return nullptr;
  }
  const loom_attr& attr(std::string_view attr, int32_t type) const {
    const loom_attr* a = find_attr(attr);
    if (!a || a->type != type)
      throw Error(std::string(name()) + ": attribute '" + std::string(attr) + "' missing or of another type");
    return *a;
  }
  int64_t attr_int(std::string_view a) const { return attr(a, LOOM_ATTR_INT).i; }
  bool attr_bool(std::string_view a) const { return attr(a, LOOM_ATTR_BOOL).i != 0; }
  double attr_float(std::string_view a) const { return attr(a, LOOM_ATTR_FLOAT).f; }
  std::string_view attr_string(std::string_view a) const { return attr(a, LOOM_ATTR_STRING).s; }
  std::span<const int64_t> attr_ints(std::string_view a) const {
    const loom_attr& x = attr(a, LOOM_ATTR_INTS);
    return {x.ints, x.count};
  }
  std::span<const double> attr_floats(std::string_view a) const {
    const loom_attr& x = attr(a, LOOM_ATTR_FLOATS);
    return {x.floats, x.count};
  }
  const loom_node* raw() const { return n_; }

 private:
  const loom_graph_view* g_;
  const loom_node* n_;
};

class GraphView {
 public:
  explicit GraphView(const loom_graph_view* g) : g_(g) {}
  size_t num_nodes() const { return g_->num_nodes; }
  size_t num_values() const { return g_->num_values; }
  NodeView node(size_t i) const { return NodeView(g_, i); }
  ValueView value(size_t i) const { return ValueView(&record(g_->values, i)); }
  const loom_graph_view* raw() const { return g_; }

 private:
  const loom_graph_view* g_;
};

// Concrete shapes of a partition's values for one signature.
class ShapeSet {
 public:
  explicit ShapeSet(const loom_shape_set* s) : s_(s) {}
  size_t size() const { return s_->num_values; }
  std::span<const int64_t> dims(size_t value) const {
    return {s_->dims[value], static_cast<size_t>(s_->ranks[value])};
  }
  int64_t numel(size_t value) const {
    int64_t n = 1;
    for (int64_t d : dims(value)) n *= d;
    return n;
  }

 private:
  const loom_shape_set* s_;
};

// ---------------------------------------------------------------- backend classes

// The options a session passes to create_backend (loom_backend_options): the thread count and
// key/value strings. A backend reads the keys it knows with get(), then calls finish(), which
// refuses any key left unread, naming it: a typo never passes silently.
class BackendOptions {
 public:
  BackendOptions() = default;
  explicit BackendOptions(const loom_backend_options* o) {
    if (!o) return;
    threads = o->num_threads;
    for (size_t i = 0; i < o->num_options; ++i) {
      const loom_option& opt = record(o->options, i);
      entries_.push_back({opt.key ? opt.key : "", opt.value ? opt.value : "", false});
    }
  }
  int32_t threads = 0;
  // The value of `key`, or `fallback` when the session did not set it. When `allowed` is not
  // empty, any other value is refused with a message that lists the allowed ones.
  std::string get(std::string_view key, std::string fallback, std::initializer_list<std::string_view> allowed = {}) {
    // A key given twice (for every backend, then as NAME.KEY for this one) takes its last value.
    const Entry* found = nullptr;
    for (Entry& e : entries_)
      if (e.key == key) {
        e.used = true;
        found = &e;
      }
    if (!found) return fallback;
    if (allowed.size() && std::find(allowed.begin(), allowed.end(), found->value) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw Error("option " + found->key + "=" + found->value + ": the value must be one of " + list, LOOM_STATUS_INVALID_ARGUMENT);
    }
    return found->value;
  }
  // Refuses the keys no get() asked for; `backend` names the backend in the message.
  void finish(std::string_view backend) const {
    for (const Entry& e : entries_)
      if (!e.used)
        throw Error("option '" + e.key + "' is unknown to the " + std::string(backend) + " backend", LOOM_STATUS_INVALID_ARGUMENT);
  }

 private:
  struct Entry {
    std::string key, value;
    bool used;
  };
  std::vector<Entry> entries_;
};

// Whether the host asks the run to stop (loom_run_args.should_stop: a cancel flag or a
// deadline). Poll it between nodes or other units of work; it is cheap when set and costs one
// comparison when the host passes none.
inline bool stop_requested(const loom_run_args& args) {
  return args.should_stop && args.should_stop(args.stop_context) != 0;
}
// Throws the error that makes the run return LOOM_STATUS_CANCELLED; `where` says how far it got.
[[noreturn]] inline void stopped(const std::string& where) { throw Error("run stopped " + where, LOOM_STATUS_CANCELLED); }

// The host's cache of packed constants (loom_compile_options, ABI 2.1), for a backend that keeps
// constants in a layout of its own: the sessions of one engine then share one copy. Use it in
// compile() only. A layout key names everything the copy depends on besides the constant's
// bytes; copies are 64-byte aligned and live at least as long as the executable.
class ConstantCache {
 public:
  explicit ConstantCache(const loom_compile_options& o) {
    if (o.struct_size >= offsetof(loom_compile_options, store_packed) + sizeof(o.store_packed) && o.find_packed &&
        o.store_packed) {
      o_ = &o;
    }
  }
  // Whether the host offers a cache (else keep copies of your own).
  bool available() const { return o_ != nullptr; }
  // The stored copy of `value` in `layout`, or an empty span.
  std::span<const std::byte> find(const ValueView& value, const std::string& layout) const {
    uint64_t n = 0;
    const void* p = o_ ? o_->find_packed(o_->packed_context, value.data(), value.nbytes(), layout.c_str(), &n) : nullptr;
    return p ? std::span<const std::byte>(static_cast<const std::byte*>(p), n) : std::span<const std::byte>();
  }
  // Stores `packed` as `value` in `layout`; returns the host's copy (perhaps one another
  // session stored first: use it, not `packed`). Throws when the host cannot store it.
  // Hands `mapping` (mmap(MAP_PRIVATE | MAP_ANONYMOUS), `bytes` long, written by the caller) to
  // the host as the copy of `value` in `layout`, without a second copy where the host takes it
  // (ABI 2.2); else stores a copy and unmaps it. Either way the mapping is no longer the
  // caller's. Returns the host's copy (perhaps one another session stored first).
  std::span<const std::byte> adopt_mapping(const ValueView& value, const std::string& layout, void* mapping,
                                           size_t bytes) const {
    if (o_ && o_->struct_size >= offsetof(loom_compile_options, adopt_packed) + sizeof(o_->adopt_packed) &&
        o_->adopt_packed) {
      const void* p = o_->adopt_packed(o_->packed_context, value.data(), value.nbytes(), layout.c_str(), mapping, bytes);
      if (p) {
        uint64_t n = bytes;
        o_->find_packed(o_->packed_context, value.data(), value.nbytes(), layout.c_str(), &n);
        return {static_cast<const std::byte*>(p), static_cast<size_t>(n)};
      }
    }
    struct Unmap {
      void* p;
      size_t n;
      ~Unmap() { ::munmap(p, n); }
    } unmap{mapping, bytes};
    return store(value, layout, std::span<const std::byte>(static_cast<const std::byte*>(mapping), bytes));
  }
  // Tells the host that [data, data + bytes) of a constant will not be read again (ABI 2.2): the
  // pages it holds in a weights file's mapping may go. A no-op where the host has no such call.
  void release(const void* data, size_t bytes) const {
    if (o_ && o_->struct_size >= offsetof(loom_compile_options, release_constant) + sizeof(o_->release_constant) &&
        o_->release_constant)
      o_->release_constant(o_->packed_context, data, bytes);
  }
  std::span<const std::byte> store(const ValueView& value, const std::string& layout, std::span<const std::byte> packed) const {
    if (!o_) throw Error("store_packed: the host offers no constant cache", LOOM_STATUS_UNSUPPORTED);
    const void* p = o_->store_packed(o_->packed_context, value.data(), value.nbytes(), layout.c_str(), packed.data(), packed.size());
    if (!p) throw Error("the host could not store a packed copy of '" + std::string(value.name()) + "' (" +
                        std::to_string(packed.size()) + " bytes)", LOOM_STATUS_OUT_OF_MEMORY);
    uint64_t n = packed.size();  // the stored copy's own size (it may be another session's)
    o_->find_packed(o_->packed_context, value.data(), value.nbytes(), layout.c_str(), &n);
    return {static_cast<const std::byte*>(p), static_cast<size_t>(n)};
  }

 private:
  const loom_compile_options* o_ = nullptr;
};

class Plan {
 public:
  virtual ~Plan() = default;
  virtual uint64_t scratch_bytes() const { return 0; }
  // May be called from several threads at once with different args.
  virtual void run(const loom_run_args& args) const = 0;
  // A run timed on the device (LOOM_EXTENSION_DEVICE_TIME): the device's time for the run's
  // work in nanoseconds, or nullopt when it was not timed. Only called on plans of a backend
  // whose extension() answers with device_time_extension().
  virtual std::optional<uint64_t> run_timed(const loom_run_args& args) const {
    run(args);
    return std::nullopt;
  }
};

class Executable {
 public:
  virtual ~Executable() = default;
  virtual std::unique_ptr<Plan> prepare(const ShapeSet& shapes) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int32_t memory_kind() const { return LOOM_MEMORY_HOST; }
  // LOOM_BACKEND_* flags (LOOM_BACKEND_BOUNDED_SHAPES: plans made at symbol bounds are fine).
  virtual uint32_t flags() const { return 0; }
  // The op set the backend's kernels were written for (docs/plugins.md, "Op-set version"): these
  // headers' by default. A backend written for an older one states it, and is then never given
  // a node that sets an attribute added after it; a later one than these headers' is not taken.
  virtual uint32_t opset_version() const { return LOOM_OPSET_VERSION; }
  // A feature outside the core ABI, by name; nullptr when unknown.
  virtual const void* extension(std::string_view) { return nullptr; }
  // std::nullopt if the node can run here, else why not (shown by `loom inspect --placement`).
  virtual std::optional<std::string> unsupported_reason(const GraphView& graph, size_t node) = 0;
  virtual std::unique_ptr<Executable> compile(const GraphView& partition,
                                              const loom_compile_options& options) = 0;
  // Device-memory backends override these.
  virtual void* buffer_alloc(uint64_t) { throw Error("buffer_alloc: host-memory backend"); }
  virtual void buffer_free(void*) {}
  virtual void buffer_write(void*, uint64_t, const void*, uint64_t) { throw Error("buffer_write: host-memory backend"); }
  virtual void buffer_read(void*, uint64_t, void*, uint64_t) { throw Error("buffer_read: host-memory backend"); }
};

struct DeviceInfo {
  std::string name;
  std::string description;
  int32_t memory_kind = LOOM_MEMORY_HOST;
};

class BackendPlugin {
 public:
  virtual ~BackendPlugin() = default;
  virtual std::vector<DeviceInfo> devices() = 0;
  // Read the options you know from `options` and call options.finish(name) before returning.
  virtual std::unique_ptr<Backend> create_backend(size_t device, BackendOptions& options) = 0;
  // A feature outside the core ABI, by name; nullptr when unknown.
  virtual const void* extension(std::string_view) { return nullptr; }
  std::vector<DeviceInfo> device_cache;  // filled once, so device_info() can hand out stable strings
};

// ---------------------------------------------------------------- model classes

// What loom_model_request carries (abi.h; docs/plugins.md, "Model plugins").
struct ModelRequest {
  std::string model_type;
  std::string config_json;
  std::string checkpoint_dir;
  std::string weights_file;    // model.safetensors, or the index of a sharded checkpoint
  std::string task;
  std::string weights_header;  // {name: {dtype, shape, data_offsets}}; sharded: each entry also has "file"
};

struct ModelResult {
  std::string graph_yaml;  // with its `processing:` section (docs/graph-format.md)
};

class ModelPlugin {
 public:
  virtual ~ModelPlugin() = default;
  virtual std::vector<std::string> architectures() const = 0;
  virtual ModelResult expand(const ModelRequest& request) = 0;
};

// ---------------------------------------------------------------- trampolines

// The table a backend's extension(LOOM_EXTENSION_DEVICE_TIME) returns when its plans time their
// runs on the device (Plan::run_timed).
inline const loom_device_time_v1* device_time_extension() {
  static const loom_device_time_v1 table{sizeof(loom_device_time_v1), [](void*, void* plan, const loom_run_args* a, uint64_t* ns) noexcept {
    return guard([&] {
      const std::optional<uint64_t> t = static_cast<const Plan*>(plan)->run_timed(*a);
      if (ns) *ns = t.value_or(UINT64_MAX);
    });
  }};
  return &table;
}

namespace detail {

struct BackendHandle : loom_backend {
  std::unique_ptr<Backend> impl;
};

inline loom_backend* wrap_backend(std::unique_ptr<Backend> impl) {
  auto* h = new BackendHandle{};
  h->impl = std::move(impl);
  h->struct_size = sizeof(loom_backend);
  h->self = h;
  h->memory_kind = h->impl->memory_kind();
  h->opset_version = std::min<uint32_t>(h->impl->opset_version(), LOOM_OPSET_VERSION);
  h->flags = h->impl->flags();
  h->supports_node = [](void* self, const loom_graph_view* g, size_t node, loom_status** reason) noexcept -> int32_t {
    std::optional<std::string> why;
    loom_status* st = guard([&] { why = static_cast<BackendHandle*>(self)->impl->unsupported_reason(GraphView(g), node); });
    if (st) {
      if (reason) *reason = st; else st->release(st);
      return 0;
    }
    if (why) {
      if (reason) *reason = make_status(*why, LOOM_STATUS_UNSUPPORTED);
      return 0;
    }
    return 1;
  };
  h->compile = [](void* self, const loom_graph_view* g, const loom_compile_options* o, void** exe) noexcept {
    return guard([&] {
      // An older host's options are shorter: copy what it gave, leave the rest NULL.
      loom_compile_options opts{};
      if (o) std::memcpy(&opts, o, std::min<size_t>(o->struct_size, sizeof(opts)));
      opts.struct_size = o ? std::min<uint32_t>(o->struct_size, sizeof(opts)) : sizeof(opts);
      if (!opts.graph_name) opts.graph_name = "";
      *exe = static_cast<BackendHandle*>(self)->impl->compile(GraphView(g), opts).release();
    });
  };
  h->release_executable = [](void*, void* exe) noexcept { delete static_cast<Executable*>(exe); };
  h->prepare = [](void*, void* exe, const loom_shape_set* s, void** plan, uint64_t* scratch) noexcept {
    return guard([&] {
      auto p = static_cast<Executable*>(exe)->prepare(ShapeSet(s));
      *scratch = p->scratch_bytes();
      *plan = p.release();
    });
  };
  h->release_plan = [](void*, void* plan) noexcept { delete static_cast<Plan*>(plan); };
  h->run = [](void*, void* plan, const loom_run_args* a) noexcept {
    return guard([&] { static_cast<const Plan*>(plan)->run(*a); });
  };
  if (h->memory_kind == LOOM_MEMORY_DEVICE) {
    h->buffer_alloc = [](void* self, uint64_t bytes, void** buf) noexcept {
      return guard([&] { *buf = static_cast<BackendHandle*>(self)->impl->buffer_alloc(bytes); });
    };
    h->buffer_free = [](void* self, void* buf) noexcept {
      try { static_cast<BackendHandle*>(self)->impl->buffer_free(buf); } catch (...) {}
    };
    h->buffer_write = [](void* self, void* buf, uint64_t off, const void* src, uint64_t n) noexcept {
      return guard([&] { static_cast<BackendHandle*>(self)->impl->buffer_write(buf, off, src, n); });
    };
    h->buffer_read = [](void* self, void* buf, uint64_t off, void* dst, uint64_t n) noexcept {
      return guard([&] { static_cast<BackendHandle*>(self)->impl->buffer_read(buf, off, dst, n); });
    };
  }
  h->release = [](void* self) noexcept { delete static_cast<BackendHandle*>(self); };
  h->get_extension = [](void* self, const char* name) noexcept -> const void* {
    try { return name ? static_cast<BackendHandle*>(self)->impl->extension(name) : nullptr; } catch (...) { return nullptr; }
  };
  return h;
}

template <class PluginClass>
struct BackendEntry {
  static loom_status* init(const loom_host*, void** state) noexcept {
    return guard([&] { *state = static_cast<BackendPlugin*>(new PluginClass()); });
  }
  static void shutdown(void* state) noexcept { delete static_cast<BackendPlugin*>(state); }
  static BackendPlugin& plugin(void* state) { return *static_cast<BackendPlugin*>(state); }
  static std::vector<DeviceInfo>& devices(void* state) {
    auto& p = plugin(state);
    if (p.device_cache.empty()) p.device_cache = p.devices();
    return p.device_cache;
  }
  static size_t device_count(void* state) noexcept {
    try { return devices(state).size(); } catch (...) { return 0; }
  }
  static loom_status* device_info(void* state, size_t i, loom_device_info* info) noexcept {
    return guard([&] {
      auto& d = devices(state);
      if (i >= d.size()) throw Error("no device " + std::to_string(i), LOOM_STATUS_INVALID_ARGUMENT);
      info->struct_size = sizeof(loom_device_info);
      info->name = d[i].name.c_str();
      info->description = d[i].description.c_str();
      info->memory_kind = d[i].memory_kind;
    });
  }
  static loom_status* create_backend(void* state, size_t device, const loom_backend_options* o,
                                     loom_backend** out) noexcept {
    return guard([&] {
      BackendOptions opts(o);
      *out = wrap_backend(plugin(state).create_backend(device, opts));
    });
  }
  static void release_backend(void*, loom_backend* b) noexcept {
    if (b && b->release) b->release(b->self);
  }
  static const void* get_extension(void* state, const char* name) noexcept {
    try { return name ? plugin(state).extension(name) : nullptr; } catch (...) { return nullptr; }
  }
  static const loom_backend_plugin* table() {
    static const loom_backend_plugin t{sizeof(loom_backend_plugin), &device_count, &device_info,
                                       &create_backend, &release_backend};
    return &t;
  }
};

struct ModelResultHolder : loom_model_result {
  ModelResult owned;
};

template <class PluginClass>
struct ModelEntry {
  struct State {
    PluginClass impl;
  };
  static loom_status* init(const loom_host*, void** state) noexcept {
    return guard([&] { *state = new State(); });
  }
  static void shutdown(void* state) noexcept { delete static_cast<State*>(state); }
  static loom_status* expand(void* state, const loom_model_request* r, loom_model_result** out) noexcept {
    return guard([&] {
      auto str = [](const char* s) { return std::string(s ? s : ""); };
      ModelRequest req{str(r->model_type), str(r->config_json), str(r->checkpoint_dir),
                       str(r->weights_file), str(r->task), str(r->weights_header)};
      auto h = std::make_unique<ModelResultHolder>();
      h->owned = static_cast<State*>(state)->impl.expand(req);
      h->struct_size = sizeof(loom_model_result);
      h->graph_yaml = h->owned.graph_yaml.c_str();
      *out = h.release();
    });
  }
  static void release_result(void*, loom_model_result* r) noexcept {
    delete static_cast<ModelResultHolder*>(r);
  }
  // Architecture names must outlive every call, so they are gathered once per process.
  static const loom_model_plugin* table() {
    static const std::vector<std::string> names = PluginClass().architectures();
    static const std::vector<const char*> ptrs = [] {
      std::vector<const char*> p;
      for (const auto& n : names) p.push_back(n.c_str());
      return p;
    }();
    static const loom_model_plugin t{sizeof(loom_model_plugin), ptrs.size(), ptrs.data(), &expand,
                                     &release_result};
    return &t;
  }
};

}  // namespace detail
}  // namespace loom::sdk

// Defines the plugin's entry point for a class derived from loom::sdk::BackendPlugin.
#define LOOM_BACKEND_PLUGIN(PluginClass, NAME, VERSION, DESCRIPTION)                      \
  extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {             \
    using Entry = ::loom::sdk::detail::BackendEntry<PluginClass>;                         \
    static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR,    \
                                        LOOM_PLUGIN_BACKEND, NAME, VERSION, DESCRIPTION,   \
                                        &Entry::init, &Entry::shutdown, Entry::table(),    \
                                        nullptr, &Entry::get_extension};                   \
    return &descriptor;                                                                    \
  }

// Defines the plugin's entry point for a class derived from loom::sdk::ModelPlugin.
#define LOOM_MODEL_PLUGIN(PluginClass, NAME, VERSION, DESCRIPTION)                        \
  extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {             \
    using Entry = ::loom::sdk::detail::ModelEntry<PluginClass>;                           \
    static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR,    \
                                        LOOM_PLUGIN_MODEL, NAME, VERSION, DESCRIPTION,     \
                                        &Entry::init, &Entry::shutdown, nullptr,           \
                                        Entry::table(), nullptr};                          \
    return &descriptor;                                                                    \
  }
