#include "config.hpp"

#include <loom/plugin_sdk.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loom::models {

using sdk::Error;
using Json = nlohmann::json;

namespace {
// The largest text file a checkpoint folder may hold beside its weights (tokenizer.json of a
// large vocabulary is tens of megabytes).
constexpr std::streamoff kMaxFileBytes = 256 << 20;
// Deeper JSON than any checkpoint file has: what reads it (and prints it in messages) recurses.
constexpr int kMaxDepth = 64;
struct TooDeep {};
}  // namespace

JsonFile::JsonFile(std::string file, const std::string& text) : file_(std::move(file)) {
  try {
    json_ = Json::parse(text, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const Json::exception& e) {
    throw Error(file_ + ": not valid JSON: " + e.what(), LOOM_STATUS_INVALID_ARGUMENT);
  } catch (const TooDeep&) {
    throw Error(file_ + ": nested deeper than " + std::to_string(kMaxDepth) + " levels", LOOM_STATUS_INVALID_ARGUMENT);
  }
  if (!json_.is_object()) throw Error(file_ + ": expected a JSON object", LOOM_STATUS_INVALID_ARGUMENT);
}

std::string read_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot be opened", LOOM_STATUS_INVALID_ARGUMENT);
  const std::streamoff size = in.tellg();
  if (size < 0 || size > kMaxFileBytes)
    throw Error(path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes, or unreadable", LOOM_STATUS_INVALID_ARGUMENT);
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) throw Error(path + ": could not be read", LOOM_STATUS_INVALID_ARGUMENT);
  return text;
}

JsonFile JsonFile::read_optional(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))  // a folder, a FIFO: never read
    throw Error(path + ": not a regular file", LOOM_STATUS_INVALID_ARGUMENT);
  if (!std::filesystem::is_regular_file(status)) {
    JsonFile f(path, "{}");
    f.exists_ = false;
    return f;
  }
  return JsonFile(path, read_checkpoint_file(path));
}

bool JsonFile::has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

void JsonFile::fail(const std::string& key, const std::string& what) const {
  throw Error(file_ + ": " + prefix_ + key + ": " + what, LOOM_STATUS_INVALID_ARGUMENT);
}

JsonFile JsonFile::section(const std::string& key, const std::string& legacy_key) const {
  // transformers builds the sub-config from the legacy dict alone (the class defaults under it)
  // and lets that replace every value of the new key.
  const std::string& k = !legacy_key.empty() && has(legacy_key) ? legacy_key : key;
  JsonFile s;
  s.file_ = file_;
  s.prefix_ = prefix_ + k + ".";
  s.json_ = Json::object();
  if (!has(k)) return s;
  if (!json_[k].is_object()) fail(k, "expected an object, got " + json_[k].dump());
  s.json_ = json_[k];
  return s;
}

int64_t JsonFile::integer(const std::string& key, int64_t min, int64_t max, std::optional<int64_t> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail(key, "missing");
  }
  const nlohmann::json& v = json_[key];
  if (!v.is_number_integer()) fail(key, "expected an integer, got " + v.dump());
  // Unsigned values above INT64_MAX read back negative through get<int64_t>: check the sign first.
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max))
    fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + v.dump());
  const int64_t i = v.get<int64_t>();
  if (i < min || i > max)
    fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + v.dump());
  return i;
}

std::vector<int64_t> JsonFile::integers(const std::string& key, int64_t min, int64_t max) const {
  if (!has(key)) fail(key, "missing");
  const nlohmann::json& v = json_[key];
  if (!v.is_array()) return {integer(key, min, max)};
  constexpr size_t kMost = 256;
  if (v.empty() || v.size() > kMost)
    fail(key, "expected an integer or a list of 1 to " + std::to_string(kMost) + " integers, got a list of " + std::to_string(v.size()));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const nlohmann::json& e = v[i];
    const bool in_range = e.is_number_integer() && !(e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(max)) &&
                          e.get<int64_t>() >= min && e.get<int64_t>() <= max;
    if (!in_range)
      fail(key + "[" + std::to_string(i) + "]",
           "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + e.dump());
    out.push_back(e.get<int64_t>());
  }
  return out;
}

double JsonFile::number(const std::string& key, std::optional<double> fallback, bool positive) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail(key, "missing");
  }
  const nlohmann::json& v = json_[key];
  if (!v.is_number()) fail(key, "expected a number, got " + v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d) || (positive && !(d > 0))) fail(key, std::string("expected a finite") + (positive ? " positive" : "") + " number, got " + v.dump());
  return d;
}

std::string JsonFile::string(const std::string& key, std::optional<std::string> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail(key, "missing");
  }
  const nlohmann::json& v = json_[key];
  if (!v.is_string()) fail(key, "expected a string, got " + v.dump());
  return v.get<std::string>();
}

bool JsonFile::boolean(const std::string& key, std::optional<bool> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail(key, "missing");
  }
  const nlohmann::json& v = json_[key];
  if (!v.is_boolean()) fail(key, "expected true or false, got " + v.dump());
  return v.get<bool>();
}

bool JsonFile::flag(const std::string& key, bool fallback) const {
  if (json_.contains(key) && json_[key].is_null()) return false;
  return boolean(key, fallback);
}

std::string JsonFile::first_of(std::initializer_list<const char*> keys) const {
  for (const char* k : keys)
    if (has(k)) return k;
  return "";
}

std::string JsonFile::architecture(const std::string& fallback) const {
  if (!has("architectures")) return fallback;
  const auto& a = json_["architectures"];
  if (!a.is_array() || a.empty() || !a[0].is_string()) fail("architectures", "expected a list of class names");
  return a[0].get<std::string>();
}

std::optional<std::string> JsonFile::token(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const nlohmann::json& v = json_[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail(key, "expected a token string or an object with a \"content\" string, got " + v.dump());
}

std::vector<std::string> read_labels(const JsonFile& config) {
  std::vector<std::string> labels;
  const bool has_map = config.has("id2label");
  if (has_map && !config.json()["id2label"].is_object()) config.fail("id2label", "expected an object {\"0\": label, ...}");
  if (!has_map) {
    const int64_t n = config.integer("num_labels", 1, 1 << 20, 2);
    for (int64_t i = 0; i < n; ++i) labels.push_back("LABEL_" + std::to_string(i));
    return labels;
  }
  // Where both are given, transformers keeps id2label and its count (num_labels only warns).
  const Json& m = config.json()["id2label"];
  const int64_t n = static_cast<int64_t>(m.size());
  if (n < 1 || n > (1 << 20)) config.fail("id2label", "expected 1 to " + std::to_string(1 << 20) + " labels, got " + std::to_string(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    if (!m.contains(id) || !m[id].is_string()) config.fail("id2label", "no string label for class \"" + id + "\"");
    labels.push_back(m[id].get<std::string>());
  }
  return labels;
}

// A patch size as config.json would write it: "16", or "[4, 3]" (appended piece by piece: GCC 12
// warns falsely, -Wrestrict, on "[" + std::to_string(...)).
std::string size_text(int64_t height, int64_t width) {
  if (height == width) return std::to_string(height);
  std::string out = "[";
  out += std::to_string(height);
  out += ", ";
  out += std::to_string(width);
  out += ']';
  return out;
}

void read_size_pair(const JsonFile& c, const char* key, int64_t fallback, int64_t& height, int64_t& width) {
  if (!c.has(key)) {
    height = width = fallback;
    return;
  }
  const nlohmann::json& j = c.json()[key];
  if (j.is_array() && j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer()) {
    height = j[0].get<int64_t>();
    width = j[1].get<int64_t>();
  } else {
    height = width = c.integer(key, 1, 1 << 16);
  }
  if (height < 1 || width < 1 || height > (1 << 16) || width > (1 << 16))
    c.fail(key, "expected sizes between 1 and 65536, got " + j.dump());
}

void check_not_pruned(const JsonFile& config) {
  if (!config.has("pruned_heads")) return;
  const Json& p = config.json()["pruned_heads"];
  if (!(p.is_object() || p.is_array()) || !p.empty())
    config.fail("pruned_heads", "pruned attention heads are not supported (expected {} or nothing, got " + p.dump().substr(0, 200) + ")");
}

std::string read_activation(const JsonFile& config, const std::string& key, const std::string& fallback) {
  // ACT2FN's names: gelu_python is erf GELU written out in Python, linear the identity, swish
  // the old name of silu. A null is no activation transformers can look up (ACT2FN[None]).
  if (config.json().contains(key) && config.json()[key].is_null()) config.fail(key, "expected a string, got null");
  const std::string name = config.string(key, fallback);
  if (name == "gelu" || name == "gelu_python") return "gelu";
  if (name == "linear") return "none";
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return "gelu_tanh";
  if (name == "quick_gelu") return "quick_gelu";
  if (name == "silu" || name == "swish") return "silu";
  if (name == "relu") return "relu";
  if (name == "tanh") return "tanh";
  config.fail(key, "'" + name +
                       "' is not supported (gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, silu, "
                       "swish, relu, tanh, linear)");
}

}  // namespace loom::models
