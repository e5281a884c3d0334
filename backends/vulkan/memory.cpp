#include "memory.hpp"

#include <algorithm>
#include <cstring>

namespace loom::vulkan {

Memory::Memory(Device& device) : device_(device) {
  vkGetPhysicalDeviceMemoryProperties(device.physical().handle, &properties_);
  // Buffers are host-visible when the device-local type that storage buffers get is: probe it
  // with a small buffer, as the type bits depend on the usage.
  Buffer* probe = create(16, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, true, "a probe buffer");
  host_visible_ = probe->mapped != nullptr;
  destroy(probe);
}

Memory::~Memory() {
  for (const Buffer* b : live_) destroy(const_cast<Buffer*>(b));
  if (upload_) destroy(upload_);
  if (download_) destroy(download_);
}

uint32_t Memory::memory_type(uint32_t type_bits, VkMemoryPropertyFlags wanted) const {
  // The first type with every wanted property: drivers list their faster types first.
  for (uint32_t i = 0; i < properties_.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (properties_.memoryTypes[i].propertyFlags & wanted) == wanted) return i;
  return UINT32_MAX;
}

Buffer* Memory::create(uint64_t bytes, VkMemoryPropertyFlags wanted, bool map, const std::string& what,
                       VkMemoryPropertyFlags preferred) {
  const Limits& limits = device_.limits();
  if (bytes > limits.max_allocation)
    throw Error(what + ": " + std::to_string(bytes) + " bytes exceed the device's maxMemoryAllocationSize of " +
                    std::to_string(limits.max_allocation) + " bytes",
                LOOM_STATUS_OUT_OF_MEMORY);
  auto b = std::make_unique<Buffer>();
  b->size = bytes;
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  // Whole words: a shader reads a u8 tensor a word at a time, up to the word holding its end.
  info.size = (bytes + 3) / 4 * 4;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkDevice dev = device_.handle();
  check(vkCreateBuffer(dev, &info, nullptr, &b->buffer), what + ": vkCreateBuffer of " + std::to_string(bytes) + " bytes");
  VkMemoryRequirements req{};
  vkGetBufferMemoryRequirements(dev, b->buffer, &req);
  // A type with the preferred properties too where there is one; a device without device-local
  // memory for storage buffers gets any memory they may use.
  uint32_t type = preferred ? memory_type(req.memoryTypeBits, wanted | preferred) : UINT32_MAX;
  if (type == UINT32_MAX) type = memory_type(req.memoryTypeBits, wanted);
  if (type == UINT32_MAX && (wanted & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) type = memory_type(req.memoryTypeBits, 0);
  if (type == UINT32_MAX) {
    vkDestroyBuffer(dev, b->buffer, nullptr);
    throw Error(what + ": the device has no memory type for storage buffers", LOOM_STATUS_UNSUPPORTED);
  }
  const uint32_t heap = properties_.memoryTypes[type].heapIndex;
  if (req.size > properties_.memoryHeaps[heap].size) {
    vkDestroyBuffer(dev, b->buffer, nullptr);
    throw Error(what + ": " + std::to_string(bytes) + " bytes exceed the device's memory heap of " +
                    std::to_string(properties_.memoryHeaps[heap].size) + " bytes",
                LOOM_STATUS_OUT_OF_MEMORY);
  }
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(dev, &alloc, nullptr, &b->memory);
  if (r == VK_SUCCESS) r = vkBindBufferMemory(dev, b->buffer, b->memory, 0);
  const VkMemoryPropertyFlags flags = properties_.memoryTypes[type].propertyFlags;
  const bool mappable = (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  if (r == VK_SUCCESS && map && mappable) r = vkMapMemory(dev, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  if (r != VK_SUCCESS) {
    if (b->memory) vkFreeMemory(dev, b->memory, nullptr);
    vkDestroyBuffer(dev, b->buffer, nullptr);
    check(r, what + ": allocating " + std::to_string(bytes) + " bytes of device memory");
  }
  return b.release();
}

void Memory::destroy(Buffer* b) {
  // Unmapping is implicit in vkFreeMemory.
  vkDestroyBuffer(device_.handle(), b->buffer, nullptr);
  vkFreeMemory(device_.handle(), b->memory, nullptr);
  b->magic = 0;
  delete b;
}

Buffer* Memory::alloc(uint64_t bytes, const std::string& what) {
  return track(create(std::max<uint64_t>(bytes, 1), VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, true, what));
}

Buffer* Memory::alloc_host(uint64_t bytes, const std::string& what) {
  Buffer* b = create(std::max<uint64_t>(bytes, 1), VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, true, what);
  if (!b->mapped) {
    destroy(b);
    throw Error(what + ": the device's host-visible memory cannot be mapped", LOOM_STATUS_UNSUPPORTED);
  }
  return track(b);
}

Buffer* Memory::track(Buffer* b) {
  std::lock_guard<std::mutex> lock(mutex_);
  b->id = next_id_++;
  live_.insert(b);
  return b;
}

void Memory::free(void* handle) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = live_.find(static_cast<const Buffer*>(handle));
  if (it == live_.end()) throw Error("buffer_free: not a buffer of this device", LOOM_STATUS_INVALID_ARGUMENT);
  live_.erase(it);
  lock.unlock();
  destroy(static_cast<Buffer*>(handle));
}

Buffer* Memory::buffer(void* handle, uint64_t offset, uint64_t bytes, const std::string& what) const {
  auto* b = static_cast<Buffer*>(handle);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!live_.count(b) || b->magic != Buffer::kMagic)
      throw Error(what + ": not a buffer of this device (freed, or a host pointer?)", LOOM_STATUS_INVALID_ARGUMENT);
  }
  if (offset > b->size || bytes > b->size - offset)
    throw Error(what + ": bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
                    ") lie outside a buffer of " + std::to_string(b->size) + " bytes",
                LOOM_STATUS_INVALID_ARGUMENT);
  return b;
}

// The most a kept staging buffer holds: larger copies (a weight at load, a long prompt's logits)
// go through it in pieces, so that the host memory kept is bounded.
constexpr uint64_t kStagingBytes = uint64_t{32} << 20;

Buffer& Memory::staging(uint64_t bytes, bool to_device) {
  Buffer*& kept = to_device ? upload_ : download_;
  if (kept && kept->size >= bytes) return *kept;
  const uint64_t before = kept ? kept->size : 0;
  if (kept) destroy(kept);
  kept = nullptr;
  // Grown in whole MiB, at least doubling, up to kStagingBytes (staged_copy's pieces are no
  // larger), so that a run's copies settle on one buffer.
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  uint64_t size = std::min(std::max((bytes + kMiB - 1) / kMiB * kMiB, 2 * before), kStagingBytes);
  if (size > device_.limits().max_allocation) size = bytes;  // never refused for the rounding
  Buffer* b = create(size, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, true, "a staging buffer",
                     to_device ? 0 : VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (!b->mapped) {
    destroy(b);
    throw Error("the staging buffer's memory cannot be mapped", LOOM_STATUS_UNSUPPORTED);
  }
  kept = b;
  return *b;
}

void Memory::staged_copy(Buffer& b, uint64_t offset, void* host, uint64_t bytes, bool to_device) {
  std::lock_guard<std::mutex> lock(staging_mutex_);
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t piece = std::min(bytes - done, kStagingBytes);
    Buffer& staging = this->staging(piece, to_device);
    char* at = static_cast<char*>(host) + done;
    if (to_device) std::memcpy(staging.mapped, at, piece);
    VkBufferCopy region{to_device ? 0 : offset + done, to_device ? offset + done : 0, piece};
    VkBuffer src = to_device ? staging.buffer : b.buffer, dst = to_device ? b.buffer : staging.buffer;
    VkCommandBuffer commands = device_.record([&](VkCommandBuffer cb) {
      vkCmdCopyBuffer(cb, src, dst, 1, &region);
      // The copy's writes become visible to later shaders, or to the host's read below.
      VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      barrier.dstAccessMask = to_device ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT : VK_ACCESS_HOST_READ_BIT;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                           to_device ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                           nullptr, 0, nullptr);
    }, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
    try {
      device_.submit_and_wait(commands, to_device ? "uploading to the device" : "downloading from the device");
    } catch (...) {
      device_.free_commands(commands);
      throw;
    }
    device_.free_commands(commands);
    if (!to_device) std::memcpy(at, staging.mapped, piece);
    done += piece;
  }
}

void Memory::write(Buffer& b, uint64_t offset, const void* src, uint64_t bytes, bool force_staging) {
  if (b.mapped && !force_staging) {
    std::memcpy(static_cast<char*>(b.mapped) + offset, src, bytes);
    return;
  }
  staged_copy(b, offset, const_cast<void*>(src), bytes, true);
}

void Memory::read(Buffer& b, uint64_t offset, void* dst, uint64_t bytes, bool force_staging) {
  if (b.mapped && !force_staging) {
    std::memcpy(dst, static_cast<const char*>(b.mapped) + offset, bytes);
    return;
  }
  staged_copy(b, offset, dst, bytes, false);
}

}  // namespace loom::vulkan
