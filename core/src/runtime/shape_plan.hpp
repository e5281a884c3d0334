// One shape plan of a session: the arena layout, the backend plans and the run buffers for one
// input-shape signature (or for the symbol bounds), with the sizes each run passes. Used by
// session.cpp and state.cpp only; it reads the session through SessionImpl. The size helpers at
// the top serve both.
#pragma once

#include "runtime/session_impl.hpp"

#include "ops/registry.hpp"
#include "plan/memory_plan.hpp"
#include "runtime/memory_limit.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace loom {


inline constexpr uint64_t kAlign = 64;
// Device memory is not known to the host; an arena past this is refused before a plugin sees it.
inline constexpr uint64_t kMaxArenaBytes = uint64_t(1) << 62;

inline uint64_t aligned(uint64_t n) { return n > UINT64_MAX - (kAlign - 1) ? UINT64_MAX : (n + kAlign - 1) / kAlign * kAlign; }

// Bytes of a concrete tensor, saturating (validation keeps every value under 2^62 bytes).
inline uint64_t tensor_bytes(const Shape& shape, DType dtype) {
  const auto n = static_cast<uint64_t>(shape_numel(shape)), item = dtype_size(dtype);
  return n > UINT64_MAX / item ? UINT64_MAX : n * item;
}

// How messages name a graph: by its name, else its file.
inline std::string graph_label(const Program& p) {
  if (!p.graph.name.empty()) return "graph '" + p.graph.name + "'";
  return p.graph.path.empty() ? "the graph" : p.graph.path.string();
}


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
      const auto started = stop.timings ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
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
      // A profiled run asks a backend that times its device for that time too.
      const loom_device_time_v1* timed = stop.timings ? backend.device_time() : nullptr;
      uint64_t device_ns = UINT64_MAX;
      if (loom_status* st = timed ? timed->run_timed(api.self, plans_[pi].handle, &args, &device_ns)
                                  : api.run(api.self, plans_[pi].handle, &args)) {
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
      if (stop.timings)
        stop.timings->push_back({pi, started, std::chrono::steady_clock::now(),
                                 device_ns <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(device_ns) : -1});
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

}  // namespace loom
