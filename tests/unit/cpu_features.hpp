// What the oneDNN plugin may use on this CPU, as the tests expect it: the CPU's features, within
// ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) where it caps oneDNN's ISA, which the plugin's own
// kernels follow (backends/onednn/isa.hpp). tests/unit/CMakeLists.txt runs the oneDNN tests a
// second time capped at AVX2, as on a CPU without AVX-512.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace loom::test {

enum class CpuIsa { avx2, avx512, avx512_bf16, amx };

// The rank of oneDNN's ISA cap (its names, any case), or of no cap.
inline int cpu_isa_cap() {
  const char* env = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (!env || !*env) env = std::getenv("DNNL_MAX_CPU_ISA");
  std::string name = env ? env : "ALL";
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  const std::pair<const char*, int> ranks[] = {{"SSE41", 1},           {"AVX", 2},
                                               {"AVX2", 3},            {"AVX2_VNNI", 3},
                                               {"AVX512_CORE", 5},     {"AVX512_CORE_VNNI", 6},
                                               {"AVX512_CORE_BF16", 7}, {"AVX512_CORE_FP16", 8},
                                               {"AVX512_CORE_AMX", 9}};
  for (const auto& [isa, rank] : ranks)
    if (name == isa) return rank;
  return 100;  // ALL, or a name oneDNN would not take either
}

// AMX-BF16 and AMX-TILE by CPUID leaf 7 (EDX bits 22 and 24), as the plugin reads them: not every
// compiler knows __builtin_cpu_supports("amx-bf16").
inline bool cpu_has_amx_bf16() {
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (edx >> 22 & 1u) && (edx >> 24 & 1u);
#else
  return false;
#endif
}

inline bool cpu_allows(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_isa_cap() >= 3;
    case CpuIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && cpu_isa_cap() >= 5;
    case CpuIsa::avx512_bf16:
      return __builtin_cpu_supports("avx512bf16") && cpu_isa_cap() >= 7;
    case CpuIsa::amx:
      return cpu_has_amx_bf16() && __builtin_cpu_supports("avx512bf16") && cpu_isa_cap() >= 9;
  }
  return false;
}

}  // namespace loom::test
