#include "ops/registry.hpp"
#include "ops/families.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <unordered_map>

namespace loom::ops {

const std::vector<OpSchema>& all_ops() {
  static const std::vector<OpSchema> ops = [] {
    std::vector<OpSchema> v;
    register_elementwise(v);
    register_linalg(v);
    register_conv(v);
    register_norm(v);
    register_reduce(v);
    register_indexing(v);
    register_shape(v);
    register_layout(v);
    register_attention(v);
    register_masks(v);
    std::sort(v.begin(), v.end(), [](const OpSchema& a, const OpSchema& b) { return a.name < b.name; });
    return v;
  }();
  return ops;
}

const OpSchema* find_op(std::string_view name) {
  static const std::unordered_map<std::string_view, const OpSchema*> index = [] {
    std::unordered_map<std::string_view, const OpSchema*> m;
    for (const auto& op : all_ops()) m.emplace(op.name, &op);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::string node_prefix(const Node& node) {
  std::string where = node.loc.str();
  return (where.empty() ? "" : where + ": ") + "node '" + node.name + "' (" + node.op + "): ";
}

namespace {

std::string list_names(const std::vector<AttrSpec>& attrs) {
  std::string out;
  for (const auto& a : attrs) out += (out.empty() ? "" : ", ") + a.name;
  return out.empty() ? "none" : out;
}

// Coerces a parsed value to the schema's type where that is lossless; nullopt otherwise.
std::optional<AttrValue> coerce(const AttrValue& v, AttrType want) {
  AttrType have = attr_type(v);
  if (have == want) return v;
  if (want == AttrType::Float && have == AttrType::Int) return static_cast<double>(std::get<int64_t>(v));
  if (want == AttrType::Floats && have == AttrType::Ints) {
    const auto& ints = std::get<std::vector<int64_t>>(v);
    return std::vector<double>(ints.begin(), ints.end());
  }
  return std::nullopt;
}

}  // namespace

void normalize_attrs(Node& node) {
  const OpSchema* op = find_op(node.op);
  if (!op) {
    std::string known;
    for (const auto& s : all_ops()) known += (known.empty() ? "" : ", ") + s.name;
    throw Error(node_prefix(node) + "unknown op '" + node.op + "' (known ops: " + known + ")");
  }
  for (auto& entry : node.attrs) {
    const std::string& name = entry.first;
    AttrValue& value = entry.second;
    auto spec = std::find_if(op->attrs.begin(), op->attrs.end(), [&](const AttrSpec& a) { return a.name == name; });
    if (spec == op->attrs.end())
      throw Error(node_prefix(node) + "unknown attribute '" + name + "' (" + node.op + " takes: " + list_names(op->attrs) + ")");
    auto c = coerce(value, spec->type);
    if (!c)
      throw Error(node_prefix(node) + "attribute '" + name + "' must be of type " +
                  std::string(attr_type_name(spec->type)) + ", not " + std::string(attr_type_name(attr_type(value))));
    value = std::move(*c);
  }
  for (const auto& spec : op->attrs) {
    if (node.attrs.count(spec.name)) continue;
    if (!spec.default_value)
      throw Error(node_prefix(node) + "required attribute '" + spec.name + "' is missing");
    node.attrs.emplace(spec.name, *spec.default_value);
  }
  // Port counts.
  size_t required = 0, max_inputs = op->inputs.size();
  bool variadic = !op->inputs.empty() && op->inputs.back().variadic;
  for (const auto& p : op->inputs) required += p.optional ? 0 : 1;
  // Trailing "" entries stand for absent optional inputs and may be dropped.
  while (!node.inputs.empty() && node.inputs.back().empty() && node.inputs.size() > required) node.inputs.pop_back();
  if (node.inputs.size() < required || (!variadic && node.inputs.size() > max_inputs)) {
    std::string names;
    for (const auto& p : op->inputs) names += (names.empty() ? "" : ", ") + p.name + (p.optional ? "?" : "") + (p.variadic ? "..." : "");
    throw Error(node_prefix(node) + "takes inputs (" + names + "), got " + std::to_string(node.inputs.size()));
  }
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const PortSpec& p = op->inputs[std::min(i, max_inputs - 1)];
    if (node.inputs[i].empty() && !p.optional)
      throw Error(node_prefix(node) + "input '" + p.name + "' is required");
  }
  // Optional outputs come last; a node leaves out those it does not need.
  size_t required_outputs = 0;
  for (const auto& p : op->outputs) required_outputs += p.optional ? 0 : 1;
  if (node.outputs.size() < required_outputs || node.outputs.size() > op->outputs.size()) {
    const std::string count = required_outputs == op->outputs.size()
                                  ? std::to_string(required_outputs)
                                  : std::to_string(required_outputs) + " to " + std::to_string(op->outputs.size());
    throw Error(node_prefix(node) + "has " + count + " output(s), got " + std::to_string(node.outputs.size()));
  }
}

std::optional<std::string> newer_attribute(const Node& node, uint32_t opset) {
  const OpSchema* op = find_op(node.op);
  if (!op) return std::nullopt;
  for (const AttrSpec& spec : op->attrs) {
    if (spec.since <= opset) continue;
    auto it = node.attrs.find(spec.name);
    if (it == node.attrs.end() || (spec.default_value && it->second == *spec.default_value)) continue;
    return "attribute '" + spec.name + "' of " + node.op + " is from op set " + std::to_string(spec.since) +
           "; the backend was built for op set " + std::to_string(opset) + " (rebuild it against this Loom's SDK)";
  }
  return std::nullopt;
}

std::optional<std::string> newer_feature(const Node& node, std::span<const DType> inputs, uint32_t opset) {
  if (auto newer = newer_attribute(node, opset)) return newer;
  const OpSchema* op = find_op(node.op);
  if (!op || !op->dtypes_since) return std::nullopt;
  const uint32_t since = op->dtypes_since(inputs);
  if (since <= opset) return std::nullopt;
  std::string dtypes;
  for (DType d : inputs) dtypes += (dtypes.empty() ? "" : ", ") + std::string(dtype_name(d));
  return "input dtypes (" + dtypes + ") of " + node.op + " are from op set " + std::to_string(since) +
         "; the backend was built for op set " + std::to_string(opset) + " (rebuild it against this Loom's SDK)";
}

std::vector<TensorInfo> infer(const Node& node, const std::vector<const TensorInfo*>& inputs) {
  const OpSchema* op = find_op(node.op);
  if (!op) throw Error(node_prefix(node) + "unknown op '" + node.op + "'");
  InferContext ctx(node, inputs, node.outputs.size());
  op->infer(ctx);
  return std::move(ctx.outputs());
}

std::optional<SymShape> broadcast(const SymShape& a, const SymShape& b) {
  size_t rank = std::max(a.size(), b.size());
  SymShape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim one = Dim::known(1);
    const Dim& x = i + a.size() >= rank ? a[i + a.size() - rank] : one;
    const Dim& y = i + b.size() >= rank ? b[i + b.size() - rank] : one;
    if (x == y) out[i] = x;
    else if (x.is_known() && x.value() == 1) out[i] = y;
    else if (y.is_known() && y.value() == 1) out[i] = x;
    else if (x.is_unknown() || y.is_unknown()) out[i] = x.is_unknown() ? y : x;
    else return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------- InferContext

InferContext::InferContext(const Node& node, std::vector<const TensorInfo*> inputs, size_t num_outputs)
    : node_(node), inputs_(std::move(inputs)), outputs_(num_outputs), set_(num_outputs, false) {}

const TensorInfo& InferContext::input(size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is absent");
  return *inputs_[i];
}

const AttrValue& InferContext::attr(std::string_view name) const {
  auto it = node_.attrs.find(std::string(name));
  if (it == node_.attrs.end()) fail("attribute '" + std::string(name) + "' is missing");
  return it->second;
}

int64_t InferContext::attr_int(std::string_view n) const { return std::get<int64_t>(attr(n)); }
double InferContext::attr_float(std::string_view n) const { return std::get<double>(attr(n)); }
bool InferContext::attr_bool(std::string_view n) const { return std::get<bool>(attr(n)); }
const std::string& InferContext::attr_string(std::string_view n) const { return std::get<std::string>(attr(n)); }
const std::vector<int64_t>& InferContext::attr_ints(std::string_view n) const {
  return std::get<std::vector<int64_t>>(attr(n));
}

void InferContext::set_output(size_t i, TensorInfo info) {
  if (i >= outputs_.size()) return;  // an optional output the node leaves out
  outputs_.at(i) = std::move(info);
  set_.at(i) = true;
}

void InferContext::fail(const std::string& what) const { throw Error(node_prefix(node_) + what); }

void InferContext::expect_dtype(size_t i, std::initializer_list<DType> allowed) const {
  DType t = input(i).dtype;
  for (DType a : allowed)
    if (a == t) return;
  std::string names;
  for (DType a : allowed) names += (names.empty() ? "" : ", ") + std::string(dtype_name(a));
  fail("input " + std::to_string(i) + " ('" + node_.inputs[i] + "') has dtype " + std::string(dtype_name(t)) +
       ", expected one of " + names);
}

void InferContext::expect_same_dtype(size_t a, size_t b) const {
  if (input(a).dtype != input(b).dtype)
    fail("inputs '" + node_.inputs[a] + "' (" + std::string(dtype_name(input(a).dtype)) + ") and '" + node_.inputs[b] +
         "' (" + std::string(dtype_name(input(b).dtype)) + ") must have the same dtype");
}

void InferContext::expect_rank_at_least(size_t i, size_t rank) const {
  if (input(i).shape.size() < rank)
    fail("input '" + node_.inputs[i] + "' has shape " + sym_shape_str(input(i).shape) + ", expected rank >= " +
         std::to_string(rank));
}

int64_t InferContext::axis(int64_t axis, size_t rank, std::string_view attr_name) const {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    fail("attribute '" + std::string(attr_name) + "' = " + std::to_string(axis) + " is out of range for rank " +
         std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

}  // namespace loom::ops
