#include "device.hpp"

#include "constants.hpp"
#include "memory.hpp"
#include "pipeline.hpp"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

namespace loom::vulkan {

const char* result_name(VkResult r) {
  switch (r) {
#define LOOM_VK_RESULT(x) case x: return #x;
    LOOM_VK_RESULT(VK_SUCCESS)
    LOOM_VK_RESULT(VK_NOT_READY)
    LOOM_VK_RESULT(VK_TIMEOUT)
    LOOM_VK_RESULT(VK_INCOMPLETE)
    LOOM_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    LOOM_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    LOOM_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    LOOM_VK_RESULT(VK_ERROR_DEVICE_LOST)
    LOOM_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    LOOM_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    LOOM_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    LOOM_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    LOOM_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    LOOM_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    LOOM_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    LOOM_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    LOOM_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
#undef LOOM_VK_RESULT
    default: return "VkResult (unknown code)";
  }
}

void check(VkResult r, const std::string& what) {
  if (r == VK_SUCCESS) return;
  int32_t code = LOOM_STATUS_ERROR;
  if (r == VK_ERROR_DEVICE_LOST) code = LOOM_STATUS_DEVICE_LOST;
  if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY) code = LOOM_STATUS_OUT_OF_MEMORY;
  throw Error(what + " failed: " + result_name(r) + " (" + std::to_string(static_cast<int>(r)) + ")", code);
}

namespace {

// Discrete GPUs first, then integrated, virtual, other, and CPU drivers (lavapipe) last.
int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER: return 3;
    default: return 4;  // VK_PHYSICAL_DEVICE_TYPE_CPU
  }
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU driver";
    default: return "other device";
  }
}

std::string version_str(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

// The device as Loom lists it, or nullopt when it cannot serve (Vulkan below 1.2, no compute queue).
std::optional<PhysicalDevice> describe(VkPhysicalDevice handle) {
  PhysicalDevice d;
  d.handle = handle;
  vkGetPhysicalDeviceProperties(handle, &d.properties);
  if (d.properties.apiVersion < VK_API_VERSION_1_2) return std::nullopt;
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(handle, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(handle, &count, families.data());
  // A compute-only family where there is one (a dedicated compute queue), else any with compute.
  int best = -1;
  for (uint32_t i = 0; i < count; ++i) {
    if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[i].queueCount == 0) continue;
    if (best < 0 || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = static_cast<int>(i);
  }
  if (best < 0) return std::nullopt;
  d.queue_family = static_cast<uint32_t>(best);
  // A queue of a family with timestampValidBits 0 cannot write timestamps, whatever
  // timestampComputeAndGraphics says of the device's other queues.
  if (d.properties.limits.timestampPeriod > 0) {
    d.timestamp_bits = families[d.queue_family].timestampValidBits;
    d.timestamp_period_ns = d.properties.limits.timestampPeriod;
  }

  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, &driver};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3, {}};
  vkGetPhysicalDeviceProperties2(handle, &p2);
  const VkPhysicalDeviceLimits& l = d.properties.limits;
  for (int i = 0; i < 3; ++i) {
    d.limits.max_workgroup_count[i] = l.maxComputeWorkGroupCount[i];
    d.limits.max_workgroup_size[i] = l.maxComputeWorkGroupSize[i];
  }
  d.limits.max_workgroup_invocations = l.maxComputeWorkGroupInvocations;
  d.limits.max_shared_memory = l.maxComputeSharedMemorySize;
  d.limits.max_push_constants = l.maxPushConstantsSize;
  d.limits.max_storage_buffer_range = l.maxStorageBufferRange;
  d.limits.min_storage_buffer_offset_alignment = std::max<uint64_t>(l.minStorageBufferOffsetAlignment, 4);
  d.limits.max_allocation = m3.maxMemoryAllocationSize;

  VkPhysicalDeviceMemoryProperties mem{};
  vkGetPhysicalDeviceMemoryProperties(handle, &mem);
  uint64_t device_local = 0;
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) device_local = std::max(device_local, mem.memoryHeaps[i].size);
  d.name = d.properties.deviceName;
  // The driver's own name and version ("llvmpipe, Mesa 22.3.6 (LLVM 15.0.6)"), NUL-terminated
  // within their arrays by the spec.
  const std::string driver_name(driver.driverName, strnlen(driver.driverName, sizeof driver.driverName));
  const std::string driver_info(driver.driverInfo, strnlen(driver.driverInfo, sizeof driver.driverInfo));
  d.description = std::string(type_name(d.properties.deviceType)) + ", Vulkan " + version_str(d.properties.apiVersion) +
                  ", driver " + (driver_name.empty() ? std::to_string(d.properties.driverVersion) : driver_name) +
                  (driver_info.empty() ? "" : " " + driver_info) + ", " + std::to_string(device_local >> 20) +
                  " MiB device memory" + (d.timestamp_bits ? "" : ", no timestamps (--profile times its nodes on the host)");
  return d;
}

// The file names of the shared objects loaded in the process.
std::set<std::string> loaded_objects() {
  std::set<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        if (info->dlpi_name && *info->dlpi_name) static_cast<std::set<std::string>*>(out)->insert(info->dlpi_name);
        return 0;
      },
      &names);
  return names;
}

// Keeps the driver libraries that creating the instance loaded (the ICD and what it links, such
// as lavapipe's libLLVM) mapped for the rest of the process, as the oneDNN plugin keeps its
// OpenMP runtime. A driver holds process-wide state (LLVM's, Mesa's caches) that is not made to
// be unloaded and loaded again each time an engine is made; and once unmapped, the heap blocks
// its globals held look leaked to LeakSanitizer, with no module left to name them.
void keep_loaded(const std::set<std::string>& before) {
  for (const std::string& name : loaded_objects())
    if (!before.count(name)) dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

}  // namespace

Instance::Instance() {
  const std::set<std::string> before = loaded_objects();
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "loom";
  app.pEngineName = "loom";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  const VkResult r = vkCreateInstance(&info, nullptr, &instance_);
  if (r != VK_SUCCESS) {
    instance_ = VK_NULL_HANDLE;
    std::string hint = r == VK_ERROR_INCOMPATIBLE_DRIVER ? ": no Vulkan driver was found" : "";
    if (const char* icd = std::getenv("VK_ICD_FILENAMES")) hint += " (VK_ICD_FILENAMES=" + std::string(icd) + ")";
    throw Error(std::string("cannot create a Vulkan 1.2 instance: vkCreateInstance returned ") + result_name(r) + hint,
                LOOM_STATUS_DEVICE_UNAVAILABLE);
  }
  keep_loaded(before);
  uint32_t count = 0;
  VkResult e = vkEnumeratePhysicalDevices(instance_, &count, nullptr);
  std::vector<VkPhysicalDevice> handles(count);
  if (e == VK_SUCCESS || e == VK_INCOMPLETE) e = vkEnumeratePhysicalDevices(instance_, &count, handles.data());
  if (e != VK_SUCCESS && e != VK_INCOMPLETE) {
    vkDestroyInstance(instance_, nullptr);
    throw Error(std::string("vkEnumeratePhysicalDevices returned ") + result_name(e), LOOM_STATUS_DEVICE_UNAVAILABLE);
  }
  handles.resize(count);
  for (VkPhysicalDevice h : handles)
    if (auto d = describe(h)) devices_.push_back(std::move(*d));
  std::stable_sort(devices_.begin(), devices_.end(), [](const PhysicalDevice& a, const PhysicalDevice& b) {
    return type_rank(a.properties.deviceType) < type_rank(b.properties.deviceType);
  });
  if (devices_.empty()) {
    vkDestroyInstance(instance_, nullptr);
    throw Error("no Vulkan device can run compute shaders (" + std::to_string(count) +
                    " found, none with Vulkan 1.2 and a compute queue)",
                LOOM_STATUS_DEVICE_UNAVAILABLE);
  }
}

Instance::~Instance() {
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

Device::Device(std::shared_ptr<const Instance> instance, const PhysicalDevice& physical)
    : instance_(std::move(instance)), physical_(physical) {
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue.queueFamilyIndex = physical_.queue_family;
  queue.queueCount = 1;
  queue.pQueuePriorities = &priority;
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue;
  check(vkCreateDevice(physical_.handle, &info, nullptr, &device_), "vkCreateDevice on " + physical_.name);
  vkGetDeviceQueue(device_, physical_.queue_family, 0, &queue_);
  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool.queueFamilyIndex = physical_.queue_family;
  const VkResult r = vkCreateCommandPool(device_, &pool, nullptr, &pool_);
  if (r != VK_SUCCESS) {
    vkDestroyDevice(device_, nullptr);
    check(r, "vkCreateCommandPool");
  }
  pipelines_ = std::make_unique<Pipelines>(*this);
  memory_ = std::make_unique<Memory>(*this);
  constants_ = std::make_unique<ConstantRegistry>();
}

Device::~Device() {
  vkDeviceWaitIdle(device_);
  constants_.reset();
  memory_.reset();
  pipelines_.reset();
  vkDestroyCommandPool(device_, pool_, nullptr);
  vkDestroyDevice(device_, nullptr);
}

VkCommandBuffer Device::allocate_commands_locked() {
  VkCommandBufferAllocateInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  info.commandPool = pool_;
  info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  info.commandBufferCount = 1;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  check(vkAllocateCommandBuffers(device_, &info, &commands), "vkAllocateCommandBuffers");
  return commands;
}

void Device::free_commands(VkCommandBuffer commands) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  vkFreeCommandBuffers(device_, pool_, 1, &commands);
}

void Device::submit_and_wait(VkCommandBuffer commands, const std::string& what) {
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence = VK_NULL_HANDLE;
  check(vkCreateFence(device_, &fence_info, nullptr, &fence), what + ": vkCreateFence");
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &commands;
  VkResult r;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    r = vkQueueSubmit(queue_, 1, &submit, fence);
  }
  if (r == VK_SUCCESS) r = vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX);
  vkDestroyFence(device_, fence, nullptr);
  check(r, what + ": vkQueueSubmit / vkWaitForFences");
}

}  // namespace loom::vulkan
