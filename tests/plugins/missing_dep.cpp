// A plugin linked against libloom-test-gone.so without a path to find it: dlopen fails and its
// message names the missing library.
#include <loom/plugin_sdk.hpp>

extern "C" int loom_test_gone_value(void);

namespace {

class NeedsGone : public loom::sdk::BackendPlugin {
 public:
  std::vector<loom::sdk::DeviceInfo> devices() override {
    return {{"Gone" + std::to_string(loom_test_gone_value()), "", LOOM_MEMORY_HOST}};
  }
  std::unique_ptr<loom::sdk::Backend> create_backend(size_t, loom::sdk::BackendOptions&) override {
    throw loom::sdk::Error("unreachable");
  }
};

}  // namespace

LOOM_BACKEND_PLUGIN(NeedsGone, "test-missing-dep", "0.1", "needs libloom-test-gone.so")
