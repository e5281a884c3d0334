// The backend table of a test plugin that never gets as far as offering a device: every
// function refuses. For plugins whose point is what happens before (init_fails, crashing).
#pragma once

#include <loom/plugin_sdk.hpp>

namespace loom_test {

inline size_t no_device_count(void*) { return 0; }
inline loom_status* no_device_info(void*, size_t, loom_device_info*) { return loom::sdk::make_status("no devices"); }
inline loom_status* no_backend(void*, size_t, const loom_backend_options*, loom_backend**) {
  return loom::sdk::make_status("no devices");
}
inline void no_release(void*, loom_backend*) {}

inline const loom_backend_plugin no_device_table{sizeof(loom_backend_plugin), &no_device_count, &no_device_info,
                                                 &no_backend, &no_release};

}  // namespace loom_test
