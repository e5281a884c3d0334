#include "graph/program.hpp"
#include "plugins/plugin_host.hpp"
#include "runtime/session_impl.hpp"

#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace loom {

class EngineImpl {
 public:
  explicit EngineImpl(const EngineOptions& o) : registry(o) {}
  plugins::PluginRegistry registry;
};

namespace {

std::string read_text(const std::filesystem::path& file, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw Error(file.string() + ": cannot read " + what + ": it is a folder");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A model manifest: `model: <plugin name>`, `checkpoint: <folder>`, optional `task:` and
// `weights:` (default model.safetensors). Paths are relative to the manifest's folder.
struct Manifest {
  std::string model, task, weights = "model.safetensors";
  std::filesystem::path checkpoint;
};

std::optional<Manifest> read_manifest(const std::filesystem::path& file, const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap() || !root["model"]) return std::nullopt;
  auto where = [&](const YAML::Node& n) {
    return file.string() + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
  };
  Manifest m;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) throw Error(where(kv.second) + ": " + key + ": expected a string");
    const std::string value = kv.second.as<std::string>();
    if (key == "model") m.model = value;
    else if (key == "checkpoint") m.checkpoint = value;
    else if (key == "task") m.task = value;
    else if (key == "weights") m.weights = value;
    else throw Error(where(kv.first) + ": " + key + ": unknown key in a model manifest (allowed: model, checkpoint, task, weights)");
  }
  if (m.checkpoint.empty()) throw Error(where(root) + ": checkpoint: missing (the folder holding config.json and the weights)");
  if (m.checkpoint.is_relative()) m.checkpoint = file.parent_path() / m.checkpoint;
  return m;
}

Graph expand_manifest(const plugins::PluginRegistry& registry, const std::filesystem::path& file, const Manifest& m) {
  const auto config_path = m.checkpoint / "config.json";
  const std::string config = read_text(config_path, "the checkpoint's config.json");
  std::string model_type;
  try {
    auto j = nlohmann::json::parse(config);
    if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string())
      throw Error(config_path.string() + ": no \"model_type\" string");
    model_type = j["model_type"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(config_path.string() + ": not valid JSON: " + e.what());
  }
  auto plugin = registry.model_named(m.model);
  if (!plugin) plugin = registry.model_for(m.model);
  if (!plugin) throw Error(file.string() + ": model: no loaded model plugin is named '" + m.model + "' (see `loom plugins`)");
  const loom_model_plugin* api = plugin->descriptor().model;
  bool accepts = false;
  for (size_t i = 0; i < api->num_architectures; ++i) accepts |= model_type == api->architectures[i];
  if (!accepts)
    throw Error(config_path.string() + ": model_type '" + model_type + "' is not accepted by model plugin '" + plugin->name() + "'");
  auto weights = SafetensorsFile::open(m.checkpoint / m.weights);
  const std::string dir = m.checkpoint.string();
  loom_model_request req{sizeof(loom_model_request), model_type.c_str(), config.c_str(), dir.c_str(),
                         m.weights.c_str(), m.task.c_str(), weights->header_json().c_str()};
  loom_model_result* result = nullptr;
  plugins::check_status(api->expand(plugin->state(), &req, &result), "model plugin '" + plugin->name() + "' expanding " + file.string());
  std::string yaml = result && result->graph_yaml ? result->graph_yaml : "";
  api->release_result(plugin->state(), result);
  Graph g = parse_graph_yaml(yaml, file.string() + " (expanded by " + plugin->name() + ")", m.checkpoint);
  g.path = file;
  return g;
}

}  // namespace

Engine::Engine(EngineOptions options) : impl_(std::make_shared<EngineImpl>(options)) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const std::vector<PluginRecord>& Engine::plugins() const { return impl_->registry.records(); }

const PluginRecord& Engine::load_plugin(const std::filesystem::path& file) { return impl_->registry.load_file(file, "api"); }

std::vector<std::string> Engine::backend_names() const {
  std::vector<std::string> names;
  for (const auto& b : impl_->registry.backends()) names.push_back(b->name());
  return names;
}

Graph Engine::load_graph(const std::filesystem::path& file) const {
  const std::string text = read_text(file, "the graph");
  if (auto m = read_manifest(file, text)) return expand_manifest(impl_->registry, file, *m);
  Graph g = parse_graph_yaml(text, file.string(), file.parent_path());
  g.path = file;
  return g;
}

void Engine::validate(const Graph& graph) const { build_program(graph, true); }

Session Engine::compile(const Graph& graph, const SessionOptions& options) const {
  if (options.threads < 0 || options.threads > SessionOptions::max_threads)
    throw Error("session options: threads must be from 0 (the backend's default) to " +
                std::to_string(SessionOptions::max_threads) + ", got " + std::to_string(options.threads));
  auto program = build_program(graph, true);
  std::vector<std::string> names = options.backends.empty() ? backend_names() : options.backends;
  std::vector<std::shared_ptr<plugins::BackendInstance>> backends;
  for (const auto& name : names) {
    if (!impl_->registry.backend(name)) {
      std::string loaded;
      for (const auto& n : backend_names()) loaded += (loaded.empty() ? "" : ", ") + n;
      throw Error("backend '" + name + "' is not loaded (loaded backends: " + (loaded.empty() ? "none" : loaded) + "; see `loom plugins`)");
    }
    backends.push_back(impl_->registry.create_backend(name, options.threads));
  }
  return Session(std::make_shared<SessionImpl>(std::move(program), std::move(backends), options.threads));
}

Session Engine::load(const std::filesystem::path& file, const SessionOptions& options) const {
  return compile(load_graph(file), options);
}

const char* Engine::version() { return LOOM_VERSION; }

std::filesystem::path Engine::install_plugin_dir() { return plugins::install_plugin_dir(); }

}  // namespace loom
