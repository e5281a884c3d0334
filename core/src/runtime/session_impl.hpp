// A compiled session: the program, its backends and placement, one compiled executable per
// partition, and a cache of run plans keyed by the input shapes.
#pragma once

#include "graph/program.hpp"
#include "graph/symbol_limits.hpp"
#include "plan/placement.hpp"
#include "plugins/graph_view.hpp"
#include "plugins/plugin_host.hpp"
#include "runtime/packed_constants.hpp"
#include "runtime/plan_cache.hpp"

#include <loom/engine.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace loom {

struct State::Impl {
  std::shared_ptr<const Program> program;
  std::vector<Tensor> tensors;  // one per program state, host memory (empty for a state on a device)
  // Per state on a device: its buffer and the backend that owns it (null for host states).
  std::vector<void*> device;
  std::vector<std::shared_ptr<plugins::BackendInstance>> owner;
  ~Impl();
  void* pointer(size_t i) { return device[i] ? device[i] : tensors[i].data(); }
  uint64_t bytes(size_t i) const;
  Tensor read(size_t i) const;   // a host copy of state i
  void zero(size_t i);
  // Per state written by cache_write: positions written per batch row; empty for other states.
  std::vector<std::vector<int64_t>> filled;
  std::vector<bool> is_cache;
  std::vector<int> cache_axis;  // per state written by cache_write: the axis it writes along
  mutable std::mutex mutex;     // one run at a time per state
};

// What one run needs besides the plan: the input shapes (the plan's key) and pointers, and the
// state pointers. A Binding keeps one so that its runs reuse the vectors' storage.
struct RunIO {
  std::vector<Shape> shapes;
  std::vector<Shape> key;  // the plan's key when plans are made at symbol bounds
  std::vector<const void*> inputs;
  std::vector<void*> state;
};

struct Binding::Impl {
  std::shared_ptr<const Program> program;
  std::vector<Tensor> inputs;        // per program input
  std::vector<Tensor> outputs;       // per program output
  std::vector<bool> output_bound;    // bound by the caller (else the binding's own)
  std::vector<Tensor> defaults;      // per program input left unbound: its default, kept across runs
  std::vector<const Shape*> given;   // per program input: the bound shape, or null
  RunIO io;
};

// A cache_write whose output is the update of a state: the session follows its offsets to say
// how much of the cache is filled.
struct CacheWrite {
  int state = -1;   // program state index
  int offset = -1;  // value index of the offsets
  int update = -1;  // value index of the rows written
  int axis = 0;
};

// Where a value's bytes are during a run.
struct Location {
  enum Kind { None, Input, Constant, State, Arena } kind = None;
  int index = -1;        // Input: graph input number; State: state number; Arena: arena number
  uint64_t offset = 0;   // Arena only
};

// A run's RunOptions as the run sees them: checked by the core before the run and between
// partitions, and polled by backends through loom_run_args.should_stop.
struct RunStop {
  explicit RunStop(const RunOptions& o);
  const std::atomic<bool>* cancel = nullptr;
  std::vector<PartitionTiming>* timings = nullptr;
  bool has_deadline = false;
  std::chrono::steady_clock::time_point deadline, start;

  bool active() const { return cancel || has_deadline; }
  bool requested() const {
    return (cancel && cancel->load(std::memory_order_relaxed)) ||
           (has_deadline && std::chrono::steady_clock::now() >= deadline);
  }
  static int32_t poll(void* self) noexcept { return static_cast<const RunStop*>(self)->requested() ? 1 : 0; }
  // Throws CancelledError saying which of the two stopped the run.
  [[noreturn]] void raise() const;
  void check() const {
    if (active() && requested()) raise();
  }
};

class ShapePlan;

class SessionImpl {
 public:
  // How a session is set up besides its program and backends (from SessionOptions).
  struct Setup {
    int threads = 0;
    bool fallback = false;
    size_t max_plans = 16;
    std::shared_ptr<PackedConstants> packed;  // the engine's packed-constant cache, or null
    bool node_partitions = false;             // profile=on: one partition per node
  };
  SessionImpl(std::shared_ptr<const Program> program, std::vector<std::shared_ptr<plugins::BackendInstance>> backends,
              const Setup& setup);
  ~SessionImpl();

  TensorMap run(const TensorMap& inputs, State& state, const RunStop& stop);
  void run(Binding::Impl& binding, State& state, const RunStop& stop);
  Binding new_binding() const;
  State new_state() const;
  SessionStats stats() const;
  bool plans_at_bounds() const { return bounded_; }
  MemoryReport plan_memory(const std::map<std::string, int64_t>& bindings) const;

  struct Part {
    int backend = -1;
    std::vector<int> nodes;
    std::unique_ptr<plugins::GraphViewStorage> view;
    void* executable = nullptr;
    std::vector<int> copy_in;    // values a device partition needs copied into its memory
    std::vector<int> copy_out;   // values a device partition must copy back to host memory
  };

  const Program& program() const { return *program_; }
  const std::vector<Part>& parts() const { return parts_; }
  const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends() const { return backends_; }
  const plan::Placement& placement() const { return placement_; }
  // Arena number for host staging of values produced in device memory.
  int staging_arena() const { return static_cast<int>(backends_.size()); }
  // Values whose update is written in place into the state's memory.
  bool updates_in_place(int value) const { return in_place_[value]; }
  int producer_part(int value) const;
  const std::vector<SymbolLimit>& symbol_limits() const { return symbol_limits_; }

  std::shared_ptr<const Program> program_ptr() const { return program_; }
  // Shared with a replacement made after a device loss, so the conversation goes on there.
  std::shared_ptr<State> default_state;
  Setup setup;
  // The session that took over after a device loss (fallback=on), or null.
  std::shared_ptr<SessionImpl> replacement() const;
  // Runs `f` on this session; a device loss marks the backend lost and, with fallback, makes
  // the replacement before the error reaches the caller.
  template <class F>
  auto guarded(F&& f) -> decltype(f());
  OptimizationReport optimization;  // what the graph passes and decompositions changed

 private:
  std::shared_ptr<ShapePlan> plan_for(const std::vector<Shape>& input_shapes) const;
  void decide_copies();
  void decide_in_place_updates();
  void release_executables();
  void decide_state_homes();
  void find_cache_writes();
  // Runs the plan for io's input shapes; `take_outputs(plan, buffers)` reads the outputs before
  // the run's buffers go back to the pool.
  template <class TakeOutputs>
  void execute(RunIO& io, State& state, const RunStop& stop, TakeOutputs&& take_outputs);
  // The given tensor of graph input i: its dtype, its data, its declared values.
  void check_input(size_t i, const Tensor& t) const;
  // The given inputs' dims against the graph's symbol bounds, before any default is made from
  // them: an input_ids longer than the position table is refused by its own name, not by the
  // default position_ids it would give.
  void check_bounds(const std::vector<const Shape*>& given) const;
  // The default of program input i (it has one), shaped by the `given` input shapes (null: left
  // out); `t` is kept when it already has that shape (a binding's default, filled before).
  void make_default_input(size_t i, const std::vector<const Shape*>& given, Tensor& t) const;
  const std::vector<Shape>& plan_key(RunIO& io) const;

  std::shared_ptr<const Program> program_;
  // The program whose states this session runs: its own, or that of the session it replaced
  // after a device loss (a decomposition there changes the program, not its states).
  std::shared_ptr<const Program> state_program_;
  std::vector<std::shared_ptr<plugins::BackendInstance>> backends_;
  plan::Placement placement_;
  std::vector<Part> parts_;
  std::vector<int> node_part_;
  std::vector<bool> in_place_;
  std::vector<int> state_home_;  // per state: the device backend it lives on, or -1 (host)
  [[noreturn]] void device_lost(const DeviceLostError& e);
  void check_backends() const;

  std::vector<CacheWrite> cache_writes_;
  // Plans are made at the graph's symbol bounds when every backend accepts that.
  bool bounded_ = false;
  std::map<std::string, int64_t> symbol_bounds_;
  mutable std::mutex replacement_mutex_;
  std::shared_ptr<SessionImpl> replacement_;
  std::vector<SymbolLimit> symbol_limits_;
  mutable PlanCache<std::vector<Shape>, ShapePlan> plans_;
  // Declared before nothing that outlives the executables: released after them.
  PackedHoldings packed_;
  std::atomic<uint64_t> runs_{0};
};

}  // namespace loom
