#include "graph/program.hpp"

#include "graph/processing.hpp"
#include "io/checkpoint_weights.hpp"
#include "ops/registry.hpp"
#include "runtime/memory_limit.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <cstring>
#include <queue>
#include <set>

namespace loom {

namespace {

std::string at(const SourceLoc& loc) {
  std::string s = loc.str();
  return s.empty() ? "" : s + ": ";
}

// Most bytes one tensor may hold, as in Tensor and the file readers.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 62;
constexpr uint64_t kOwnedConstantBytes = 64 * 1024;  // file constants up to this size are copied on load

// The bytes a tensor of `shape` holds at the least, with every symbol and unknown dim at 1 (0
// when a dim is 0); nullopt when even that is over kMaxTensorBytes.
std::optional<uint64_t> least_bytes(const SymShape& shape, DType dtype) {
  uint64_t bytes = dtype_size(dtype);
  bool over = false;
  for (const Dim& d : shape) {
    const int64_t f = d.is_unknown() ? 1 : d.is_known() ? d.value() : d.factor();
    if (f <= 0) return 0;  // an empty tensor (a negative factor is refused elsewhere)
    if (bytes > kMaxTensorBytes / static_cast<uint64_t>(f)) over = true;
    else bytes *= static_cast<uint64_t>(f);
  }
  if (over) return std::nullopt;
  return bytes;
}

std::string too_large(const std::string& what, const std::string& shape, DType dtype) {
  return what + " has shape " + shape + " of " + std::string(dtype_name(dtype)) + ", more than " +
         std::to_string(kMaxTensorBytes) + " bytes (2^62, the most a tensor may hold)";
}

template <class T>
void fill_inline(Tensor& t, const std::vector<double>& values) {
  T* out = t.data_as<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
}

Tensor inline_tensor(const Initializer& init) {
  if (!init.dtype || !init.shape)
    throw Error(at(init.loc) + "initializer '" + init.name + "': inline values need a dtype and a shape");
  Tensor t(*init.dtype, *init.shape);
  if (static_cast<int64_t>(init.values.size()) != t.numel())
    throw Error(at(init.loc) + "initializer '" + init.name + "': shape " + shape_str(*init.shape) + " holds " +
                std::to_string(t.numel()) + " values, " + std::to_string(init.values.size()) + " given");
  switch (*init.dtype) {
    case DType::f32: fill_inline<float>(t, init.values); break;
    case DType::i64: fill_inline<int64_t>(t, init.values); break;
    case DType::i32: fill_inline<int32_t>(t, init.values); break;
    case DType::u8: fill_inline<uint8_t>(t, init.values); break;
    default:
      throw Error(at(init.loc) + "initializer '" + init.name + "': inline values of dtype " +
                  std::string(dtype_name(*init.dtype)) + " are not supported (use f32, i64, i32 or u8)");
  }
  return t;
}

class Builder {
 public:
  Builder(const Graph& g, bool load_weights, std::shared_ptr<WeightFiles> files) : load_weights_(load_weights) {
    p_.graph = g;
    p_.weight_files = std::move(files);
  }

  std::shared_ptr<const Program> build() {
    declare_values();
    check_symbols();
    resolve_nodes();
    order_nodes();
    infer_symbolic();
    bind_outputs_and_states();
    return std::make_shared<const Program>(std::move(p_));
  }

 private:
  // A bound must name a symbol that a graph input binds on its own (a dim written as just the
  // symbol), and name it once.
  void check_symbols() {
    std::set<std::string> seen;
    for (const SymbolBound& b : p_.graph.symbols) {
      if (!seen.insert(b.name).second) throw Error(at(b.loc) + "symbol '" + b.name + "' is bounded twice");
      if (b.max < 1) throw Error(at(b.loc) + "the bound of symbol '" + b.name + "' must be at least 1");
      bool bound_by_input = false;
      for (const auto& in : p_.graph.inputs)
        for (const Dim& d : in.info.shape)
          bound_by_input |= d.is_symbolic() && d.factor() == 1 && d.symbols().size() == 1 && d.symbols()[0] == b.name;
      if (!bound_by_input)
        throw Error(at(b.loc) + "symbol '" + b.name + "' has a bound, but no graph input has a dim that is just '" + b.name + "'");
    }
  }

  int add_value(const std::string& name, ValueKind kind, const SourceLoc& loc, const std::string& what) {
    if (name.empty()) throw Error(at(loc) + what + " has an empty name");
    auto [it, fresh] = p_.index.emplace(name, static_cast<int>(p_.values.size()));
    if (!fresh) throw Error(at(loc) + what + " '" + name + "' is defined twice");
    ProgramValue v;
    v.name = name;
    v.kind = kind;
    p_.values.push_back(std::move(v));
    return it->second;
  }

  // The file that holds `tensor` for an initializer naming `file`: that file, or, for a
  // safetensors index, the shard its weight_map names (every shard opened and checked once).
  std::shared_ptr<SafetensorsFile> open_file(const std::string& file, const std::string& tensor, const SourceLoc& loc) {
    std::filesystem::path path = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : p_.graph.base_dir / file;
    if (is_safetensors_index(path)) path = shard_of(path, tensor, loc);
    for (const auto& f : p_.files)
      if (f->path() == path.string()) return f;
    try {
      p_.files.push_back(files().open(path));
    } catch (const Error& e) {
      throw Error(at(loc) + e.what());
    }
    return p_.files.back();
  }

  std::filesystem::path shard_of(const std::filesystem::path& index, const std::string& tensor, const SourceLoc& loc) {
    auto it = indexes_.find(index.string());
    if (it == indexes_.end()) {
      try {
        it = indexes_.emplace(index.string(), open_checkpoint_weights(index.parent_path(), index.filename().string(), files())).first;
      } catch (const Error& e) {
        throw Error(at(loc) + e.what());
      }
    }
    const auto& tensors = it->second.checkpoint->tensors;  // by name
    auto t = std::lower_bound(tensors.begin(), tensors.end(), tensor, [](const CheckpointTensor& c, const std::string& n) { return c.name < n; });
    if (t == tensors.end() || t->name != tensor)
      throw Error(at(loc) + index.string() + ": tensor '" + tensor + "' is in none of the index's shards");
    return index.parent_path() / t->file;
  }

  // The engine's weight files, or the builder's own when the program is built without them.
  WeightFiles& files() {
    if (!p_.weight_files && !own_files_) own_files_ = std::make_shared<WeightFiles>();
    return p_.weight_files ? *p_.weight_files : *own_files_;
  }

  // An f16 or bf16 file tensor declared f32: read as the f32 copy the engine's weight files
  // share between programs. The copies of one program are held to the machine's memory
  // together, as they all live while its sessions do.
  void widen_constant(ProgramValue& val, const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor,
                      const Initializer& init) {
    const uint64_t bytes = static_cast<uint64_t>(val.constant.numel()) * dtype_size(DType::f32);
    try {
      check_fits_in_memory(saturating_add(p_.converted_bytes, bytes),
                           "initializer '" + init.name + "': the weights converted to f32 on load (up to '" + tensor + "' of " +
                               file->path() + ")");
      val.constant = files().widened(file, tensor);
    } catch (const Error& e) {
      throw Error(at(init.loc) + e.what());
    }
    p_.converted_bytes += bytes;
  }

  void declare_values() {
    for (const auto& in : p_.graph.inputs) {
      int v = add_value(in.name, ValueKind::Input, in.loc, "graph input");
      if (!least_bytes(in.info.shape, in.info.dtype))
        throw Error(at(in.loc) + too_large("graph input '" + in.name + "'", sym_shape_str(in.info.shape), in.info.dtype));
      p_.values[v].info = in.info;
      p_.inputs.push_back(v);
    }
    for (const auto& init : p_.graph.initializers) {
      int v = add_value(init.name, ValueKind::Constant, init.loc, "initializer");
      if (init.dtype && init.shape && !least_bytes(to_sym_shape(*init.shape), *init.dtype))
        throw Error(at(init.loc) + too_large("initializer '" + init.name + "'", shape_str(*init.shape), *init.dtype));
      ProgramValue& val = p_.values[v];
      if (init.file.empty()) {
        val.constant = inline_tensor(init);
      } else if (load_weights_) {
        const std::string& tname = init.tensor.empty() ? init.name : init.tensor;
        auto file = open_file(init.file, tname, init.loc);
        if (!file->find(tname))
          throw Error(at(init.loc) + "initializer '" + init.name + "': tensor '" + tname + "' is not in " + file->path());
        val.constant = file->tensor(tname);
        const DType stored = val.constant.dtype();
        const bool widen = init.dtype == DType::f32 && (stored == DType::f16 || stored == DType::bf16);
        if (init.dtype && *init.dtype != stored && !widen)
          throw Error(at(init.loc) + "initializer '" + init.name + "': declared dtype " + std::string(dtype_name(*init.dtype)) +
                      " but " + file->path() + " holds '" + tname + "' as " + std::string(dtype_name(stored)) +
                      " (a file tensor is read as stored; only f16 and bf16 are converted, to a declared f32)");
        if (init.shape && *init.shape != val.constant.shape())
          throw Error(at(init.loc) + "initializer '" + init.name + "': declared shape " + shape_str(*init.shape) + " but " +
                      file->path() + " holds '" + tname + "' as " + shape_str(val.constant.shape()));
        if (widen) widen_constant(val, file, tname, init);
        // A small constant (a bias, a norm's scale) is read by the backends at every run: in the
        // file's mapping, each read would map the whole page-cache folio around it, up to 2 MiB
        // of the neighbouring weights that were packed and given back. An owned copy is read
        // instead.
        else if (val.constant.nbytes() <= kOwnedConstantBytes) val.constant = files().owned(file, tname);
        p_.weight_bytes += val.constant.nbytes();
      } else {
        if (!init.dtype || !init.shape)
          throw Error(at(init.loc) + "initializer '" + init.name + "': dtype and shape are needed without its weights file");
        val.info = {*init.dtype, to_sym_shape(*init.shape)};
        continue;
      }
      val.info = {val.constant.dtype(), to_sym_shape(val.constant.shape())};
    }
    for (size_t i = 0; i < p_.graph.states.size(); ++i) {
      const StateDecl& s = p_.graph.states[i];
      int v = add_value(s.name, ValueKind::State, s.loc, "state");
      if (!least_bytes(to_sym_shape(s.shape), s.dtype)) throw Error(at(s.loc) + too_large("state '" + s.name + "'", shape_str(s.shape), s.dtype));
      p_.values[v].info = {s.dtype, to_sym_shape(s.shape)};
      p_.values[v].state = static_cast<int>(i);
      p_.states.push_back({v, -1, s});
    }
  }

  void resolve_nodes() {
    for (size_t n = 0; n < p_.graph.nodes.size(); ++n) {
      ProgramNode pn;
      pn.node = p_.graph.nodes[n];
      ops::normalize_attrs(pn.node);
      for (const auto& out : pn.node.outputs) {
        int v = add_value(out, ValueKind::Activation, pn.node.loc, "value");
        p_.values[v].producer = static_cast<int>(n);
        pn.outputs.push_back(v);
      }
      p_.nodes.push_back(std::move(pn));
    }
    for (auto& pn : p_.nodes) {
      for (const auto& in : pn.node.inputs) {
        if (in.empty()) {
          pn.inputs.push_back(-1);
          continue;
        }
        int v = p_.find(in);
        if (v < 0) throw Error(ops::node_prefix(pn.node) + "input '" + in + "' is not defined (no graph input, initializer, state or node output has that name)");
        pn.inputs.push_back(v);
      }
    }
  }

  // Kahn's algorithm, preferring the written order, so graphs may list nodes in any order.
  void order_nodes() {
    const size_t n = p_.nodes.size();
    std::vector<std::vector<int>> users(n);
    std::vector<int> pending(n, 0);
    for (size_t i = 0; i < n; ++i)
      for (int v : p_.nodes[i].inputs)
        if (v >= 0 && p_.values[v].producer >= 0) {
          users[p_.values[v].producer].push_back(static_cast<int>(i));
          ++pending[i];
        }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (size_t i = 0; i < n; ++i)
      if (pending[i] == 0) ready.push(static_cast<int>(i));
    std::vector<int> order;
    while (!ready.empty()) {
      int i = ready.top();
      ready.pop();
      order.push_back(i);
      for (int u : users[i])
        if (--pending[u] == 0) ready.push(u);
    }
    if (order.size() != n) {
      std::string cycle;
      for (size_t i = 0; i < n && cycle.size() < 400; ++i)
        if (pending[i] > 0) cycle += (cycle.empty() ? "" : ", ") + p_.nodes[i].node.name;
      const SourceLoc& loc = p_.nodes[std::find_if(pending.begin(), pending.end(), [](int c) { return c > 0; }) - pending.begin()].node.loc;
      throw Error(at(loc) + "the graph has a cycle through nodes: " + cycle);
    }
    std::vector<ProgramNode> sorted;
    sorted.reserve(n);
    for (int i : order) sorted.push_back(std::move(p_.nodes[i]));
    p_.nodes = std::move(sorted);
    for (size_t i = 0; i < n; ++i) {
      for (int v : p_.nodes[i].outputs) p_.values[v].producer = static_cast<int>(i);
      for (int v : p_.nodes[i].inputs)
        if (v >= 0) p_.values[v].consumers.push_back(static_cast<int>(i));
    }
  }

  void infer_symbolic() {
    for (auto& pn : p_.nodes) {
      std::vector<const TensorInfo*> ins;
      for (int v : pn.inputs) ins.push_back(v >= 0 ? &p_.values[v].info : nullptr);
      auto outs = ops::infer(pn.node, ins);
      for (size_t i = 0; i < outs.size(); ++i) {
        if (!least_bytes(outs[i].shape, outs[i].dtype))
          throw Error(ops::node_prefix(pn.node) + too_large("output '" + pn.node.outputs[i] + "'", sym_shape_str(outs[i].shape), outs[i].dtype));
        p_.values[pn.outputs[i]].info = std::move(outs[i]);
      }
    }
  }

  void bind_outputs_and_states() {
    if (p_.graph.outputs.empty()) throw Error(at({p_.graph.path.string()}) + "the graph has no outputs");
    for (const auto& out : p_.graph.outputs) {
      int v = p_.find(out.name);
      if (v < 0) throw Error(at(out.loc) + "graph output '" + out.name + "' is not defined");
      if (p_.values[v].graph_output) throw Error(at(out.loc) + "graph output '" + out.name + "' is listed twice");
      p_.values[v].graph_output = true;
      p_.outputs.push_back(v);
    }
    for (auto& st : p_.states) {
      if (st.decl.update.empty()) continue;
      int u = p_.find(st.decl.update);
      if (u < 0) throw Error(at(st.decl.loc) + "state '" + st.decl.name + "': update value '" + st.decl.update + "' is not defined");
      const TensorInfo& ui = p_.values[u].info;
      const TensorInfo& si = p_.values[st.value].info;
      if (p_.values[u].kind != ValueKind::Activation)
        throw Error(at(st.decl.loc) + "state '" + st.decl.name + "': update value '" + st.decl.update + "' must be produced by a node");
      if (ui.dtype != si.dtype || ui.shape.size() != si.shape.size())
        throw Error(at(st.decl.loc) + "state '" + st.decl.name + "' is " + std::string(dtype_name(si.dtype)) + " " +
                    sym_shape_str(si.shape) + " but its update '" + st.decl.update + "' is " + std::string(dtype_name(ui.dtype)) +
                    " " + sym_shape_str(ui.shape));
      for (size_t i = 0; i < ui.shape.size(); ++i)
        if (!(ui.shape[i] == si.shape[i]) && !ui.shape[i].is_unknown())
          throw Error(at(st.decl.loc) + "state '" + st.decl.name + "' has shape " + sym_shape_str(si.shape) + " but its update '" +
                      st.decl.update + "' has shape " + sym_shape_str(ui.shape));
      for (const auto& other : p_.states)
        if (&other != &st && other.update == u)
          throw Error(at(st.decl.loc) + "value '" + st.decl.update + "' updates two states");
      st.update = u;
    }
  }

  Program p_;
  bool load_weights_;
  std::shared_ptr<WeightFiles> own_files_;
  std::map<std::string, CheckpointWeights> indexes_;  // safetensors indexes named by initializers
};

ConcreteShapes infer_from(const Program& p, ConcreteShapes cs, const std::vector<Shape>* given) {
  cs.shapes.assign(p.values.size(), {});
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const ProgramValue& v = p.values[p.inputs[i]];
    if (given) {
      cs.shapes[p.inputs[i]] = (*given)[i];
    } else {
      Shape s;
      for (const Dim& d : v.info.shape) {
        Dim b = d.bind(cs.bindings);
        s.push_back(b.is_known() ? b.value() : 1);
      }
      cs.shapes[p.inputs[i]] = s;
    }
  }
  std::vector<TensorInfo> info(p.values.size());
  for (size_t i = 0; i < p.values.size(); ++i) {
    const ProgramValue& v = p.values[i];
    info[i].dtype = v.info.dtype;
    if (v.kind == ValueKind::Input) info[i].shape = to_sym_shape(cs.shapes[i]);
    else if (v.kind != ValueKind::Activation) info[i].shape = v.info.shape;
  }
  for (const auto& pn : p.nodes) {
    std::vector<const TensorInfo*> ins;
    for (int v : pn.inputs) ins.push_back(v >= 0 ? &info[v] : nullptr);
    auto outs = ops::infer(pn.node, ins);
    for (size_t k = 0; k < outs.size(); ++k) {
      auto s = to_shape(outs[k].shape);
      if (!s) throw Error(ops::node_prefix(pn.node) + "output '" + pn.node.outputs[k] + "' has no concrete shape: " + sym_shape_str(outs[k].shape));
      info[pn.outputs[k]] = std::move(outs[k]);
    }
  }
  for (size_t i = 0; i < p.values.size(); ++i) {
    auto s = to_shape(info[i].shape);
    if (!s) continue;
    if (!least_bytes(info[i].shape, info[i].dtype)) {
      const ProgramValue& v = p.values[i];
      const std::string what = v.kind == ValueKind::Input ? "graph input '" + v.name + "'" : "value '" + v.name + "'";
      throw Error((v.producer >= 0 ? ops::node_prefix(p.nodes[v.producer].node) : "") + too_large(what, shape_str(*s), info[i].dtype) +
                  " for these input shapes");
    }
    cs.shapes[i] = *s;
  }
  for (const auto& st : p.states)
    if (st.update >= 0 && cs.shapes[st.update] != cs.shapes[st.value])
      throw Error("state '" + st.decl.name + "' has shape " + shape_str(cs.shapes[st.value]) + " but its update '" +
                  p.values[st.update].name + "' has shape " + shape_str(cs.shapes[st.update]) + " for these inputs");
  return cs;
}

}  // namespace

static ConcreteShapes infer_concrete_checked(const Program& p, const std::vector<Shape>& input_shapes);

std::shared_ptr<const Program> build_program(const Graph& graph, bool load_weights, std::shared_ptr<WeightFiles> files) {
  try {
    check_processing(graph);  // a graph read from YAML was checked with positions; one built in code is checked here
    return Builder(graph, load_weights, std::move(files)).build();
  } catch (const Error& e) {
    throw Error(printable(e.what()));  // names come from the graph: keep the message printable
  }
}

ConcreteShapes infer_concrete(const Program& p, const std::vector<Shape>& input_shapes) {
  try {
    return infer_concrete_checked(p, input_shapes);
  } catch (const Error& e) {
    throw Error(printable(e.what()));
  }
}

static ConcreteShapes infer_concrete_checked(const Program& p, const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != p.inputs.size()) throw Error("expected " + std::to_string(p.inputs.size()) + " input shapes");
  ConcreteShapes cs;
  std::map<std::string, std::string> bound_by;  // symbol -> "input 'x' (dim d)" that bound it
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const ProgramValue& v = p.values[p.inputs[i]];
    const Shape& s = input_shapes[i];
    if (s.size() != v.info.shape.size())
      throw Error("input '" + v.name + "' has shape " + shape_str(s) + ", expected rank " + std::to_string(v.info.shape.size()) +
                  " " + sym_shape_str(v.info.shape));
    for (size_t d = 0; d < s.size(); ++d) {
      const Dim& want = v.info.shape[d];
      if (want.is_known() && want.value() != s[d])
        throw Error("input '" + v.name + "' has shape " + shape_str(s) + ", expected " + sym_shape_str(v.info.shape));
      if (want.is_symbolic() && want.symbols().size() == 1 && want.factor() == 1) {
        const std::string& sym = want.symbols()[0];
        const std::string where = "input '" + v.name + "' (dim " + std::to_string(d) + ")";
        auto [it, fresh] = cs.bindings.emplace(sym, s[d]);
        if (fresh) bound_by.emplace(sym, where);
        else if (it->second != s[d])
          throw Error(where + " has " + sym + " = " + std::to_string(s[d]) + " but " + bound_by[sym] + " has " + sym +
                      " = " + std::to_string(it->second));
      }
    }
  }
  for (const SymbolBound& b : p.graph.symbols) {
    auto it = cs.bindings.find(b.name);
    if (it != cs.bindings.end() && it->second > b.max)
      throw Error(bound_by[b.name] + " has " + b.name + " = " + std::to_string(it->second) + ", past the graph's bound " +
                  b.name + " <= " + std::to_string(b.max) + (b.loc.str().empty() ? "" : " (" + b.loc.str() + ")"));
  }
  // Dims written as products ("batch*seq") are checked once every symbol is bound.
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const ProgramValue& v = p.values[p.inputs[i]];
    for (size_t d = 0; d < input_shapes[i].size(); ++d) {
      Dim b = v.info.shape[d].bind(cs.bindings);
      if (b.is_known() && b.value() != input_shapes[i][d])
        throw Error("input '" + v.name + "' has shape " + shape_str(input_shapes[i]) + ", expected " +
                    sym_shape_str(v.info.shape) + " with " + v.info.shape[d].str() + " = " + std::to_string(b.value()));
    }
  }
  return infer_from(p, std::move(cs), &input_shapes);
}

ConcreteShapes infer_concrete(const Program& p, const std::map<std::string, int64_t>& bindings) {
  ConcreteShapes cs;
  cs.bindings = bindings;
  for (int in : p.inputs)
    for (const Dim& d : p.values[in].info.shape)
      for (const auto& s : d.symbols()) cs.bindings.emplace(s, 1);
  return infer_from(p, std::move(cs), nullptr);
}

}  // namespace loom
