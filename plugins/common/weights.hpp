// The tensors of a checkpoint, as the model request's weights_header lists them (a safetensors
// header; for a sharded checkpoint each entry also names its shard in "file"), looked up under
// the names Hugging Face's from_pretrained accepts: with or without the base model's prefix
// ("bert.", "transformer.") and with the legacy LayerNorm names gamma / beta.
#pragma once

#include <loom/plugin_sdk.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace loom::models {

struct Weight {
  std::string tensor;  // its name in the file
  std::string file;    // its safetensors file, relative to the checkpoint folder
  std::string dtype;   // "F32", "F16", "BF16"
  std::vector<int64_t> shape;
};

class Weights {
 public:
  // `prefix` is the base model's prefix with its dot ("bert.").
  Weights(const sdk::ModelRequest& request, std::string prefix);

  // A tensor of the base model (`embeddings.word_embeddings.weight`), found with or without the
  // prefix; nullopt when absent. A found tensor must have `shape` and a float dtype.
  std::optional<Weight> base(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;
  // An integer tensor of the base model (I64 or I32: a saved index buffer such as Swin's
  // relative_position_index), found as `base` finds it.
  std::optional<Weight> base_index(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;
  // A tensor of a head, named as written (`cls.predictions.bias`, `lm_head.weight`).
  std::optional<Weight> head(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;
  // As above, but a missing tensor is an error that names it and `why` it is needed.
  Weight require_base(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;
  Weight require_head(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;

  // The weights file named in errors.
  const std::string& where() const { return where_; }
  size_t size() const { return entries_.size(); }

 private:
  std::optional<Weight> lookup(const std::vector<std::string>& names, const std::vector<int64_t>& shape,
                               const std::string& why, bool integer = false) const;

  std::string where_, default_file_, prefix_;
  std::map<std::string, Weight> entries_;
};

}  // namespace loom::models
