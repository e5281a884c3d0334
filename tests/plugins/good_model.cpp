// A model plugin accepting two architectures; expand() writes a graph that names what it was asked.
#include <loom/plugin_sdk.hpp>

namespace {

class TwoArchitectures : public loom::sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"test-arch-a", "test-arch-b"}; }
  loom::sdk::ModelResult expand(const loom::sdk::ModelRequest& request) override {
    if (request.task == "unknown-task") throw loom::sdk::Error("task 'unknown-task' is not supported", LOOM_STATUS_UNSUPPORTED);
    loom::sdk::ModelResult result;
    result.graph_yaml = "format: 1\nname: " + request.model_type + "-" + request.task + "\n";
    return result;
  }
};

}  // namespace

LOOM_MODEL_PLUGIN(TwoArchitectures, "test-model", "0.2", "two architectures, for the plugin tests")
