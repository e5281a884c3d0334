// The one op registry: each op's schema (inputs, outputs, attributes with types and defaults),
// its dtype rules and its shape inference. Backends never invent ops; docs/ops.md documents
// every op listed here.
#pragma once

#include <loom/graph.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom::ops {

// The registry's op-set version (LOOM_OPSET_VERSION of abi.h). An attribute added to an
// existing op carries the version that added it; a backend built against an older op set may
// not know it, so a node that sets it to anything but its default is never placed there.
inline constexpr uint32_t kOpsetVersion = LOOM_OPSET_VERSION;

struct AttrSpec {
  std::string name;
  AttrType type;
  std::optional<AttrValue> default_value;  // nullopt: required
  uint32_t since = 1;                      // op-set version that added the attribute
};

// An attribute the node must give.
inline AttrSpec required_attr(std::string name, AttrType type) { return {std::move(name), type, std::nullopt}; }

// An attribute with a default, its type that of the default (int64_t, double, std::string, bool,
// std::vector<int64_t>, std::vector<double>). The default is built in place from the value:
// moving a temporary AttrValue into the optional makes GCC 12 warn (-Wmaybe-uninitialized, in the
// sanitizer build) about the variant's other alternatives, which that move never reads.
template <class T>
AttrSpec attr_with_default(std::string name, T value, uint32_t since = 1) {
  AttrSpec spec{std::move(name), AttrType::Int, std::nullopt, since};
  spec.default_value.emplace(std::in_place_type<T>, std::move(value));
  spec.type = attr_type(*spec.default_value);
  return spec;
}

struct PortSpec {
  std::string name;
  // An optional input may be "" (absent); optional outputs come last and a node may leave them
  // out (add_layer_norm's `sum`, wanted only when the residual stream goes on).
  bool optional = false;
  bool variadic = false;  // last input only: one or more values
};

class InferContext;

struct OpSchema {
  std::string name;
  std::string summary;
  std::vector<PortSpec> inputs;
  std::vector<PortSpec> outputs;
  std::vector<AttrSpec> attrs;
  std::function<void(InferContext&)> infer;
  // Output i may be written over input in_place[i] (-1: never). A backend given the same memory
  // for both must produce the same result as with separate memory; the session uses this to
  // update a state (a KV cache) where it lives instead of copying it.
  std::vector<int> in_place = {};
  // Output 0 is input 0's bytes in the same order, only the shape differs (reshape): the memory
  // planner gives it no bytes of its own, and the backend's copy becomes a no-op.
  bool view = false;
  // The op set that added the node's combination of input dtypes, where a later op set widened
  // the op's dtype rules (attention's k and v in another dtype than q: 8); null: every
  // combination the rules allow is from op set 1. A backend built against an older op set is
  // never given such a node, as for a newer attribute. Sees the dtypes as newer_feature gives them.
  std::function<uint32_t(std::span<const DType> inputs)> dtypes_since = nullptr;
};

// What shape inference sees of one node. Works the same on symbolic and on concrete shapes.
class InferContext {
 public:
  InferContext(const Node& node, std::vector<const TensorInfo*> inputs, size_t num_outputs);

  const Node& node() const { return node_; }
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  const TensorInfo& input(size_t i) const;

  // Attributes (defaults already filled in by normalize_attrs).
  int64_t attr_int(std::string_view name) const;
  double attr_float(std::string_view name) const;
  bool attr_bool(std::string_view name) const;
  const std::string& attr_string(std::string_view name) const;
  const std::vector<int64_t>& attr_ints(std::string_view name) const;

  void set_output(size_t i, TensorInfo info);
  std::vector<TensorInfo>& outputs() { return outputs_; }

  // Throws loom::Error prefixed with the node's location and name.
  [[noreturn]] void fail(const std::string& what) const;
  // Common checks.
  void expect_dtype(size_t input, std::initializer_list<DType> allowed) const;
  void expect_same_dtype(size_t a, size_t b) const;
  void expect_rank_at_least(size_t input, size_t rank) const;
  // Normalises a possibly negative axis for a tensor of `rank`; fails when out of range.
  int64_t axis(int64_t axis, size_t rank, std::string_view attr_name) const;

 private:
  const AttrValue& attr(std::string_view name) const;
  const Node& node_;
  std::vector<const TensorInfo*> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<bool> set_;
};

const OpSchema* find_op(std::string_view name);
const std::vector<OpSchema>& all_ops();

// Checks the node's inputs/outputs count and attributes against its schema (unknown attribute,
// wrong type) and fills in defaults. Errors name the node's file:line:column.
void normalize_attrs(Node& node);
// Why a backend built against op set `opset` must not run this node (it sets an attribute added
// later), or nullopt.
std::optional<std::string> newer_attribute(const Node& node, uint32_t opset);
// The same, and also when its input dtypes combine as only a later op set allows
// (OpSchema::dtypes_since); `inputs`: the dtypes of the inputs the node gives (absent optional
// ones left out, so only the required inputs, which come first, keep their positions).
std::optional<std::string> newer_feature(const Node& node, std::span<const DType> inputs, uint32_t opset);
// Runs the op's shape inference; returns the outputs' dtype and shape.
std::vector<TensorInfo> infer(const Node& node, const std::vector<const TensorInfo*>& inputs);

// Numpy-style broadcast of two shapes; nullopt when they do not broadcast.
std::optional<SymShape> broadcast(const SymShape& a, const SymShape& b);

// Message prefix for a node: "graph.yaml:12:5: node 'attn.q' (linear): ".
std::string node_prefix(const Node& node);

}  // namespace loom::ops
