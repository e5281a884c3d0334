// The public API: Engine (plugins, options) -> Session (a graph compiled for a backend list)
// -> run(named inputs) -> named outputs.
//
//   loom::Engine engine;                                   // finds and loads plugins
//   loom::Session s = engine.load("graphs/encoder/encoder.yaml", {.backends = {"onednn"}});
//   loom::TensorMap out = s.run({{"input_ids", ids}, {"attention_mask", mask}});
#pragma once

#include <loom/graph.hpp>
#include <loom/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace loom {

using TensorMap = std::map<std::string, Tensor>;

// ---- plugins

struct DeviceRecord {
  std::string name;
  std::string description;
  bool host_memory = true;
};

// One file the engine tried to load, successful or not: failures are recorded, never fatal.
struct PluginRecord {
  std::filesystem::path path;
  std::string origin;        // "--plugin", "LOOM_PLUGIN_PATH", "install", "executable folder", "api"
  bool loaded = false;
  std::string error;         // why it failed (not a library, no entry point, ABI mismatch, ...)
  std::string name;          // from the descriptor, when it could be read
  std::string kind;          // "backend" or "model"
  std::string version;
  std::string description;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::vector<DeviceRecord> devices;        // backends
  std::vector<std::string> architectures;   // model plugins: HF model_type names
};

struct EngineOptions {
  // Loaded first, in this order (the CLI's --plugin FILE).
  std::vector<std::filesystem::path> plugin_files;
  // Then LOOM_PLUGIN_PATH (colon-separated folders), the install's plugin folder and the
  // executable's folder. System folders are never searched.
  bool search_default_paths = true;
  // Optional: asked about each plugin file before it is loaded into this process; a non-empty
  // answer is recorded as the file's error and the file is not loaded. Loading in-process cannot
  // survive a plugin that crashes or hangs while it loads: `loom plugins` answers here by
  // loading each file in a child process first.
  std::function<std::string(const std::filesystem::path& file)> screen;
};

struct SessionOptions {
  // Backend plugin names in priority order; empty = every loaded backend in load order.
  std::vector<std::string> backends;
  // Threads for this session's backends; 0 = the backend's default. At most max_threads:
  // beyond that OpenMP runtimes fail to create their teams (or crash) rather than refuse.
  int threads = 0;
  static constexpr int max_threads = 1024;
};

// ---- placement and planning reports (loom inspect)

struct NodePlacement {
  std::string node;
  std::string op;
  std::string backend;                       // where it runs
  std::string reason;                        // why there: hint, priority, fallback
  std::vector<std::string> declined;         // "<backend>: <why not>" for backends tried first
};

struct CopyPlacement {
  std::string value;
  std::string from_backend;
  std::string to_backend;
};

struct PartitionInfo {
  std::string backend;
  std::vector<std::string> nodes;
};

struct PlacementReport {
  std::vector<NodePlacement> nodes;
  std::vector<PartitionInfo> partitions;
  std::vector<CopyPlacement> copies;
};

struct MemoryReport {
  std::map<std::string, int64_t> bindings;            // symbol values used
  // Per backend. The arena holds the activations, placed with reuse, then the backend's scratch:
  // arena_bytes = activation_bytes + scratch_bytes. Compare activation_bytes (with reuse) with
  // unplanned_bytes (the same activations without reuse); scratch is the same either way.
  std::map<std::string, uint64_t> arena_bytes;
  std::map<std::string, uint64_t> activation_bytes;
  std::map<std::string, uint64_t> unplanned_bytes;
  std::map<std::string, uint64_t> scratch_bytes;
  uint64_t weight_bytes = 0;
  uint64_t state_bytes = 0;
};

// An upper bound that the graph itself puts on a symbol: a gather of position ids 0..seq-1
// from a table of 32 rows takes seq <= 32. A run whose inputs bind the symbol higher fails
// before it starts; `loom inspect` and `loom bench` check --dim against these.
struct SymbolLimit {
  std::string symbol;
  int64_t max = 0;
  std::string node;  // the node that sets it
  std::string why;   // what that node does, e.g. "gathers position ids 0..seq-1 from 'pos' [32, 64]"
  // "seq <= 32 (node 'positions' gathers position ids 0..seq-1 from 'pos' [32, 64])"
  std::string str() const;
};

// ---- sessions

class SessionImpl;
class EngineImpl;

// Session state (KV caches, running sums): one per conversation. Zero-filled when created.
class State {
 public:
  State();
  ~State();
  State(State&&) noexcept;
  State& operator=(State&&) noexcept;
  // Copies of the current state tensors, by state name.
  TensorMap snapshot() const;
  void reset();  // back to zeros

 private:
  friend class SessionImpl;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Session {
 public:
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs the graph. Thread-safe: several threads may run one session at once, each run with
  // its own activations. Runs of a stateful graph through the session's own state are
  // serialised; use separate State objects to run conversations in parallel.
  TensorMap run(const TensorMap& inputs);
  TensorMap run(const TensorMap& inputs, State& state);

  State new_state() const;
  State& default_state();

  const Graph& graph() const;
  const PlacementReport& placement() const;
  // Plans memory for the given symbol values (unbound symbols count as 1).
  MemoryReport plan_memory(const std::map<std::string, int64_t>& bindings) const;
  // The bounds the graph puts on its symbols, the tightest one per symbol.
  const std::vector<SymbolLimit>& symbol_limits() const;
  int threads() const;

 private:
  friend class Engine;
  explicit Session(std::shared_ptr<SessionImpl> impl);
  std::shared_ptr<SessionImpl> impl_;
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Every plugin file tried, in load order, with its outcome.
  const std::vector<PluginRecord>& plugins() const;
  // Loads one more plugin file; the outcome is recorded and returned.
  const PluginRecord& load_plugin(const std::filesystem::path& file);
  std::vector<std::string> backend_names() const;

  // Reads a YAML graph, or a model manifest (`model: NAME`, `checkpoint: DIR`, `task: T`) that
  // a model plugin expands into a graph.
  Graph load_graph(const std::filesystem::path& file) const;
  // Validates the graph and every file it references (weight headers, dtypes, shapes).
  void validate(const Graph& graph) const;

  Session compile(const Graph& graph, const SessionOptions& options = {}) const;
  Session load(const std::filesystem::path& file, const SessionOptions& options = {}) const;

  // The folder searched for installed plugins (from the library's own location).
  static std::filesystem::path install_plugin_dir();
  static const char* version();

 private:
  std::shared_ptr<EngineImpl> impl_;
};

}  // namespace loom
