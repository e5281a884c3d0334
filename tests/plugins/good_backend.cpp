// The smallest real backend: element-wise `add` of two f32 tensors of one shape, on one host
// device. The plugin tests load it, create it and run it through the C ABI.
#include <loom/plugin_sdk.hpp>

#include <cstring>
#include <vector>

#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "test-good"
#endif

namespace {

using namespace loom::sdk;

struct AddNode {
  int32_t a, b, out;
};

class AddPlan : public Plan {
 public:
  AddPlan(std::vector<AddNode> nodes, std::vector<int64_t> counts)
      : nodes_(std::move(nodes)), counts_(std::move(counts)) {}
  void run(const loom_run_args& args) const override {
    for (const AddNode& n : nodes_) {
      const auto* a = static_cast<const float*>(loom::sdk::record(args.tensors, static_cast<size_t>(n.a)).data);
      const auto* b = static_cast<const float*>(loom::sdk::record(args.tensors, static_cast<size_t>(n.b)).data);
      auto* out = static_cast<float*>(loom::sdk::record(args.tensors, static_cast<size_t>(n.out)).data);
      for (int64_t i = 0; i < counts_[n.out]; ++i) out[i] = a[i] + b[i];
    }
  }

 private:
  std::vector<AddNode> nodes_;
  std::vector<int64_t> counts_;
};

class AddExecutable : public Executable {
 public:
  explicit AddExecutable(std::vector<AddNode> nodes) : nodes_(std::move(nodes)) {}
  std::unique_ptr<Plan> prepare(const ShapeSet& shapes) override {
    std::vector<int64_t> counts(shapes.size());
    for (size_t v = 0; v < shapes.size(); ++v) counts[v] = shapes.numel(v);
    for (const AddNode& n : nodes_)
      if (counts[n.a] != counts[n.out] || counts[n.b] != counts[n.out])
        throw Error("add: inputs and output differ in size (no broadcasting here)", LOOM_STATUS_UNSUPPORTED);
    return std::make_unique<AddPlan>(nodes_, std::move(counts));
  }

 private:
  std::vector<AddNode> nodes_;
};

class AddBackend : public Backend {
 public:
  std::optional<std::string> unsupported_reason(const GraphView& graph, size_t index) override {
    NodeView node = graph.node(index);
    if (node.op() != "add") return "only add is implemented";
    if (node.num_inputs() != 2 || node.num_outputs() != 1) return "add takes two inputs and one output";
    for (size_t i = 0; i < 2; ++i)
      if (node.input(i).dtype() != LOOM_DTYPE_F32) return "only f32";
    return std::nullopt;
  }
  std::unique_ptr<Executable> compile(const GraphView& partition, const loom_compile_options&) override {
    std::vector<AddNode> nodes;
    for (size_t i = 0; i < partition.num_nodes(); ++i) {
      if (auto why = unsupported_reason(partition, i)) throw Error(*why, LOOM_STATUS_UNSUPPORTED);
      NodeView node = partition.node(i);
      nodes.push_back({node.input_index(0), node.input_index(1), node.output_index(0)});
    }
    return std::make_unique<AddExecutable>(std::move(nodes));
  }
};

class TestBackendPlugin : public BackendPlugin {
 public:
  std::vector<DeviceInfo> devices() override { return {{"TestCPU", "plain loops, add only", LOOM_MEMORY_HOST}}; }
  std::unique_ptr<Backend> create_backend(size_t device, loom::sdk::BackendOptions& options) override {
    if (device != 0) throw Error("no device " + std::to_string(device), LOOM_STATUS_INVALID_ARGUMENT);
    options.get("precision", "f32", {"f32"});
    options.finish(TEST_PLUGIN_NAME);
    return std::make_unique<AddBackend>();
  }
};

}  // namespace

LOOM_BACKEND_PLUGIN(TestBackendPlugin, TEST_PLUGIN_NAME, "1.2.3", "add on f32, for the plugin tests")
