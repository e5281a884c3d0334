// Which instruction sets the plugin's own kernels may use: what the CPU has, within oneDNN's
// effective ISA. ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) caps both, so that the backend can be
// run on an AVX-512 CPU as it runs on one without (tests/unit/CMakeLists.txt runs the oneDNN
// tests so, capped at AVX2). Loops built as clones (clones.hpp) still pick theirs by the CPU.
#pragma once

#include <dnnl.h>

namespace loom::onednn {

inline bool isa_allows(dnnl_cpu_isa_t isa) { return (dnnl_get_effective_cpu_isa() & isa) == isa; }

// AVX2 with FMA (what LOOM_AVX2 code needs), and AVX-512 F, DQ, VL and BW (LOOM_AVX512's), where
// the CPU has them and the cap allows them.
inline bool avx2_allowed() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && isa_allows(dnnl_cpu_isa_avx2);
  return ok;
#else
  return false;
#endif
}
inline bool avx512_allowed() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                         isa_allows(dnnl_cpu_isa_avx512_core);
  return ok;
#else
  return false;
#endif
}

}  // namespace loom::onednn
