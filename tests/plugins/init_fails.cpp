// A backend plugin whose init() refuses, as a GPU backend does on a machine without the device.
#include "no_device_table.hpp"

namespace {

loom_status* init(const loom_host*, void**) {
  return loom::sdk::make_status("no test accelerator found on this machine", LOOM_STATUS_DEVICE_UNAVAILABLE);
}

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
  static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, LOOM_PLUGIN_BACKEND,
                                      "test-init-fails", "0.1", "refuses in init()", &init, nullptr,
                                      &loom_test::no_device_table, nullptr};
  return &descriptor;
}
