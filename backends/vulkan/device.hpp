// The Vulkan instance, the devices it offers (in the order Loom lists them), and a logical device
// with its compute queue. One Device per physical device is shared by every backend instance
// (session) of the plugin, so pipelines compiled for one session serve the next.
#pragma once

#include <loom/plugin_sdk.hpp>

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace loom::vulkan {

using sdk::Error;

// "VK_ERROR_DEVICE_LOST"
const char* result_name(VkResult r);
// Throws unless r is VK_SUCCESS; device loss and memory exhaustion get their own status codes.
void check(VkResult r, const std::string& what);

// The device limits the backend checks before it records a dispatch (docs/vulkan.md, "Limits").
struct Limits {
  uint32_t max_workgroup_count[3] = {};
  uint32_t max_workgroup_size[3] = {};
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_shared_memory = 0;
  uint32_t max_push_constants = 0;
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint64_t max_allocation = 0;  // maxMemoryAllocationSize
};

struct PhysicalDevice {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties properties{};
  uint32_t queue_family = 0;
  // Timestamps on the compute queue (--profile): the queue family's timestampValidBits (0: none)
  // and the nanoseconds per tick (timestampPeriod).
  uint32_t timestamp_bits = 0;
  double timestamp_period_ns = 0;
  Limits limits;
  std::string name;         // the driver's device name
  std::string description;  // type, API and driver version, memory
};

class Instance {
 public:
  // Creates a Vulkan 1.2 instance and lists the devices that can run compute, discrete GPUs
  // first, then integrated, virtual and CPU drivers. Throws LOOM_STATUS_DEVICE_UNAVAILABLE when
  // there is no driver or no such device.
  Instance();
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  VkInstance handle() const { return instance_; }
  const std::vector<PhysicalDevice>& devices() const { return devices_; }

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  std::vector<PhysicalDevice> devices_;
};

class Pipelines;
class Memory;
class ConstantRegistry;

class Device {
 public:
  Device(std::shared_ptr<const Instance> instance, const PhysicalDevice& physical);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  const PhysicalDevice& physical() const { return physical_; }
  const Limits& limits() const { return physical_.limits; }
  Pipelines& pipelines() { return *pipelines_; }
  Memory& memory() { return *memory_; }
  // Constants uploaded by the sessions of every engine, by record id (constants.hpp).
  ConstantRegistry& constants() { return *constants_; }

  // A primary command buffer from the device's pool with what `record` writes into it (between
  // begin and end), and its release. Recording holds the pool's lock: Vulkan requires recording
  // into buffers of one pool to be externally synchronised.
  template <class F>
  VkCommandBuffer record(F&& record, VkCommandBufferUsageFlags usage = 0) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    VkCommandBuffer commands = allocate_commands_locked();
    try {
      VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      begin.flags = usage;
      check(vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer");
      record(commands);
      check(vkEndCommandBuffer(commands), "vkEndCommandBuffer");
    } catch (...) {
      vkFreeCommandBuffers(device_, pool_, 1, &commands);
      throw;
    }
    return commands;
  }
  void free_commands(VkCommandBuffer commands);
  // Submits recorded commands and waits for them; the queue is shared, so submissions are
  // serialised. `what` names the work in errors.
  void submit_and_wait(VkCommandBuffer commands, const std::string& what);

 private:
  VkCommandBuffer allocate_commands_locked();

  std::shared_ptr<const Instance> instance_;
  PhysicalDevice physical_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::mutex pool_mutex_, queue_mutex_;
  std::unique_ptr<Pipelines> pipelines_;
  std::unique_ptr<Memory> memory_;
  std::unique_ptr<ConstantRegistry> constants_;
};

}  // namespace loom::vulkan
