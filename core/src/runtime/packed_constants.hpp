// Packed copies of constants that backends keep in a layout of their own
// (loom_compile_options.find_packed / store_packed, ABI 2.1; adopt_packed, 2.2), owned by the host and shared by the
// sessions of one engine. A copy is keyed by the constant's address and size (sessions over one
// weights file share its mapping, so they see the same addresses) and by the backend's layout
// key. Each session holds the copies its backends found or stored; a copy goes when the last
// session holding it goes. An address can only be reused once every session holding copies
// keyed by it has released them, because those sessions keep the constant's memory alive.
#pragma once

#include <loom/abi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace loom {

class PackedConstants {
 public:
  struct Copy {
    Copy(const void* bytes, uint64_t n);  // a copy of n bytes
    struct Adopt {};
    Copy(void* mapping, uint64_t n, Adopt);  // takes an anonymous mapping, unmapped when the copy goes
    ~Copy();
    Copy(const Copy&) = delete;
    Copy& operator=(const Copy&) = delete;
    void* data = nullptr;
    uint64_t bytes = 0;
    bool mapped = false;
  };
  std::shared_ptr<const Copy> find(const void* constant, uint64_t constant_bytes, std::string_view layout);
  // The copy stored under the key: the one given, or one stored before (first one wins).
  std::shared_ptr<const Copy> store(const void* constant, uint64_t constant_bytes, std::string_view layout,
                                    const void* packed, uint64_t packed_bytes);
  // As store, but takes `mapping` (mmap'd, anonymous) as the copy; unmaps it at once when a copy
  // stored before is returned. On an exception the mapping is still the caller's.
  std::shared_ptr<const Copy> adopt(const void* constant, uint64_t constant_bytes, std::string_view layout,
                                    void* mapping, uint64_t packed_bytes);
  // Bytes of the copies some session holds now.
  uint64_t bytes() const;

 private:
  using Key = std::tuple<uintptr_t, uint64_t, std::string>;
  // store and adopt: the copy under the key, stored before (then `earlier` is set) or made by
  // `make`; the constant's pages in a weights file's mapping are given back first.
  std::shared_ptr<const Copy> put(const void* constant, uint64_t constant_bytes, std::string_view layout,
                                  const std::function<std::shared_ptr<const Copy>()>& make, bool& earlier);
  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<const Copy>> copies_;
};

// The copies one session holds, and the packed_context its compile options carry.
class PackedHoldings {
 public:
  explicit PackedHoldings(std::shared_ptr<PackedConstants> cache) : cache_(std::move(cache)) {}
  // Points `options` at this session's holdings (no-op without a cache).
  void attach(loom_compile_options& options);
  // Bytes of the copies this session holds.
  uint64_t bytes() const;

 private:
  static const void* find(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                          uint64_t* packed_bytes) noexcept;
  static const void* store(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                           const void* packed, uint64_t packed_bytes) noexcept;
  static const void* adopt(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                           void* packed, uint64_t packed_bytes) noexcept;
  static void release(void* self, const void* data, uint64_t bytes) noexcept;
  void hold(std::shared_ptr<const PackedConstants::Copy> copy);

  std::shared_ptr<PackedConstants> cache_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const PackedConstants::Copy>> held_;
};

}  // namespace loom
