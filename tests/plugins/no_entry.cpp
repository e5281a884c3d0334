// A valid shared library that is not a Loom plugin: it exports a function, but not the entry point.
#include <loom/abi.h>

extern "C" LOOM_PLUGIN_EXPORT int loom_test_not_a_plugin(void) { return 42; }
