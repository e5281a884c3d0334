#include "op_case.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace loom::conformance {

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// f16 bits of v, rounded to nearest-even (overflow to inf, subnormals kept).
uint16_t to_f16(double v) {
  if (std::isnan(v)) return 0x7E00;
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  double a = std::fabs(v);
  if (a == 0) return sign;
  int e = 0;
  std::frexp(a, &e);
  const int quantum = std::max(e - 1, -14) - 10;
  a = std::ldexp(std::nearbyint(std::ldexp(a, -quantum)), quantum);
  if (a >= 65520.0 || std::isinf(a)) return sign | 0x7C00;
  if (a < std::ldexp(1.0, -14)) return sign | static_cast<uint16_t>(std::ldexp(a, 24));
  std::frexp(a, &e);
  return sign | static_cast<uint16_t>((e - 1 + 15) << 10) | static_cast<uint16_t>((std::ldexp(a, -(e - 1)) - 1) * 1024);
}

uint16_t to_bf16(double v) {
  const float f = static_cast<float>(std::isfinite(v) && std::fabs(v) > 3.0e38 ? std::copysign(3.0e38, v) : v);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return 0x7FC0;
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest-even
  return static_cast<uint16_t>(bits >> 16);
}

template <class T>
T saturate(double v) {
  if (std::isnan(v)) return 0;
  const double t = std::trunc(v);
  if (t <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  if (t >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(t);
}

}  // namespace

void set_element(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::f32: t.data_as<float>()[i] = static_cast<float>(v); break;
    case DType::f16: t.data_as<uint16_t>()[i] = to_f16(v); break;
    case DType::bf16: t.data_as<uint16_t>()[i] = to_bf16(v); break;
    case DType::i64: t.data_as<int64_t>()[i] = saturate<int64_t>(v); break;
    case DType::i32: t.data_as<int32_t>()[i] = saturate<int32_t>(v); break;
    case DType::u8: t.data_as<uint8_t>()[i] = saturate<uint8_t>(v); break;
  }
}

std::string dims(const Shape& s) { return shape_str(s); }

CaseBuilder::CaseBuilder(std::string op, std::string name) : rng_(fnv1a(op + "/" + name)) {
  case_.op = op;
  case_.name = std::move(name);
  case_.graph.name = "conformance";
  node_.name = "node";
  node_.op = std::move(op);
}

Tensor CaseBuilder::random(DType dtype, const Shape& shape, Range range) {
  Tensor t(dtype, shape);
  const bool integer = dtype == DType::i64 || dtype == DType::i32 || dtype == DType::u8;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = static_cast<double>(rng_() >> 11) * 0x1p-53;  // uniform in [0, 1)
    const double v = integer ? std::floor(range.lo + u * (range.hi - range.lo + 1)) : range.lo + u * (range.hi - range.lo);
    set_element(t, i, v);
  }
  return t;
}

CaseBuilder& CaseBuilder::input(const std::string& name, DType dtype, Shape shape, Range range) {
  return input(name, random(dtype, shape, range));
}

CaseBuilder& CaseBuilder::input(const std::string& name, Tensor value) {
  node_.inputs.push_back(name);
  case_.graph.inputs.push_back({name, {value.dtype(), to_sym_shape(value.shape())}, {}, std::nullopt});
  case_.inputs.emplace(name, std::move(value));
  return *this;
}

CaseBuilder& CaseBuilder::absent() {
  node_.inputs.emplace_back();
  return *this;
}

CaseBuilder& CaseBuilder::attr(const std::string& name, AttrValue value) {
  node_.attrs[name] = std::move(value);
  return *this;
}

CaseBuilder& CaseBuilder::outputs(int count) {
  outputs_ = count;
  return *this;
}

CaseBuilder& CaseBuilder::tolerance(Tolerance t) {
  tolerance_ = t;
  return *this;
}

CaseBuilder& CaseBuilder::decomposed() {
  case_.decompose = true;
  case_.name += " (decomposed)";
  return *this;
}

OpCase CaseBuilder::build() {
  for (int i = 0; i < outputs_; ++i) {
    const std::string name = i ? "out" + std::to_string(i) : "out";
    node_.outputs.push_back(name);
    case_.graph.outputs.push_back({name, {}});
  }
  const DType dtype = case_.inputs.empty() ? DType::f32 : case_.inputs.at(node_.inputs.front()).dtype();
  case_.tolerance = tolerance_ ? *tolerance_ : tolerance_for(case_.op, dtype);
  case_.graph.nodes.push_back(node_);
  return case_;
}

}  // namespace loom::conformance
