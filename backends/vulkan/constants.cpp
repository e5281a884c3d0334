#include "constants.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace loom::vulkan {

namespace {

// What the host's cache holds for a constant uploaded to a device.
struct UploadRecord {
  static constexpr uint64_t kMagic = 0x6c6f6f6d2d766b63ull;  // "loom-vkc"
  uint64_t magic = kMagic;
  uint64_t id = 0;     // the registry key, unique in the process
  uint64_t bytes = 0;  // the constant's size
};

std::atomic<uint64_t> next_record_id{1};
std::atomic<uint64_t> uploaded_constants{0}, uploaded_bytes{0}, live_block_bytes{0};

std::span<const std::byte> bytes_of(const UploadRecord& r) { return {reinterpret_cast<const std::byte*>(&r), sizeof r}; }

// The record the host's cache gave back, checked.
UploadRecord read_record(std::span<const std::byte> stored, const std::string& name) {
  UploadRecord r;
  if (stored.size() != sizeof r) throw Error("constant '" + name + "': the host's cache holds a record of another size");
  std::memcpy(&r, stored.data(), sizeof r);
  if (r.magic != UploadRecord::kMagic) throw Error("constant '" + name + "': the host's cache holds something other than an upload record");
  return r;
}

}  // namespace

UploadCounts upload_counts() { return {uploaded_constants.load(), uploaded_bytes.load(), live_block_bytes.load()}; }

ConstantBlock::ConstantBlock(std::shared_ptr<Device> device, uint64_t bytes) : device_(std::move(device)) {
  buffer_ = device_->memory().alloc(bytes, "the constants of the partition");
  live_block_bytes += buffer_->size;
}

ConstantBlock::~ConstantBlock() {
  device_->constants().forget(this);
  live_block_bytes -= buffer_->size;
  device_->memory().free(buffer_);
}

ConstantRegistry::Found ConstantRegistry::find(uint64_t id, uint64_t bytes) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.bytes != bytes) return {};
  return {it->second.block.lock(), it->second.offset};
}

void ConstantRegistry::add(uint64_t id, const std::shared_ptr<ConstantBlock>& block, uint64_t offset, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[id] = {block, block.get(), offset, bytes};
}

void ConstantRegistry::forget(const ConstantBlock* block) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(entries_, [&](const auto& e) { return e.second.owner == block; });
}

ExecutableConstants::ExecutableConstants(const std::shared_ptr<Device>& device, const Config& config, const sdk::GraphView& g,
                                         const loom_compile_options& options, const std::string& key,
                                         const std::vector<bool>& half) {
  const sdk::ConstantCache cache(options);
  ConstantRegistry& registry = device->constants();
  locations_.assign(g.num_values(), Location{});
  struct Upload {
    size_t value;
    size_t block;  // index into `sizes`
    uint64_t offset;
    uint64_t id;  // the record found in the host's cache whose upload is gone, else 0
  };
  std::vector<Upload> uploads;
  // Blocks of at most maxMemoryAllocationSize each: a new one starts where the next constant
  // would not fit (a constant larger than that alone is refused by the allocation, named).
  std::vector<uint64_t> sizes{0};
  const uint64_t align = device->limits().min_storage_buffer_offset_alignment;
  const uint64_t max_block = effective_limits(device->limits(), config).max_allocation;
  // The bytes a constant takes on the device: its own, or as packed halves.
  auto stored_bytes = [&](size_t v) { return half[v] ? packed_half_bytes(g.value(v).nbytes() / 4) : g.value(v).nbytes(); };
  // The host's cache keys a record by the stored form too: a constant stored as f16 (an f16
  // session's weight) never shares an upload with the same constant stored as f32.
  const std::string half_key = key + ":precision=f16";
  auto key_of = [&](size_t v) -> const std::string& { return half[v] ? half_key : key; };
  for (size_t v = 0; v < g.num_values(); ++v) {
    sdk::ValueView value = g.value(v);
    if (!value.is_constant()) continue;
    const uint64_t nbytes = stored_bytes(v);
    uint64_t id = 0;
    if (cache.available() && value.nbytes()) {
      auto stored = cache.find(value, key_of(v));
      if (!stored.empty()) {
        const UploadRecord r = read_record(stored, std::string(value.name()));
        ConstantRegistry::Found f = registry.find(r.id, nbytes);
        if (f.block) {
          locations_[v] = {&f.block->buffer(), f.block->buffer().id, f.offset, nbytes};
          if (std::find(blocks_.begin(), blocks_.end(), f.block) == blocks_.end()) blocks_.push_back(std::move(f.block));
          continue;
        }
        // Every executable that used that upload is gone, while a session that found the record
        // lives on (it re-placed its graph, say): upload again under the same record.
        id = r.id;
      }
    }
    if (nbytes > max_block)
      throw Error("constant '" + std::string(value.name()) + "' holds " + std::to_string(nbytes) +
                      " bytes, more than the device's maxMemoryAllocationSize of " + std::to_string(max_block) +
                      " that one allocation can hold",
                  LOOM_STATUS_OUT_OF_MEMORY);
    const uint64_t padded = (nbytes + align - 1) / align * align;
    if (sizes.back() && sizes.back() + nbytes > max_block) sizes.push_back(0);
    uploads.push_back({v, sizes.size() - 1, sizes.back(), id});
    sizes.back() += padded;
  }
  if (uploads.empty()) return;
  std::vector<std::shared_ptr<ConstantBlock>> made;
  for (uint64_t bytes : sizes) made.push_back(std::make_shared<ConstantBlock>(device, bytes));
  Memory& memory = device->memory();
  std::vector<uint16_t> halves;
  for (const Upload& u : uploads) {
    sdk::ValueView value = g.value(u.value);
    const auto& block = made[u.block];
    const uint64_t nbytes = stored_bytes(u.value);
    const void* data = value.data();
    if (half[u.value]) {
      // Converted once here; the last word of an odd count is padded with a zero half.
      const size_t count = value.nbytes() / 4;
      halves.assign(nbytes / 2, 0);
      const auto* f = static_cast<const float*>(data);
      for (size_t i = 0; i < count; ++i) halves[i] = f16_bits(f[i]);
      data = halves.data();
    }
    memory.write(block->buffer(), u.offset, data, nbytes, config.force_staging);
    ++uploaded_constants;
    uploaded_bytes += nbytes;
    locations_[u.value] = {&block->buffer(), block->buffer().id, u.offset, nbytes};
  }
  blocks_.insert(blocks_.end(), made.begin(), made.end());
  if (!cache.available()) return;
  // Recorded only once written: the host may give back the pages of a constant's mapping as
  // soon as a copy of it is stored.
  for (const Upload& u : uploads) {
    sdk::ValueView value = g.value(u.value);
    if (!value.nbytes()) continue;
    const uint64_t nbytes = stored_bytes(u.value);
    uint64_t id = u.id;
    if (!id) {
      UploadRecord mine;
      mine.id = next_record_id++;
      mine.bytes = nbytes;
      // Another session may have stored a record first: the host returns that one, and this
      // upload then serves under its id (if that one's upload is gone) or stays this
      // executable's own.
      id = read_record(cache.store(value, key_of(u.value), bytes_of(mine)), std::string(value.name())).id;
      if (id != mine.id && registry.find(id, nbytes).block) continue;
    }
    registry.add(id, made[u.block], u.offset, nbytes);
  }
}

}  // namespace loom::vulkan
