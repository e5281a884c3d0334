// Host memory that sizes decided by data (a state's shape, the arena of a plan for given input
// shapes) may ask for. Allocations are checked against it before they are tried, so that an
// absurd size is refused with the number of bytes instead of failing as std::bad_alloc, or, worse,
// succeeding on an overcommitting kernel and being killed when the memory is first touched.
#pragma once

#include <cstdint>
#include <string>

namespace loom {

// The machine's physical memory in bytes (sysconf), or UINT64_MAX when it cannot be told.
uint64_t physical_memory_bytes();

// Throws loom::Error "<what> needs N bytes, more than this machine's memory (M bytes)" when
// `bytes` exceeds physical memory. UINT64_MAX reads as "more than 18446744073709551614 bytes"
// (a saturated sum).
void check_fits_in_memory(uint64_t bytes, const std::string& what);

// a + b, or UINT64_MAX when the sum does not fit.
inline uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace loom
