// A backend plugin whose init() refuses, as a GPU backend does on a machine without the device.
#include <loom/plugin_sdk.hpp>

namespace {

loom_status* init(const loom_host*, void**) {
  return loom::sdk::make_status("no test accelerator found on this machine", LOOM_STATUS_DEVICE_UNAVAILABLE);
}
size_t device_count(void*) { return 0; }
loom_status* device_info(void*, size_t, loom_device_info*) { return loom::sdk::make_status("no devices"); }
loom_status* create_backend(void*, size_t, const loom_backend_options*, loom_backend**) {
  return loom::sdk::make_status("no devices");
}
void release_backend(void*, loom_backend*) {}

const loom_backend_plugin table{sizeof(loom_backend_plugin), &device_count, &device_info, &create_backend,
                                &release_backend};

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
  static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, LOOM_PLUGIN_BACKEND,
                                      "test-init-fails", "0.1", "refuses in init()", &init, nullptr,
                                      &table, nullptr};
  return &descriptor;
}
