#include "runtime/shape_plan.hpp"

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "plan/memory_plan.hpp"
#include "runtime/memory_limit.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

namespace loom {

namespace {

// Whether output `out` of a node may be written over its input `in`, by the op's schema
// (element-wise ops over their first input, cache_write over its cache).
bool may_overwrite(const ProgramNode& node, size_t out, int in) {
  const ops::OpSchema* schema = ops::find_op(node.node.op);
  if (!schema || out >= schema->in_place.size() || schema->in_place[out] < 0) return false;
  const size_t input = static_cast<size_t>(schema->in_place[out]);
  return input < node.inputs.size() && node.inputs[input] == in;
}

}  // namespace


// ---------------------------------------------------------------- SessionImpl

SessionImpl::SessionImpl(std::shared_ptr<const Program> program,
                         std::vector<std::shared_ptr<plugins::BackendInstance>> backends, const Setup& setup_)
    : setup(setup_), program_(std::move(program)), state_program_(program_), backends_(std::move(backends)),
      plans_(setup_.max_plans), packed_(setup_.packed) {
  placement_ = plan::place(*program_, backends_, setup.node_partitions);
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
      loom_compile_options opts{sizeof(loom_compile_options), p.graph.name.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr};
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
      s.impl_->tensors[i] = Tensor::lazy_zeros(decl.dtype, decl.shape);
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
  s.impl_->cache_axis.assign(program_->states.size(), 0);
  for (const CacheWrite& cw : cache_writes_) {
    s.impl_->is_cache[cw.state] = true;
    s.impl_->cache_axis[cw.state] = cw.axis;
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

namespace {

// The first element outside the input's declared values, named with its index.
template <class T>
void check_values(const GraphInput& in, const Tensor& t) {
  const T* data = t.data_as<T>();
  const int64_t n = t.numel();
  for (int64_t e = 0; e < n; ++e) {
    const auto v = static_cast<int64_t>(data[e]);
    if (v >= in.values->min && v <= in.values->max) continue;
    std::string index;
    int64_t rest = e;
    for (size_t k = t.shape().size(); k-- > 0;) {
      const int64_t dim = t.shape()[k];
      index = std::to_string(dim ? rest % dim : 0) + (index.empty() ? "" : ", ") + index;
      rest = dim ? rest / dim : 0;
    }
    throw Error("run: input '" + in.name + "' holds " + std::to_string(v) + " at [" + index + "], outside its values " +
                std::to_string(in.values->min) + ".." + std::to_string(in.values->max));
  }
}

}  // namespace

void SessionImpl::check_input(size_t i, const Tensor& t) const {
  const ProgramValue& v = program_->values[program_->inputs[i]];
  if (t.dtype() != v.info.dtype)
    throw Error("run: input '" + v.name + "' has dtype " + std::string(dtype_name(t.dtype())) + ", expected " +
                std::string(dtype_name(v.info.dtype)));
  if (!t.defined()) throw Error("run: input '" + v.name + "' has no data");
  const GraphInput& in = program_->graph.inputs[i];
  if (!in.values) return;
  switch (t.dtype()) {
    case DType::i64: check_values<int64_t>(in, t); break;
    case DType::i32: check_values<int32_t>(in, t); break;
    case DType::u8: check_values<uint8_t>(in, t); break;
    default: break;  // the reader allows values on integer inputs only
  }
}

void SessionImpl::check_bounds(const std::vector<const Shape*>& given) const {
  if (symbol_bounds_.empty()) return;
  const Program& p = *program_;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    if (!given[i]) continue;
    const SymShape& declared = p.values[p.inputs[i]].info.shape;
    for (size_t d = 0; d < declared.size() && d < given[i]->size(); ++d) {
      const Dim& dim = declared[d];
      if (!dim.is_symbolic() || dim.symbols().size() != 1 || dim.factor() != 1) continue;
      auto b = symbol_bounds_.find(dim.symbols()[0]);
      if (b == symbol_bounds_.end() || (*given[i])[d] <= b->second) continue;
      throw Error("run: input '" + p.values[p.inputs[i]].name + "' has " + b->first + " = " + std::to_string((*given[i])[d]) +
                  ", past the graph's bound " + b->first + " <= " + std::to_string(b->second) + " (its axis " + std::to_string(d) + ")");
    }
  }
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
    : cancel(o.cancel), timings(o.timings), has_deadline(o.deadline.has_value()), start(std::chrono::steady_clock::now()) {
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

void SessionImpl::make_default_input(size_t i, const std::vector<const Shape*>& given, Tensor& t) const {
  const Program& p = *program_;
  const GraphInput& in = p.graph.inputs[i];
  const InputDefault& d = *in.default_value;
  // Each dim of its shape: known, or a symbol that a given input's dim binds. Looked up in place
  // (no map), so that a binding's default already made costs no allocation.
  auto size_of = [&](const Dim& dim) -> std::optional<int64_t> {
    if (dim.is_known()) return dim.value();
    if (!dim.is_symbolic() || dim.symbols().size() != 1 || dim.factor() != 1) return std::nullopt;
    for (size_t j = 0; j < p.inputs.size(); ++j) {
      if (!given[j]) continue;
      const SymShape& declared = p.values[p.inputs[j]].info.shape;
      for (size_t k = 0; k < declared.size() && k < given[j]->size(); ++k)
        if (declared[k].is_symbolic() && declared[k].symbols().size() == 1 && declared[k].factor() == 1 &&
            declared[k].symbols()[0] == dim.symbols()[0])
          return (*given[j])[k];
    }
    return std::nullopt;
  };
  bool same = t.defined() && t.shape().size() == in.info.shape.size();
  for (size_t k = 0; k < in.info.shape.size(); ++k) {
    auto v = size_of(in.info.shape[k]);
    if (!v)
      throw Error("run: input '" + in.name + "' is left out, and its default's shape " + sym_shape_str(in.info.shape) +
                  " is not set by the inputs given (" + in.info.shape[k].str() + " is unbound)");
    same = same && t.shape()[k] == *v;
  }
  if (same) return;  // a binding's default, filled before
  Shape shape;
  for (const Dim& dim : in.info.shape) shape.push_back(*size_of(dim));
  t = Tensor(in.info.dtype, shape);
  const int64_t n = t.numel();
  // Range: each element's index along the axis; the elements after the axis repeat it.
  int64_t inner = 1;
  for (size_t k = static_cast<size_t>(d.axis) + 1; k < shape.size(); ++k) inner *= shape[k];
  const int64_t len = d.kind == InputDefault::Kind::Range ? shape[static_cast<size_t>(d.axis)] : 1;
  auto value = [&](int64_t e) { return d.kind == InputDefault::Kind::Range ? static_cast<double>((e / inner) % len) : d.fill; };
  switch (in.info.dtype) {
    case DType::f32: for (int64_t e = 0; e < n; ++e) t.data_as<float>()[e] = static_cast<float>(value(e)); break;
    case DType::i64: for (int64_t e = 0; e < n; ++e) t.data_as<int64_t>()[e] = static_cast<int64_t>(value(e)); break;
    case DType::i32: for (int64_t e = 0; e < n; ++e) t.data_as<int32_t>()[e] = static_cast<int32_t>(value(e)); break;
    case DType::u8: for (int64_t e = 0; e < n; ++e) t.data_as<uint8_t>()[e] = static_cast<uint8_t>(value(e)); break;
    default: throw Error("run: input '" + in.name + "' is left out, and a default of dtype " + std::string(dtype_name(in.info.dtype)) + " cannot be made");
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
  std::vector<const Shape*> given(p.inputs.size(), nullptr);
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    auto it = inputs.find(p.values[p.inputs[i]].name);
    if (it != inputs.end()) given[i] = &it->second.shape();
    else if (!p.graph.inputs[i].default_value) {
      missing += (missing.empty() ? "'" : ", '") + p.values[p.inputs[i]].name + "'";
      ++missing_count;
    }
  }
  if (missing_count)
    throw Error("run: graph '" + p.graph.name + "' " + (missing_count == 1 ? "input " : "inputs ") + missing +
                (missing_count == 1 ? " is" : " are") + " missing");
  check_bounds(given);
  RunIO io;
  std::vector<Tensor> defaults(p.inputs.size());
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const int in = p.inputs[i];
    auto it = inputs.find(p.values[in].name);
    const Tensor* t = it != inputs.end() ? &it->second : nullptr;
    if (!t) {
      make_default_input(i, given, defaults[i]);
      t = &defaults[i];
    }
    check_input(i, *t);
    io.shapes.push_back(t->shape());
    io.inputs.push_back(t->data());
  }
  TensorMap out;
  execute(io, state, stop, [&](const ShapePlan& plan, const RunBuffers& rb, const ConcreteShapes& sizes) {
    for (int v : p.outputs) {
      Tensor t = Tensor::uninitialized(p.values[v].info.dtype, sizes.shapes[v]);
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
  b.given.resize(p.inputs.size());
  b.defaults.resize(p.inputs.size());
  for (size_t i = 0; i < p.inputs.size(); ++i)
    // Unbound: still the binding's empty tensor (no data, no dims; a bound scalar has data).
    b.given[i] = !b.inputs[i].data() && b.inputs[i].shape().empty() ? nullptr : &b.inputs[i].shape();
  check_bounds(b.given);
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const Tensor* bound = &b.inputs[i];
    if (!b.given[i]) {
      if (!p.graph.inputs[i].default_value) throw Error("run: input '" + p.values[p.inputs[i]].name + "' is not bound");
      make_default_input(i, b.given, b.defaults[i]);
      bound = &b.defaults[i];
    }
    const Tensor& t = *bound;
    check_input(i, t);
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
        t = Tensor::uninitialized(p.values[v].info.dtype, shape);
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
  r.converted_bytes = p.converted_bytes;
  r.packed_bytes = packed_.bytes();
  for (const auto& st : p.states) r.state_bytes = saturating_add(r.state_bytes, tensor_bytes(st.decl.shape, st.decl.dtype));
  return r;
}

// ---------------------------------------------------------------- public wrappers

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
