// The weights of a Hugging Face checkpoint folder as its model plugin is offered them
// (docs/plugins.md, "Model plugins"): one safetensors file (model.safetensors), or the shards a
// safetensors index names (model.safetensors.index.json), each mapped once, with one header that
// merges theirs.
#pragma once

#include "io/weight_files.hpp"

#include <loom/graph.hpp>
#include <loom/io.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace loom {

struct CheckpointWeights {
  // The plugin's weights_header: a single file's own header, as it is; for a sharded checkpoint
  // {name: {dtype, shape, data_offsets, file}} over every tensor of every shard, where `file` is
  // the shard holding it (relative to the checkpoint folder) and data_offsets are in that shard.
  std::string header_json;
  std::shared_ptr<const Checkpoint> checkpoint;
  std::vector<std::shared_ptr<SafetensorsFile>> files;  // the file, or every shard once
};

// A file name ending in ".json" is read as a safetensors index, any other as a safetensors file.
bool is_safetensors_index(const std::filesystem::path& file);

// The weights of the folder `dir` when nothing names them: model.safetensors, or, when the folder
// has none, model.safetensors.index.json. Throws loom::Error naming the folder when it has neither.
std::string default_checkpoint_weights(const std::filesystem::path& dir);

// Opens `weights` (relative to `dir`) through `files`. For an index, every shard it names is
// opened once and checked against it: a shard that cannot be opened or read as safetensors, a
// tensor of the weight_map that its shard lacks, and a tensor that two shards hold are errors
// naming the index and the entry (parse_safetensors_index lists the rest). Shards are read from
// the index's folder.
CheckpointWeights open_checkpoint_weights(const std::filesystem::path& dir, const std::string& weights, WeightFiles& files);

}  // namespace loom
