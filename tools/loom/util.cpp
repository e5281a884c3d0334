#include "commands.hpp"

#include <loom/io.hpp>

#include <charconv>
#include <cstdio>

namespace loom::cli {

Engine make_engine(const PluginOptions& p, bool strict) {
  EngineOptions o;
  for (const auto& f : p.files) o.plugin_files.emplace_back(f);
  o.search_default_paths = !p.no_default_paths;
  Engine engine(o);
  // An explicitly named plugin that fails to load is an error, not a silent fallback.
  if (strict)
    for (const auto& r : engine.plugins())
      if (r.origin == "--plugin" && !r.loaded) throw std::runtime_error("--plugin " + r.path.string() + ": " + r.error);
  return engine;
}

std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw UsageError(std::string(option) + " expects NAME=VALUE, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::map<std::string, std::string> parse_options(const std::vector<std::string>& options) {
  std::map<std::string, std::string> out;
  for (const auto& text : options) {
    auto [key, value] = split_assignment(text, "--option");
    if (!out.emplace(key, value).second) throw UsageError("--option " + key + " is given twice");
  }
  return out;
}

std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& dims) {
  std::map<std::string, int64_t> out;
  for (const auto& d : dims) {
    auto [name, value] = split_assignment(d, "--dim");
    int64_t v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || v < 0)
      throw UsageError("--dim " + d + ": the value must be a non-negative integer");
    out[name] = v;
  }
  return out;
}

TensorMap read_inputs(const std::vector<std::string>& inputs) {
  TensorMap out;
  for (const auto& in : inputs) {
    auto [name, file] = split_assignment(in, "--input");
    if (out.count(name)) throw UsageError("--input " + name + " is given twice");
    out.emplace(name, read_npy(file));
  }
  return out;
}

std::string human_bytes(uint64_t bytes) {
  char buf[64];
  if (bytes >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(uint64_t(1) << 30));
  else if (bytes >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(uint64_t(1) << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

OptimizeLevel optimize_level(const std::string& level) {
  auto l = parse_optimize_level(level);
  if (!l) throw UsageError("--optimize " + level + ": expected none, basic or all");
  return *l;
}

}  // namespace loom::cli
