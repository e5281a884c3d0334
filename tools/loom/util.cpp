#include "commands.hpp"

#include <loom/io.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

namespace loom::cli {

Engine make_engine(const PluginOptions& p, bool strict, decltype(EngineOptions::screen) screen) {
  EngineOptions o;
  for (const auto& f : p.files) o.plugin_files.emplace_back(f);
  o.search_default_paths = !p.no_default_paths;
  o.screen = std::move(screen);
  Engine engine(o);
  // An explicitly named plugin that fails to load is an error, not a silent fallback.
  if (strict)
    for (const auto& r : engine.plugins_as_loaded())  // --plugin files are started as they load
      if (r.origin == "--plugin" && !r.loaded) throw std::runtime_error("--plugin " + r.path.string() + ": " + r.error);
  return engine;
}

std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw UsageError(std::string(option) + " expects NAME=VALUE, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& dims) {
  std::map<std::string, int64_t> out;
  for (const auto& d : dims) {
    auto [name, value] = split_assignment(d, "--dim");
    int64_t v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || v < 1)
      throw UsageError("--dim " + d + ": the value must be a whole number >= 1");
    if (out.count(name)) throw UsageError("--dim " + name + " is given twice");
    out[name] = v;
  }
  return out;
}

void check_dims(const Session& s, const std::map<std::string, int64_t>& dims) {
  const Graph& g = s.graph();
  std::set<std::string> symbols;
  for (const auto& in : g.inputs)
    for (const Dim& d : in.info.shape) symbols.insert(d.symbols().begin(), d.symbols().end());
  for (const auto& [name, value] : dims)
    if (!symbols.count(name))
      throw UsageError("--dim " + name + "=" + std::to_string(value) + ": graph '" + g.name + "' has no symbol '" + name +
                       "' (" + (symbols.empty() ? "its shapes are all fixed" : "its symbols: " + join({symbols.begin(), symbols.end()})) + ")");
  // The bounds the graph declares (a checkpoint's position table) and those its nodes imply.
  for (const SymbolBound& b : g.symbols) {
    auto it = dims.find(b.name);
    if (it != dims.end() && it->second > b.max)
      throw UsageError("--dim " + b.name + "=" + std::to_string(it->second) + ": graph '" + g.name + "' takes " + b.name +
                       " <= " + std::to_string(b.max) + " (its declared bound)");
  }
  for (const SymbolLimit& limit : s.symbol_limits()) {
    auto it = dims.find(limit.symbol);
    if (it != dims.end() && it->second > limit.max)
      throw UsageError("--dim " + limit.symbol + "=" + std::to_string(it->second) + ": graph '" + g.name + "' takes " +
                       limit.str());
  }
}

std::map<std::string, std::string> input_files(const std::vector<std::string>& inputs) {
  std::map<std::string, std::string> out;
  for (const auto& in : inputs) {
    auto [name, file] = split_assignment(in, "--input");
    if (!out.emplace(name, file).second) throw UsageError("--input " + name + " is given twice");
  }
  return out;
}

TensorMap read_inputs(const std::map<std::string, std::string>& files) {
  TensorMap out;
  for (const auto& [name, file] : files) out.emplace(name, read_npy(file));
  return out;
}

TensorMap read_inputs(const std::vector<std::string>& inputs) { return read_inputs(input_files(inputs)); }

void check_input_names(const Graph& g, const TensorMap& inputs, bool all_required) {
  std::map<std::string, std::string> given;
  for (const auto& [name, t] : inputs) given.emplace(name, "");
  check_input_names(g, given, all_required);
}

void check_input_names(const Graph& g, const std::map<std::string, std::string>& inputs, bool all_required) {
  std::vector<std::string> names, unknown, missing;
  for (const auto& in : g.inputs) {
    names.push_back(printable(in.name));
    // An input with a default may be left out (docs/graph-format.md).
    if (all_required && !in.default_value && !inputs.count(in.name)) missing.push_back(quoted(in.name));
  }
  for (const auto& entry : inputs) {
    const std::string& name = entry.first;
    if (std::none_of(g.inputs.begin(), g.inputs.end(), [&](const GraphInput& in) { return in.name == name; }))
      unknown.push_back(quoted(name));
  }
  std::string problems;
  if (!unknown.empty()) problems = "--input " + join(unknown) + (unknown.size() == 1 ? " is not an input" : " are not inputs");
  if (!missing.empty())
    problems += (problems.empty() ? "" : "; ") + std::string("no --input for ") + join(missing);
  if (!problems.empty())
    throw UsageError("graph '" + g.name + "': " + problems + " (its inputs: " + join(names) + ")");
}

SessionOptions session_options(const std::string& backends, int threads, const std::vector<std::string>& options,
                               const std::string& optimize, const std::string& precision) {
  SessionOptions o;
  for (size_t start = 0; !backends.empty() && start <= backends.size();) {
    const size_t comma = std::min(backends.find(',', start), backends.size());
    if (comma == start) throw UsageError("--backend " + backends + ": an empty backend name (expected NAME[,NAME...])");
    o.backends.push_back(backends.substr(start, comma - start));
    start = comma + 1;
  }
  o.threads = threads;
  for (const auto& text : options) {
    auto [key, value] = split_assignment(text, "--option");
    if (!o.options.emplace(key, value).second) throw UsageError("--option " + key + " is given twice");
    // A near miss of a session option (precison=bf16) would reach every backend, which would
    // each call it unknown to itself.
    if (key.find('.') == std::string::npos)
      for (const char* known : {"precision", "kv_cache", "fallback", "profile"})
        if (key != known && edit_distance(key, known) <= 2)
          throw UsageError("--option " + key + "=" + value + ": no such option; did you mean '" + known + "'?");
  }
  if (!precision.empty()) {
    // The session option every backend understands (docs/plugins.md); a backend that cannot
    // compute in it refuses the session.
    if (o.options.count("precision")) throw UsageError("--precision and --option precision= are both given");
    o.options["precision"] = precision;
  }
  o.optimize = optimize_level(optimize);
  return o;
}

OptimizeLevel optimize_level(const std::string& level) {
  auto l = parse_optimize_level(level);
  if (!l) throw UsageError("--optimize " + level + ": expected none, basic or all");
  return *l;
}

std::string human_bytes(uint64_t bytes) {
  char buf[64];
  if (bytes >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(uint64_t(1) << 30));
  else if (bytes >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(uint64_t(1) << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else out += static_cast<char>(c);
  }
  return out;
}

std::string quoted(const std::string& name) {
  // Appended rather than "'" + ...: GCC 12 warns (-Wrestrict) about that form in error paths.
  std::string out = "'";
  out += printable(name);
  out += "'";
  return out;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The model's graph for --task T; a model without that task is a usage error (exit 2), a model
// that cannot be read at all stays a plain error (exit 1).
Graph task_graph(const Engine& engine, const std::string& model, const std::string& task) {
  if (task.empty()) return engine.load_graph(model);
  std::string why;
  try {
    return engine.load_graph(model, task);
  } catch (const Error& e) {
    why = e.what();
  }
  (void)engine.load_graph(model);  // unreadable: that error, exit 1
  throw UsageError("--task " + task + ": " + printable(model) + " has no graph for it (" + why + ")");
}

std::string option_names(std::string message, const std::string& text_option) {
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"pair text ", "--text-pair #"}, {"text ", text_option + " #"}, {"image ", "--image #"}})
    if (message.rfind(from, 0) == 0) {
      const size_t end = message.find_first_not_of("0123456789", from.size());
      if (end == from.size() || end == std::string::npos || (message[end] != ':' && message[end] != ' ')) return message;
      return to + std::to_string(std::stoull(message.substr(from.size(), end - from.size())) + 1) + message.substr(end);
    }
  return message;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace loom::cli
