// Shared helpers of the kernel interface: node info, attributes, placement checks, oneDNN
// memory descriptors and execution, broadcasting.
#include "kernel.hpp"

#include <algorithm>

namespace loom::onednn {

int64_t count(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

AxisView view_around(std::span<const int64_t> dims, int64_t axis, bool to_end) {
  AxisView v;
  for (int64_t i = 0; i < axis; ++i) v.outer *= dims[static_cast<size_t>(i)];
  if (to_end) {
    for (size_t i = static_cast<size_t>(axis); i < dims.size(); ++i) v.n *= dims[i];
  } else {
    v.n = dims[static_cast<size_t>(axis)];
    for (size_t i = static_cast<size_t>(axis) + 1; i < dims.size(); ++i) v.inner *= dims[i];
  }
  return v;
}

std::optional<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  return axis;
}

NodeInfo NodeInfo::from(const sdk::NodeView& node) {
  NodeInfo info;
  info.name = std::string(node.name());
  info.op = std::string(node.op());
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    info.inputs.push_back(node.input_index(i));
    info.input_dtypes.push_back(node.has_input(i) ? node.input(i).dtype() : LOOM_DTYPE_INVALID);
    info.input_ranks.push_back(node.has_input(i) ? node.input(i).rank() : 0);
  }
  for (size_t i = 0; i < node.num_outputs(); ++i) {
    info.outputs.push_back(node.output_index(i));
    info.output_dtypes.push_back(node.output(i).dtype());
  }
  return info;
}

std::string NodeInfo::where() const { return "node '" + name + "' (" + op + ")"; }

void NodeInfo::fail(const std::string& what, int32_t code) const {
  throw Error(where() + ": " + what, code);
}

void NodeKernel::expect_output(const sdk::ShapeSet& shapes, size_t output,
                               std::span<const int64_t> dims) const {
  auto got = out_dims(shapes, output);
  if (!std::equal(got.begin(), got.end(), dims.begin(), dims.end()))
    info_.fail("output " + std::to_string(output) + " has shape " + dims_str(got) + ", expected " +
               dims_str(dims));
}

// ---------------------------------------------------------------- attributes

static const loom_attr* find_typed(const sdk::NodeView& node, std::string_view name, int32_t type) {
  const loom_attr* a = node.find_attr(name);
  if (a && a->type != type)
    throw Error("node '" + std::string(node.name()) + "' (" + std::string(node.op()) + "): attribute '" +
                std::string(name) + "' has the wrong type", LOOM_STATUS_INVALID_ARGUMENT);
  return a;
}

int64_t attr_int(const sdk::NodeView& node, std::string_view name, int64_t fallback) {
  const loom_attr* a = find_typed(node, name, LOOM_ATTR_INT);
  return a ? a->i : fallback;
}

double attr_float(const sdk::NodeView& node, std::string_view name, double fallback) {
  const loom_attr* a = node.find_attr(name);
  if (a && a->type == LOOM_ATTR_INT) return static_cast<double>(a->i);
  a = find_typed(node, name, LOOM_ATTR_FLOAT);
  return a ? a->f : fallback;
}

bool attr_bool(const sdk::NodeView& node, std::string_view name, bool fallback) {
  const loom_attr* a = find_typed(node, name, LOOM_ATTR_BOOL);
  return a ? a->i != 0 : fallback;
}

std::string attr_string(const sdk::NodeView& node, std::string_view name, std::string_view fallback) {
  const loom_attr* a = find_typed(node, name, LOOM_ATTR_STRING);
  return std::string(a && a->s ? std::string_view(a->s) : fallback);
}

std::vector<int64_t> attr_ints(const sdk::NodeView& node, std::string_view name) {
  const loom_attr* a = find_typed(node, name, LOOM_ATTR_INTS);
  if (!a)
    throw Error("node '" + std::string(node.name()) + "' (" + std::string(node.op()) +
                "): attribute '" + std::string(name) + "' is missing", LOOM_STATUS_INVALID_ARGUMENT);
  return std::vector<int64_t>(a->ints, a->ints + a->count);
}

// ---------------------------------------------------------------- placement checks

std::optional<std::string> check_arity(const sdk::NodeView& node, size_t min_inputs, size_t max_inputs,
                                       size_t outputs) {
  if (node.num_inputs() < min_inputs || node.num_inputs() > max_inputs)
  {
    std::string range = std::to_string(min_inputs);
    if (max_inputs == SIZE_MAX) range.append(" or more");
    else if (max_inputs != min_inputs) range.append("-").append(std::to_string(max_inputs));
    return "takes " + range + " inputs, the node has " + std::to_string(node.num_inputs());
  }
  for (size_t i = 0; i < min_inputs; ++i)
    if (!node.has_input(i)) return "input " + std::to_string(i) + " is required";
  if (node.num_outputs() != outputs)
    return "has " + std::to_string(outputs) + " output(s), the node has " + std::to_string(node.num_outputs());
  return std::nullopt;
}

std::optional<std::string> check_dtype(const sdk::NodeView& node, size_t input,
                                       std::initializer_list<int32_t> allowed) {
  if (!node.has_input(input)) return std::nullopt;
  int32_t dt = node.input(input).dtype();
  if (std::find(allowed.begin(), allowed.end(), dt) != allowed.end()) return std::nullopt;
  std::string list;
  for (int32_t a : allowed) list += (list.empty() ? "" : ", ") + dtype_name(a);
  return "dtype " + dtype_name(dt) + " of input '" + std::string(node.input(input).name()) +
         "' is not supported (onednn runs " + std::string(node.op()) + " on " + list + ")";
}

std::optional<std::string> check_rank(const sdk::NodeView& node, size_t input, int64_t max_rank) {
  if (!node.has_input(input)) return std::nullopt;
  int64_t r = node.input(input).rank();
  if (r <= max_rank) return std::nullopt;
  return "rank " + std::to_string(r) + " of input '" + std::string(node.input(input).name()) +
         "' is too high (onednn runs " + std::string(node.op()) + " up to rank " + std::to_string(max_rank) + ")";
}

bool movable_dtype(int32_t dtype) { return sdk::dtype_size(dtype) != 0; }

// ---------------------------------------------------------------- oneDNN

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc plain_md(std::span<const int64_t> dims, dnnl::memory::data_type dt) {
  Dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(dims[i], 1);
  return strided_md(dims, strides, dt);
}

dnnl::memory::desc strided_md(std::span<const int64_t> dims, std::span<const int64_t> strides,
                              dnnl::memory::data_type dt) {
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dt,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::matmul::primitive_desc blocked_pd(int64_t m, int64_t n, int64_t k, bool bf16, const dnnl::memory::desc& weights,
                                        bool bias, const dnnl::primitive_attr& attr) {
  using dt = dnnl::memory::data_type;
  const int64_t src_dims[] = {m, k}, dst_dims[] = {m, n}, bias_dims[] = {1, n};
  const auto src = plain_md(src_dims, bf16 ? dt::bf16 : dt::f32), dst = plain_md(dst_dims, dt::f32);
  auto desc = bias ? dnnl::matmul::desc(src, weights, plain_md(bias_dims, dt::f32), dst) : dnnl::matmul::desc(src, weights, dst);
  return dnnl::matmul::primitive_desc(desc, attr, cpu_engine());
}

void execute(const dnnl::primitive& prim, const RunContext& ctx, std::initializer_list<ExecArg> args,
             const NodeInfo& node) {
  execute(prim, ctx, 0, args, node);
}

void execute(const dnnl::primitive& prim, const RunContext& ctx, size_t first, std::initializer_list<ExecArg> args,
             const NodeInfo& node) {
  constexpr size_t kMaxArgs = 8;
  dnnl_exec_arg_t exec[kMaxArgs];
  size_t n = 0;
  for (const ExecArg& a : args) {
    if (n == kMaxArgs) node.fail("too many oneDNN arguments");
    dnnl_memory_t m = ctx.memories[first + n].get();
    if (dnnl_memory_set_data_handle_v2(m, a.data, ctx.stream) != dnnl_success)
      node.fail("binding a oneDNN memory object failed", LOOM_STATUS_ERROR);
    exec[n++] = {a.arg, m};
  }
  dnnl_status_t st = dnnl_primitive_execute(prim.get(), ctx.stream, static_cast<int>(n), exec);
  if (st != dnnl_success)
    node.fail("oneDNN primitive failed with status " + std::to_string(static_cast<int>(st)), LOOM_STATUS_ERROR);
}

// ---------------------------------------------------------------- broadcasting

std::optional<Dims> broadcast_dims(std::span<const int64_t> a, std::span<const int64_t> b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    int64_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::optional<Broadcast> Broadcast::make(std::span<const int64_t> out, std::span<const int64_t> a,
                                         std::span<const int64_t> b) {
  const size_t r = out.size();
  if (a.size() > r || b.size() > r) return std::nullopt;
  Broadcast bc;
  bc.n = count(out);
  // Per output dim: the operands' element strides, 0 where they broadcast.
  Dims sa(r, 0), sb(r, 0);
  auto strides_of = [&](std::span<const int64_t> x, Dims& s) {
    int64_t st = 1;
    for (size_t i = x.size(); i-- > 0;) {
      size_t o = i + r - x.size();
      if (x[i] == out[o]) s[o] = out[o] == 1 ? 0 : st;
      else if (x[i] != 1) return false;
      st *= x[i];
    }
    return true;
  };
  if (!strides_of(a, sa) || !strides_of(b, sb)) return std::nullopt;
  const int64_t na = count(a), nb = count(b);
  if (na == bc.n && nb == bc.n) { bc.mode = kSame; return bc; }
  if (na == 1 && nb == bc.n) { bc.mode = kScalarA; return bc; }
  if (nb == 1 && na == bc.n) { bc.mode = kScalarB; return bc; }
  // Drop unit dims, then merge a dim into the previous one where both operands stay contiguous.
  Dims d, ca, cb;
  for (size_t i = 0; i < r; ++i) {
    if (out[i] == 1) continue;
    if (!d.empty() && ca.back() == sa[i] * out[i] && cb.back() == sb[i] * out[i]) {
      d.back() *= out[i];
      ca.back() = sa[i];
      cb.back() = sb[i];
      continue;
    }
    d.push_back(out[i]);
    ca.push_back(sa[i]);
    cb.push_back(sb[i]);
  }
  if (d.empty()) { d = {1}; ca = {0}; cb = {0}; }
  if (d.size() > static_cast<size_t>(kMaxLoopRank)) return std::nullopt;
  bc.mode = kGeneral;
  bc.rank = static_cast<int>(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    bc.dims[i] = d[i];
    bc.stride_a[i] = ca[i];
    bc.stride_b[i] = cb[i];
  }
  return bc;
}

}  // namespace loom::onednn
