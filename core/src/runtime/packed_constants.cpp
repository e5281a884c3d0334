#include "runtime/packed_constants.hpp"

#include "io/mapped_files.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace loom {

namespace {
constexpr uint64_t kAlign = 64;
}

PackedConstants::Copy::Copy(const void* from, uint64_t n) : bytes(n) {
  data = std::aligned_alloc(kAlign, std::max<uint64_t>(kAlign, (n + kAlign - 1) / kAlign * kAlign));
  if (!data) throw std::bad_alloc();
  if (n) std::memcpy(data, from, n);
}

PackedConstants::Copy::Copy(void* mapping, uint64_t n, Adopt) : data(mapping), bytes(n), mapped(true) {}

PackedConstants::Copy::~Copy() {
  if (mapped) ::munmap(data, bytes);
  else std::free(data);
}

std::shared_ptr<const PackedConstants::Copy> PackedConstants::find(const void* constant, uint64_t constant_bytes,
                                                                    std::string_view layout) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Looked up when a partition compiles, not on a run: the key's string may be built here.
  auto it = copies_.find(Key(reinterpret_cast<uintptr_t>(constant), constant_bytes, std::string(layout)));
  return it == copies_.end() ? nullptr : it->second.lock();
}

std::shared_ptr<const PackedConstants::Copy> PackedConstants::put(
    const void* constant, uint64_t constant_bytes, std::string_view layout,
    const std::function<std::shared_ptr<const Copy>()>& make, bool& earlier) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = copies_.begin(); it != copies_.end();) it = it->second.expired() ? copies_.erase(it) : std::next(it);
  // The slot first, then the copy: nothing after make() throws, so a copy that took a mapping
  // is never dropped on the floor.
  auto [slot, fresh] = copies_.try_emplace(Key(reinterpret_cast<uintptr_t>(constant), constant_bytes, std::string(layout)));
  earlier = false;
  if (!fresh)
    if (auto copy = slot->second.lock()) {
      earlier = true;
      return copy;
    }
  // The backend reads its copy from now on: the constant's pages in a weights file's mapping
  // need not stay resident (read again from the file if anything still reads them). Given back
  // before the copy is made, so that the two are not resident at once.
  io::release_mapped_pages(constant, constant_bytes);
  std::shared_ptr<const Copy> copy;
  try {
    copy = make();
  } catch (...) {
    if (fresh) copies_.erase(slot);
    throw;
  }
  slot->second = copy;
  return copy;
}

std::shared_ptr<const PackedConstants::Copy> PackedConstants::store(const void* constant, uint64_t constant_bytes,
                                                                     std::string_view layout, const void* packed,
                                                                     uint64_t packed_bytes) {
  bool earlier = false;
  return put(constant, constant_bytes, layout, [&] { return std::make_shared<const Copy>(packed, packed_bytes); }, earlier);
}

std::shared_ptr<const PackedConstants::Copy> PackedConstants::adopt(const void* constant, uint64_t constant_bytes,
                                                                     std::string_view layout, void* mapping,
                                                                     uint64_t packed_bytes) {
  // Until make() has taken it, the mapping is the caller's (an exception leaves it so).
  bool earlier = false;
  auto copy = put(constant, constant_bytes, layout,
                  [&] { return std::make_shared<const Copy>(mapping, packed_bytes, Copy::Adopt{}); }, earlier);
  if (earlier) ::munmap(mapping, packed_bytes);
  return copy;
}

uint64_t PackedConstants::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t n = 0;
  for (const auto& [key, copy] : copies_)
    if (auto c = copy.lock()) n += c->bytes;
  return n;
}

void PackedHoldings::attach(loom_compile_options& options) {
  if (!cache_) return;
  options.packed_context = this;
  options.find_packed = &PackedHoldings::find;
  options.store_packed = &PackedHoldings::store;
  options.adopt_packed = &PackedHoldings::adopt;
  options.release_constant = &PackedHoldings::release;
}

void PackedHoldings::hold(std::shared_ptr<const PackedConstants::Copy> copy) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::find(held_.begin(), held_.end(), copy) == held_.end()) held_.push_back(std::move(copy));
}

uint64_t PackedHoldings::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t n = 0;
  for (const auto& c : held_) n += c->bytes;
  return n;
}

// Both are called by plugins: nothing may escape them, and a malformed call gets NULL.
const void* PackedHoldings::find(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                                 uint64_t* packed_bytes) noexcept {
  if (!self || !constant || !layout || !packed_bytes) return nullptr;
  auto& h = *static_cast<PackedHoldings*>(self);
  try {
    auto copy = h.cache_->find(constant, constant_bytes, layout);
    if (!copy) return nullptr;
    *packed_bytes = copy->bytes;
    const void* data = copy->data;
    h.hold(std::move(copy));
    return data;
  } catch (...) {
    return nullptr;
  }
}

const void* PackedHoldings::store(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                                  const void* packed, uint64_t packed_bytes) noexcept {
  if (!self || !constant || !layout || (!packed && packed_bytes)) return nullptr;
  auto& h = *static_cast<PackedHoldings*>(self);
  try {
    auto copy = h.cache_->store(constant, constant_bytes, layout, packed, packed_bytes);
    const void* data = copy->data;
    h.hold(std::move(copy));
    return data;
  } catch (...) {
    return nullptr;
  }
}

const void* PackedHoldings::adopt(void* self, const void* constant, uint64_t constant_bytes, const char* layout,
                                  void* packed, uint64_t packed_bytes) noexcept {
  if (!self || !constant || !layout || !packed || packed_bytes == 0) return nullptr;
  auto& h = *static_cast<PackedHoldings*>(self);
  try {
    {  // Room to hold the copy first: once the cache has taken the mapping, nothing may fail.
      std::lock_guard<std::mutex> lock(h.mutex_);
      h.held_.reserve(h.held_.size() + 1);
    }
    auto copy = h.cache_->adopt(constant, constant_bytes, layout, packed, packed_bytes);
    const void* data = copy->data;
    h.hold(std::move(copy));
    return data;
  } catch (...) {
    return nullptr;
  }
}

void PackedHoldings::release(void* self, const void* data, uint64_t bytes) noexcept {
  if (!self || !data) return;
  io::release_mapped_pages(data, static_cast<size_t>(bytes));
}

}  // namespace loom
