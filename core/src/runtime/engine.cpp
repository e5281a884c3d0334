#include "graph/processing.hpp"
#include "io/checkpoint_weights.hpp"
#include "graph/program.hpp"
#include "passes/passes.hpp"
#include "graph/yaml_load.hpp"
#include "io/regular_file.hpp"
#include "plan/placement.hpp"
#include "plugins/plugin_host.hpp"
#include "runtime/session_impl.hpp"

#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace loom {

class EngineImpl {
 public:
  explicit EngineImpl(const EngineOptions& o) : registry(o) {}
  plugins::PluginRegistry registry;
  // What the engine's sessions share: weight files mapped once, backends' packed constants.
  std::shared_ptr<WeightFiles> weight_files = std::make_shared<WeightFiles>();
  std::shared_ptr<PackedConstants> packed = std::make_shared<PackedConstants>();
};

namespace {

// A model manifest: `model: <plugin name>`, `checkpoint: <folder>`, optional `task:` and
// `weights:` (a safetensors file or index in the checkpoint folder; default model.safetensors, or
// model.safetensors.index.json when only that is there). Paths are relative to the manifest's
// folder. A checkpoint folder read without a manifest is one with no `model` (the plugin is the
// one that accepts config.json's model_type) and the plugin's default task.
struct Manifest {
  std::string model, task, weights;
  std::filesystem::path checkpoint;
};

// A model manifest is told from a graph by its keys; both were read by yaml::load_document.
std::optional<Manifest> read_manifest(const std::filesystem::path& file, const YAML::Node& root) {
  if (!root.IsMap() || !root["model"] || root["loom"]) return std::nullopt;
  auto where = [&](const YAML::Node& n) {
    return printable(file.string()) + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
  };
  Manifest m;
  std::set<std::string> seen;
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) throw Error(where(kv.first) + ": the keys of a model manifest are strings (model, checkpoint, task, weights)");
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) throw Error(where(kv.first) + ": " + printable(key) + ": duplicate key");
    if (!kv.second.IsScalar()) throw Error(where(kv.second) + ": " + printable(key) + ": expected a string");
    const std::string value = kv.second.Scalar();
    if (key == "model") m.model = value;
    else if (key == "checkpoint") m.checkpoint = value;
    else if (key == "task") m.task = value;
    else if (key == "weights") m.weights = value;
    else throw Error(where(kv.first) + ": " + printable(key) + ": unknown key in a model manifest (allowed: model, checkpoint, task, weights)");
  }
  if (m.checkpoint.empty()) throw Error(where(root) + ": checkpoint: missing (the folder holding config.json and the weights)");
  if (m.checkpoint.is_relative()) m.checkpoint = file.parent_path() / m.checkpoint;
  return m;
}

Graph expand_manifest(const EngineImpl& engine, const std::filesystem::path& file, const Manifest& m) {
  const plugins::PluginRegistry& registry = engine.registry;
  const auto config_path = m.checkpoint / "config.json";
  const std::string config = io::read_text_file(config_path, "the checkpoint's config.json");
  const std::string config_name = printable(config_path.string());
  std::string model_type;
  try {
    auto j = nlohmann::json::parse(config);
    if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string())
      throw Error(config_name + ": no \"model_type\" string");
    model_type = j["model_type"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(config_name + ": not valid JSON: " + printable(e.what()));
  }
  auto plugin = m.model.empty() ? registry.model_for(model_type) : registry.model_named(m.model);
  if (!plugin && !m.model.empty()) plugin = registry.model_for(m.model);
  if (!plugin && m.model.empty())
    throw Error(printable(config_path.string() + ": no loaded model plugin accepts model_type '" + model_type + "' (see `loom plugins`)"));
  if (!plugin) throw Error(printable(file.string() + ": model: no loaded model plugin is named '" + m.model + "' (see `loom plugins`)"));
  const loom_model_plugin* api = plugin->descriptor().model;
  bool accepts = false;
  for (size_t i = 0; i < api->num_architectures; ++i) accepts |= model_type == api->architectures[i];
  if (!accepts)
    throw Error(printable(config_name + ": model_type '" + model_type + "' is not accepted by model plugin '" + plugin->name() + "'"));
  const std::string weights_file = m.weights.empty() ? default_checkpoint_weights(m.checkpoint) : m.weights;
  // Mapped through the engine's weight files: the sessions made from the graph find them mapped.
  const CheckpointWeights weights = open_checkpoint_weights(m.checkpoint, weights_file, *engine.weight_files);
  const std::string dir = m.checkpoint.string();
  loom_model_request req{sizeof(loom_model_request), model_type.c_str(), config.c_str(), dir.c_str(),
                         weights_file.c_str(), m.task.c_str(), weights.header_json.c_str()};
  loom_model_result* result = nullptr;
  plugins::check_status(api->expand(plugin->state(), &req, &result), "model plugin '" + plugin->name() + "' expanding " + file.string());
  // The processing spec comes inside the graph, as its `processing:` section.
  const std::string expanded_by = printable(file.string()) + " (expanded by " + printable(plugin->name()) + ")";
  // The plugin's text is held to the limit of a graph file read from disk.
  const size_t length = result && result->graph_yaml ? ::strnlen(result->graph_yaml, io::kMaxTextFileBytes + 1) : 0;
  std::string yaml = length ? std::string(result->graph_yaml, length) : "";
  api->release_result(plugin->state(), result);
  if (length > io::kMaxTextFileBytes)
    throw Error(expanded_by + ": the graph is larger than " + std::to_string(io::kMaxTextFileBytes) + " bytes, the most a graph may be");
  Graph g = parse_graph_yaml(yaml, expanded_by, m.checkpoint);
  g.path = file;
  g.checkpoint = weights.checkpoint;
  return g;
}

}  // namespace

Engine::Engine(EngineOptions options) : impl_(std::make_shared<EngineImpl>(options)) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const std::vector<PluginRecord>& Engine::plugins() const { return impl_->registry.records(); }
const std::vector<PluginRecord>& Engine::plugins_as_loaded() const { return impl_->registry.records_as_loaded(); }

const PluginRecord& Engine::load_plugin(const std::filesystem::path& file) { return impl_->registry.load_file(file, "api"); }

std::vector<std::string> Engine::backend_names() const {
  std::vector<std::string> names;
  for (const auto& b : impl_->registry.backends()) names.push_back(b->name());
  return names;
}

std::vector<std::string> Engine::default_backend_names() const {
  std::vector<std::string> names;
  for (const auto& b : impl_->registry.backends())
    if (!b->on_request()) names.push_back(b->name());
  return names;
}

Graph Engine::load_graph(const std::filesystem::path& file) const { return load_graph_for(file, std::nullopt); }

Graph Engine::load_graph(const std::filesystem::path& file, const std::string& task) const { return load_graph_for(file, task); }

Graph Engine::load_graph_for(const std::filesystem::path& file, const std::optional<std::string>& task) const {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    if (!std::filesystem::exists(file / "config.json", ec))
      throw Error(printable(file.string()) + ": a folder is read as a checkpoint, but it has no config.json");
    Manifest checkpoint;
    checkpoint.checkpoint = file;
    if (task) checkpoint.task = *task;
    return expand_manifest(*impl_, file, checkpoint);
  }
  const YAML::Node root = yaml::load_document(io::read_text_file(file, "the graph"), file.string());
  if (auto m = read_manifest(file, root)) {
    if (task) m->task = *task;
    return expand_manifest(*impl_, file, *m);
  }
  Graph g = yaml::read_graph_document(root, file.string(), file.parent_path());
  g.path = file;
  if (task && !task->empty()) {
    bool offered = false;
    std::string list;
    for (const auto& t : g.processing ? g.processing->tasks : std::vector<TaskSpec>{}) {
      offered |= t.task == *task;
      list += (list.empty() ? "" : ", ") + t.task;
    }
    if (!offered)
      throw Error(printable(file.string()) + ": the graph does not offer task '" + printable(*task) + "' (" +
                  (list.empty() ? std::string("it lists no tasks") : "its tasks: " + list) + ")");
  }
  return g;
}

void Engine::validate(const Graph& graph) const {
  build_program(graph, true, impl_->weight_files);
  check_processing_files(graph);
}

Graph Engine::optimize(const Graph& graph, OptimizeLevel level, OptimizationReport* report) const {
  OptimizationReport r;
  Graph g = passes::optimize(graph, level, r, impl_->weight_files)->graph;
  if (report) *report = std::move(r);
  return g;
}

Session Engine::compile(const Graph& graph, const SessionOptions& options) const {
  if (options.threads < 0 || options.threads > SessionOptions::max_threads)
    throw Error("session options: threads must be from 0 (the backend's default) to " +
                std::to_string(SessionOptions::max_threads) + ", got " + std::to_string(options.threads));
  if (options.max_plans == 0) throw Error("session option max_plans is 0: a session keeps at least one shape plan");
  OptimizationReport report;
  auto program = passes::optimize(graph, options.optimize, report, impl_->weight_files);
  // A session that names no backends has every backend plugin in load order, except those used
  // only on request. A plugin not started yet (its drivers not loaded) stays so until the session
  // needs it: an option names it, or the backends before it leave a node to it (below).
  const bool defaults = options.backends.empty();
  std::vector<std::string> names;
  if (defaults) {
    names = impl_->registry.default_candidates();
  } else {
    names = options.backends;
    for (size_t i = 0; i < names.size(); ++i)
      if (std::find(names.begin(), names.begin() + static_cast<ptrdiff_t>(i), names[i]) != names.begin() + static_cast<ptrdiff_t>(i))
        throw Error("backend '" + names[i] + "' is named twice in the session's backends (a list in priority order)");
  }
  // Whether default backend `name` takes part: started now if it was not, and not on request.
  auto usable = [&](const std::string& name) {
    const auto lib = impl_->registry.backend(name);
    return lib && !lib->on_request();
  };
  for (const auto& name : names) {
    if (!defaults && !impl_->registry.backend(name)) {
      std::string loaded;
      for (const auto& n : backend_names()) loaded += (loaded.empty() ? "" : ", ") + n;
      throw Error("backend '" + name + "' is not loaded (loaded backends: " + (loaded.empty() ? "none" : loaded) + "; see `loom plugins`)");
    }
  }
  // Session options: the session's own keys, keys for every backend, and NAME.KEY for backend NAME.
  bool fallback = false, profile = false;
  std::optional<bool> kv_bf16;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> per_backend;
  std::set<std::string> named;  // backends that a NAME.KEY option names
  for (const auto& [key, value] : options.options) {
    if (key == "fallback") {
      if (value != "on" && value != "off") throw Error("option fallback=" + value + ": the value must be on or off");
      fallback = value == "on";
      continue;
    }
    if (key == "profile") {
      if (value != "on" && value != "off") throw Error("option profile=" + value + ": the value must be on or off");
      profile = value == "on";
      continue;
    }
    if (key == "kv_cache") {
      if (value != "f32" && value != "bf16") throw Error("option kv_cache=" + value + ": the value must be f32 or bf16");
      kv_bf16 = value == "bf16";
      continue;
    }
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      for (const auto& name : names) per_backend[name].emplace_back(key, value);
      continue;
    }
    const std::string backend = key.substr(0, dot);
    if (defaults && (std::find(names.begin(), names.end(), backend) == names.end() || !usable(backend)))
      names = default_backend_names();  // for the check, and for the message: every plugin started
    if (std::find(names.begin(), names.end(), backend) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      const auto lib = impl_->registry.backend(backend);
      const std::string why = !lib                ? "; no backend '" + backend + "' is loaded: see `loom plugins`"
                              : lib->on_request() ? "; it runs only where a session names it: --backend " + backend
                                                  : "";
      throw Error("option '" + key + "' is for backend '" + backend + "', which this session does not use (its backends: " + list + ")" +
                  why);
    }
    per_backend[backend].emplace_back(key.substr(dot + 1), value);
    named.insert(backend);
  }
  std::vector<std::shared_ptr<plugins::BackendInstance>> backends;
  bool covered = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (defaults) {
      // Once the backends so far run every node as the whole list would (docs/plugins.md,
      // "Backends start when first needed"), the rest are created only where an option names
      // them, to check it. A session with fallback keeps them all.
      if (!covered && !fallback && !backends.empty()) {
        const std::vector<std::string> later(names.begin() + static_cast<ptrdiff_t>(i), names.end());
        std::vector<RewrittenNode> rewritten;
        const auto decomposed = passes::decompose_unsupported(program, backends, rewritten);
        covered = plan::first_choices_run_all(*program, *decomposed, backends, later);
      }
      if ((covered && !named.count(names[i])) || !usable(names[i])) continue;
    }
    backends.push_back(impl_->registry.create_backend(names[i], options.threads, per_backend[names[i]]));
  }
  // KV caches in bf16 where asked for (kv_cache=bf16), and by default where the session-wide
  // precision is bf16, if the backends placement tries first run the nodes that hold and read them
  // so (a cast to bf16, the bf16 cache_write, attention over bf16 k and v): otherwise kv_cache=bf16
  // is an error naming the backend and node, and the default keeps the caches in f32.
  const bool kv_asked = kv_bf16.value_or(false);
  if (!kv_bf16) {
    const auto precision = options.options.find("precision");
    kv_bf16 = precision != options.options.end() && precision->second == "bf16";
  }
  if (*kv_bf16) {
    OptimizationReport narrowed_report = report;
    auto narrowed = passes::narrow_kv_caches(program, narrowed_report);
    if (auto why = passes::narrowed_caches_unsupported(*narrowed, backends)) {
      if (kv_asked) throw Error("option kv_cache=bf16: " + *why + " (kv_cache=f32 keeps the caches in f32)");
    } else {
      program = std::move(narrowed);
      report = std::move(narrowed_report);
    }
  }
  program = passes::decompose_unsupported(std::move(program), backends, report.decomposed);
  auto impl = std::make_shared<SessionImpl>(std::move(program), std::move(backends),
                                            SessionImpl::Setup{options.threads, fallback, options.max_plans, impl_->packed, profile});
  impl->optimization = std::move(report);
  return Session(std::move(impl));
}

Session Engine::load(const std::filesystem::path& file, const SessionOptions& options) const {
  return compile(load_graph(file), options);
}

const char* Engine::version() { return LOOM_VERSION; }

uint64_t Engine::packed_bytes() const { return impl_->packed->bytes(); }

uint64_t Engine::converted_bytes() const { return impl_->weight_files->widened_bytes(); }

std::filesystem::path Engine::install_plugin_dir() { return plugins::install_plugin_dir(); }

}  // namespace loom
