// A descriptor built for another ABI version (TEST_ABI_MAJOR / TEST_ABI_MINOR): a major
// mismatch must be refused before anything past the first four members is read; a newer minor
// must load.
#include <loom/abi.h>

namespace {

size_t device_count(void*) { return 1; }
loom_status* device_info(void*, size_t, loom_device_info* info) {
  info->struct_size = sizeof(loom_device_info);
  info->name = "MinorCPU";
  info->description = "describes itself, creates nothing";
  info->memory_kind = LOOM_MEMORY_HOST;
  return nullptr;
}
loom_status* create_backend(void*, size_t, const loom_backend_options*, loom_backend** out) {
  *out = nullptr;
  return nullptr;
}
void release_backend(void*, loom_backend*) {}

const loom_backend_plugin table{sizeof(loom_backend_plugin), &device_count, &device_info, &create_backend,
                                &release_backend};

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
  static const loom_plugin descriptor{TEST_ABI_MAJOR, TEST_ABI_MINOR, LOOM_PLUGIN_BACKEND, TEST_PLUGIN_NAME,
                                      "0.1", "built for another plugin ABI", nullptr, nullptr,
                                      TEST_ABI_MAJOR == LOOM_ABI_VERSION_MAJOR ? &table : nullptr, nullptr};
  return &descriptor;
}
