#include "pipeline.hpp"

#include "shaders.hpp"

#include <cstring>

namespace loom::vulkan {

Pipelines::Pipelines(Device& device) : device_(device) {
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  check(vkCreatePipelineCache(device_.handle(), &info, nullptr, &cache_), "vkCreatePipelineCache");
}

Pipelines::~Pipelines() {
  VkDevice dev = device_.handle();
  for (auto& [key, p] : pipelines_) vkDestroyPipeline(dev, p->pipeline, nullptr);
  for (auto& [name, l] : layouts_) {
    vkDestroyPipelineLayout(dev, l.layout, nullptr);
    vkDestroyDescriptorSetLayout(dev, l.set_layout, nullptr);
    vkDestroyShaderModule(dev, l.module, nullptr);
  }
  vkDestroyPipelineCache(dev, cache_, nullptr);
}

size_t Pipelines::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pipelines_.size();
}

const Pipelines::Layout& Pipelines::layout(const ShaderInterface& shader) {
  auto it = layouts_.find(shader.shader);
  if (it != layouts_.end()) return it->second;
  const ShaderCode* code = nullptr;
  for (const ShaderCode& c : shader_table())
    if (std::strcmp(c.name, shader.shader) == 0) code = &c;
  if (!code) throw Error(std::string("no shader '") + shader.shader + "' is built into the vulkan backend");
  VkDevice dev = device_.handle();
  Layout l;
  VkShaderModuleCreateInfo module{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module.codeSize = code->count * sizeof(uint32_t);
  module.pCode = code->words;
  check(vkCreateShaderModule(dev, &module, nullptr, &l.module), std::string("vkCreateShaderModule (") + shader.shader + ")");
  std::vector<VkDescriptorSetLayoutBinding> bindings(shader.bindings);
  for (uint32_t i = 0; i < shader.bindings; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo set{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set.bindingCount = shader.bindings;
  set.pBindings = bindings.data();
  VkResult r = vkCreateDescriptorSetLayout(dev, &set, nullptr, &l.set_layout);
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, shader.push_bytes};
  VkPipelineLayoutCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  info.setLayoutCount = 1;
  info.pSetLayouts = &l.set_layout;
  info.pushConstantRangeCount = 1;
  info.pPushConstantRanges = &push;
  if (r == VK_SUCCESS) r = vkCreatePipelineLayout(dev, &info, nullptr, &l.layout);
  if (r != VK_SUCCESS) {
    if (l.set_layout) vkDestroyDescriptorSetLayout(dev, l.set_layout, nullptr);
    vkDestroyShaderModule(dev, l.module, nullptr);
    check(r, std::string("creating the pipeline layout of ") + shader.shader);
  }
  return layouts_.emplace(shader.shader, l).first->second;
}

const Pipeline& Pipelines::get(const ShaderInterface& shader, const std::vector<uint32_t>& spec) {
  const uint32_t max_push = device_.limits().max_push_constants;
  if (shader.push_bytes > max_push)
    throw Error(std::string("shader ") + shader.shader + " needs " + std::to_string(shader.push_bytes) +
                    " bytes of push constants, more than the device's maxPushConstantsSize of " + std::to_string(max_push),
                LOOM_STATUS_UNSUPPORTED);
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(std::string(shader.shader), spec);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return *it->second;
  const Layout& l = layout(shader);
  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4};
  VkSpecializationInfo special{static_cast<uint32_t>(entries.size()), entries.data(), spec.size() * 4, spec.data()};
  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = l.module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = &special;
  info.layout = l.layout;
  auto p = std::make_unique<Pipeline>();
  p->interface = shader;
  p->layout = l.layout;
  p->set_layout = l.set_layout;
  check(vkCreateComputePipelines(device_.handle(), cache_, 1, &info, nullptr, &p->pipeline),
        std::string("vkCreateComputePipelines (") + shader.shader + ")");
  return *pipelines_.emplace(std::move(key), std::move(p)).first->second;
}

}  // namespace loom::vulkan
