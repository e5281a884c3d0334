// A compiled session: the program, its backends and placement, one compiled executable per
// partition, and a cache of run plans keyed by the input shapes.
#pragma once

#include "graph/program.hpp"
#include "graph/symbol_limits.hpp"
#include "plan/placement.hpp"
#include "plugins/graph_view.hpp"
#include "plugins/plugin_host.hpp"

#include <loom/engine.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace loom {

struct State::Impl {
  std::shared_ptr<const Program> program;
  std::vector<Tensor> tensors;  // one per program state, host memory
  std::mutex mutex;             // one run at a time per state
};

// Where a value's bytes are during a run.
struct Location {
  enum Kind { None, Input, Constant, State, Arena } kind = None;
  int index = -1;        // Input: graph input number; State: state number; Arena: arena number
  uint64_t offset = 0;   // Arena only
};

class ShapePlan;

class SessionImpl {
 public:
  SessionImpl(std::shared_ptr<const Program> program,
              std::vector<std::shared_ptr<plugins::BackendInstance>> backends, int threads);
  ~SessionImpl();

  TensorMap run(const TensorMap& inputs, State& state);
  State new_state() const;
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
  State default_state;
  int threads = 0;

 private:
  std::shared_ptr<ShapePlan> plan_for(const std::vector<Shape>& input_shapes) const;
  void decide_copies();
  void decide_in_place_updates();

  std::shared_ptr<const Program> program_;
  std::vector<std::shared_ptr<plugins::BackendInstance>> backends_;
  plan::Placement placement_;
  std::vector<Part> parts_;
  std::vector<int> node_part_;
  std::vector<bool> in_place_;
  std::vector<SymbolLimit> symbol_limits_;
  mutable std::mutex plans_mutex_;
  mutable std::map<std::vector<Shape>, std::shared_ptr<ShapePlan>> plans_;
};

}  // namespace loom
