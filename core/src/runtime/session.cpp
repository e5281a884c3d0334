#include "runtime/session_impl.hpp"

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "plan/memory_plan.hpp"
#include "runtime/memory_limit.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

namespace loom {

namespace {

constexpr uint64_t kAlign = 64;
// Device memory is not known to the host; an arena past this is refused before a plugin sees it.
constexpr uint64_t kMaxArenaBytes = uint64_t(1) << 62;

uint64_t aligned(uint64_t n) { return n > UINT64_MAX - (kAlign - 1) ? UINT64_MAX : (n + kAlign - 1) / kAlign * kAlign; }

// Bytes of a concrete tensor, saturating (validation keeps every value under 2^62 bytes).
uint64_t tensor_bytes(const Shape& shape, DType dtype) {
  const auto n = static_cast<uint64_t>(shape_numel(shape)), item = dtype_size(dtype);
  return n > UINT64_MAX / item ? UINT64_MAX : n * item;
}

// How messages name a graph: by its name, else its file.
std::string graph_label(const Program& p) {
  if (!p.graph.name.empty()) return "graph '" + p.graph.name + "'";
  return p.graph.path.empty() ? "the graph" : p.graph.path.string();
}

// Whether output `out` of a node may be written over its input `in`, by the op's schema
// (element-wise ops over their first input, cache_write over its cache).
bool may_overwrite(const ProgramNode& node, size_t out, int in) {
  const ops::OpSchema* schema = ops::find_op(node.node.op);
  if (!schema || out >= schema->in_place.size() || schema->in_place[out] < 0) return false;
  const size_t input = static_cast<size_t>(schema->in_place[out]);
  return input < node.inputs.size() && node.inputs[input] == in;
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

// The sizes of one run: a plan's own, or, for a plan made at symbol bounds, the actual sizes of
// a run below them, with the dims every partition's tensors point at during that run.
struct RunShapes {
  ConcreteShapes shapes;
  std::vector<std::unique_ptr<plugins::GraphViewStorage::Shapes>> parts;  // per partition
  RunShapes(const SessionImpl& s, ConcreteShapes cs) : shapes(std::move(cs)) {
    for (const auto& part : s.parts()) parts.push_back(std::make_unique<plugins::GraphViewStorage::Shapes>(*part.view, shapes.shapes));
  }
  uint64_t byte_size(const Program& p, int v) const {
    return static_cast<uint64_t>(shape_numel(shapes.shapes[v])) * dtype_size(p.values[v].info.dtype);
  }
};

class ShapePlan {
 public:
  ShapePlan(const SessionImpl& s, ConcreteShapes shapes, bool bounded)
      : session_(s), shapes_(std::move(shapes)), bounded_(bounded), own_(std::make_shared<const RunShapes>(s, shapes_)) {
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
    auto bytes_of = [&](int v) { return tensor_bytes(shapes_.shapes[v], p.values[v].info.dtype); };
    auto needed_until_end = [&](int v) {
      if (p.values[v].graph_output) return true;
      for (const auto& st : p.states)
        if (st.update == v) return true;
      return false;
    };
    // Views (reshape) on host memory get no bytes of their own: they are their input's bytes,
    // and the input lives as long as its last view is read. root[v] is the value that owns them.
    std::vector<int> root(nv, -1);
    std::vector<int> view_last(nv, -1);
    for (const ProgramNode& n : p.nodes) {
      const ops::OpSchema* schema = ops::find_op(n.node.op);
      if (!schema || !schema->view || n.inputs.empty() || n.inputs[0] < 0) continue;
      const int in = n.inputs[0], out = n.outputs[0];
      if (p.values[in].kind != ValueKind::Activation || home_[in].kind != Location::None || home_[out].kind != Location::None)
        continue;
      const int in_part = s.producer_part(in), out_part = s.producer_part(out);
      const int backend = s.parts()[out_part].backend;
      if (s.parts()[in_part].backend != backend || !s.backends()[backend]->host_memory()) continue;
      root[out] = root[in] >= 0 ? root[in] : in;
    }
    for (size_t v = 0; v < nv; ++v) {
      if (root[v] < 0) continue;
      int last = p.values[v].producer;
      for (int c : p.values[v].consumers) last = std::max(last, c);
      if (needed_until_end(static_cast<int>(v))) last = end;
      view_last[root[v]] = std::max(view_last[root[v]], last);
    }
    for (size_t v = 0; v < nv; ++v) {
      if (p.values[v].kind != ValueKind::Activation || home_[v].kind != Location::None || root[v] >= 0) continue;
      const int producer = p.values[v].producer;
      const int part = s.producer_part(static_cast<int>(v));
      const int backend = s.parts()[part].backend;
      const bool device = !s.backends()[backend]->host_memory();
      int last = producer;
      for (int c : p.values[v].consumers)
        if (!device || s.parts()[part_of(c)].backend == backend) last = std::max(last, c);
      if (device) last = std::max(last, s.parts()[part].nodes.back());
      if (!device && needed_until_end(static_cast<int>(v))) last = end;
      last = std::max(last, view_last[v]);
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
      if (root[v] >= 0) home_[v] = home_[root[v]];
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
      arena_bytes_[a] = saturating_add(scratch_offset_[a], aligned(scratch[a]));
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
  void execute(RunBuffers& rb, const std::vector<const void*>& inputs, const std::vector<void*>& state,
               const RunShapes& sizes, const RunStop& stop) const {
    const Program& p = session_.program();
    for (size_t pi = 0; pi < session_.parts().size(); ++pi) {
      stop.check();
      const auto& part = session_.parts()[pi];
      const auto& backend = *session_.backends()[part.backend];
      const loom_backend& api = backend.api();
      auto& tensors = rb.tensors[pi];
      if (bounded_) {
        // A plan made at the bounds runs at this run's sizes: every tensor gets its actual dims.
        const loom_shape_set* set = sizes.parts[pi]->set();
        for (size_t k = 0; k < tensors.size(); ++k) tensors[k].dims = set->dims[k];
      }
      if (!backend.host_memory()) {
        for (int v : part.copy_in) {
          const Location& dst = device_copy_.at({static_cast<int>(pi), v});
          plugins::check_status(api.buffer_write(api.self, rb.arena[dst.index], dst.offset, host_pointer(rb, v, inputs, state),
                                                 sizes.byte_size(p, v)),
                                backend.name() + ": copying '" + p.values[v].name + "' to the device");
        }
      }
      for (const Patch& patch : patches_[pi]) {
        if (patch.kind == Location::Input) tensors[patch.tensor].data = const_cast<void*>(inputs[patch.index]);
        else if (backend.host_memory()) tensors[patch.tensor].data = state[patch.index];
        else tensors[patch.tensor].buffer = state[patch.index];  // the state's device buffer, offset 0
      }
      loom_run_args args{sizeof(loom_run_args), tensors.size(), tensors.data(), nullptr, nullptr, 0, scratch_bytes_[part.backend],
                         stop.active() ? &RunStop::poll : nullptr, const_cast<RunStop*>(&stop)};
      if (backend.host_memory()) {
        args.scratch = static_cast<uint8_t*>(rb.arena[part.backend]) + scratch_offset_[part.backend];
      } else {
        args.scratch_buffer = rb.arena[part.backend];
        args.scratch_offset = scratch_offset_[part.backend];
      }
      if (loom_status* st = api.run(api.self, plans_[pi].handle, &args)) {
        if (st->code == LOOM_STATUS_DEVICE_LOST) {
          session_.backends()[part.backend]->mark_lost();
          throw DeviceLostError(backend.name() + ": the device was lost: " + plugins::take_status(st));
        }
        if (st->code == LOOM_STATUS_CANCELLED && stop.active() && stop.requested()) {
          plugins::take_status(st);
          stop.raise();
        }
        plugins::check_status(st, backend.name());
      }
      for (int v : part.copy_out) {
        const Location& src = home_[v];
        plugins::check_status(api.buffer_read(api.self, rb.arena[src.index], src.offset,
                                              const_cast<void*>(host_pointer(rb, v, inputs, state)), sizes.byte_size(p, v)),
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

  // The sizes of a run with these input shapes: the plan's own, or for a plan made at symbol
  // bounds, the actual ones (inferred once per input-shape signature and kept, a few hundred at
  // most; shared_ptr so that a run keeps its entry while it is dropped).
  std::shared_ptr<const RunShapes> run_shapes(const std::vector<Shape>& input_shapes) const {
    if (!bounded_) return own_;
    std::lock_guard<std::mutex> lock(sizes_mutex_);
    auto it = sizes_.find(input_shapes);
    if (it != sizes_.end()) return it->second;
    if (sizes_.size() >= kMaxRunShapes) sizes_.clear();
    auto rs = std::make_shared<const RunShapes>(session_, infer_concrete(session_.program(), input_shapes));
    sizes_.emplace(input_shapes, rs);
    return rs;
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
    // Arena sizes follow from the input shapes: checked before they are allocated.
    const std::string graph = graph_label(session_.program());
    for (int a = 0; a < narenas; ++a) {
      const uint64_t bytes = std::max<uint64_t>(arena_bytes_[a], kAlign);
      const bool device = a < session_.staging_arena() && !session_.backends()[a]->host_memory();
      const std::string what = "running " + graph + " with these input shapes: the activations and scratch of " +
                               (a < session_.staging_arena() ? "backend '" + session_.backends()[a]->name() + "'" : "the host staging");
      if (device) {
        const auto& b = *session_.backends()[a];
        if (bytes > kMaxArenaBytes) throw Error(what + " need " + std::to_string(bytes) + " bytes, more than " + std::to_string(kMaxArenaBytes));
        rb->owners[a] = &b;
        plugins::check_status(b.api().buffer_alloc(b.api().self, bytes, &rb->arena[a]),
                              b.name() + ": allocating the arena of " + std::to_string(bytes) + " bytes");
      } else {
        check_fits_in_memory(bytes, what);
        rb->arena[a] = std::aligned_alloc(kAlign, aligned(bytes));
        if (!rb->arena[a]) throw Error(what + ": cannot allocate " + std::to_string(bytes) + " bytes (out of memory)");
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
        loom_tensor t{sizeof(loom_tensor), static_cast<int32_t>(p.values[v].info.dtype), set->ranks[k], set->dims[k], nullptr, nullptr, nullptr, 0};
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
  bool bounded_ = false;
  std::shared_ptr<const RunShapes> own_;
  static constexpr size_t kMaxRunShapes = 256;
  mutable std::mutex sizes_mutex_;
  mutable std::map<std::vector<Shape>, std::shared_ptr<const RunShapes>> sizes_;
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
                         std::vector<std::shared_ptr<plugins::BackendInstance>> backends, const Setup& setup_)
    : setup(setup_), program_(std::move(program)), state_program_(program_), backends_(std::move(backends)),
      plans_(setup_.max_plans), packed_(setup_.packed) {
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
  decide_state_homes();
  decide_copies();
  // Views and compilation: value kinds as each partition sees them.
  // The destructor does not run when the constructor throws: what was compiled is released here.
  try {
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
      loom_compile_options opts{sizeof(loom_compile_options), p.graph.name.c_str(), nullptr, nullptr, nullptr};
      packed_.attach(opts);
      plugins::check_status(be.api().compile(be.api().self, part.view->view(), &opts, &part.executable),
                            be.name() + ": compiling partition " + std::to_string(pi) + " of graph '" + p.graph.name + "'");
    }
    find_cache_writes();
    for (const SymbolBound& b : p.graph.symbols) symbol_bounds_[b.name] = b.max;
    bounded_ = !symbol_bounds_.empty();
    for (const auto& part : parts_) bounded_ &= (backends_[part.backend]->flags() & LOOM_BACKEND_BOUNDED_SHAPES) != 0;
    default_state = std::make_shared<State>(new_state());
  } catch (...) {
    release_executables();
    throw;
  }
}

std::shared_ptr<SessionImpl> SessionImpl::replacement() const {
  std::lock_guard<std::mutex> lock(replacement_mutex_);
  return replacement_;
}

void SessionImpl::check_backends() const {
  for (const auto& b : backends_)
    if (b->lost())
      throw DeviceLostError("run: backend '" + b->name() + "' lost its device in an earlier run; this session cannot run "
                            "(the session option fallback=on re-places the graph on the remaining backends)");
}

void SessionImpl::device_lost(const DeviceLostError& e) {
  if (!setup.fallback)
    throw DeviceLostError(std::string(e.what()) + " (later runs of this session fail; the session option fallback=on "
                          "re-places the graph on the remaining backends)");
  std::vector<std::shared_ptr<plugins::BackendInstance>> remaining;
  std::string names;
  for (const auto& b : backends_)
    if (!b->lost()) {
      remaining.push_back(b);
      names += (names.empty() ? "" : ", ") + b->name();
    }
  std::lock_guard<std::mutex> lock(replacement_mutex_);
  if (!replacement_) {
    if (remaining.empty()) throw DeviceLostError(std::string(e.what()) + " (no other backend is left to fall back to)");
    try {
      OptimizationReport report = optimization;
      auto program = passes::decompose_unsupported(program_, remaining, report.decomposed);
      auto next = std::make_shared<SessionImpl>(program, remaining, setup);
      next->optimization = std::move(report);
      next->state_program_ = state_program_;
      next->default_state = default_state;
      replacement_ = std::move(next);
    } catch (const Error& placing) {
      throw DeviceLostError(std::string(e.what()) + " (falling back failed: " + placing.what() + ")");
    }
  }
  throw DeviceLostError(std::string(e.what()) + " (the session now runs on " + names + "; later runs go there)");
}

template <class F>
auto SessionImpl::guarded(F&& f) -> decltype(f()) {
  check_backends();
  try {
    return f();
  } catch (const DeviceLostError& e) {
    device_lost(e);
  }
}

SessionImpl::~SessionImpl() {
  plans_.clear();  // backend plans first, then executables, then the backends themselves
  release_executables();
}

void SessionImpl::release_executables() {
  for (auto& part : parts_) {
    if (!part.executable) continue;
    const auto& api = backends_[part.backend]->api();
    api.release_executable(api.self, part.executable);
    part.executable = nullptr;
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
    if (s.graph_output) continue;
    const int backend = parts_[node_part_[u.producer]].backend;
    if (!backends_[backend]->host_memory()) {
      // On a device the state lives in the device's memory, so every node that reads it, or reads
      // its new value, must run there, and nobody on the host may need the new value.
      bool device_only = !u.graph_output;
      for (int c : s.consumers) device_only &= parts_[node_part_[c]].backend == backend;
      for (int c : u.consumers) device_only &= parts_[node_part_[c]].backend == backend;
      if (!device_only) continue;
    }
    const ProgramNode& producer = p.nodes[u.producer];
    const size_t out = static_cast<size_t>(std::find(producer.outputs.begin(), producer.outputs.end(), st.update) - producer.outputs.begin());
    const auto reads = std::count(producer.inputs.begin(), producer.inputs.end(), st.value);
    const ProgramValue& state_value = p.values[st.value];
    // In place needs the same bytes: a cast to another dtype or a broadcast cannot share them.
    bool safe = reads == 0 || (reads == 1 && may_overwrite(producer, out, st.value) &&
                               u.info.dtype == state_value.info.dtype && u.info.shape == state_value.info.shape);
    for (int c : s.consumers) safe &= c <= u.producer;
    in_place_[st.update] = safe;
  }
}

// A state lives on a device backend when that backend writes its update in place (above), or,
// for a state nobody updates, when every reader runs there; otherwise in host memory.
void SessionImpl::decide_state_homes() {
  const Program& p = *program_;
  state_home_.assign(p.states.size(), -1);
  for (size_t si = 0; si < p.states.size(); ++si) {
    const ProgramState& st = p.states[si];
    const ProgramValue& s = p.values[st.value];
    int backend = -1;
    if (st.update >= 0) {
      if (!in_place_[st.update]) continue;
      backend = parts_[node_part_[p.values[st.update].producer]].backend;
    } else {
      if (s.consumers.empty() || s.graph_output) continue;
      backend = parts_[node_part_[s.consumers.front()]].backend;
      for (int c : s.consumers)
        if (parts_[node_part_[c]].backend != backend) backend = -1;
      if (backend < 0) continue;
    }
    if (!backends_[backend]->host_memory()) state_home_[si] = backend;
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
        if (p.values[v].kind == ValueKind::State && state_home_[p.values[v].state] == part.backend) continue;
        in.insert(v);
      }
      if (!device) continue;
      for (int v : p.nodes[n].outputs) {
        bool host_needed = p.values[v].graph_output;
        for (const auto& st : p.states) host_needed |= st.update == v && !in_place_[v];
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
  return plans_.get(input_shapes, [&] {
    ConcreteShapes shapes = infer_concrete(*program_, input_shapes);
    // A plan made at the bounds is checked per run, at the run's own sizes (execute).
    if (!bounded_) check_symbol_limits(symbol_limits_, shapes.bindings, program_->graph.name, "run");
    return std::make_shared<ShapePlan>(*this, std::move(shapes), bounded_);
  });
}

void SessionImpl::find_cache_writes() {
  const Program& p = *program_;
  for (size_t si = 0; si < p.states.size(); ++si) {
    const ProgramState& st = p.states[si];
    if (st.update < 0) continue;
    const ProgramNode& producer = p.nodes[p.values[st.update].producer];
    if (producer.node.op != "cache_write" || producer.inputs[0] != st.value) continue;
    const int64_t rank = static_cast<int64_t>(st.decl.shape.size());
    int64_t axis = std::get<int64_t>(producer.node.attrs.at("axis"));
    if (axis < 0) axis += rank;
    cache_writes_.push_back({static_cast<int>(si), producer.inputs[2], producer.inputs[1], static_cast<int>(axis)});
  }
}

State SessionImpl::new_state() const {
  // State sizes come from the graph: the whole state is checked before any of it is allocated.
  uint64_t total = 0;
  for (const auto& st : program_->states) {
    const uint64_t bytes = tensor_bytes(st.decl.shape, st.decl.dtype);
    const std::string at = st.decl.loc.str();
    check_fits_in_memory(bytes, printable((at.empty() ? "" : at + ": ") + "state '" + st.decl.name + "' (shape " +
                                          shape_str(st.decl.shape) + " of " + std::string(dtype_name(st.decl.dtype)) + ")"));
    total = saturating_add(total, bytes);
  }
  check_fits_in_memory(total, printable("the state of " + graph_label(*program_) + " (" + std::to_string(program_->states.size()) + " tensors)"));
  State s;
  s.impl_->program = state_program_;
  const size_t n = program_->states.size();
  s.impl_->tensors.resize(n);
  s.impl_->device.assign(n, nullptr);
  s.impl_->owner.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const StateDecl& decl = program_->states[i].decl;
    if (state_home_[i] < 0) {
      s.impl_->tensors[i] = Tensor(decl.dtype, decl.shape);
      continue;
    }
    // On its device: allocated there and zeroed there, never copied in or out around a run.
    s.impl_->tensors[i] = Tensor(decl.dtype, Shape(decl.shape.size(), 0));  // keeps dtype and rank, no bytes
    const auto& backend = backends_[state_home_[i]];
    const uint64_t bytes = std::max<uint64_t>(tensor_bytes(decl.shape, decl.dtype), 1);
    plugins::check_status(backend->api().buffer_alloc(backend->api().self, bytes, &s.impl_->device[i]),
                          backend->name() + ": allocating state '" + decl.name + "'");
    s.impl_->owner[i] = backend;
    s.impl_->zero(i);
  }
  s.impl_->filled.resize(program_->states.size());
  s.impl_->is_cache.assign(program_->states.size(), false);
  for (const CacheWrite& cw : cache_writes_) {
    s.impl_->is_cache[cw.state] = true;
    s.impl_->filled[cw.state].assign(static_cast<size_t>(program_->states[cw.state].decl.shape[0]), 0);
  }
  return s;
}

Binding SessionImpl::new_binding() const {
  Binding b;
  b.impl_->program = state_program_;
  b.impl_->inputs.resize(program_->inputs.size());
  b.impl_->outputs.resize(program_->outputs.size());
  b.impl_->output_bound.assign(program_->outputs.size(), false);
  return b;
}

SessionStats SessionImpl::stats() const {
  const auto counts = plans_.counts();
  SessionStats st;
  st.plans_made = counts.made;
  st.plans_cached = counts.cached;
  st.plans_evicted = counts.evicted;
  st.runs = runs_.load();
  st.plans_at_bounds = bounded_;
  return st;
}

void SessionImpl::check_input(int value, const Tensor& t) const {
  const ProgramValue& v = program_->values[value];
  if (t.dtype() != v.info.dtype)
    throw Error("run: input '" + v.name + "' has dtype " + std::string(dtype_name(t.dtype())) + ", expected " +
                std::string(dtype_name(v.info.dtype)));
  if (!t.defined()) throw Error("run: input '" + v.name + "' has no data");
}

// For a plan made at symbol bounds: the input shapes with every dim whose symbols are all bounded
// at its bound. Written into io.key, whose storage later runs reuse.
const std::vector<Shape>& SessionImpl::plan_key(RunIO& io) const {
  const Program& p = *program_;
  // Check the actual sizes (and the bounds) first: the key must not hide a bad input.
  io.key.resize(p.inputs.size());
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const SymShape& declared = p.values[p.inputs[i]].info.shape;
    const Shape& actual = io.shapes[i];
    io.key[i].resize(actual.size());
    for (size_t d = 0; d < actual.size(); ++d) {
      int64_t at_bound = actual[d];
      if (d < declared.size() && declared[d].is_symbolic()) {
        const Dim b = declared[d].bind(symbol_bounds_);
        if (b.is_known()) at_bound = b.value();
      }
      io.key[i][d] = at_bound;
    }
  }
  return io.key;
}

RunStop::RunStop(const RunOptions& o)
    : cancel(o.cancel), has_deadline(o.deadline.has_value()), start(std::chrono::steady_clock::now()) {
  if (o.deadline) deadline = *o.deadline;
}

void RunStop::raise() const {
  if (cancel && cancel->load()) throw CancelledError("run cancelled");
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (deadline < start)
    throw CancelledError("run passed its deadline before it started (the deadline was " +
                         std::to_string(duration_cast<milliseconds>(start - deadline).count()) + " ms earlier)");
  throw CancelledError("run passed its deadline of " + std::to_string(duration_cast<milliseconds>(deadline - start).count()) + " ms");
}

template <class TakeOutputs>
void SessionImpl::execute(RunIO& io, State& state, const RunStop& stop, TakeOutputs&& take_outputs) {
  const Program& p = *program_;
  if (state.impl_->program != state_program_) throw Error("run: the state belongs to another session");
  stop.check();
  auto plan = plan_for(bounded_ ? plan_key(io) : io.shapes);
  auto sizes = plan->run_shapes(io.shapes);
  if (bounded_) check_symbol_limits(symbol_limits_, sizes->shapes.bindings, p.graph.name, "run");
  auto rb = plan->acquire();
  struct Return {
    const ShapePlan& plan;
    std::unique_ptr<RunBuffers>& rb;
    ~Return() { if (rb) plan.release(std::move(rb)); }
  } give_back{*plan, rb};

  std::unique_lock<std::mutex> state_lock(state.impl_->mutex, std::defer_lock);
  if (!p.states.empty()) state_lock.lock();
  io.state.resize(state.impl_->tensors.size());
  for (size_t i = 0; i < state.impl_->tensors.size(); ++i) {
    // A state made on a device this session does not keep it on (a replacement after a device
    // loss) cannot be read here.
    const plugins::BackendInstance* want = state_home_[i] < 0 ? nullptr : backends_[state_home_[i]].get();
    if (state.impl_->owner[i].get() != want)
      throw Error("run: state '" + p.states[i].decl.name + "' lives " +
                  (state.impl_->owner[i] ? "on backend '" + state.impl_->owner[i]->name() + "'" : std::string("in host memory")) +
                  ", not where this session keeps it (after a device loss, make a new State)");
    io.state[i] = state.impl_->pointer(i);
  }

  plan->execute(*rb, io.inputs, io.state, *sizes, stop);
  ++runs_;

  take_outputs(*plan, *rb, sizes->shapes);
  for (const auto& st : p.states) {
    if (st.update < 0 || in_place_[st.update]) continue;
    const int idx = p.values[st.value].state;
    std::memcpy(io.state[idx], plan->host_pointer(*rb, st.update, io.inputs, io.state), sizes->byte_size(p, st.update));
  }
  for (const CacheWrite& cw : cache_writes_) {
    auto& filled = state.impl_->filled[cw.state];
    const auto* offsets = static_cast<const int64_t*>(plan->host_pointer(*rb, cw.offset, io.inputs, io.state));
    const int64_t rows = sizes->shapes.shapes[cw.update][static_cast<size_t>(cw.axis)];
    for (size_t b = 0; b < filled.size(); ++b) filled[b] = std::max(filled[b], offsets[b] + rows);
  }
}

TensorMap SessionImpl::run(const TensorMap& inputs, State& state, const RunStop& stop) {
  const Program& p = *program_;
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
  RunIO io;
  for (int in : p.inputs) {
    auto it = inputs.find(p.values[in].name);
    check_input(in, it->second);
    io.shapes.push_back(it->second.shape());
    io.inputs.push_back(it->second.data());
  }
  TensorMap out;
  execute(io, state, stop, [&](const ShapePlan& plan, const RunBuffers& rb, const ConcreteShapes& sizes) {
    for (int v : p.outputs) {
      Tensor t(p.values[v].info.dtype, sizes.shapes[v]);
      if (t.nbytes()) std::memcpy(t.data(), plan.host_pointer(rb, v, io.inputs, io.state), t.nbytes());
      out.emplace(p.values[v].name, std::move(t));
    }
  });
  return out;
}

// Allocates nothing once the plan exists, the binding's outputs have their shapes and the
// vectors of its RunIO have their sizes: the steady state of a decode loop.
void SessionImpl::run(Binding::Impl& b, State& state, const RunStop& stop) {
  const Program& p = *program_;
  if (b.program != state_program_) throw Error("run: the binding belongs to another session");
  RunIO& io = b.io;
  io.shapes.resize(p.inputs.size());
  io.inputs.resize(p.inputs.size());
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const Tensor& t = b.inputs[i];
    if (t.numel() == 0 && !t.data() && t.shape().empty()) throw Error("run: input '" + p.values[p.inputs[i]].name + "' is not bound");
    check_input(p.inputs[i], t);
    if (io.shapes[i] != t.shape()) io.shapes[i] = t.shape();
    io.inputs[i] = t.data();
  }
  execute(io, state, stop, [&](const ShapePlan& plan, const RunBuffers& rb, const ConcreteShapes& sizes) {
    for (size_t k = 0; k < p.outputs.size(); ++k) {
      const int v = p.outputs[k];
      const Shape& shape = sizes.shapes[v];
      Tensor& t = b.outputs[k];
      if (t.shape() != shape || t.dtype() != p.values[v].info.dtype || !t.defined()) {
        if (b.output_bound[k])
          throw Error("run: the tensor bound to output '" + p.values[v].name + "' is " +
                      std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + ", the output is " +
                      std::string(dtype_name(p.values[v].info.dtype)) + " " + shape_str(shape));
        t = Tensor(p.values[v].info.dtype, shape);
      }
      if (t.nbytes()) std::memcpy(t.data(), plan.host_pointer(rb, v, io.inputs, io.state), t.nbytes());
    }
  });
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
  r.packed_bytes = packed_.bytes();
  for (const auto& st : p.states) r.state_bytes = saturating_add(r.state_bytes, tensor_bytes(st.decl.shape, st.decl.dtype));
  return r;
}

// ---------------------------------------------------------------- public wrappers

State::State() : impl_(std::make_unique<Impl>()) {}
State::~State() = default;
State::State(State&&) noexcept = default;
State& State::operator=(State&&) noexcept = default;

State::Impl::~Impl() {
  for (size_t i = 0; i < device.size(); ++i)
    if (device[i]) owner[i]->api().buffer_free(owner[i]->api().self, device[i]);
}

uint64_t State::Impl::bytes(size_t i) const {
  const StateDecl& decl = program->states[i].decl;
  return tensor_bytes(decl.shape, decl.dtype);
}

Tensor State::Impl::read(size_t i) const {
  const StateDecl& decl = program->states[i].decl;
  if (!device[i]) return tensors[i].clone();
  Tensor t(decl.dtype, decl.shape);
  const loom_backend& api = owner[i]->api();
  if (t.nbytes())
    plugins::check_status(api.buffer_read(api.self, device[i], 0, t.data(), t.nbytes()),
                          owner[i]->name() + ": reading state '" + decl.name + "'");
  return t;
}

void State::Impl::zero(size_t i) {
  if (!device[i]) {
    if (tensors[i].nbytes()) std::memset(tensors[i].data(), 0, tensors[i].nbytes());
    return;
  }
  const std::vector<uint8_t> zeros(bytes(i), 0);
  const loom_backend& api = owner[i]->api();
  if (!zeros.empty())
    plugins::check_status(api.buffer_write(api.self, device[i], 0, zeros.data(), zeros.size()),
                          owner[i]->name() + ": clearing state '" + program->states[i].decl.name + "'");
}

TensorMap State::snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  TensorMap out;
  if (!impl_->program) return out;
  for (size_t i = 0; i < impl_->tensors.size(); ++i) out.emplace(impl_->program->states[i].decl.name, impl_->read(i));
  return out;
}

void State::reset() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (size_t i = 0; i < impl_->tensors.size(); ++i) impl_->zero(i);
  for (auto& f : impl_->filled) std::fill(f.begin(), f.end(), 0);
}

State State::copy() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  State s;
  s.impl_->program = impl_->program;
  s.impl_->device.assign(impl_->device.size(), nullptr);
  s.impl_->owner = impl_->owner;
  for (size_t i = 0; i < impl_->tensors.size(); ++i) {
    if (!impl_->device[i]) {
      s.impl_->tensors.push_back(impl_->tensors[i].clone());
      continue;
    }
    // A device state is copied through the host: branching a conversation is rare next to its steps.
    s.impl_->tensors.push_back(impl_->tensors[i]);
    const Tensor host = impl_->read(i);
    const loom_backend& api = impl_->owner[i]->api();
    plugins::check_status(api.buffer_alloc(api.self, std::max<uint64_t>(host.nbytes(), 1), &s.impl_->device[i]),
                          impl_->owner[i]->name() + ": allocating a copy of a state");
    if (host.nbytes())
      plugins::check_status(api.buffer_write(api.self, s.impl_->device[i], 0, host.data(), host.nbytes()),
                            impl_->owner[i]->name() + ": copying a state");
  }
  s.impl_->filled = impl_->filled;
  s.impl_->is_cache = impl_->is_cache;
  return s;
}

std::vector<int64_t> State::filled(const std::string& state_name) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->program)
    for (size_t i = 0; i < impl_->program->states.size(); ++i) {
      if (impl_->program->states[i].decl.name != state_name) continue;
      if (!impl_->is_cache[i]) throw Error("state '" + state_name + "' is not written by cache_write, so it has no filled positions");
      return impl_->filled[i];
    }
  throw Error("no state named '" + state_name + "'");
}

Binding::Binding() : impl_(std::make_unique<Impl>()) {}
Binding::~Binding() = default;
Binding::Binding(Binding&&) noexcept = default;
Binding& Binding::operator=(Binding&&) noexcept = default;

namespace {
size_t port_index(const Program& p, const std::vector<int>& ports, const std::string& name, const char* what) {
  for (size_t i = 0; i < ports.size(); ++i)
    if (p.values[ports[i]].name == name) return i;
  std::string names;
  for (int v : ports) names += (names.empty() ? "" : ", ") + p.values[v].name;
  throw Error("binding: '" + name + "' is not an " + what + " of graph '" + p.graph.name + "' (" + what + "s: " + names + ")");
}
}  // namespace

void Binding::bind_input(const std::string& name, Tensor tensor) {
  if (!impl_->program) throw Error("binding: not made by a session (Session::new_binding)");
  impl_->inputs[port_index(*impl_->program, impl_->program->inputs, name, "input")] = std::move(tensor);
}

void Binding::bind_output(const std::string& name, Tensor tensor) {
  if (!impl_->program) throw Error("binding: not made by a session (Session::new_binding)");
  const size_t k = port_index(*impl_->program, impl_->program->outputs, name, "output");
  impl_->outputs[k] = std::move(tensor);
  impl_->output_bound[k] = true;
}

const Tensor& Binding::output(const std::string& name) const {
  if (!impl_->program) throw Error("binding: not made by a session (Session::new_binding)");
  return impl_->outputs[port_index(*impl_->program, impl_->program->outputs, name, "output")];
}

Session::Session(std::shared_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

namespace {
// The session that runs now: the last replacement made after device losses, if any.
std::shared_ptr<SessionImpl> current(const std::shared_ptr<SessionImpl>& impl) {
  std::shared_ptr<SessionImpl> s = impl;
  while (auto next = s->replacement()) s = next;
  return s;
}
}  // namespace

// Input names come from the caller and value names from the graph: messages are kept printable.
TensorMap Session::run(const TensorMap& inputs) { return run(inputs, *impl_->default_state, RunOptions{}); }
TensorMap Session::run(const TensorMap& inputs, State& state) { return run(inputs, state, RunOptions{}); }
TensorMap Session::run(const TensorMap& inputs, const RunOptions& options) { return run(inputs, *impl_->default_state, options); }
TensorMap Session::run(const TensorMap& inputs, State& state, const RunOptions& options) {
  auto s = current(impl_);
  const RunStop stop(options);
  try {
    return s->guarded([&] { return s->run(inputs, state, stop); });
  } catch (const DeviceLostError&) {
    throw;
  } catch (const CancelledError&) {
    throw;
  } catch (const Error& e) {
    throw Error(printable(e.what()));
  }
}
void Session::run(Binding& binding) { run(binding, *impl_->default_state, RunOptions{}); }
void Session::run(Binding& binding, State& state) { run(binding, state, RunOptions{}); }
void Session::run(Binding& binding, const RunOptions& options) { run(binding, *impl_->default_state, options); }
void Session::run(Binding& binding, State& state, const RunOptions& options) {
  auto s = current(impl_);
  const RunStop stop(options);
  s->guarded([&] { s->run(*binding.impl_, state, stop); });
}
Binding Session::new_binding() const { return impl_->new_binding(); }
SessionStats Session::stats() const { return current(impl_)->stats(); }
State Session::new_state() const { return current(impl_)->new_state(); }
State& Session::default_state() { return *impl_->default_state; }
const Graph& Session::graph() const { return impl_->program().graph; }
const OptimizationReport& Session::optimization() const { return current(impl_)->optimization; }
const PlacementReport& Session::placement() const { return current(impl_)->placement().report; }
MemoryReport Session::plan_memory(const std::map<std::string, int64_t>& bindings) const { return current(impl_)->plan_memory(bindings); }
const std::vector<SymbolLimit>& Session::symbol_limits() const { return current(impl_)->symbol_limits(); }
int Session::threads() const { return impl_->setup.threads; }

}  // namespace loom
