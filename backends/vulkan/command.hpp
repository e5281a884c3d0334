// A plan's dispatches recorded into one command buffer, with the descriptor sets that bind the
// buffers of one run. Replayed as long as later runs hand the plan the same buffers and offsets
// (the session's pooled arenas: every run after the first one of a shape).
#pragma once

#include "kernel.hpp"
#include "memory.hpp"

namespace loom::vulkan {

// Where a partition value lives during a run: a buffer, the tensor's byte offset and size.
struct Location {
  Buffer* buffer = nullptr;
  uint64_t buffer_id = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  bool operator==(const Location& o) const {
    return buffer == o.buffer && buffer_id == o.buffer_id && offset == o.offset && bytes == o.bytes;
  }
};

class Recording {
 public:
  // `timed`: the commands write a timestamp before the first dispatch and after the last
  // (--profile), and submit reports the time between them.
  Recording(Device& device, const Limits& limits, const std::vector<Dispatch>& dispatches, const std::vector<Location>& locations, bool timed = false);
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  const std::vector<Location>& locations() const { return locations_; }
  bool timed() const { return queries_ != VK_NULL_HANDLE; }
  // Runs the commands and reports the first index a checking dispatch found out of range. A
  // timed recording returns the device's time for the commands in nanoseconds.
  std::optional<uint64_t> submit(const std::string& what);

 private:
  Device& device_;
  std::vector<Location> locations_;
  // Slots of the status buffer (four words: flag, index low, index high, unused) per checking
  // dispatch, in dispatch order.
  static constexpr uint32_t kSlotWords = 4;
  Buffer* status_ = nullptr;
  std::vector<const Dispatch*> checked_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;  // two timestamps when timed
  VkCommandBuffer commands_ = VK_NULL_HANDLE;
};

}  // namespace loom::vulkan
