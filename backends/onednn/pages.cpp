#include "pages.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

namespace loom::onednn {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;
// A chunk's size: address space only until written (the rest of a chunk waits for the next
// weights, of this engine or a later one).
constexpr size_t kChunk = size_t(64) << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t page_size() {
  static const size_t size = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<size_t>(p) : size_t(4096);
  }();
  return size;
}

struct Chunk {
  std::mutex mutex;
  char* next = nullptr;
  char* end = nullptr;
  // When the plugin is unloaded: the rest never handed out goes back (the pieces are their
  // owners' to unmap).
  ~Chunk() {
    if (next != end) ::munmap(next, static_cast<size_t>(end - next));
  }
};
Chunk chunk;

// A chunk of `size` bytes (a multiple of 2 MiB) that starts on a 2 MiB boundary, or nullptr.
char* map_chunk(size_t size) {
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  char* first = static_cast<char*>(raw);
  char* start = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(first), kHugePage));
  if (start != first) ::munmap(first, static_cast<size_t>(start - first));
  if (const size_t tail = static_cast<size_t>(first + size + kHugePage - (start + size))) ::munmap(start + size, tail);
  // Advice only: where the kernel has transparent huge pages off, 4 KiB pages serve.
  ::madvise(start, size, MADV_HUGEPAGE);
  return start;
}

}  // namespace

void* map_weight_pages(size_t bytes) {
  const size_t length = round_up(std::max<size_t>(bytes, 1), page_size());
  if (length < bytes) return nullptr;  // wrapped
  std::lock_guard<std::mutex> lock(chunk.mutex);
  if (static_cast<size_t>(chunk.end - chunk.next) < length) {
    if (length > SIZE_MAX - 2 * kHugePage) return nullptr;
    const size_t size = std::max(kChunk, round_up(length, kHugePage));
    char* start = map_chunk(size);
    if (!start) return nullptr;
    // The old chunk's rest was never written: its pages go back.
    if (chunk.next != chunk.end) ::munmap(chunk.next, static_cast<size_t>(chunk.end - chunk.next));
    chunk.next = start;
    chunk.end = start + size;
  }
  char* p = chunk.next;
  chunk.next += length;
  return p;
}

}  // namespace loom::onednn
