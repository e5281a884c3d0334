// The public State (a conversation's tensors, in host memory or a device backend's buffers) and
// Binding (inputs and outputs bound once for runs that allocate nothing).
#include "runtime/shape_plan.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstring>

namespace loom {

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
    tensors[i].zero();
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
  s.impl_->cache_axis = impl_->cache_axis;
  return s;
}

void State::assign(const State& source) {
  if (&source == this) return;
  std::scoped_lock lock(impl_->mutex, source.impl_->mutex);
  Impl& to = *impl_;
  const Impl& from = *source.impl_;
  if (!to.program || to.program != from.program)
    throw Error("State::assign: the two states are not of the same session");
  for (size_t i = 0; i < to.tensors.size(); ++i) {
    if (to.device[i]) {  // through the host, as copy() does
      const Tensor host = from.read(i);
      const loom_backend& api = to.owner[i]->api();
      if (host.nbytes())
        plugins::check_status(api.buffer_write(api.self, to.device[i], 0, host.data(), host.nbytes()),
                              to.owner[i]->name() + ": copying a state");
      continue;
    }
    auto* dst = static_cast<std::byte*>(to.tensors[i].data());
    const auto* src = static_cast<const std::byte*>(from.tensors[i].data());
    const Shape& shape = to.tensors[i].shape();
    const int axis = to.cache_axis[i];
    if (!to.is_cache[i] || axis < 1 || static_cast<size_t>(axis) >= shape.size()) {
      if (to.tensors[i].nbytes()) std::memcpy(dst, src, to.tensors[i].nbytes());
      continue;
    }
    // A KV cache: per batch row, the positions the source filled; positions this state filled
    // past them go back to zeros, so that the copy equals the source.
    const int64_t len = shape[static_cast<size_t>(axis)];
    int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(to.tensors[i].dtype()));
    for (int d = 1; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    for (size_t b = 0; b < to.filled[i].size(); ++b) {
      const int64_t have = std::clamp<int64_t>(from.filled[i][b], 0, len), had = std::clamp<int64_t>(to.filled[i][b], 0, len);
      for (int64_t o = 0; o < outer; ++o) {
        const size_t at = static_cast<size_t>((static_cast<int64_t>(b) * outer + o) * len * inner);
        std::memcpy(dst + at, src + at, static_cast<size_t>(have * inner));
        if (had > have) std::memset(dst + at + have * inner, 0, static_cast<size_t>((had - have) * inner));
      }
    }
    to.filled[i] = from.filled[i];
  }
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

}  // namespace loom
