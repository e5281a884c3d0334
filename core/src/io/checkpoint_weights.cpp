#include "io/checkpoint_weights.hpp"

#include "io/regular_file.hpp"
#include "io/safetensors_index.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace loom {
namespace {

namespace fs = std::filesystem;

// The safetensors spelling of each dtype the reader accepts.
const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
  }
  return "?";
}

CheckpointTensor tensor_of(const SafetensorsEntry& e, const std::string& file) {
  return CheckpointTensor{e.name, file, e.dtype, e.shape, e.end - e.begin};
}

CheckpointWeights open_single(const fs::path& dir, const std::string& weights, WeightFiles& files) {
  CheckpointWeights w;
  auto file = files.open(dir / weights);
  w.header_json = file->header_json();
  auto checkpoint = std::make_shared<Checkpoint>(Checkpoint{dir, weights, {}});
  for (const auto& e : file->entries()) checkpoint->tensors.push_back(tensor_of(e, weights));
  w.checkpoint = std::move(checkpoint);
  w.files.push_back(std::move(file));
  return w;
}

CheckpointWeights open_sharded(const fs::path& dir, const std::string& weights, WeightFiles& files) {
  const fs::path index_path = dir / weights;
  const std::string index_name = index_path.string();
  auto fail = [&](const std::string& problem) -> Error { return Error(printable(index_name + ": " + problem)); };
  const SafetensorsIndex index = parse_safetensors_index(io::read_text_file(index_path, "the safetensors index"), index_name);
  // Shard names are plain file names (parse_safetensors_index): each lies in the index's folder.
  const fs::path index_dir = fs::path(weights).parent_path();

  CheckpointWeights w;
  auto checkpoint = std::make_shared<Checkpoint>(Checkpoint{dir, weights, {}});
  std::map<std::string, std::pair<const SafetensorsEntry*, const std::string*>> where;  // tensor -> entry, shard
  for (const auto& [shard, first_tensor] : index.shards) {
    std::shared_ptr<SafetensorsFile> file;
    try {
      file = files.open(dir / index_dir / shard);
    } catch (const Error& e) {
      throw fail("weight_map: '" + first_tensor + "' -> '" + shard + "': " + e.what());
    }
    for (const auto& e : file->entries()) {
      auto [it, fresh] = where.emplace(e.name, std::make_pair(&e, &shard));
      if (!fresh) throw fail("tensor '" + e.name + "' is in two shards, '" + *it->second.second + "' and '" + shard + "'");
    }
    w.files.push_back(std::move(file));
  }
  for (const auto& [tensor, shard] : index.weight_map) {
    auto it = where.find(tensor);
    if (it == where.end() || *it->second.second != shard)
      throw fail("weight_map: '" + tensor + "' -> '" + shard + "': the shard has no tensor '" + tensor + "'" +
                 (it == where.end() ? "" : " (it is in '" + *it->second.second + "')"));
  }
  // Every tensor of every shard, those the weight_map leaves out included: a shard is read whole,
  // as Hugging Face's loader reads it.
  nlohmann::json header = nlohmann::json::object();
  for (const auto& [name, at] : where) {
    const SafetensorsEntry& e = *at.first;
    const std::string file = (index_dir / *at.second).generic_string();
    header[name] = {{"dtype", safetensors_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}, {"file", file}};
    checkpoint->tensors.push_back(tensor_of(e, file));
  }
  w.header_json = header.dump();
  w.checkpoint = std::move(checkpoint);
  return w;
}

}  // namespace

bool is_safetensors_index(const fs::path& file) { return file.extension() == ".json"; }

std::string default_checkpoint_weights(const fs::path& dir) {
  std::error_code ec;
  // A link counts as there even when it leads nowhere: opening it then says why.
  for (const char* name : {"model.safetensors", "model.safetensors.index.json"})
    if (fs::exists(fs::symlink_status(dir / name, ec))) return name;
  throw Error(printable(dir.string()) + ": the checkpoint has neither model.safetensors nor model.safetensors.index.json");
}

CheckpointWeights open_checkpoint_weights(const fs::path& dir, const std::string& weights, WeightFiles& files) {
  return is_safetensors_index(weights) ? open_sharded(dir, weights, files) : open_single(dir, weights, files);
}

}  // namespace loom
