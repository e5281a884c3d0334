// Which instruction sets the plugin's own kernels may use: what the CPU has, within oneDNN's
// effective ISA. ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) caps both, so that the backend can be
// run on an AVX-512 CPU as it runs on one without (tests/unit/CMakeLists.txt runs the oneDNN
// tests so, capped at AVX2). Loops built as clones (clones.hpp) still pick theirs by the CPU.
#pragma once

#include <dnnl.h>

namespace loom::onednn {

inline bool isa_allows(dnnl_cpu_isa_t isa) { return (dnnl_get_effective_cpu_isa() & isa) == isa; }

}  // namespace loom::onednn
