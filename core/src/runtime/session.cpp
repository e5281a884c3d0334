#include "runtime/session_impl.hpp"

#include "plan/memory_plan.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

namespace loom {

namespace {

constexpr uint64_t kAlign = 64;
uint64_t aligned(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Ops that read each element of their first input only to write the same element of the
// output: a state update may then overwrite the state it reads.
bool elementwise(const std::string& op) {
  static const std::set<std::string> ops = {"add", "sub", "mul", "div", "relu", "tanh", "sigmoid", "gelu", "cast"};
  return ops.count(op) > 0;
}

}  // namespace

// ---------------------------------------------------------------- the plan for one shape signature

// Memory for one run: an arena per backend plus host staging, and the run arguments of every
// partition with their pointers already filled in, except those that change per run (graph
// inputs and state). Kept in a pool per plan so that steady-state runs allocate nothing here.
struct RunBuffers {
  std::vector<void*> arena;  // host pointer or device buffer, per arena
  std::vector<std::vector<loom_tensor>> tensors;  // per partition, per view value
  std::vector<const plugins::BackendInstance*> owners;  // per arena: device backend or null
  ~RunBuffers() {
    for (size_t i = 0; i < arena.size(); ++i) {
      if (!arena[i]) continue;
      if (owners[i]) owners[i]->api().buffer_free(owners[i]->api().self, arena[i]);
      else std::free(arena[i]);
    }
  }
};

class ShapePlan {
 public:
  ShapePlan(const SessionImpl& s, ConcreteShapes shapes) : session_(s), shapes_(std::move(shapes)) {
    const Program& p = s.program();
    const size_t nv = p.values.size();
    home_.assign(nv, {});
    host_.assign(nv, {});
    // Non-arena homes.
    for (size_t i = 0; i < p.inputs.size(); ++i) home_[p.inputs[i]] = {Location::Input, static_cast<int>(i)};
    for (size_t v = 0; v < nv; ++v) {
      if (p.values[v].kind == ValueKind::Constant) home_[v] = {Location::Constant, static_cast<int>(v)};
      if (p.values[v].kind == ValueKind::State) home_[v] = {Location::State, p.values[v].state};
    }
    for (const auto& st : p.states)
      if (st.update >= 0 && s.updates_in_place(st.update)) home_[st.update] = {Location::State, p.values[st.value].state};

    // Lifetimes per arena. Steps are node indices; the end of the graph is step nodes.size().
    const int end = static_cast<int>(p.nodes.size());
    const int narenas = s.staging_arena() + 1;
    struct Request { int value; int part; int arena; plan::Lifetime life; bool host_copy; };
    std::vector<Request> requests;
    auto bytes_of = [&](int v) { return static_cast<uint64_t>(shape_numel(shapes_.shapes[v])) * dtype_size(p.values[v].info.dtype); };
    auto needed_until_end = [&](int v) {
      if (p.values[v].graph_output) return true;
      for (const auto& st : p.states)
        if (st.update == v) return true;
      return false;
    };
    for (size_t v = 0; v < nv; ++v) {
      if (p.values[v].kind != ValueKind::Activation || home_[v].kind != Location::None) continue;
      const int producer = p.values[v].producer;
      const int part = s.producer_part(static_cast<int>(v));
      const int backend = s.parts()[part].backend;
      const bool device = !s.backends()[backend]->host_memory();
      int last = producer;
      for (int c : p.values[v].consumers)
        if (!device || s.parts()[part_of(c)].backend == backend) last = std::max(last, c);
      if (device) last = std::max(last, s.parts()[part].nodes.back());
      if (!device && needed_until_end(static_cast<int>(v))) last = end;
      requests.push_back({static_cast<int>(v), part, backend, {bytes_of(static_cast<int>(v)), producer, last}, false});
      if (device) {
        const auto& out = s.parts()[part].copy_out;
        if (std::find(out.begin(), out.end(), static_cast<int>(v)) != out.end()) {
          int host_last = needed_until_end(static_cast<int>(v)) ? end : producer;
          for (int c : p.values[v].consumers) host_last = std::max(host_last, c);
          requests.push_back({static_cast<int>(v), part, s.staging_arena(),
                              {bytes_of(static_cast<int>(v)), s.parts()[part].nodes.back(), host_last}, true});
        }
      }
    }
    // Copies into device partitions.
    for (size_t pi = 0; pi < s.parts().size(); ++pi) {
      const auto& part = s.parts()[pi];
      for (int v : part.copy_in) {
        int last = part.nodes.front();
        for (int c : p.values[v].consumers)
          if (part_of(c) == static_cast<int>(pi)) last = std::max(last, c);
        requests.push_back({v, static_cast<int>(pi), part.backend, {bytes_of(v), part.nodes.front(), last}, false});
      }
    }
    // Per-arena layouts.
    arena_bytes_.assign(narenas, 0);
    unplanned_bytes_.assign(narenas, 0);
    scratch_offset_.assign(narenas, 0);
    for (int a = 0; a < narenas; ++a) {
      std::vector<plan::Lifetime> lives;
      std::vector<size_t> ids;
      for (size_t r = 0; r < requests.size(); ++r)
        if (requests[r].arena == a) {
          lives.push_back(requests[r].life);
          ids.push_back(r);
        }
      auto layout = plan::plan_arena(lives, kAlign);
      for (size_t k = 0; k < ids.size(); ++k) {
        const Request& r = requests[ids[k]];
        Location loc{Location::Arena, a, layout.offsets[k]};
        if (r.host_copy) host_[r.value] = loc;
        else if (r.arena == s.parts()[r.part].backend && s.producer_part(r.value) == r.part) home_[r.value] = loc;
        else device_copy_[{r.part, r.value}] = loc;
      }
      arena_bytes_[a] = layout.size;
      unplanned_bytes_[a] = layout.unplanned;
    }
    for (size_t v = 0; v < nv; ++v)
      if (host_[v].kind == Location::None) host_[v] = home_[v];

    // The run-time patches: a host partition reads graph inputs where the caller keeps them, a
    // device partition reads them from its copies, and both see state in place.
    patches_.resize(s.parts().size());
    for (size_t pi = 0; pi < s.parts().size(); ++pi) {
      const bool host = s.backends()[s.parts()[pi].backend]->host_memory();
      const auto& values = s.parts()[pi].view->values();
      for (size_t k = 0; k < values.size(); ++k) {
        const Location& loc = location_for(pi, values[k]);
        if ((host && loc.kind == Location::Input) || loc.kind == Location::State)
          patches_[pi].push_back({k, loc.kind, loc.index});
      }
    }

    // Backend plans, and scratch at the end of each backend's arena.
    std::vector<uint64_t> scratch(narenas, 0);
    try {
      for (const auto& part : s.parts()) {
        auto shape_set = std::make_unique<plugins::GraphViewStorage::Shapes>(*part.view, shapes_.shapes);
        const loom_backend& api = s.backends()[part.backend]->api();
        void* handle = nullptr;
        uint64_t scratch_bytes = 0;
        plugins::check_status(api.prepare(api.self, part.executable, shape_set->set(), &handle, &scratch_bytes),
                              s.backends()[part.backend]->name() + ": preparing a partition");
        plans_.push_back({handle, scratch_bytes, std::move(shape_set)});
        scratch[part.backend] = std::max(scratch[part.backend], scratch_bytes);
      }
    } catch (...) {
      release_plans();  // the destructor does not run when the constructor throws
      throw;
    }
    for (int a = 0; a < narenas; ++a) {
      scratch_offset_[a] = aligned(arena_bytes_[a]);
      scratch_bytes_.push_back(scratch[a]);
      arena_bytes_[a] = scratch_offset_[a] + aligned(scratch[a]);
    }
  }

  ~ShapePlan() { release_plans(); }

  void release_plans() {
    for (size_t i = 0; i < plans_.size(); ++i) {
      const loom_backend& api = session_.backends()[session_.parts()[i].backend]->api();
      if (plans_[i].handle) api.release_plan(api.self, plans_[i].handle);
    }
    plans_.clear();
  }

  const ConcreteShapes& shapes() const { return shapes_; }
  const std::vector<uint64_t>& arena_bytes() const { return arena_bytes_; }
  const std::vector<uint64_t>& unplanned_bytes() const { return unplanned_bytes_; }
  // Per arena: the activations' part (what unplanned_bytes is without reuse) and the scratch.
  uint64_t activation_bytes(size_t arena) const { return scratch_offset_[arena]; }
  uint64_t scratch_bytes(size_t arena) const { return aligned(scratch_bytes_[arena]); }

  std::unique_ptr<RunBuffers> acquire() const {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        auto b = std::move(pool_.back());
        pool_.pop_back();
        return b;
      }
    }
    return make_buffers();
  }
  void release(std::unique_ptr<RunBuffers> b) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(b));
  }

  // Runs every partition; inputs and state pointers are patched into the prepared tensors. Only
  // the patch list is walked: scanning every value of a partition on each run cost as much as
  // the work of a graph of tiny nodes (docs/performance.md).
  void execute(RunBuffers& rb, const std::vector<const void*>& inputs, const std::vector<void*>& state) const {
    const Program& p = session_.program();
    for (size_t pi = 0; pi < session_.parts().size(); ++pi) {
      const auto& part = session_.parts()[pi];
      const auto& backend = *session_.backends()[part.backend];
      const loom_backend& api = backend.api();
      auto& tensors = rb.tensors[pi];
      if (!backend.host_memory()) {
        for (int v : part.copy_in) {
          const Location& dst = device_copy_.at({static_cast<int>(pi), v});
          plugins::check_status(api.buffer_write(api.self, rb.arena[dst.index], dst.offset, host_pointer(rb, v, inputs, state),
                                                 byte_size(v)),
                                backend.name() + ": copying '" + p.values[v].name + "' to the device");
        }
      }
      for (const Patch& patch : patches_[pi]) {
        if (patch.kind == Location::Input) tensors[patch.tensor].data = const_cast<void*>(inputs[patch.index]);
        else tensors[patch.tensor].data = state[patch.index];
      }
      loom_run_args args{sizeof(loom_run_args), tensors.size(), tensors.data(), nullptr, nullptr, 0, scratch_bytes_[part.backend]};
      if (backend.host_memory()) {
        args.scratch = static_cast<uint8_t*>(rb.arena[part.backend]) + scratch_offset_[part.backend];
      } else {
        args.scratch_buffer = rb.arena[part.backend];
        args.scratch_offset = scratch_offset_[part.backend];
      }
      plugins::check_status(api.run(api.self, plans_[pi].handle, &args), backend.name());
      for (int v : part.copy_out) {
        const Location& src = home_[v];
        plugins::check_status(api.buffer_read(api.self, rb.arena[src.index], src.offset,
                                              const_cast<void*>(host_pointer(rb, v, inputs, state)), byte_size(v)),
                              backend.name() + ": copying '" + p.values[v].name + "' from the device");
      }
    }
  }

  const void* host_pointer(const RunBuffers& rb, int v, const std::vector<const void*>& inputs, const std::vector<void*>& state) const {
    const Location& loc = host_[v];
    switch (loc.kind) {
      case Location::Input: return inputs[loc.index];
      case Location::Constant: return session_.program().values[v].constant.data();
      case Location::State: return state[loc.index];
      case Location::Arena: return static_cast<const uint8_t*>(rb.arena[loc.index]) + loc.offset;
      case Location::None: break;
    }
    throw Error("internal: value '" + session_.program().values[v].name + "' has no host location");
  }

  uint64_t byte_size(int v) const {
    return static_cast<uint64_t>(shape_numel(shapes_.shapes[v])) * dtype_size(session_.program().values[v].info.dtype);
  }

 private:
  int part_of(int node) const {
    for (size_t i = 0; i < session_.parts().size(); ++i) {
      const auto& n = session_.parts()[i].nodes;
      if (node >= n.front() && node <= n.back()) return static_cast<int>(i);
    }
    return -1;
  }

  // Where partition `pi` finds (or writes) value v.
  const Location& location_for(size_t pi, int v) const {
    const auto& part = session_.parts()[pi];
    if (session_.backends()[part.backend]->host_memory()) {
      const ProgramValue& val = session_.program().values[v];
      if (val.kind == ValueKind::Activation && val.producer >= part.nodes.front() && val.producer <= part.nodes.back()) return home_[v];
      return host_[v];
    }
    auto it = device_copy_.find({static_cast<int>(pi), v});
    return it != device_copy_.end() ? it->second : home_[v];
  }

  std::unique_ptr<RunBuffers> make_buffers() const {
    auto rb = std::make_unique<RunBuffers>();
    const int narenas = session_.staging_arena() + 1;
    rb->arena.assign(narenas, nullptr);
    rb->owners.assign(narenas, nullptr);
    for (int a = 0; a < narenas; ++a) {
      const uint64_t bytes = std::max<uint64_t>(arena_bytes_[a], kAlign);
      if (a < session_.staging_arena() && !session_.backends()[a]->host_memory()) {
        const auto& b = *session_.backends()[a];
        rb->owners[a] = &b;
        plugins::check_status(b.api().buffer_alloc(b.api().self, bytes, &rb->arena[a]), b.name() + ": allocating the arena");
      } else {
        rb->arena[a] = std::aligned_alloc(kAlign, aligned(bytes));
        if (!rb->arena[a]) throw Error("out of memory allocating a " + std::to_string(bytes) + "-byte arena");
      }
    }
    const Program& p = session_.program();
    rb->tensors.resize(session_.parts().size());
    for (size_t pi = 0; pi < session_.parts().size(); ++pi) {
      const auto& part = session_.parts()[pi];
      const bool host = session_.backends()[part.backend]->host_memory();
      const auto* set = plans_[pi].shapes->set();
      for (size_t k = 0; k < part.view->values().size(); ++k) {
        const int v = part.view->values()[k];
        loom_tensor t{static_cast<int32_t>(p.values[v].info.dtype), set->ranks[k], set->dims[k], nullptr, nullptr, 0};
        const Location& loc = location_for(pi, v);
        if (loc.kind == Location::Constant) t.data = const_cast<void*>(p.values[v].constant.data());
        if (loc.kind == Location::Arena) {
          if (host || rb->owners[loc.index] == nullptr) t.data = static_cast<uint8_t*>(rb->arena[loc.index]) + loc.offset;
          else {
            t.buffer = rb->arena[loc.index];
            t.offset = loc.offset;
          }
        }
        rb->tensors[pi].push_back(t);
      }
    }
    return rb;
  }

  struct BackendPlan {
    void* handle;
    uint64_t scratch;
    std::unique_ptr<plugins::GraphViewStorage::Shapes> shapes;
  };

  const SessionImpl& session_;
  ConcreteShapes shapes_;
  std::vector<Location> home_;   // where the producer writes
  std::vector<Location> host_;   // where host code reads
  std::map<std::pair<int, int>, Location> device_copy_;  // (partition, value) -> device copy
  std::vector<uint64_t> arena_bytes_, unplanned_bytes_, scratch_offset_, scratch_bytes_;
  std::vector<BackendPlan> plans_;
  // A tensor of a partition's run arguments whose pointer changes from run to run.
  struct Patch {
    size_t tensor;         // index into the partition's tensors
    Location::Kind kind;   // Input or State
    int index;             // graph input number or state number
  };
  std::vector<std::vector<Patch>> patches_;  // per partition
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<RunBuffers>> pool_;
};

// ---------------------------------------------------------------- SessionImpl

SessionImpl::SessionImpl(std::shared_ptr<const Program> program,
                         std::vector<std::shared_ptr<plugins::BackendInstance>> backends, int threads_)
    : threads(threads_), program_(std::move(program)), backends_(std::move(backends)) {
  placement_ = plan::place(*program_, backends_);
  const Program& p = *program_;
  symbol_limits_ = find_symbol_limits(p);
  node_part_.assign(p.nodes.size(), -1);
  for (const auto& part : placement_.partitions) {
    Part pr;
    pr.backend = part.backend;
    pr.nodes = part.nodes;
    for (int n : part.nodes) node_part_[n] = static_cast<int>(parts_.size());
    parts_.push_back(std::move(pr));
  }
  decide_in_place_updates();
  decide_copies();
  // Views and compilation: value kinds as each partition sees them.
  for (size_t pi = 0; pi < parts_.size(); ++pi) {
    Part& part = parts_[pi];
    std::vector<int32_t> kinds(p.values.size(), LOOM_VALUE_ACTIVATION);
    for (size_t v = 0; v < p.values.size(); ++v) {
      const ProgramValue& val = p.values[v];
      switch (val.kind) {
        case ValueKind::Input: kinds[v] = LOOM_VALUE_INPUT; break;
        case ValueKind::Constant: kinds[v] = LOOM_VALUE_CONSTANT; break;
        case ValueKind::State: kinds[v] = LOOM_VALUE_STATE; break;
        case ValueKind::Activation: {
          if (node_part_[val.producer] != static_cast<int>(pi)) { kinds[v] = LOOM_VALUE_INPUT; break; }
          bool outside = val.graph_output;
          for (const auto& st : p.states) outside |= st.update == static_cast<int>(v);
          for (int c : val.consumers) outside |= node_part_[c] != static_cast<int>(pi);
          kinds[v] = outside ? LOOM_VALUE_OUTPUT : LOOM_VALUE_ACTIVATION;
        }
      }
    }
    part.view = std::make_unique<plugins::GraphViewStorage>(p, part.nodes, kinds);
    const auto& be = *backends_[part.backend];
    loom_compile_options opts{sizeof(loom_compile_options), p.graph.name.c_str()};
    plugins::check_status(be.api().compile(be.api().self, part.view->view(), &opts, &part.executable),
                          be.name() + ": compiling partition " + std::to_string(pi) + " of graph '" + p.graph.name + "'");
  }
  default_state = new_state();
}

SessionImpl::~SessionImpl() {
  plans_.clear();  // backend plans first, then executables, then the backends themselves
  for (auto& part : parts_) {
    if (!part.executable) continue;
    const auto& api = backends_[part.backend]->api();
    api.release_executable(api.self, part.executable);
  }
}

// -1 for values no node produces (graph inputs, constants, state): copies of those into a device
// partition must never be mistaken for the partition's own outputs.
int SessionImpl::producer_part(int value) const {
  const int producer = program_->values[value].producer;
  return producer < 0 ? -1 : node_part_[producer];
}

void SessionImpl::decide_in_place_updates() {
  const Program& p = *program_;
  in_place_.assign(p.values.size(), false);
  for (const auto& st : p.states) {
    if (st.update < 0) continue;
    const ProgramValue& u = p.values[st.update];
    const ProgramValue& s = p.values[st.value];
    if (!backends_[parts_[node_part_[u.producer]].backend]->host_memory() || s.graph_output) continue;
    const ProgramNode& producer = p.nodes[u.producer];
    bool reads_state = std::find(producer.inputs.begin(), producer.inputs.end(), st.value) != producer.inputs.end();
    bool safe = !reads_state || (elementwise(producer.node.op) && producer.inputs[0] == st.value);
    for (int c : s.consumers) safe &= c <= u.producer;
    in_place_[st.update] = safe;
  }
}

void SessionImpl::decide_copies() {
  const Program& p = *program_;
  for (size_t pi = 0; pi < parts_.size(); ++pi) {
    Part& part = parts_[pi];
    const bool device = !backends_[part.backend]->host_memory();
    std::set<int> in, out;
    for (int n : part.nodes) {
      for (int v : p.nodes[n].inputs) {
        if (v < 0 || !device || p.values[v].kind == ValueKind::Constant) continue;
        if (p.values[v].kind == ValueKind::Activation && parts_[node_part_[p.values[v].producer]].backend == part.backend) continue;
        in.insert(v);
      }
      if (!device) continue;
      for (int v : p.nodes[n].outputs) {
        bool host_needed = p.values[v].graph_output;
        for (const auto& st : p.states) host_needed |= st.update == v;
        for (int c : p.values[v].consumers) host_needed |= parts_[node_part_[c]].backend != part.backend;
        if (host_needed) out.insert(v);
      }
    }
    part.copy_in.assign(in.begin(), in.end());
    part.copy_out.assign(out.begin(), out.end());
    for (int v : part.copy_in) {
      std::string from = p.values[v].kind == ValueKind::Activation ? backends_[parts_[node_part_[p.values[v].producer]].backend]->name() : "host";
      placement_.report.copies.push_back({p.values[v].name, from, backends_[part.backend]->name()});
    }
    for (int v : part.copy_out) placement_.report.copies.push_back({p.values[v].name, backends_[part.backend]->name(), "host"});
  }
}

std::shared_ptr<ShapePlan> SessionImpl::plan_for(const std::vector<Shape>& input_shapes) const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  auto it = plans_.find(input_shapes);
  if (it != plans_.end()) return it->second;
  ConcreteShapes shapes = infer_concrete(*program_, input_shapes);
  check_symbol_limits(symbol_limits_, shapes.bindings, program_->graph.name, "run");
  auto plan = std::make_shared<ShapePlan>(*this, std::move(shapes));
  plans_.emplace(input_shapes, plan);
  return plan;
}

State SessionImpl::new_state() const {
  State s;
  s.impl_->program = program_;
  for (const auto& st : program_->states) s.impl_->tensors.emplace_back(st.decl.dtype, st.decl.shape);
  return s;
}

TensorMap SessionImpl::run(const TensorMap& inputs, State& state) {
  const Program& p = *program_;
  if (state.impl_->program != program_) throw Error("run: the state belongs to another session");
  for (const auto& [name, t] : inputs) {
    int v = p.find(name);
    if (v < 0 || p.values[v].kind != ValueKind::Input) {
      std::string names;
      for (int in : p.inputs) names += (names.empty() ? "" : ", ") + p.values[in].name;
      throw Error("run: '" + name + "' is not an input of graph '" + p.graph.name + "' (inputs: " + names + ")");
    }
  }
  // Every missing input at once: one run of the caller's loop, not one per name.
  std::string missing;
  size_t missing_count = 0;
  for (int in : p.inputs)
    if (!inputs.count(p.values[in].name)) {
      missing += (missing.empty() ? "'" : ", '") + p.values[in].name + "'";
      ++missing_count;
    }
  if (missing_count)
    throw Error("run: graph '" + p.graph.name + "' " + (missing_count == 1 ? "input " : "inputs ") + missing +
                (missing_count == 1 ? " is" : " are") + " missing");
  std::vector<Shape> shapes;
  std::vector<const void*> ptrs;
  for (int in : p.inputs) {
    const ProgramValue& v = p.values[in];
    const Tensor& t = inputs.at(v.name);
    if (t.dtype() != v.info.dtype)
      throw Error("run: input '" + v.name + "' has dtype " + std::string(dtype_name(t.dtype())) + ", expected " +
                  std::string(dtype_name(v.info.dtype)));
    if (!t.defined()) throw Error("run: input '" + v.name + "' has no data");
    shapes.push_back(t.shape());
    ptrs.push_back(t.data());
  }
  auto plan = plan_for(shapes);
  auto rb = plan->acquire();
  struct Return {
    const ShapePlan& plan;
    std::unique_ptr<RunBuffers>& rb;
    ~Return() { if (rb) plan.release(std::move(rb)); }
  } give_back{*plan, rb};

  std::unique_lock<std::mutex> state_lock(state.impl_->mutex, std::defer_lock);
  if (!p.states.empty()) state_lock.lock();
  std::vector<void*> state_ptrs;
  for (auto& t : state.impl_->tensors) state_ptrs.push_back(t.data());

  plan->execute(*rb, ptrs, state_ptrs);

  TensorMap out;
  for (int v : p.outputs) {
    Tensor t(p.values[v].info.dtype, plan->shapes().shapes[v]);
    if (t.nbytes()) std::memcpy(t.data(), plan->host_pointer(*rb, v, ptrs, state_ptrs), t.nbytes());
    out.emplace(p.values[v].name, std::move(t));
  }
  for (const auto& st : p.states) {
    if (st.update < 0 || in_place_[st.update]) continue;
    const int idx = p.values[st.value].state;
    std::memcpy(state_ptrs[idx], plan->host_pointer(*rb, st.update, ptrs, state_ptrs), plan->byte_size(st.update));
  }
  return out;
}

MemoryReport SessionImpl::plan_memory(const std::map<std::string, int64_t>& bindings) const {
  const Program& p = *program_;
  check_symbol_limits(symbol_limits_, bindings, p.graph.name, "plan_memory");
  ConcreteShapes cs = infer_concrete(p, bindings);
  std::vector<Shape> input_shapes;
  for (int in : p.inputs) input_shapes.push_back(cs.shapes[in]);
  auto plan = plan_for(input_shapes);
  MemoryReport r;
  r.bindings = cs.bindings;
  for (size_t a = 0; a < plan->arena_bytes().size(); ++a) {
    std::string name = a < backends_.size() ? backends_[a]->name() : "host staging";
    if (plan->arena_bytes()[a] == 0) continue;
    r.arena_bytes[name] += plan->arena_bytes()[a];
    r.activation_bytes[name] += plan->activation_bytes(a);
    r.unplanned_bytes[name] += plan->unplanned_bytes()[a];
    r.scratch_bytes[name] += plan->scratch_bytes(a);
  }
  r.weight_bytes = p.weight_bytes;
  for (const auto& st : p.states) r.state_bytes += shape_numel(st.decl.shape) * dtype_size(st.decl.dtype);
  return r;
}

// ---------------------------------------------------------------- public wrappers

State::State() : impl_(std::make_unique<Impl>()) {}
State::~State() = default;
State::State(State&&) noexcept = default;
State& State::operator=(State&&) noexcept = default;

TensorMap State::snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  TensorMap out;
  if (!impl_->program) return out;
  for (size_t i = 0; i < impl_->tensors.size(); ++i) out.emplace(impl_->program->states[i].decl.name, impl_->tensors[i].clone());
  return out;
}

void State::reset() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (auto& t : impl_->tensors)
    if (t.nbytes()) std::memset(t.data(), 0, t.nbytes());
}

Session::Session(std::shared_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

TensorMap Session::run(const TensorMap& inputs) { return impl_->run(inputs, impl_->default_state); }
TensorMap Session::run(const TensorMap& inputs, State& state) { return impl_->run(inputs, state); }
State Session::new_state() const { return impl_->new_state(); }
State& Session::default_state() { return impl_->default_state; }
const Graph& Session::graph() const { return impl_->program().graph; }
const PlacementReport& Session::placement() const { return impl_->placement().report; }
MemoryReport Session::plan_memory(const std::map<std::string, int64_t>& bindings) const { return impl_->plan_memory(bindings); }
const std::vector<SymbolLimit>& Session::symbol_limits() const { return impl_->symbol_limits(); }
int Session::threads() const { return impl_->threads; }

}  // namespace loom
