#include "runtime/memory_limit.hpp"

#include <loom/error.hpp>

#include <unistd.h>

namespace loom {

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

void check_fits_in_memory(uint64_t bytes, const std::string& what) {
  const uint64_t limit = physical_memory_bytes();
  if (bytes <= limit) return;
  const std::string needed = bytes == UINT64_MAX ? "more than " + std::to_string(UINT64_MAX - 1) : std::to_string(bytes);
  throw Error(what + " needs " + needed + " bytes, more than this machine's memory (" + std::to_string(limit) + " bytes)");
}

}  // namespace loom
