// Any bytes given to the safetensors index reader either parse into a weight_map whose shards are
// plain file names, at most kMaxSafetensorsShards of them, or give loom::Error; anything else (a
// crash, another exception, a sanitizer report) is a bug.
#include "io/safetensors_index.hpp"

#include <loom/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const loom::SafetensorsIndex index =
        loom::parse_safetensors_index(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.index.json");
    if (index.shards.size() > loom::kMaxSafetensorsShards) std::abort();
    for (const auto& [tensor, shard] : index.weight_map) {
      if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
          shard.find('\0') != std::string::npos || !index.shards.count(shard))
        std::abort();
    }
    for (const auto& [shard, first] : index.shards)
      if (index.weight_map.at(first) != shard) std::abort();
  } catch (const loom::Error&) {
  }
  return 0;
}
