#include "passes/host_eval.hpp"

#include "ops/registry.hpp"
#include "passes/graph_edit.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace loom::passes {

namespace {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<int64_t> row_major_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Element strides of `in` against the output shape `out` (NumPy broadcasting: 0 where a dim is
// broadcast).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const auto own = row_major_strides(in);
  for (size_t i = 0; i < in.size(); ++i) {
    const size_t o = i + out.size() - in.size();
    st[o] = in[i] == 1 && out[o] != 1 ? 0 : own[i];
  }
  return st;
}

// Calls f(k, offset of operand 0, offset of operand 1) for every output element k in row-major
// order, with operand offsets from their strides.
template <class F>
void for_each_element(const Shape& out, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, F f) {
  const int64_t n = numel_of(out);
  std::vector<int64_t> idx(out.size(), 0);
  int64_t oa = 0, ob = 0;
  for (int64_t k = 0; k < n; ++k) {
    f(k, oa, ob);
    for (size_t d = out.size(); d-- > 0;) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// Integer arithmetic wraps (two's complement), as the backends' does; division by zero and the
// one overflowing quotient are run-time errors left to the backend.
template <class T>
std::optional<T> integer_op(const std::string& op, T a, T b) {
  using U = std::make_unsigned_t<T>;
  if (op == "add") return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  if (op == "sub") return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  if (op == "mul") return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  if (b == 0 || (a == std::numeric_limits<T>::min() && b == -1)) return std::nullopt;
  return static_cast<T>(a / b);
}

float float_op(const std::string& op, float a, float b) {
  if (op == "add") return a + b;
  if (op == "sub") return a - b;
  if (op == "mul") return a * b;
  return a / b;
}

template <class T>
bool binary(const std::string& op, const Tensor& a, const Tensor& b, Tensor& out) {
  const T* pa = a.data_as<T>();
  const T* pb = b.data_as<T>();
  T* po = out.data_as<T>();
  bool ok = true;
  for_each_element(out.shape(), broadcast_strides(a.shape(), out.shape()), broadcast_strides(b.shape(), out.shape()),
                   [&](int64_t k, int64_t ia, int64_t ib) {
                     if constexpr (std::is_same_v<T, float>) {
                       po[k] = float_op(op, pa[ia], pb[ib]);
                     } else {
                       auto r = integer_op<T>(op, pa[ia], pb[ib]);
                       if (r) po[k] = *r;
                       else ok = false;
                     }
                   });
  return ok;
}

// Float to integer truncates toward zero, NaN becomes 0 and out-of-range values saturate;
// integer narrowing keeps the low bits (docs/ops.md, cast).
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return 0;
    constexpr auto lo = static_cast<From>(std::numeric_limits<To>::min());
    constexpr auto hi = static_cast<From>(std::numeric_limits<To>::max());
    if (v <= lo) return std::numeric_limits<To>::min();
    if (v >= hi) return std::numeric_limits<To>::max();
  }
  return static_cast<To>(v);
}

template <class From>
bool cast_from(const Tensor& x, Tensor& out) {
  const From* in = x.data_as<From>();
  const int64_t n = x.numel();
  auto fill = [&](auto* o) {
    using To = std::remove_pointer_t<decltype(o)>;
    for (int64_t i = 0; i < n; ++i) o[i] = convert<To>(in[i]);
  };
  switch (out.dtype()) {
    case DType::f32: fill(out.data_as<float>()); return true;
    case DType::i64: fill(out.data_as<int64_t>()); return true;
    case DType::i32: fill(out.data_as<int32_t>()); return true;
    case DType::u8: fill(out.data_as<uint8_t>()); return true;
    default: return false;
  }
}

bool cast(const Tensor& x, Tensor& out) {
  switch (x.dtype()) {
    case DType::f32: return cast_from<float>(x, out);
    case DType::i64: return cast_from<int64_t>(x, out);
    case DType::i32: return cast_from<int32_t>(x, out);
    case DType::u8: return cast_from<uint8_t>(x, out);
    default: return false;
  }
}

void transpose(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out) {
  const auto in_strides = row_major_strides(x.shape());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) st[i] = in_strides[perm[i]];
  const size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.data());
  auto* dst = static_cast<std::byte*>(out.data());
  for_each_element(out.shape(), st, st, [&](int64_t k, int64_t ia, int64_t) {
    std::memcpy(dst + k * es, src + ia * es, es);
  });
}

// Dims before and after `axis`, as element counts.
std::pair<int64_t, int64_t> outer_inner(const Shape& s, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < axis) outer *= s[i];
    if (i > axis) inner *= s[i];
  }
  return {outer, inner};
}

int64_t normalized_axis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

void slice(const Node& node, const Tensor& x, Tensor& out) {
  const int64_t axis = normalized_axis(attr_int(node, "axis"), x.shape().size());
  const int64_t n = x.shape()[axis], step = attr_int(node, "step");
  auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
  const int64_t start = clamp(attr_int(node, "start")), count = out.shape()[axis];
  const auto [outer, inner] = outer_inner(x.shape(), axis);
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.data());
  auto* dst = static_cast<std::byte*>(out.data());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < count; ++k, dst += row) std::memcpy(dst, src + (o * n + start + k * step) * row, row);
}

void concat(const Node& node, const std::vector<const Tensor*>& inputs, Tensor& out) {
  const int64_t axis = normalized_axis(attr_int(node, "axis"), out.shape().size());
  const auto [outer, inner] = outer_inner(out.shape(), axis);
  const size_t es = dtype_size(out.dtype());
  auto* dst = static_cast<std::byte*>(out.data());
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor* t : inputs) {
      const size_t block = static_cast<size_t>(t->shape()[axis] * inner) * es;
      std::memcpy(dst, static_cast<const std::byte*>(t->data()) + o * block, block);
      dst += block;
    }
}

template <class I>
bool gather(const Node& node, const Tensor& data, const Tensor& indices, Tensor& out) {
  const int64_t axis = normalized_axis(attr_int(node, "axis"), data.shape().size());
  const int64_t n = data.shape()[axis];
  const auto [outer, inner] = outer_inner(data.shape(), axis);
  const size_t row = static_cast<size_t>(inner) * dtype_size(data.dtype());
  const auto* src = static_cast<const std::byte*>(data.data());
  auto* dst = static_cast<std::byte*>(out.data());
  const I* idx = indices.data_as<I>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < indices.numel(); ++j, dst += row) {
      int64_t i = idx[j];
      if (i < 0) i += n;
      if (i < 0 || i >= n) return false;
      std::memcpy(dst, src + (o * n + i) * row, row);
    }
  return true;
}

void positions(const Node& node, const Tensor* offset, Tensor& out) {
  const bool per_row = attr_bool(node, "per_row");
  const int64_t len = out.shape().back(), rows = per_row ? out.shape()[0] : 1;
  int64_t* o = out.data_as<int64_t>();
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t start = offset ? offset->data_as<int64_t>()[per_row ? b : 0] : 0;
    for (int64_t t = 0; t < len; ++t) *o++ = static_cast<int64_t>(static_cast<uint64_t>(start) + static_cast<uint64_t>(t));
  }
}

bool compute(const Node& node, const std::vector<const Tensor*>& in, Tensor& out) {
  const std::string& op = node.op;
  if (op == "reshape") {
    std::memcpy(out.data(), in[0]->data(), out.nbytes());
    return true;
  }
  if (op == "transpose") {
    transpose(*in[0], attr_ints(node, "perm"), out);
    return true;
  }
  if (op == "slice") {
    slice(node, *in[0], out);
    return true;
  }
  if (op == "concat") {
    concat(node, in, out);
    return true;
  }
  if (op == "cast") return cast(*in[0], out);
  if (op == "positions") {
    positions(node, in.size() > 1 ? in[1] : nullptr, out);
    return true;
  }
  if (op == "gather") {
    if (in[1]->dtype() == DType::i64) return gather<int64_t>(node, *in[0], *in[1], out);
    return gather<int32_t>(node, *in[0], *in[1], out);
  }
  if (op == "add" || op == "sub" || op == "mul" || op == "div") {
    switch (out.dtype()) {
      case DType::f32: return binary<float>(op, *in[0], *in[1], out);
      case DType::i64: return binary<int64_t>(op, *in[0], *in[1], out);
      case DType::i32: return binary<int32_t>(op, *in[0], *in[1], out);
      default: return false;
    }
  }
  return false;
}

bool evaluated_dtype(DType t) { return t == DType::f32 || t == DType::i64 || t == DType::i32 || t == DType::u8; }

}  // namespace

std::optional<std::vector<Tensor>> evaluate_on_host(const Node& node, const std::vector<const Tensor*>& inputs,
                                                    int64_t max_elements) {
  static const char* const kOps[] = {"reshape", "transpose", "slice", "concat", "cast", "positions",
                                     "gather",  "add",       "sub",   "mul",    "div"};
  if (std::find(std::begin(kOps), std::end(kOps), node.op) == std::end(kOps)) return std::nullopt;
  std::vector<TensorInfo> infos(inputs.size());
  std::vector<const TensorInfo*> info_ptrs(inputs.size(), nullptr);
  std::vector<const Tensor*> present;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    if (!evaluated_dtype(inputs[i]->dtype())) return std::nullopt;
    infos[i] = {inputs[i]->dtype(), to_sym_shape(inputs[i]->shape())};
    info_ptrs[i] = &infos[i];
    present.push_back(inputs[i]);
  }
  std::vector<TensorInfo> out_infos;
  try {
    out_infos = ops::infer(node, info_ptrs);
  } catch (const Error&) {
    return std::nullopt;  // the program validated it; leave any doubt to the backend
  }
  std::vector<Tensor> outs;
  for (const auto& info : out_infos) {
    auto shape = to_shape(info.shape);
    if (!shape || !evaluated_dtype(info.dtype) || numel_of(*shape) > max_elements) return std::nullopt;
    outs.emplace_back(info.dtype, *shape);
  }
  // positions reads only the shape of `like`; concat takes every input.
  std::vector<const Tensor*> args = node.op == "concat" ? present : inputs;
  if (outs.size() != 1 || !compute(node, args, outs[0])) return std::nullopt;
  return outs;
}

}  // namespace loom::passes
