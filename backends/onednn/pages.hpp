// Pages for the engine's copies of weights (weights.hpp): carved one after another out of chunks
// that start on a 2 MiB boundary and are advised onto 2 MiB pages, so that a decode step, which
// streams every weight once, walks few TLB entries. A mapping of its own per weight left each
// weight's first and last partial 2 MiB on 4 KiB pages, and a weight under 4 MiB (GPT-2's bf16
// projections) mostly or wholly so: 166 of the bf16 decode step's 247 MB were on 2 MiB pages,
// and the step ran 0.89-0.93x as fast as with all of them (Zen 4, 1 thread, docs/performance.md).
#pragma once

#include <cstddef>

namespace loom::onednn {

// `bytes` of fresh zeroed pages, mmap(MAP_PRIVATE | MAP_ANONYMOUS)'s, that their owner unmaps
// with munmap(p, bytes) alone (they start on a page and nothing else lies in their last page);
// nullptr when there is no memory. Thread-safe.
void* map_weight_pages(size_t bytes);

}  // namespace loom::onednn
