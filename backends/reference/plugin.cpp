// The reference backend plugin: descriptor, device, and the Backend / Executable / Plan classes of
// the SDK. A plan runs its nodes one after another, each reading its inputs into fresh vectors
// before writing its outputs, so an output that shares memory with an input (a reshape view, a
// cache written in place) gives the same result as separate memory.
#include "kernel.hpp"

#include <cmath>
#include <map>

// The plugin name, a deliberate defect and an older op set, set only by the test builds of these
// sources (tests/plugins: a backend that `loom conformance` must report as wrong, and one built
// for op set 6).
#ifndef LOOM_REFERENCE_NAME
#define LOOM_REFERENCE_NAME "reference"
#endif

namespace loom::reference {
namespace {

const std::map<std::string_view, OpEntry>& op_table() {
  static const std::map<std::string_view, OpEntry> table = [] {
    std::map<std::string_view, OpEntry> t;
    for (auto family : {elementwise_ops, linalg_ops, conv_ops, norm_ops, reduce_ops, layout_ops, indexing_ops, shape_ops, attention_ops, mask_ops})
      for (const OpEntry& e : family()) t.emplace(e.name, e);
    return t;
  }();
  return table;
}

Node copy_node(const sdk::NodeView& view) {
  Node n;
  n.name = std::string(view.name());
  n.op = std::string(view.op());
  for (size_t i = 0; i < view.num_inputs(); ++i) {
    n.inputs.push_back(view.input_index(i));
    n.input_dtypes.push_back(view.has_input(i) ? view.input(i).dtype() : LOOM_DTYPE_INVALID);
  }
  for (size_t i = 0; i < view.num_outputs(); ++i) {
    n.outputs.push_back(view.output_index(i));
    n.output_dtypes.push_back(view.output(i).dtype());
  }
  const loom_node* raw = view.raw();
  for (size_t i = 0; i < raw->num_attrs; ++i) {
    const loom_attr& a = sdk::record(raw->attrs, i);
    Attr copy;
    copy.type = a.type;
    copy.i = a.i;
    copy.f = a.f;
    if (a.type == LOOM_ATTR_STRING && a.s) copy.s = a.s;
    if (a.type == LOOM_ATTR_INTS && a.count) copy.ints.assign(a.ints, a.ints + a.count);
    if (a.type == LOOM_ATTR_FLOATS && a.count) copy.floats.assign(a.floats, a.floats + a.count);
    n.attrs.emplace(a.name ? a.name : "", std::move(copy));
  }
  return n;
}

std::optional<std::string> why_not(const Node& node) {
  auto it = op_table().find(node.op);
  if (it == op_table().end()) return "op '" + node.op + "' is unknown to the " LOOM_REFERENCE_NAME " backend";
  return it->second.check ? it->second.check(node) : std::nullopt;
}

#ifdef LOOM_REFERENCE_PERTURB
// The test build's defect: the last element of the op's first float output is off by 0.5.
void perturb(const Node& node, const Io& io) {
  if (node.op != LOOM_REFERENCE_PERTURB || io.out.empty() || !is_float(io.out[0].dtype) || io.out[0].numel() == 0) return;
  std::vector<double> v = read_real(io.out[0]);
  v.back() += 0.5;
  write_real(io.out[0], v);
}
#endif

class ReferencePlan final : public sdk::Plan {
 public:
  ReferencePlan(const std::vector<Node>& nodes, const std::vector<const void*>& constants)
      : nodes_(nodes), constants_(constants) {}

  void run(const loom_run_args& args) const override {
    if (args.num_values != constants_.size())
      throw Error("run: " + std::to_string(args.num_values) + " tensors given, the partition has " +
                  std::to_string(constants_.size()) + " values", LOOM_STATUS_INVALID_ARGUMENT);
    auto view = [&](int32_t value) {
      View v;
      if (value < 0) return v;
      const loom_tensor& t = sdk::record(args.tensors, static_cast<size_t>(value));
      v.present = true;
      v.dtype = t.dtype;
      v.dims.assign(t.dims, t.dims + t.rank);
      if (t.strides) v.strides.assign(t.strides, t.strides + t.rank);
      v.data = t.data ? t.data : const_cast<void*>(constants_[static_cast<size_t>(value)]);
      if (!v.data && v.numel() > 0)
        throw Error("run: value " + std::to_string(value) + " has no data", LOOM_STATUS_INVALID_ARGUMENT);
      return v;
    };
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (n > 0 && sdk::stop_requested(args)) sdk::stopped("after " + std::to_string(n) + " of " + std::to_string(nodes_.size()) + " nodes");
      const Node& node = nodes_[n];
      Io io;
      for (int32_t v : node.inputs) io.in.push_back(view(v));
      for (int32_t v : node.outputs) io.out.push_back(view(v));
      op_table().at(node.op).run(node, io);
#ifdef LOOM_REFERENCE_PERTURB
      perturb(node, io);
#endif
    }
  }

 private:
  const std::vector<Node>& nodes_;           // owned by the executable, which outlives its plans
  const std::vector<const void*>& constants_;
};

class ReferenceExecutable final : public sdk::Executable {
 public:
  explicit ReferenceExecutable(const sdk::GraphView& g) {
    for (size_t i = 0; i < g.num_values(); ++i) {
      const sdk::ValueView v = g.value(i);
      constants_.push_back(v.is_constant() ? v.data() : nullptr);
      if (v.is_constant()) {
        uint64_t expected = sdk::dtype_size(v.dtype());
        for (int64_t d : v.dims()) expected *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
        if ((!v.data() && expected) || v.nbytes() != expected)
          throw Error("constant '" + std::string(v.name()) + "' holds " + std::to_string(v.nbytes()) + " bytes, its shape " +
                      dims_str(v.dims()) + " needs " + std::to_string(expected), LOOM_STATUS_INVALID_ARGUMENT);
      }
    }
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      Node node = copy_node(g.node(i));
      if (auto why = why_not(node)) node.fail(*why);
      nodes_.push_back(std::move(node));
    }
  }

  std::unique_ptr<sdk::Plan> prepare(const sdk::ShapeSet& shapes) override {
    if (shapes.size() != constants_.size())
      throw Error("prepare: shapes for " + std::to_string(shapes.size()) + " values given, the partition has " +
                  std::to_string(constants_.size()), LOOM_STATUS_INVALID_ARGUMENT);
    return std::make_unique<ReferencePlan>(nodes_, constants_);
  }

 private:
  std::vector<Node> nodes_;
  std::vector<const void*> constants_;
};

class ReferenceBackend final : public sdk::Backend {
 public:
#ifdef LOOM_REFERENCE_OPSET
  // The test build of a backend written for an older op set (tests/plugins).
  uint32_t opset_version() const override { return LOOM_REFERENCE_OPSET; }
#endif
  std::optional<std::string> unsupported_reason(const sdk::GraphView& graph, size_t node) override {
    if (node >= graph.num_nodes()) throw Error("no node " + std::to_string(node), LOOM_STATUS_INVALID_ARGUMENT);
    return why_not(copy_node(graph.node(node)));
  }
  std::unique_ptr<sdk::Executable> compile(const sdk::GraphView& partition, const loom_compile_options&) override {
    return std::make_unique<ReferenceExecutable>(partition);
  }
};

class ReferencePlugin final : public sdk::BackendPlugin {
 public:
  std::vector<sdk::DeviceInfo> devices() override {
    return {sdk::DeviceInfo{"CPU", "plain C++ with f64 accumulation, one thread (the conformance oracle)", LOOM_MEMORY_HOST}};
  }
  std::unique_ptr<sdk::Backend> create_backend(size_t device, sdk::BackendOptions& options) override {
    if (device != 0)
      throw Error("the " LOOM_REFERENCE_NAME " backend has one device (CPU), not " + std::to_string(device), LOOM_STATUS_INVALID_ARGUMENT);
    // Computes in f64 whatever the session's precision: it is the oracle.
    options.get("precision", "f32", {"f32", "bf16", "f16"});
    options.finish(LOOM_REFERENCE_NAME);
    return std::make_unique<ReferenceBackend>();
  }
  // Never placed by default (docs/plugins.md, "Backends used only on request").
  const void* extension(std::string_view name) override {
#ifndef LOOM_REFERENCE_PERTURB
    static const int on_request = 1;
    if (name == LOOM_EXTENSION_ON_REQUEST) return &on_request;
#else
    (void)name;
#endif
    return nullptr;
  }
};

}  // namespace

// ---------------------------------------------------------------- Node

const Attr& Node::attr(std::string_view attr_name, int32_t type) const {
  auto it = attrs.find(attr_name);
  if (it == attrs.end() || it->second.type != type) fail("attribute '" + std::string(attr_name) + "' missing or of another type");
  return it->second;
}

void Node::fail(const std::string& what) const { throw Error("node '" + name + "' (" + op + "): " + what); }

int64_t Node::axis(int64_t a, size_t rank, std::string_view attr_name) const {
  const auto r = static_cast<int64_t>(rank);
  if (a < -r || a >= r) fail("attribute '" + std::string(attr_name) + "' = " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
  return a < 0 ? a + r : a;
}

void Node::expect_dims(const View& out, const Dims& dims) const {
  if (out.dims != dims) fail("output has shape " + dims_str(out.dims) + ", this op computes " + dims_str(dims));
}

}  // namespace loom::reference

LOOM_BACKEND_PLUGIN(loom::reference::ReferencePlugin, LOOM_REFERENCE_NAME, "0.1.0",
                    "Reference backend: every op in plain C++ with f64 accumulation, the oracle of loom conformance")
