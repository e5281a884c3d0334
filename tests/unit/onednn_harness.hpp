// Drives the built oneDNN plugin through the C ABI alone, as the host would: dlopen the
// library, call loom_plugin_entry, init, create_backend, then compile hand-built graph views,
// prepare them for concrete shapes and run them on host tensors. Failures of the plugin come
// back as PluginError carrying the status message.
#pragma once

#include <loom/abi.h>
#include <loom/tensor.hpp>

#include <dlfcn.h>

#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace loom::test {

struct PluginError : std::runtime_error {
  int32_t code;
  PluginError(const std::string& what, int32_t c) : std::runtime_error(what), code(c) {}
};

inline void check(loom_status* st, const std::string& context) {
  if (!st) return;
  std::string msg = context + ": " + (st->message ? st->message : "");
  int32_t code = st->code;
  st->release(st);
  throw PluginError(msg, code);
}

class OnednnPlugin {
 public:
  // `gemm`: the backend's gemm option (auto, packed, blocked, onednn), and `precision` the session's
  // precision option (f32, bf16), or null for their defaults.
  explicit OnednnPlugin(int num_threads = 1, const char* gemm = nullptr, const char* precision = nullptr) {
    path_ = std::string(LOOM_BUILD_PLUGIN_DIR) + "/loom-onednn.so";
    lib_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) throw std::runtime_error(path_ + ": " + dlerror());
    auto entry = reinterpret_cast<loom_plugin_entry_fn>(dlsym(lib_, LOOM_PLUGIN_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error(path_ + ": no " LOOM_PLUGIN_ENTRY_SYMBOL);
    desc_ = entry();
    loom_host host{sizeof(loom_host), LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, "test"};
    check(desc_->init(&host, &state_), "init");
    std::vector<loom_option> options;
    if (gemm) options.push_back({sizeof(loom_option), "gemm", gemm});
    if (precision) options.push_back({sizeof(loom_option), "precision", precision});
    loom_backend_options opts{sizeof(loom_backend_options), num_threads, options.size(), options.data()};
    try {
      check(desc_->backend->create_backend(state_, 0, &opts, &backend_), "create_backend");
    } catch (...) {  // a refused option: the destructor will not run, so undo init here
      if (desc_->shutdown) desc_->shutdown(state_);
      dlclose(lib_);
      throw;
    }
  }
  ~OnednnPlugin() {
    if (backend_) desc_->backend->release_backend(state_, backend_);
    if (desc_ && desc_->shutdown) desc_->shutdown(state_);
    if (lib_) dlclose(lib_);
  }
  OnednnPlugin(const OnednnPlugin&) = delete;
  OnednnPlugin& operator=(const OnednnPlugin&) = delete;

  const loom_plugin& descriptor() const { return *desc_; }
  void* state() const { return state_; }
  loom_backend& backend() const { return *backend_; }
  void* library() const { return lib_; }

 private:
  std::string path_;
  void* lib_ = nullptr;
  const loom_plugin* desc_ = nullptr;
  void* state_ = nullptr;
  loom_backend* backend_ = nullptr;
};

struct Attr {
  std::string name;
  int32_t type = LOOM_ATTR_INT;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;

  static Attr integer(std::string n, int64_t v) { Attr a{std::move(n)}; a.i = v; return a; }
  static Attr boolean(std::string n, bool v) { Attr a{std::move(n), LOOM_ATTR_BOOL}; a.i = v; return a; }
  static Attr real(std::string n, double v) { Attr a{std::move(n), LOOM_ATTR_FLOAT}; a.f = v; return a; }
  static Attr string(std::string n, std::string v) { Attr a{std::move(n), LOOM_ATTR_STRING}; a.s = std::move(v); return a; }
  static Attr list(std::string n, std::vector<int64_t> v) { Attr a{std::move(n), LOOM_ATTR_INTS}; a.ints = std::move(v); return a; }
};

// A graph view with its storage. Values are added first, then nodes that refer to them.
class GraphBuilder {
 public:
  // `dims` may hold -1 for symbolic dims; a CONSTANT value borrows `constant`'s data.
  int value(std::string name, int32_t kind, int32_t dtype, std::vector<int64_t> dims,
            const Tensor* constant = nullptr) {
    values_.push_back({std::move(name), kind, dtype, std::move(dims), constant});
    return static_cast<int>(values_.size()) - 1;
  }
  void node(std::string op, std::vector<int32_t> inputs, std::vector<int32_t> outputs, std::vector<Attr> attrs,
            std::string name = "") {
    if (name.empty()) name = op + "_" + std::to_string(nodes_.size());
    nodes_.push_back({std::move(name), std::move(op), std::move(inputs), std::move(outputs), std::move(attrs), {}});
  }
  size_t num_values() const { return values_.size(); }

  const loom_graph_view* view() {
    c_values_.clear();
    for (auto& v : values_) {
      loom_value c{};
      c.struct_size = sizeof(loom_value);
      c.name = v.name.c_str();
      c.kind = v.kind;
      c.dtype = v.dtype;
      c.rank = static_cast<int32_t>(v.dims.size());
      c.dims = v.dims.data();
      if (v.constant) {
        c.data = v.constant->data();
        c.nbytes = v.constant->nbytes();
      }
      c_values_.push_back(c);
    }
    c_nodes_.clear();
    for (auto& n : nodes_) {
      n.c_attrs.clear();
      for (auto& a : n.attrs) {
        loom_attr c{};
        c.struct_size = sizeof(loom_attr);
        c.name = a.name.c_str();
        c.type = a.type;
        c.i = a.i;
        c.f = a.f;
        c.s = a.s.c_str();
        c.count = a.type == LOOM_ATTR_INTS ? a.ints.size() : a.floats.size();
        c.ints = a.ints.data();
        c.floats = a.floats.data();
        n.c_attrs.push_back(c);
      }
      c_nodes_.push_back({sizeof(loom_node), n.name.c_str(), n.op.c_str(), n.inputs.size(), n.inputs.data(), n.outputs.size(),
                          n.outputs.data(), n.c_attrs.size(), n.c_attrs.data()});
    }
    view_ = {sizeof(loom_graph_view), c_values_.size(), c_values_.data(), c_nodes_.size(), c_nodes_.data()};
    return &view_;
  }

 private:
  struct Value {
    std::string name;
    int32_t kind;
    int32_t dtype;
    std::vector<int64_t> dims;
    const Tensor* constant;
  };
  struct Node {
    std::string name, op;
    std::vector<int32_t> inputs, outputs;
    std::vector<Attr> attrs;
    std::vector<loom_attr> c_attrs;
  };
  std::deque<Value> values_;
  std::deque<Node> nodes_;
  std::vector<loom_value> c_values_;
  std::vector<loom_node> c_nodes_;
  loom_graph_view view_{};
};

// The reason supports_node gives, or "" when the node is supported.
inline std::string unsupported_reason(const loom_backend& b, GraphBuilder& g, size_t node = 0) {
  loom_status* why = nullptr;
  if (b.supports_node(b.self, g.view(), node, &why)) return "";
  std::string msg = why && why->message ? why->message : "(no reason)";
  if (why) why->release(why);
  return msg;
}

class Plan;

class Executable {
 public:
  Executable(loom_backend& b, GraphBuilder& g) : b_(&b), num_values_(g.num_values()) {
    loom_compile_options opts{sizeof(loom_compile_options), "test"};
    check(b.compile(b.self, g.view(), &opts, &exe_), "compile");
  }
  ~Executable() { if (exe_) b_->release_executable(b_->self, exe_); }
  Executable(const Executable&) = delete;
  Executable& operator=(const Executable&) = delete;
  // Concrete dims of every value of the graph, in value order.
  Plan prepare(const std::vector<std::vector<int64_t>>& shapes);

 private:
  loom_backend* b_;
  size_t num_values_;
  void* exe_ = nullptr;
};

class Plan {
 public:
  Plan(loom_backend* b, void* plan, uint64_t scratch) : b_(b), plan_(plan), scratch_(scratch) {}
  Plan(Plan&& o) noexcept : b_(o.b_), plan_(o.plan_), scratch_(o.scratch_) { o.plan_ = nullptr; }
  ~Plan() { if (plan_) b_->release_plan(b_->self, plan_); }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  uint64_t scratch_bytes() const { return scratch_; }

  // One tensor per value (constants may be passed as empty Tensors: the plan uses the data it
  // was compiled with). `scratch` must hold scratch_bytes().
  void run(std::vector<Tensor*> tensors, void* scratch) const { run(std::move(tensors), scratch, scratch_); }
  // `should_stop` and `stop_context` go into loom_run_args as the host's stop poll.
  void run(std::vector<Tensor*> tensors, void* scratch, uint64_t scratch_bytes, int32_t (*should_stop)(void*) = nullptr,
           void* stop_context = nullptr) const {
    std::vector<loom_tensor> t(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      Tensor* x = tensors[i];
      t[i].struct_size = sizeof(loom_tensor);
      t[i].dtype = x ? static_cast<int32_t>(x->dtype()) : LOOM_DTYPE_INVALID;
      t[i].rank = x ? static_cast<int32_t>(x->rank()) : 0;
      t[i].dims = x ? x->shape().data() : nullptr;
      t[i].data = x ? x->data() : nullptr;
    }
    loom_run_args args{sizeof(loom_run_args), t.size(), t.data(), scratch, nullptr, 0, scratch_bytes, should_stop, stop_context};
    check(b_->run(b_->self, plan_, &args), "run");
  }
  // Runs with scratch of its own.
  void run(std::vector<Tensor*> tensors) const {
    std::vector<std::byte> scratch(scratch_);
    run(std::move(tensors), scratch.data());
  }

 private:
  loom_backend* b_;
  void* plan_;
  uint64_t scratch_;
};

inline Plan Executable::prepare(const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<int32_t> ranks;
  std::vector<const int64_t*> dims;
  for (const auto& s : shapes) {
    ranks.push_back(static_cast<int32_t>(s.size()));
    dims.push_back(s.data());
  }
  loom_shape_set set{sizeof(loom_shape_set), shapes.size(), ranks.data(), dims.data()};
  void* plan = nullptr;
  uint64_t scratch = 0;
  check(b_->prepare(b_->self, exe_, &set, &plan, &scratch), "prepare");
  return Plan(b_, plan, scratch);
}

}  // namespace loom::test
