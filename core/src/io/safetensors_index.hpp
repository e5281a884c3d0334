// The index of a sharded safetensors checkpoint, as Hugging Face writes it next to the shards
// (model.safetensors.index.json):
//   {"metadata": {"total_size": 123}, "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}
// Only weight_map is read; other keys are skipped whatever they hold.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace loom {

// Most distinct shard files one index may name: far above any published checkpoint, and low
// enough that mapping every shard stays within the process's limits.
inline constexpr size_t kMaxSafetensorsShards = 10000;

struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  std::map<std::string, std::string> shards;      // shard file name -> the first tensor mapped to it
};

// Parses the text of an index; `name` (its path) starts every error. Throws loom::Error for: text
// that is not JSON or not a JSON object, no "weight_map" object (or two), a value in it that is not
// a string, a tensor named twice, a shard name that is not a plain file name inside the
// checkpoint folder (empty, ".", "..", holding '/' or NUL), more than kMaxSafetensorsShards shards.
// Errors name the entry ("weight_map: 'tensor': ...").
SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& name);

}  // namespace loom
