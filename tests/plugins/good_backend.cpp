// The smallest real backend: element-wise `add` of two f32 tensors of one shape, on one host
// device. The plugin tests load it, create it and run it through the C ABI.
//
// Built with TEST_GATE it is "test-gate": prepare() and run() stop at a gate that the tests
// close and open through the exported loom_test_gate_* functions, so that a test knows for
// certain that a plan is being made, or a run is under way, while it acts from another thread.
// A run waiting at its gate polls the host's should_stop and returns LOOM_STATUS_CANCELLED
// when asked to stop.
#include <loom/plugin_sdk.hpp>

#include <cstring>
#include <vector>

#ifdef TEST_GATE
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace {

// Gate 0 holds prepare(), gate 1 holds run(). Both start open.
struct Gates {
  std::mutex mutex;
  std::condition_variable changed;
  bool closed[2] = {false, false};
  int waiting[2] = {0, 0};
};
Gates& gates() {
  static Gates g;
  return g;
}

// Waits while gate `which` is closed. `stop` (run only) is polled meanwhile: true when the host
// asked the run to stop.
template <class Stop>
bool pass_gate(int which, Stop&& stop) {
  Gates& g = gates();
  std::unique_lock<std::mutex> lock(g.mutex);
  ++g.waiting[which];
  g.changed.notify_all();
  bool stopped = false;
  while (g.closed[which] && !stopped) {
    g.changed.wait_for(lock, std::chrono::milliseconds(1));
    stopped = stop();
  }
  --g.waiting[which];
  g.changed.notify_all();
  return !stopped;
}

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT void loom_test_gate_set(int which, int closed) {
  Gates& g = gates();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.closed[which] = closed != 0;
  g.changed.notify_all();
}

// Waits until `count` calls wait at gate `which`; 0 when that did not happen within 30 s.
extern "C" LOOM_PLUGIN_EXPORT int loom_test_gate_wait_for(int which, int count) {
  Gates& g = gates();
  std::unique_lock<std::mutex> lock(g.mutex);
  return g.changed.wait_for(lock, std::chrono::seconds(30), [&] { return g.waiting[which] >= count; }) ? 1 : 0;
}
#endif

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
#ifdef TEST_GATE
    if (!pass_gate(1, [&] { return stop_requested(args); })) stopped("at the test gate");
#endif
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
#ifdef TEST_GATE
    pass_gate(0, [] { return false; });
#endif
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
