// Backend descriptors whose counts and strings are hostile, picked by TEST_DEFECT:
// 1 = device_count() reports 2^62 devices, 2 = a plugin name holding control bytes,
// 3 = one device whose name and description hold control bytes (only shown, so escaped).
#include <loom/abi.h>

#include <cstdint>

namespace {

#if TEST_DEFECT == 1
#define TEST_NAME "test-huge-device-count"
size_t device_count(void*) { return size_t(1) << 62; }
#elif TEST_DEFECT == 2
#define TEST_NAME "test-\x1b[31mred"
size_t device_count(void*) { return 1; }
#else
#define TEST_NAME "test-odd-device"
size_t device_count(void*) { return 1; }
#endif

loom_status* device_info(void*, size_t, loom_device_info* info) {
  info->name = "dev\x1b[2J";
  info->description = "desc \xe2\x80\xae reversed";
  info->memory_kind = LOOM_MEMORY_HOST;
  return nullptr;
}
loom_status* create_backend(void*, size_t, const loom_backend_options*, loom_backend**) { return nullptr; }
void release_backend(void*, loom_backend*) {}

const loom_backend_plugin table{sizeof(loom_backend_plugin), device_count, device_info, create_backend, release_backend};

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
  static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, LOOM_PLUGIN_BACKEND, TEST_NAME,
                                      "0.1", "a hostile descriptor", nullptr, nullptr, &table, nullptr};
  return &descriptor;
}
