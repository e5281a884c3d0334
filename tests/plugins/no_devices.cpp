// A backend plugin that initialises but finds no device: it loads, and lists none.
#include <loom/plugin_sdk.hpp>

namespace {

class NoDevices : public loom::sdk::BackendPlugin {
 public:
  std::vector<loom::sdk::DeviceInfo> devices() override { return {}; }
  std::unique_ptr<loom::sdk::Backend> create_backend(size_t, loom::sdk::BackendOptions&) override {
    throw loom::sdk::Error("no device", LOOM_STATUS_DEVICE_UNAVAILABLE);
  }
};

}  // namespace

LOOM_BACKEND_PLUGIN(NoDevices, "test-no-devices", "0.1", "finds no device")
