// Descriptors with one defect each, picked by TEST_DEFECT: 1 = no name, 2 = unknown kind,
// 3 = backend kind without a backend table.
#include <loom/abi.h>

#if TEST_DEFECT == 1
#define TEST_NAME nullptr
#define TEST_KIND LOOM_PLUGIN_BACKEND
#elif TEST_DEFECT == 2
#define TEST_NAME "test-unknown-kind"
#define TEST_KIND 7
#else
#define TEST_NAME "test-no-backend-table"
#define TEST_KIND LOOM_PLUGIN_BACKEND
#endif

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
  static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, TEST_KIND, TEST_NAME,
                                      "0.1", "a malformed descriptor", nullptr, nullptr, nullptr, nullptr};
  return &descriptor;
}
