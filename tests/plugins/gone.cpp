// A dependency of missing_dep.cpp, built into a folder the loader never searches.
extern "C" __attribute__((visibility("default"))) int loom_test_gone_value(void) { return 7; }
