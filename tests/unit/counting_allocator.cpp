#include "counting_allocator.hpp"

#include <link.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_set_aside{0};
std::atomic<bool> g_watching{false};
std::atomic<uintptr_t> g_aside_begin{0}, g_aside_end{0};

[[maybe_unused]] void count(void* caller) {
  const auto pc = reinterpret_cast<uintptr_t>(caller);
  if (pc >= g_aside_begin.load(std::memory_order_relaxed) && pc < g_aside_end.load(std::memory_order_relaxed)) {
    g_set_aside.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (g_watching.load(std::memory_order_relaxed)) loom::test::allocation_while_watching();
}
}  // namespace

namespace loom::test {
uint64_t heap_allocations() { return g_allocations.load(std::memory_order_relaxed); }
uint64_t set_aside_allocations() { return g_set_aside.load(std::memory_order_relaxed); }
void watch_allocations(bool on) { g_watching.store(on, std::memory_order_relaxed); }
// Not inlined, so that `break loom::test::allocation_while_watching` in gdb shows who allocates.
__attribute__((noinline)) void allocation_while_watching() { asm volatile(""); }

bool set_aside_library(const std::string& name) {
  struct Search {
    const std::string* name;
    uintptr_t begin = 0, end = 0;
  } search{&name};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        if (!info->dlpi_name || !std::strstr(info->dlpi_name, s->name->c_str())) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          const uintptr_t b = info->dlpi_addr + ph.p_vaddr;
          if (!s->begin || b < s->begin) s->begin = b;
          if (b + ph.p_memsz > s->end) s->end = b + ph.p_memsz;
        }
        return 1;
      },
      &search);
  g_aside_begin.store(search.begin);
  g_aside_end.store(search.end);
  return search.end > search.begin;
}
}  // namespace loom::test

// Sanitizer runtimes own malloc and operator new (and check that each allocation is released by
// its counterpart): there nothing is replaced and nothing is counted. The counts come from the
// Release build, where the allocation tests are meaningful.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
bool loom::test::counts_malloc() { return false; }
bool loom::test::counting() { return false; }
#else
bool loom::test::counts_malloc() { return true; }
bool loom::test::counting() { return true; }

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
  count(__builtin_return_address(0));
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  count(__builtin_return_address(0));
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  count(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t align, size_t n) {
  count(__builtin_return_address(0));
  return __libc_memalign(align, n);
}
void* memalign(size_t align, size_t n) {
  count(__builtin_return_address(0));
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
  count(__builtin_return_address(0));
  void* p = __libc_memalign(align, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}

void* operator new(size_t n) {
  count(__builtin_return_address(0));
  if (void* p = __libc_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, std::align_val_t a) {
  count(__builtin_return_address(0));
  if (void* p = __libc_memalign(static_cast<size_t>(a), n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
#endif
