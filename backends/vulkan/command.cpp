#include "command.hpp"

#include <algorithm>

namespace loom::vulkan {

namespace {

// The descriptor range for a tensor: from its offset rounded down to the device's alignment to
// its end. The shader adds the element offset of the tensor inside the range.
struct BoundRange {
  VkDeviceSize offset = 0, range = 0;
  uint32_t element_offset = 0;
};

BoundRange bound_range(const Location& loc, const Limits& limits, const std::string& where) {
  BoundRange r;
  const uint64_t align = limits.min_storage_buffer_offset_alignment;
  r.offset = loc.offset / align * align;
  // To the end of the word holding the tensor's last byte (u8 tensors are read by words); buffers
  // are made in whole words (Memory::create).
  auto words = [](uint64_t bytes) { return (bytes + 3) / 4 * 4; };
  const uint64_t end = std::min<uint64_t>(words(loc.buffer->size), words(loc.offset + std::max<uint64_t>(loc.bytes, 4)));
  r.range = end - r.offset;
  if (r.range > limits.max_storage_buffer_range)
    throw Error(where + ": a tensor of " + std::to_string(loc.bytes) + " bytes exceeds the device's maxStorageBufferRange of " +
                    std::to_string(limits.max_storage_buffer_range),
                LOOM_STATUS_UNSUPPORTED);
  if ((loc.offset - r.offset) % 4)
    throw Error(where + ": a tensor at byte offset " + std::to_string(loc.offset) + " is not aligned to 4 bytes",
                LOOM_STATUS_INVALID_ARGUMENT);
  r.element_offset = static_cast<uint32_t>((loc.offset - r.offset) / 4);
  return r;
}

}  // namespace

Recording::Recording(Device& device, const Limits& limits, const std::vector<Dispatch>& dispatches, const std::vector<Location>& locations, bool timed)
    : device_(device), locations_(locations) {
  VkDevice dev = device.handle();
  if (timed) {
    if (!device.physical().timestamp_bits) throw Error("a timed run: the device's compute queue writes no timestamps", LOOM_STATUS_UNSUPPORTED);
    VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = 2;
    check(vkCreateQueryPool(dev, &info, nullptr, &queries_), "vkCreateQueryPool");
  }
  uint32_t descriptors = 0;
  for (const Dispatch& d : dispatches) descriptors += static_cast<uint32_t>(d.values.size());
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(descriptors, 1)};
  VkDescriptorPoolCreateInfo pool{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pool.maxSets = std::max<uint32_t>(static_cast<uint32_t>(dispatches.size()), 1);
  pool.poolSizeCount = 1;
  pool.pPoolSizes = &size;
  check(vkCreateDescriptorPool(dev, &pool, nullptr, &pool_), "vkCreateDescriptorPool");
  try {
    size_t checking = 0;
    for (const Dispatch& d : dispatches) checking += std::count(d.values.begin(), d.values.end(), kStatus);
    if (checking) status_ = device.memory().alloc_host(checking * kSlotWords * sizeof(uint32_t), "the index checks' status");
    std::vector<VkDescriptorSet> sets(dispatches.size());
    std::vector<std::vector<uint32_t>> push(dispatches.size());
    for (size_t i = 0; i < dispatches.size(); ++i) {
      const Dispatch& d = dispatches[i];
      VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
      alloc.descriptorPool = pool_;
      alloc.descriptorSetCount = 1;
      alloc.pSetLayouts = &d.pipeline->set_layout;
      check(vkAllocateDescriptorSets(dev, &alloc, &sets[i]), "vkAllocateDescriptorSets");
      push[i] = d.push;
      std::vector<VkDescriptorBufferInfo> infos(d.values.size());
      std::vector<VkWriteDescriptorSet> writes(d.values.size());
      // An absent optional input, or an empty tensor (which may have no buffer), binds another
      // tensor of the dispatch; the shader never reads it.
      auto in_memory = [&](int32_t v) { return v >= 0 && locations[static_cast<size_t>(v)].buffer; };
      const auto present = std::find_if(d.values.begin(), d.values.end(), in_memory);
      if (present == d.values.end()) throw Error("node '" + d.node + "': a dispatch without tensors");
      for (size_t b = 0; b < d.values.size(); ++b) {
        if (d.values[b] == kStatus) {
          infos[b] = {status_->buffer, 0, VK_WHOLE_SIZE};
          push[i][b] = static_cast<uint32_t>(checked_.size()) * kSlotWords;
          checked_.push_back(&d);
        } else {
          // The binding's view of its tensor (a chunk of one split over bindings), or the view of
          // the binding that stands in for an absent tensor.
          const size_t from = in_memory(d.values[b]) ? b : static_cast<size_t>(present - d.values.begin());
          Location loc = locations[static_cast<size_t>(d.values[from])];
          if (from < d.views.size() && d.views[from].bytes != Dispatch::kWhole) {
            const Dispatch::View& view = d.views[from];
            if (view.offset > loc.bytes || view.bytes > loc.bytes - view.offset)
              throw Error("node '" + d.node + "': a chunk of " + std::to_string(view.bytes) + " bytes at " + std::to_string(view.offset) +
                          " lies outside its tensor of " + std::to_string(loc.bytes));
            loc.offset += view.offset;
            loc.bytes = view.bytes;
          }
          const BoundRange r = bound_range(loc, limits, "node '" + d.node + "'");
          infos[b] = {loc.buffer->buffer, r.offset, r.range};
          push[i][b] = r.element_offset;
        }
        writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[b].dstSet = sets[i];
        writes[b].dstBinding = static_cast<uint32_t>(b);
        writes[b].descriptorCount = 1;
        writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[b].pBufferInfo = &infos[b];
      }
      vkUpdateDescriptorSets(dev, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
    }
    commands_ = device.record([&](VkCommandBuffer cb) {
      if (queries_) {
        vkCmdResetQueryPool(cb, queries_, 0, 2);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
      }
      VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      for (size_t i = 0; i < dispatches.size(); ++i) {
        const Dispatch& d = dispatches[i];
        if (d.alias_when != Dispatch::kAlways) {
          const Location &a = locations[static_cast<size_t>(d.alias_a)], &b = locations[static_cast<size_t>(d.alias_b)];
          const bool same = a.buffer == b.buffer && a.offset == b.offset;
          if (same != (d.alias_when == Dispatch::kIfSame)) continue;
        }
        vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.pipeline->pipeline);
        vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.pipeline->layout, 0, 1, &sets[i], 0, nullptr);
        vkCmdPushConstants(cb, d.pipeline->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           static_cast<uint32_t>(push[i].size() * sizeof(uint32_t)), push[i].data());
        vkCmdDispatch(cb, d.groups[0], d.groups[1], d.groups[2]);
        // Each dispatch reads what the earlier ones wrote.
        barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
        vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0,
                             nullptr, 0, nullptr);
      }
      // The host (buffer_read) and later transfers see the results.
      barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
      barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                           &barrier, 0, nullptr, 0, nullptr);
      // Written once every earlier command has finished.
      if (queries_) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 1);
    });
  } catch (...) {
    if (status_) device.memory().free(status_);
    vkDestroyDescriptorPool(dev, pool_, nullptr);
    if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
    throw;
  }
}

Recording::~Recording() {
  device_.free_commands(commands_);
  if (status_) device_.memory().free(status_);
  vkDestroyDescriptorPool(device_.handle(), pool_, nullptr);
  if (queries_) vkDestroyQueryPool(device_.handle(), queries_, nullptr);
}

std::optional<uint64_t> Recording::submit(const std::string& what) {
  auto* slots = status_ ? static_cast<uint32_t*>(status_->mapped) : nullptr;
  if (slots) std::fill(slots, slots + checked_.size() * kSlotWords, 0u);
  device_.submit_and_wait(commands_, what);
  std::optional<uint64_t> device_ns;
  if (queries_) {
    uint64_t ticks[2] = {};
    // The submission has finished, so both timestamps are available (WAIT only guards a driver
    // that lags).
    check(vkGetQueryPoolResults(device_.handle(), queries_, 0, 2, sizeof ticks, ticks, sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          what + ": reading the timestamps");
    // Only timestampValidBits of each value count; the difference is taken in that width, so a
    // counter that wrapped between the two still gives the elapsed ticks.
    const uint32_t bits = device_.physical().timestamp_bits;
    const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    const uint64_t elapsed = ((ticks[1] & mask) - (ticks[0] & mask)) & mask;
    device_ns = static_cast<uint64_t>(static_cast<double>(elapsed) * device_.physical().timestamp_period_ns + 0.5);
  }
  for (size_t k = 0; k < checked_.size(); ++k) {
    const uint32_t* slot = slots + k * kSlotWords;
    if (!slot[0]) continue;
    if (!checked_[k]->failure.empty())
      throw Error(checked_[k]->where + ": " + checked_[k]->failure, LOOM_STATUS_INVALID_ARGUMENT);
    const auto value = static_cast<int64_t>((uint64_t{slot[2]} << 32) | slot[1]);
    throw Error(checked_[k]->where + ": " + checked_[k]->checked + " " + std::to_string(value) + " is outside " +
                    checked_[k]->allowed,
                LOOM_STATUS_INVALID_ARGUMENT);
  }
  return device_ns;
}

}  // namespace loom::vulkan
