// A plugin whose entry point returns no descriptor.
#include <loom/abi.h>

extern "C" LOOM_PLUGIN_EXPORT const loom_plugin* loom_plugin_entry(void) { return nullptr; }
