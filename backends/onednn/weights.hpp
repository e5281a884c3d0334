// Copies of constant weights made once per engine and shared by its sessions through the host's
// constant cache (docs/plugins.md): the packed GEMM's panels (gemm.hpp) of linear layers and of
// patch-embedding convolutions, and the blocked layouts of oneDNN's matmul.
#pragma once

#include "kernel.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace loom::onednn {

// A copy of a constant: in the engine's cache, or (where the host keeps none) the kernel's own.
struct ConstantCopy {
  const void* data = nullptr;
  std::shared_ptr<std::byte[]> own;  // where the host keeps no cache: the kernel's own copy
};

// Whether `w` is an f32 constant whose data is at hand and holds exactly n x k floats.
bool copyable_f32(const sdk::ValueView& w, int64_t n, int64_t k);

// The engine's copy of `w` under the host cache's layout `key` (shared by its sessions): found
// there, or made into pages of its own, which the host takes as they are (ABI 2.2), so that the
// copy is never resident twice; without a cache, the kernel's own, 64-byte aligned. `fill` writes
// its `bytes` into a buffer, and may tell the host cache to drop the constant's mapped pages as
// it goes. `what` names the copy in errors.
ConstantCopy engine_copy(const NodeInfo& info, const sdk::ValueView& w, const std::string& key, size_t bytes,
                         const char* what, const std::function<void(void*)>& fill);

// `w`, read as [n, k] (or [k, n] when `kn`), packed into the GEMM's panels: f32, or bf16 panels
// when `bf16`. Needs gemm::available().
ConstantCopy pack_weight(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k, bool kn, bool bf16);

// An [n, k] weight's f32 copy in panels of `width` output features: row r of the weight is
// floats r % width, r % width + width, ... (k of them) of panel r / width, panels `stride`
// floats apart. A tied embedding table can be gathered from there, and its mapped pages,
// released when the copy was made, are never faulted in again.
struct F32Panels {
  const float* data = nullptr;
  int64_t width = 0, stride = 0;
  const float* row_start(int64_t r) const { return data + (r / width) * stride + r % width; }
};

// The engine's f32 panels of `w` read as [n, k] (an LM head's weight), where a kernel compiled
// before made them: the packed GEMM's (pack_weight; width gemm::kPanel) or, defined in
// ops/matmul.cpp, oneDNN's blocked layout (gemm=blocked; width kBlockedPanel, where the layout is
// one that blocked_rows.hpp reads). Else data is nullptr.
F32Panels find_f32_panels(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k);
F32Panels find_blocked_f32_panels(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k);

}  // namespace loom::onednn
