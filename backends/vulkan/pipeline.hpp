// Compute pipelines, made once per shader and set of specialisation constants and kept for the
// life of the device (every session on it shares them), through one VkPipelineCache.
#pragma once

#include "device.hpp"

#include <map>
#include <utility>

namespace loom::vulkan {

// What a shader's pipeline layout holds: `bindings` storage buffers (set 0, bindings 0..n-1) and
// a push-constant block of `push_bytes`.
struct ShaderInterface {
  const char* shader;
  uint32_t bindings;
  uint32_t push_bytes;
};

struct Pipeline {
  ShaderInterface interface;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
};

class Pipelines {
 public:
  explicit Pipelines(Device& device);
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  // The pipeline of `shader` with constant_id i set to spec[i]. Refuses a push-constant block
  // larger than the device's maxPushConstantsSize.
  const Pipeline& get(const ShaderInterface& shader, const std::vector<uint32_t>& spec);
  size_t size() const;

 private:
  struct Layout {
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkShaderModule module = VK_NULL_HANDLE;
  };
  const Layout& layout(const ShaderInterface& shader);

  Device& device_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  mutable std::mutex mutex_;
  std::map<std::string, Layout> layouts_;  // by shader
  std::map<std::pair<std::string, std::vector<uint32_t>>, std::unique_ptr<Pipeline>> pipelines_;
};

}  // namespace loom::vulkan
