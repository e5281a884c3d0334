#include "plugins/graph_view.hpp"

#include <variant>

namespace loom::plugins {

GraphViewStorage::GraphViewStorage(const Program& program, const std::vector<int>& nodes,
                                   const std::vector<int32_t>& kinds)
    : program_to_view_(program.values.size(), -1) {
  auto add_value = [&](int pv) {
    if (pv < 0 || program_to_view_[pv] >= 0) return;
    program_to_view_[pv] = static_cast<int>(values_.size());
    values_.push_back(pv);
  };
  for (int n : nodes) {
    for (int v : program.nodes[n].inputs) add_value(v);
    for (int v : program.nodes[n].outputs) add_value(v);
  }
  c_values_.reserve(values_.size());
  for (int pv : values_) {
    const ProgramValue& v = program.values[pv];
    auto& dims = dims_.emplace_back();
    auto& exprs = dim_exprs_.emplace_back();
    for (const Dim& d : v.info.shape) {
      dims.push_back(d.is_known() ? d.value() : -1);
      exprs.push_back(d.is_known() ? nullptr : strings_.emplace_back(d.str()).c_str());
    }
    loom_value cv{};
    cv.struct_size = sizeof(loom_value);
    cv.name = v.name.c_str();
    cv.kind = kinds.at(pv);
    cv.dtype = static_cast<int32_t>(v.info.dtype);
    cv.rank = static_cast<int32_t>(dims.size());
    cv.dims = dims.data();
    cv.dim_exprs = exprs.data();
    if (v.kind == ValueKind::Constant && v.constant.defined()) {
      cv.data = v.constant.data();
      cv.nbytes = v.constant.nbytes();
    }
    c_values_.push_back(cv);
  }
  c_nodes_.reserve(nodes.size());
  for (int n : nodes) {
    const ProgramNode& pn = program.nodes[n];
    auto& ins = ports_.emplace_back();
    for (int v : pn.inputs) ins.push_back(v >= 0 ? program_to_view_[v] : -1);
    auto& outs = ports_.emplace_back();
    for (int v : pn.outputs) outs.push_back(program_to_view_[v]);
    auto& attrs = attrs_.emplace_back();
    for (const auto& [name, value] : pn.node.attrs) {
      loom_attr a{};
      a.struct_size = sizeof(loom_attr);
      a.name = name.c_str();
      std::visit(
          [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, int64_t>) { a.type = LOOM_ATTR_INT; a.i = x; }
            else if constexpr (std::is_same_v<T, double>) { a.type = LOOM_ATTR_FLOAT; a.f = x; }
            else if constexpr (std::is_same_v<T, std::string>) { a.type = LOOM_ATTR_STRING; a.s = x.c_str(); }
            else if constexpr (std::is_same_v<T, bool>) { a.type = LOOM_ATTR_BOOL; a.i = x ? 1 : 0; }
            else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
              a.type = LOOM_ATTR_INTS; a.count = x.size(); a.ints = ints_.emplace_back(x).data();
            } else {
              a.type = LOOM_ATTR_FLOATS; a.count = x.size(); a.floats = floats_.emplace_back(x).data();
            }
          },
          value);
      attrs.push_back(a);
    }
    loom_node cn{};
    cn.struct_size = sizeof(loom_node);
    cn.name = pn.node.name.c_str();
    cn.op = pn.node.op.c_str();
    cn.num_inputs = ins.size();
    cn.inputs = ins.data();
    cn.num_outputs = outs.size();
    cn.outputs = outs.data();
    cn.num_attrs = attrs.size();
    cn.attrs = attrs.data();
    c_nodes_.push_back(cn);
  }
  view_ = {sizeof(loom_graph_view), c_values_.size(), c_values_.data(), c_nodes_.size(), c_nodes_.data()};
}

int GraphViewStorage::view_index(int program_value) const {
  return program_value >= 0 && program_value < static_cast<int>(program_to_view_.size()) ? program_to_view_[program_value] : -1;
}

GraphViewStorage::Shapes::Shapes(const GraphViewStorage& view, const std::vector<Shape>& program_shapes) {
  for (int pv : view.values()) storage_.push_back(program_shapes.at(pv));
  for (const auto& s : storage_) {
    ranks_.push_back(static_cast<int32_t>(s.size()));
    dims_.push_back(s.data());
  }
  set_ = {sizeof(loom_shape_set), storage_.size(), ranks_.data(), dims_.data()};
}

}  // namespace loom::plugins
