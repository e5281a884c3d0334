// The public API: Engine (plugins, options) -> Session (a graph compiled for a backend list)
// -> run(named inputs) -> named outputs.
//
//   loom::Engine engine;                                   // finds and loads plugins
//   loom::Session s = engine.load("graphs/encoder/encoder.yaml", {.backends = {"onednn"}});
//   loom::TensorMap out = s.run({{"input_ids", ids}, {"attention_mask", mask}});
#pragma once

#include <loom/error.hpp>
#include <loom/graph.hpp>
#include <loom/tensor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  bool on_request = false;                  // backend used only where a session names it (LOOM_EXTENSION_ON_REQUEST)
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

// How much the core rewrites a graph between validation and placement (docs/architecture.md,
// "Graph passes"). Every level computes the same outputs.
//   none:  the graph as written.
//   basic: dead nodes removed, small constant subgraphs folded into initializers, transposes of
//          the last two dims folded into matmul's transpose_a / transpose_b.
//   all:   basic, then patterns fused into fused registry ops (attention, linear with its
//          activation, add_layer_norm).
enum class OptimizeLevel { none, basic, all };
std::string_view optimize_level_name(OptimizeLevel level);             // "none", "basic", "all"
std::optional<OptimizeLevel> parse_optimize_level(std::string_view name);

struct SessionOptions {
  // Backend plugin names in priority order; empty = every loaded backend in load order, except
  // those used only on request (Engine::default_backend_names()), where a later one is created
  // (and its plugin started) only if the ones before it leave it a node, an option names it, or
  // fallback is on (docs/plugins.md, "Backends start when first needed").
  std::vector<std::string> backends;
  // Threads for this session's backends; 0 = the backend's default, at most max_threads (beyond
  // that OpenMP runtimes fail to create their teams, or crash, rather than refuse). A run never
  // uses more, and concurrent runs of the session take turns for them (docs/architecture.md, "Threads").
  int threads = 0;
  static constexpr int max_threads = 1024;
  // Options as key/value strings (the CLI's --option KEY=VALUE), validated when the session is
  // made: an unknown key or a value that cannot be honoured is an error that names it.
  //   precision=f32|bf16     every backend the session creates (one that cannot honour it refuses the session)
  //   NAME.KEY=VALUE         backend NAME only, as KEY (e.g. onednn.precision=f32)
  //   fallback=on|off        the session itself: when a backend loses its device, re-place the
  //                          graph on the remaining backends for later runs (default off)
  //   profile=on|off         the session itself: every node becomes a partition of its own, so
  //                          that RunOptions::timings times each node (default off; a run then
  //                          crosses a partition boundary per node, a little slower)
  //   kv_cache=f32|bf16      the session itself: KV caches (states written by cache_write and
  //                          read by attention) kept in bf16, half the bytes a decode step reads
  //                          and holds (default bf16 where precision=bf16, else f32)
  std::map<std::string, std::string> options;
  OptimizeLevel optimize = OptimizeLevel::all;
  // The most shape plans (one per input-shape signature) the session keeps; past it, the least
  // recently used plan is dropped and made again if its shapes come back. At least 1.
  size_t max_plans = 16;
};

// ---- graph passes (loom inspect --optimize)

struct PassReport {
  std::string pass;                 // "fold-constants", "fuse-attention", ...
  size_t nodes_before = 0, nodes_after = 0;
  size_t rewrites = 0;              // matches rewritten (nodes folded, patterns fused, ...)
};

// A node that stands for others: a fused node and the nodes of the pattern it replaced, or a
// fused node that no backend of a session runs and the basic nodes it was decomposed into.
struct RewrittenNode {
  std::string node;
  std::string op;
  std::vector<std::string> nodes;   // replaced nodes (fused) or the nodes it became (decomposed)
  std::string why;                  // decomposed: why the backend placement tried first declined it
};

struct OptimizationReport {
  OptimizeLevel level = OptimizeLevel::all;
  size_t nodes_before = 0, nodes_after = 0;   // before and after the passes
  std::vector<PassReport> passes;             // in the order they ran
  std::vector<RewrittenNode> fused;
  std::vector<RewrittenNode> decomposed;      // by Engine::compile, for this session's backends
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
  // Bytes of the constants read from weight files, as the session reads them: a tensor stored as
  // F16 or BF16 and declared f32 counts as its f32 copy.
  uint64_t weight_bytes = 0;
  // Of weight_bytes, the f32 copies of F16 and BF16 tensors made on load (docs/graph-format.md,
  // "Initializers"). They are host memory the session holds, shared with the engine's other
  // sessions over the same file (Engine::converted_bytes counts each once).
  uint64_t converted_bytes = 0;
  uint64_t state_bytes = 0;
  // Packed copies of constants the session's backends keep (a layout of their own, a device
  // upload), held by the engine and shared with its other sessions over the same weights.
  uint64_t packed_bytes = 0;
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
  // An independent copy of this state, for the same session: a branch of a conversation, or a
  // beam of a beam search. Runs through the copy leave this state alone.
  State copy() const;
  // Makes this state equal to `source`, a state of the same session, in this state's own
  // buffers (no allocation): a beam of a beam search taking another's caches. Of a KV cache only
  // the positions either state filled are written (filled() positions), so that the cost follows
  // the text's length, not the cache's.
  void assign(const State& source);
  // For a state written by `cache_write` (a KV cache): how many positions of each batch row
  // have been written since the state was made or reset (the largest offset + rows written).
  // Throws loom::Error for any other state.
  std::vector<int64_t> filled(const std::string& state_name) const;

 private:
  friend class SessionImpl;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Inputs and outputs bound once and reused by every run through them, so that a steady-state
// run (a decode step) makes no heap allocation, as ONNX Runtime's IoBinding. Input tensors are
// shared, not copied: write the next step's values into them. Outputs are written into the
// bound tensors; an output left unbound gets a tensor of its own on the first run (and again
// only when its shape changes). A binding is used by one thread at a time.
class Binding {
 public:
  Binding();
  ~Binding();
  Binding(Binding&&) noexcept;
  Binding& operator=(Binding&&) noexcept;
  void bind_input(const std::string& name, Tensor tensor);
  // The tensor must have the output's dtype and, at each run, its shape.
  void bind_output(const std::string& name, Tensor tensor);
  const Tensor& output(const std::string& name) const;

 private:
  friend class SessionImpl;
  friend class Session;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a session has done so far (loom inspect shows it too).
struct SessionStats {
  uint64_t plans_made = 0;    // shape plans made (one per input-shape signature, again after an eviction)
  uint64_t plans_cached = 0;  // plans held now (at most SessionOptions::max_plans)
  uint64_t plans_evicted = 0; // plans dropped, least recently used first, to stay within max_plans
  uint64_t runs = 0;
  // Plans are made at the graph's symbol bounds (every backend of the session accepts that), so
  // one plan serves every size up to the bounds.
  bool plans_at_bounds = false;
};

// A run failed because a backend's device was lost (LOOM_STATUS_DEVICE_LOST). With the
// session option fallback=on the session has already re-placed the graph on its other backends,
// and the next run goes there.
class DeviceLostError : public Error {
 public:
  using Error::Error;
};

// A run stopped through its RunOptions: cancelled ("run cancelled") or past its deadline ("run
// passed its deadline of 20 ms"). The session stays usable; see RunOptions for the state.
class CancelledError : public Error {
 public:
  using Error::Error;
};

// One partition's run as RunOptions::timings records it: from before its inputs are bound (and
// copied to a device) to after its outputs are back in host memory.
struct PartitionTiming {
  size_t partition = 0;  // index into Session::placement().partitions
  std::chrono::steady_clock::time_point start, end;
  // The device's own time for the partition's work when its backend measures it (GPU
  // timestamps: the Vulkan backend, docs/vulkan.md "Profiling"), else -1.
  int64_t device_ns = -1;
};

// How one run may be stopped early. The core checks both before the run starts and between
// partitions, and hands backends a poll they call between nodes (the oneDNN backend does), so a
// run stops within about one node of the request. A stopped run throws loom::CancelledError and
// writes no outputs. Its state may be partially updated: states a partition updates in place
// (a KV cache append) keep what the partitions that ran wrote, while the others keep their
// values from before the run. Copy the state first (State::copy) when that matters.
struct RunOptions {
  // The run stops once *cancel is true; set it from any thread. Null: not cancellable.
  const std::atomic<bool>* cancel = nullptr;
  // The run stops once steady_clock passes it.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // When set, each partition the run executes appends its timing here, in execution order
  // (reserve room first to keep the run free of allocations). With the session option
  // profile=on each partition is one node: a per-node profile (`loom bench --profile`).
  std::vector<PartitionTiming>* timings = nullptr;
};

class Session {
 public:
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs the graph. Thread-safe: several threads may run one session at once, each run with
  // its own activations (sharing the session's threads, see SessionOptions::threads). Runs of a stateful graph through the session's own state are
  // serialised; use separate State objects to run conversations in parallel.
  TensorMap run(const TensorMap& inputs);
  TensorMap run(const TensorMap& inputs, State& state);
  // Runs with bound inputs and outputs (see Binding); through the default state or `state`.
  void run(Binding& binding);
  void run(Binding& binding, State& state);
  // The same, stoppable through `options` (a cancel flag, a deadline).
  TensorMap run(const TensorMap& inputs, const RunOptions& options);
  TensorMap run(const TensorMap& inputs, State& state, const RunOptions& options);
  void run(Binding& binding, const RunOptions& options);
  void run(Binding& binding, State& state, const RunOptions& options);

  Binding new_binding() const;
  State new_state() const;
  State& default_state();

  // The graph the session runs: after the passes of SessionOptions::optimize and after the
  // decomposition of fused nodes that none of its backends runs.
  const Graph& graph() const;
  const OptimizationReport& optimization() const;
  const PlacementReport& placement() const;
  // Plans memory for the given symbol values (unbound symbols count as 1).
  MemoryReport plan_memory(const std::map<std::string, int64_t>& bindings) const;
  // The bounds the graph puts on its symbols, the tightest one per symbol.
  const std::vector<SymbolLimit>& symbol_limits() const;
  int threads() const;
  SessionStats stats() const;

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

  // Every plugin file tried, in load order, with its outcome. A backend plugin found in a folder
  // is started (its init() run, its devices read) when first needed: by a session that uses it,
  // by default placement, or by this listing, which starts every one.
  const std::vector<PluginRecord>& plugins() const;
  // The same without starting the backends that nothing has needed yet (their records show no
  // devices and no on_request).
  const std::vector<PluginRecord>& plugins_as_loaded() const;
  // Loads one more plugin file; the outcome is recorded and returned.
  const PluginRecord& load_plugin(const std::filesystem::path& file);
  std::vector<std::string> backend_names() const;
  // The backends of a session that names none: backend_names() without those a plugin marks as
  // used only on request (the reference backend, LOOM_EXTENSION_ON_REQUEST).
  std::vector<std::string> default_backend_names() const;

  // Reads a YAML graph, a model manifest (`model: NAME`, `checkpoint: DIR`, `task: T`) that a
  // model plugin expands into a graph, or a checkpoint folder (config.json and
  // model.safetensors), expanded by the plugin that accepts its model_type for its default task.
  Graph load_graph(const std::filesystem::path& file) const;
  // The same for `task`, a Hugging Face pipeline name ("text-generation"): a checkpoint or a
  // manifest is expanded for that task (a manifest's own `task` is replaced); a YAML graph must
  // list it in its processing section. "" is the default task.
  Graph load_graph(const std::filesystem::path& file, const std::string& task) const;
  // Validates the graph and every file it references (weight headers, dtypes, shapes; the
  // processing section's tokenizer and image-processor files exist).
  void validate(const Graph& graph) const;
  // The graph after the passes of `level` (what compile() places, before any decomposition for
  // a session's backends); it reads the graph's weights. `report`, when given, says what changed.
  Graph optimize(const Graph& graph, OptimizeLevel level, OptimizationReport* report = nullptr) const;

  Session compile(const Graph& graph, const SessionOptions& options = {}) const;
  Session load(const std::filesystem::path& file, const SessionOptions& options = {}) const;

  // Bytes of packed constant copies the engine holds for its live sessions: each copy once,
  // however many sessions use it (MemoryReport::packed_bytes counts per session).
  uint64_t packed_bytes() const;
  // Bytes of the f32 copies of F16 and BF16 weights made on load that the engine holds for its
  // live sessions and graphs being built: each copy once, however many sessions read it.
  uint64_t converted_bytes() const;

  // The folder searched for installed plugins (from the library's own location).
  static std::filesystem::path install_plugin_dir();
  static const char* version();

 private:
  Graph load_graph_for(const std::filesystem::path& file, const std::optional<std::string>& task) const;
  std::shared_ptr<EngineImpl> impl_;
};

}  // namespace loom
