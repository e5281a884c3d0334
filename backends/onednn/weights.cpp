#include "weights.hpp"

#include "gemm.hpp"
#include "pages.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace loom::onednn {

bool copyable_f32(const sdk::ValueView& w, int64_t n, int64_t k) {
  return w.is_constant() && w.data() && w.dtype() == LOOM_DTYPE_F32 && n > 0 && k > 0 &&
         w.nbytes() == static_cast<uint64_t>(n * k) * sizeof(float);
}

ConstantCopy engine_copy(const NodeInfo& info, const sdk::ValueView& w, const std::string& key, size_t bytes,
                         const char* what, const std::function<void(void*)>& fill) {
  ConstantCopy out;
  if (!info.constants || !info.constants->available()) {
    out.own.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{64})),
                  [](std::byte* p) { ::operator delete[](p, std::align_val_t{64}); });
    fill(out.own.get());
    out.data = out.own.get();
    return out;
  }
  auto copy = info.constants->find(w, key);
  if (copy.empty()) {
    // On 2 MiB pages where the kernel allows (transparent_hugepage "madvise" or "always"): a
    // decode step streams every weight once, and on 4 KiB pages GPT-2 small's step spent a tenth
    // of its time on TLB misses (39.7 -> 35.0 ms at 1 thread; BERT-base 1t about 3% faster).
    // Faulting them in with compaction costs about 0.1-0.3 s more at load (pages.hpp).
    void* buf = map_weight_pages(bytes);
    if (!buf)
      info.fail(std::string("no memory for the ") + what + " (" + std::to_string(bytes) + " bytes)", LOOM_STATUS_OUT_OF_MEMORY);
    try {
      fill(buf);
    } catch (...) {
      ::munmap(buf, bytes);
      throw;
    }
    copy = info.constants->adopt_mapping(w, key, buf, bytes);
  }
  if (copy.size() != bytes) info.fail(std::string("the engine's ") + what + " has the wrong size");
  out.data = copy.data();
  return out;
}

namespace {

std::string panel_key(int64_t n, int64_t k, bool kn, bool bf16) {
  return "onednn.gemm.panel" + std::to_string(gemm::kPanel) + (bf16 ? ".bf16" : "") + (kn ? ":kn" : ":nk") +
         ":N=" + std::to_string(n) + ":K=" + std::to_string(k);
}

}  // namespace

F32Panels find_f32_panels(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k) {
  if (!info.constants || !info.constants->available() || !copyable_f32(w, n, k)) return {};
  const auto copy = info.constants->find(w, panel_key(n, k, false, false));
  if (copy.size() != static_cast<size_t>(gemm::packed_floats(n, k)) * sizeof(float)) return {};
  return {reinterpret_cast<const float*>(copy.data()), gemm::kPanel, k * gemm::kPanel};
}

ConstantCopy pack_weight(const NodeInfo& info, const sdk::ValueView& w, int64_t n, int64_t k, bool kn, bool bf16) {
  const size_t elements = static_cast<size_t>(gemm::packed_floats(n, k));
  const size_t bytes = elements * (bf16 ? sizeof(uint16_t) : sizeof(float));
  const int64_t panels = (n + gemm::kPanel - 1) / gemm::kPanel;
  return engine_copy(info, w, panel_key(n, k, kn, bf16), bytes, "packed weight", [&](void* buf) {
    // An [n, k] weight is read panel by panel, so the host may drop its pages as we go: an LM
    // head of 50k x 768 is then never resident twice. A [k, n] one is read whole by every group.
    const auto* src = static_cast<const float*>(w.data());
    constexpr int64_t kPanelsPerStep = 64;
    for (int64_t p = 0; p < panels; p += kn ? panels : kPanelsPerStep) {
      const int64_t p1 = std::min(panels, p + (kn ? panels : kPanelsPerStep));
      if (bf16) gemm::pack_panels(src, n, k, kn, static_cast<uint16_t*>(buf), p, p1);
      else gemm::pack_panels(src, n, k, kn, static_cast<float*>(buf), p, p1);
      if (!kn && info.constants) {
        const int64_t row0 = p * gemm::kPanel, row1 = std::min(n, p1 * gemm::kPanel);
        info.constants->release(src + row0 * k, static_cast<size_t>((row1 - row0) * k) * sizeof(float));
      }
    }
    if (kn && info.constants) info.constants->release(src, static_cast<size_t>(n * k) * sizeof(float));
  });
}


}  // namespace loom::onednn
