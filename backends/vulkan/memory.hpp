// Storage buffers in device memory. A buffer lives in the device's fastest memory
// (DEVICE_LOCAL); where that memory is also host-visible (integrated GPUs, lavapipe) it is mapped
// once and read and written directly, otherwise every read and write goes through a host-visible
// staging buffer and a copy on the queue.
#pragma once

#include "device.hpp"

#include <set>

namespace loom::vulkan {

struct Buffer {
  static constexpr uint64_t kMagic = 0x6c6f6f6d2d766b62ull;  // "loom-vkb": catches a stray pointer
  uint64_t magic = kMagic;
  uint64_t id = 0;  // unique per device: a recording never mistakes a new buffer at a freed address for the old one
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  void* mapped = nullptr;  // when the memory is host-visible
};

class Memory {
 public:
  explicit Memory(Device& device);
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  // A buffer of `bytes` bytes (at least 1), refused over maxMemoryAllocationSize or the heap.
  Buffer* alloc(uint64_t bytes, const std::string& what);
  // A small buffer the host reads and writes directly (host-visible, coherent, mapped).
  Buffer* alloc_host(uint64_t bytes, const std::string& what);
  void free(void* handle);
  // Checks that `handle` is a live buffer of this device and [offset, offset + bytes) lies in it.
  Buffer* buffer(void* handle, uint64_t offset, uint64_t bytes, const std::string& what) const;
  // `force_staging`: copy through a staging buffer even where the buffer is mapped (the backend
  // option staging=always, so that the path of discrete GPUs runs on lavapipe too).
  void write(Buffer& b, uint64_t offset, const void* src, uint64_t bytes, bool force_staging = false);
  void read(Buffer& b, uint64_t offset, void* dst, uint64_t bytes, bool force_staging = false);
  // Whether buffers are host-visible (no staging needed).
  bool mapped() const { return host_visible_; }

 private:
  // A copy through the staging buffer of its direction.
  void staged_copy(Buffer& b, uint64_t offset, void* host, uint64_t bytes, bool to_device);
  // The staging buffer of a direction with room for `bytes`, made or grown as needed.
  Buffer& staging(uint64_t bytes, bool to_device);
  uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags wanted) const;
  // A buffer in memory with the `wanted` properties, and the `preferred` ones too where the
  // device has such memory.
  Buffer* create(uint64_t bytes, VkMemoryPropertyFlags wanted, bool map, const std::string& what,
                 VkMemoryPropertyFlags preferred = 0);
  void destroy(Buffer* b);
  Buffer* track(Buffer* b);  // gives it an id and makes it live

  Device& device_;
  VkPhysicalDeviceMemoryProperties properties_{};
  bool host_visible_ = false;
  mutable std::mutex mutex_;
  std::set<const Buffer*> live_;
  // One staging buffer per direction, kept from copy to copy, grown to the largest copy up to
  // 32 MiB (larger copies go through it in pieces): made per copy, the host-visible allocation
  // cost more than the copy (a run's inputs and outputs each paid it). Downloads read
  // host-cached memory where the device has it: the host's reads of write-combined memory are
  // slow. staging_mutex_ holds a copy's buffer until it is done.
  std::mutex staging_mutex_;
  Buffer* upload_ = nullptr;
  Buffer* download_ = nullptr;
  uint64_t next_id_ = 1;
};

}  // namespace loom::vulkan
