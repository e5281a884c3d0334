// A checkpoint's config.json (and its other JSON files: tokenizer_config.json,
// generation_config.json), read with errors that name the file and the key.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loom::models {

// A checkpoint file's whole text; an error names the file when it cannot be read or is larger
// than any tokenizer or config file of a real checkpoint (256 MiB).
std::string read_checkpoint_file(const std::string& path);

class JsonFile {
 public:
  // Parses `text`; `file` names it in errors. A file that is not a JSON object is an error.
  JsonFile(std::string file, const std::string& text);
  // Reads `dir/name` when it exists (an empty object otherwise; `exists()` tells); a folder or
  // another file that is not a regular one under that name is an error.
  static JsonFile read_optional(const std::string& dir, const std::string& name);

  const std::string& file() const { return file_; }
  bool exists() const { return exists_; }
  const nlohmann::json& json() const { return json_; }
  // Whether the key is present and not null.
  bool has(const std::string& key) const;

  // An integer in [min, max]; `fallback` when absent (an error when there is none).
  int64_t integer(const std::string& key, int64_t min, int64_t max, std::optional<int64_t> fallback = std::nullopt) const;
  // One integer or a non-empty list of at most 256 (Hugging Face's eos_token_id), each in
  // [min, max]; the key must be present.
  std::vector<int64_t> integers(const std::string& key, int64_t min, int64_t max) const;
  // A finite number; `positive` refuses 0 and negatives.
  double number(const std::string& key, std::optional<double> fallback = std::nullopt, bool positive = false) const;
  std::string string(const std::string& key, std::optional<std::string> fallback = std::nullopt) const;
  bool boolean(const std::string& key, std::optional<bool> fallback = std::nullopt) const;
  // A setting transformers tests as `if config.key:`: absent, `fallback`; null, false (None is
  // falsy: a config class given None keeps it, whatever its default).
  bool flag(const std::string& key, bool fallback) const;
  // The first present key of several aliases (GPT-2's n_embd / hidden_size), or "".
  std::string first_of(std::initializer_list<const char*> keys) const;
  // `architectures[0]`, the class a checkpoint was saved from; `fallback` when the key is absent.
  std::string architecture(const std::string& fallback) const;
  // A special token: a string, or an AddedToken object {"content": ...}; nullopt when absent or null.
  std::optional<std::string> token(const std::string& key) const;

  // The object under `key` as a file of its own, or the one under `legacy_key` where the file has
  // it, which then replaces it whole, the class defaults under it (CLIP's text_config and its old
  // text_config_dict, as CLIPConfig reads them). Absent: an empty object (the defaults). Errors
  // name the key path ("config.json: text_config.hidden_size: ...").
  JsonFile section(const std::string& key, const std::string& legacy_key = "") const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  JsonFile() = default;
  std::string file_, prefix_;
  nlohmann::json json_;
  bool exists_ = true;
};

// Hugging Face's id2label: labels by class id 0..n-1, as many as id2label holds (a num_labels
// beside it is ignored, as PretrainedConfig ignores it with a warning); without id2label,
// LABEL_i for num_labels, or 2 (PretrainedConfig's default).
std::vector<std::string> read_labels(const JsonFile& config);

// A size as config.json would write it: "16", or "[4, 3]" for height 4 and width 3.
std::string size_text(int64_t height, int64_t width);
// image_size or patch_size: an int, or [height, width] (each 1 to 65536), as transformers'
// ViTPatchEmbeddings and BeitPatchEmbeddings read them; `fallback` for both when absent.
void read_size_pair(const JsonFile& config, const char* key, int64_t fallback, int64_t& height, int64_t& width);

// Refuses a config whose heads were pruned (PretrainedConfig's pruned_heads, {layer: [heads]}):
// its attention weights are narrower than the head count says, which Loom does not build.
void check_not_pruned(const JsonFile& config);

// The HF activation that config.json names under `key` (`fallback` when absent) as the linear
// op's `activation` attribute; an error naming the key for one Loom lacks.
std::string read_activation(const JsonFile& config, const std::string& key, const std::string& fallback);

}  // namespace loom::models
