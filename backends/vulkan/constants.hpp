// Constants on the device, uploaded once per engine and shared by its sessions.
//
// The host's packed-constant cache (docs/plugins.md, "Packed constants, shared by sessions") owns
// host bytes only, and a device buffer cannot live in it. So the cache holds a small record per
// constant (UploadRecord: an id unique in the process) under the layout key
// "vulkan.device-upload:device=N", and each Device keeps a registry from that id to the device
// buffer holding the upload. Uploads are made a partition at a time into one buffer (a
// ConstantBlock, one allocation rather than one per constant), which is reference-counted: every
// executable that uses a constant of it holds it, the registry only watches it (weak_ptr), and
// the last executable to let go frees it. docs/vulkan.md ("Memory") tells the whole.
#pragma once

#include "command.hpp"

#include <map>

namespace loom::vulkan {

// One device buffer of constants, uploaded by one executable's compile.
class ConstantBlock {
 public:
  ConstantBlock(std::shared_ptr<Device> device, uint64_t bytes);
  ~ConstantBlock();
  ConstantBlock(const ConstantBlock&) = delete;
  ConstantBlock& operator=(const ConstantBlock&) = delete;
  Buffer& buffer() const { return *buffer_; }
  Device& device() const { return *device_; }

 private:
  std::shared_ptr<Device> device_;
  Buffer* buffer_ = nullptr;
};

// Per device: uploaded constants by record id.
class ConstantRegistry {
 public:
  struct Found {
    std::shared_ptr<ConstantBlock> block;
    uint64_t offset = 0;
  };
  // The live upload under `id`, or an empty block.
  Found find(uint64_t id, uint64_t bytes) const;
  void add(uint64_t id, const std::shared_ptr<ConstantBlock>& block, uint64_t offset, uint64_t bytes);
  // A block going away: its entries go with it (unless another block took an id over).
  void forget(const ConstantBlock* block);

 private:
  struct Entry {
    std::weak_ptr<ConstantBlock> block;
    const ConstantBlock* owner = nullptr;
    uint64_t offset = 0, bytes = 0;
  };
  mutable std::mutex mutex_;
  std::map<uint64_t, Entry> entries_;
};

// The constants of one executable on the device: found in the registry through the host's
// cache, else uploaded (into one new block) and recorded there.
class ExecutableConstants {
 public:
  // `key`: the layout key naming the device and the precision. Without the host's cache, every
  // constant is uploaded into a block of this executable's own. `half`, by value index: the
  // constants stored as f16 (packed two to a word, packed_half_bytes), converted as uploaded.
  ExecutableConstants(const std::shared_ptr<Device>& device, const Config& config, const sdk::GraphView& g,
                      const loom_compile_options& options, const std::string& key, const std::vector<bool>& half);
  // Per value of the partition: where its constant lives (buffer null for the other values).
  const std::vector<Location>& locations() const { return locations_; }

 private:
  std::vector<Location> locations_;
  std::vector<std::shared_ptr<ConstantBlock>> blocks_;  // every block a constant of this executable lies in
};

// Process-wide counts of constant uploads (the test hook loom_vulkan_constant_uploads).
struct UploadCounts {
  uint64_t constants = 0;  // constants written to a device
  uint64_t bytes = 0;      // their bytes
  uint64_t live_bytes = 0; // bytes of the constant blocks alive now
};
UploadCounts upload_counts();

}  // namespace loom::vulkan
