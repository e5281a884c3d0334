// Writes a Graph in the YAML format v1, flat (blocks are a reading convenience), in a stable,
// diff-friendly layout: block-style mappings, one entry per list item, flow-style short lists.
#include "graph/processing.hpp"
#include "graph/yaml_scalar.hpp"

#include <loom/error.hpp>
#include <loom/graph.hpp>

#include <yaml-cpp/yaml.h>

#include <map>

namespace loom {

namespace {

using yaml::put_string;

void put_key(YAML::Emitter& out, const std::string& key) {
  out << YAML::Key;
  put_string(out, key);
  out << YAML::Value;
}

void put_names(YAML::Emitter& out, const std::vector<std::string>& names) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const auto& n : names) put_string(out, n);
  out << YAML::EndSeq;
}

void put_dims(YAML::Emitter& out, const SymShape& shape) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const Dim& d : shape) {
    if (d.is_known()) {
      out << std::to_string(d.value());
    } else {
      put_string(out, d.str());
    }
  }
  out << YAML::EndSeq;
}

void put_shape(YAML::Emitter& out, const Shape& shape) { put_dims(out, to_sym_shape(shape)); }

void put_attr(YAML::Emitter& out, const AttrValue& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          out << std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          out << yaml::format_float(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out << (x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::string>) {
          put_string(out, x);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (int64_t i : x) out << std::to_string(i);
          out << YAML::EndSeq;
        } else {
          out << YAML::Flow << YAML::BeginSeq;
          for (double f : x) out << yaml::format_float(f);
          out << YAML::EndSeq;
        }
      },
      v);
}

void put_values(YAML::Emitter& out, const Initializer& init) {
  bool integral = init.dtype && (*init.dtype == DType::i64 || *init.dtype == DType::i32 || *init.dtype == DType::u8);
  out << YAML::Flow << YAML::BeginSeq;
  for (double v : init.values) {
    if (integral && v >= -9.2e18 && v <= 9.2e18 && v == static_cast<double>(static_cast<int64_t>(v))) {
      out << std::to_string(static_cast<int64_t>(v));
    } else {
      out << yaml::format_float(v);
    }
  }
  out << YAML::EndSeq;
}

// The weights file most initializers name becomes the top-level default (ties: the first named).
std::string default_weights(const Graph& g) {
  std::map<std::string, size_t> counts;
  std::string best;
  size_t best_count = 0;
  for (const auto& init : g.initializers) {
    if (init.file.empty()) continue;
    size_t c = ++counts[init.file];
    if (c > best_count) best = init.file, best_count = c;
  }
  return best;
}

}  // namespace

std::string write_graph_yaml(const Graph& g) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "loom" << YAML::Value << "1";
  if (!g.name.empty()) {
    put_key(out, "name");
    put_string(out, g.name);
  }
  if (!g.metadata.empty()) {
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : g.metadata) {
      put_key(out, k);
      put_string(out, v);
    }
    out << YAML::EndMap;
  }
  const std::string weights = default_weights(g);
  if (!weights.empty()) {
    out << YAML::Key << "weights" << YAML::Value;
    put_string(out, weights);
  }
  if (!g.inputs.empty()) {
    out << YAML::Key << "inputs" << YAML::Value << YAML::BeginSeq;
    for (const auto& in : g.inputs) {
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value;
      put_string(out, in.name);
      out << YAML::Key << "dtype" << YAML::Value << std::string(dtype_name(in.info.dtype));
      out << YAML::Key << "shape" << YAML::Value;
      put_dims(out, in.info.shape);
      if (in.default_value) {
        out << YAML::Key << "default" << YAML::Value;
        if (in.default_value->kind == InputDefault::Kind::Range)
          out << YAML::Flow << YAML::BeginMap << YAML::Key << "range" << YAML::Value << in.default_value->axis << YAML::EndMap;
        else
          out << yaml::format_float(in.default_value->fill);
      }
      if (in.values) {
        out << YAML::Key << "values" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "min" << YAML::Value
            << in.values->min << YAML::Key << "max" << YAML::Value << in.values->max << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  std::vector<std::string> outputs;
  for (const auto& o : g.outputs) outputs.push_back(o.name);
  out << YAML::Key << "outputs" << YAML::Value;
  put_names(out, outputs);
  if (!g.symbols.empty()) {
    out << YAML::Key << "symbols" << YAML::Value << YAML::BeginMap;
    for (const auto& sym : g.symbols) {
      out << YAML::Key;
      put_string(out, sym.name);
      out << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "max" << YAML::Value << sym.max << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  if (g.processing) yaml::write_processing(out, *g.processing);
  if (!g.initializers.empty()) {
    out << YAML::Key << "initializers" << YAML::Value << YAML::BeginSeq;
    for (const auto& init : g.initializers) {
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value;
      put_string(out, init.name);
      if (!init.file.empty() && init.file != weights) {
        out << YAML::Key << "file" << YAML::Value;
        put_string(out, init.file);
      }
      if (!init.file.empty() && init.tensor != init.name) {
        out << YAML::Key << "tensor" << YAML::Value;
        put_string(out, init.tensor);
      }
      if (init.dtype) out << YAML::Key << "dtype" << YAML::Value << std::string(dtype_name(*init.dtype));
      if (init.shape) {
        out << YAML::Key << "shape" << YAML::Value;
        put_shape(out, *init.shape);
      }
      if (init.file.empty()) {
        out << YAML::Key << "values" << YAML::Value;
        put_values(out, init);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!g.states.empty()) {
    out << YAML::Key << "state" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : g.states) {
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value;
      put_string(out, s.name);
      out << YAML::Key << "dtype" << YAML::Value << std::string(dtype_name(s.dtype));
      out << YAML::Key << "shape" << YAML::Value;
      put_shape(out, s.shape);
      if (!s.update.empty()) {
        out << YAML::Key << "update" << YAML::Value;
        put_string(out, s.update);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::Key << "nodes" << YAML::Value;
  if (g.nodes.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const auto& n : g.nodes) {
    out << YAML::BeginMap;
    if (n.outputs.empty() || n.name != n.outputs[0]) {
      out << YAML::Key << "name" << YAML::Value;
      put_string(out, n.name);
    }
    out << YAML::Key << "op" << YAML::Value;
    put_string(out, n.op);
    if (!n.inputs.empty()) {
      out << YAML::Key << "inputs" << YAML::Value;
      put_names(out, n.inputs);
    }
    out << YAML::Key << "outputs" << YAML::Value;
    put_names(out, n.outputs);
    if (!n.attrs.empty()) {
      out << YAML::Key << "attrs" << YAML::Value << YAML::BeginMap;
      for (const auto& [k, v] : n.attrs) {
        put_key(out, k);
        put_attr(out, v);
      }
      out << YAML::EndMap;
    }
    if (!n.backend.empty()) {
      out << YAML::Key << "backend" << YAML::Value;
      put_string(out, n.backend);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good()) throw Error("cannot write graph '" + g.name + "' as YAML: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace loom
