#include "io/mapped_files.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <mutex>

namespace loom::io {
namespace {

struct Mappings {
  std::mutex mutex;
  std::map<uintptr_t, size_t> by_base;  // base -> size
};

Mappings& mappings() {
  static Mappings m;
  return m;
}

}  // namespace

void register_mapping(const void* base, size_t size) {
  auto& m = mappings();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.by_base[reinterpret_cast<uintptr_t>(base)] = size;
}

void unregister_mapping(const void* base) {
  auto& m = mappings();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.by_base.erase(reinterpret_cast<uintptr_t>(base));
}

size_t release_mapped_pages(const void* data, size_t bytes) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data), end = begin + bytes;
  if (!data || bytes == 0 || end < begin) return 0;
  auto& m = mappings();
  // Held while giving pages back, so the mapping cannot be unmapped meanwhile.
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.by_base.upper_bound(begin);
  if (it == m.by_base.begin()) return 0;
  --it;
  if (end > it->first + it->second) return 0;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last <= first) return 0;
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
  return last - first;
}

}  // namespace loom::io
