// Backend plugins that take their process down while they load: abort() in the entry point, a
// segmentation fault in init(), abort() in a library constructor, or init() that never
// returns. Only `loom plugins`, which loads each file in a child process, may meet them; they
// are built into a folder of their own (see CMakeLists.txt). TEST_CRASH picks the fault:
// 1 entry point aborts, 2 init segfaults, 3 constructor aborts, 4 init hangs.
#include "no_device_table.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

#if TEST_CRASH == 3
__attribute__((constructor)) void abort_when_mapped() {
  std::fputs("test-crash-constructor: giving up as the library is mapped\n", stderr);
  std::abort();
}
#endif

loom_status* init(const loom_host*, void**) {
#if TEST_CRASH == 2
  // Both volatile: the compiler can neither see the null (and trap instead) nor drop the store.
  volatile int* volatile nowhere = nullptr;
  *nowhere = 1;
#elif TEST_CRASH == 4
  for (;;) pause();
#endif
  return nullptr;
}

}  // namespace

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) {
#if TEST_CRASH == 1
  std::abort();
#endif
  static const loom_plugin descriptor{LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR, LOOM_PLUGIN_BACKEND,
                                      "test-crash", "0.1", "takes its process down while loading", &init,
                                      nullptr, &loom_test::no_device_table, nullptr};
  return &descriptor;
}
