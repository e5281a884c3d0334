// The reference backend's kernel interface: each op family (ops/<family>.cpp) hands the plugin a
// table of OpEntry, one function per op that reads its inputs, computes in f64 / int64 and writes
// its outputs. A node is copied out of the borrowed graph view at compile time (Node).
#pragma once

#include "values.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom::reference {

struct Attr {
  int32_t type = 0;  // LOOM_ATTR_*
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
};

// A node as compiled: the host fills in every attribute's default (abi.h).
struct Node {
  std::string name, op;
  std::map<std::string, Attr, std::less<>> attrs;
  std::vector<int32_t> inputs, outputs;       // partition value indices, -1: absent
  std::vector<int32_t> input_dtypes, output_dtypes;

  int64_t attr_int(std::string_view name) const { return attr(name, LOOM_ATTR_INT).i; }
  bool attr_bool(std::string_view name) const { return attr(name, LOOM_ATTR_BOOL).i != 0; }
  double attr_float(std::string_view name) const { return attr(name, LOOM_ATTR_FLOAT).f; }
  const std::string& attr_string(std::string_view name) const { return attr(name, LOOM_ATTR_STRING).s; }
  const std::vector<int64_t>& attr_ints(std::string_view name) const { return attr(name, LOOM_ATTR_INTS).ints; }
  const Attr& attr(std::string_view name, int32_t type) const;

  // "node 'attn' (attention): <what>", as an error.
  [[noreturn]] void fail(const std::string& what) const;
  // A possibly negative axis of a tensor of `rank`, normalised; fails when out of range.
  int64_t axis(int64_t axis, size_t rank, std::string_view attr_name) const;
  // Fails unless `out` has the dims this op computes: the host planned its memory by them.
  void expect_dims(const View& out, const Dims& dims) const;
};

// One run of a node: its input and output tensors (absent optional inputs: present == false).
struct Io {
  std::vector<View> in, out;
};

struct OpEntry {
  std::string_view name;
  void (*run)(const Node& node, const Io& io);
  // (optional) Why this backend cannot run the node, or nullopt: the reference runs every
  // dtype and attribute the registry allows, so this only refuses what the registry refuses.
  std::optional<std::string> (*check)(const Node& node) = nullptr;
};

std::vector<OpEntry> elementwise_ops();  // add sub mul div relu tanh sigmoid exp quick_gelu silu gelu cast
std::vector<OpEntry> linalg_ops();       // matmul linear
std::vector<OpEntry> conv_ops();         // conv2d
std::vector<OpEntry> norm_ops();         // layer_norm add_layer_norm rms_norm l2_normalize softmax
std::vector<OpEntry> reduce_ops();       // reduce_mean argmax topk
std::vector<OpEntry> layout_ops();       // roll pad
std::vector<OpEntry> indexing_ops();     // gather gather_rows positions
std::vector<OpEntry> shape_ops();        // reshape transpose slice concat
std::vector<OpEntry> attention_ops();    // attention cache_write
std::vector<OpEntry> mask_ops();         // key_mask

// Shared by several families.
double gelu_erf(double x);
double gelu_tanh(double x);
double quick_gelu(double x);  // x * sigmoid(1.702 x)
double silu(double x);        // x * sigmoid(x)
// The keys query i of batch row b may see (docs/ops.md, "Which keys a query sees").
bool key_visible(int64_t i, int64_t j, int64_t tq, int64_t length, bool causal);
// valid_length[b] of an optional i64 [B] input (or tk when absent), checked to lie in 0..tk.
std::vector<int64_t> valid_lengths(const Node& node, const View& input, int64_t batch, int64_t tk);

}  // namespace loom::reference
