#include "weights.hpp"

#include <nlohmann/json.hpp>

namespace loom::models {

using sdk::Error;
using nlohmann::json;

namespace {

std::string shape_str(const std::vector<int64_t>& s) { return json(s).dump(); }

// The legacy spellings of a LayerNorm parameter: `LayerNorm.weight` was `LayerNorm.gamma`.
std::vector<std::string> spellings(const std::string& name) {
  std::vector<std::string> out{name};
  auto swap_suffix = [&](const std::string& from, const std::string& to) {
    if (name.size() > from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0)
      out.push_back(name.substr(0, name.size() - from.size()) + to);
  };
  swap_suffix(".weight", ".gamma");
  swap_suffix(".bias", ".beta");
  return out;
}

}  // namespace

Weights::Weights(const sdk::ModelRequest& request, std::string prefix)
    : where_(request.checkpoint_dir + "/" + request.weights_file), default_file_(request.weights_file),
      prefix_(std::move(prefix)) {
  json header;
  try {
    header = json::parse(request.weights_header);
  } catch (const json::exception& e) {
    throw Error(where_ + ": header is not valid JSON: " + e.what(), LOOM_STATUS_INVALID_ARGUMENT);
  }
  if (!header.is_object()) throw Error(where_ + ": header is not a JSON object", LOOM_STATUS_INVALID_ARGUMENT);
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__") continue;
    // The host checked the header; an entry of another form is skipped rather than trusted.
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") || !t["shape"].is_array())
      continue;
    Weight w;
    w.tensor = name;
    w.dtype = t["dtype"].get<std::string>();
    w.file = t.contains("file") && t["file"].is_string() ? t["file"].get<std::string>() : default_file_;
    bool ok = true;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer()) ok = false;
      else w.shape.push_back(d.get<int64_t>());
    }
    if (ok) entries_.emplace(name, std::move(w));
  }
}

std::optional<Weight> Weights::lookup(const std::vector<std::string>& names, const std::vector<int64_t>& shape,
                                      const std::string& why, bool integer) const {
  for (const std::string& n : names) {
    auto it = entries_.find(n);
    if (it == entries_.end()) continue;
    const Weight& w = it->second;
    if (w.shape != shape)
      throw Error(where_ + ": tensor '" + n + "' has shape " + shape_str(w.shape) + ", expected " + shape_str(shape) + " (" +
                      why + ")",
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (integer && w.dtype != "I64" && w.dtype != "I32")
      throw Error(where_ + ": tensor '" + n + "' is " + w.dtype + "; an index must be I64 or I32", LOOM_STATUS_INVALID_ARGUMENT);
    if (!integer && w.dtype != "F32" && w.dtype != "F16" && w.dtype != "BF16")
      throw Error(where_ + ": tensor '" + n + "' is " + w.dtype + "; weights must be F32, F16 or BF16", LOOM_STATUS_INVALID_ARGUMENT);
    return w;
  }
  return std::nullopt;
}

std::optional<Weight> Weights::base(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const {
  std::vector<std::string> names;
  for (const std::string& s : spellings(name)) {
    names.push_back(prefix_ + s);
    names.push_back(s);
  }
  return lookup(names, shape, why);
}

std::optional<Weight> Weights::base_index(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const {
  return lookup({prefix_ + name, name}, shape, why, true);
}

std::optional<Weight> Weights::head(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const {
  return lookup(spellings(name), shape, why);
}

Weight Weights::require_base(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const {
  if (auto w = base(name, shape, why)) return *w;
  throw Error(where_ + ": tensor '" + prefix_ + name + "' is missing (" + why + ")", LOOM_STATUS_INVALID_ARGUMENT);
}

Weight Weights::require_head(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const {
  if (auto w = head(name, shape, why)) return *w;
  throw Error(where_ + ": tensor '" + name + "' is missing (" + why + ")", LOOM_STATUS_INVALID_ARGUMENT);
}

}  // namespace loom::models
