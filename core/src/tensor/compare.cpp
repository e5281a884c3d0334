#include <loom/tensor.hpp>

#include <cmath>
#include <cstring>

namespace loom {

namespace {

float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float f16_to_float(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);  // zero, subnormal
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
}

}  // namespace

double element_as_double(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::f32: return t.data_as<float>()[i];
    case DType::f16: return f16_to_float(t.data_as<uint16_t>()[i]);
    case DType::bf16: return bf16_to_float(t.data_as<uint16_t>()[i]);
    case DType::i64: return static_cast<double>(t.data_as<int64_t>()[i]);
    case DType::i32: return t.data_as<int32_t>()[i];
    case DType::u8: return t.data_as<uint8_t>()[i];
  }
  return NAN;
}

Comparison compare(const Tensor& out, const Tensor& ref, double atol, double rtol) {
  Comparison c;
  if (out.shape() != ref.shape()) {
    c.mismatch = "shape " + shape_str(out.shape()) + " differs from the reference's " + shape_str(ref.shape());
    return c;
  }
  if (out.dtype() != ref.dtype()) {
    c.mismatch = "dtype " + std::string(dtype_name(out.dtype())) + " differs from the reference's " +
                 std::string(dtype_name(ref.dtype()));
    return c;
  }
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double o = element_as_double(out, i), r = element_as_double(ref, i);
    double err = 0;
    bool differs = false;
    if (std::isnan(o) || std::isnan(r)) {
      differs = !(std::isnan(o) && std::isnan(r));
      err = differs ? INFINITY : 0;
    } else if (o != r) {
      err = std::abs(o - r);  // infinite when either side is: only equal infinities match
      differs = std::isinf(err) || err > atol + rtol * std::abs(r);
    }
    c.max_abs_error = std::max(c.max_abs_error, err);
    if (differs) {
      if (c.first < 0) c.first = i;
      ++c.differing;
    }
  }
  return c;
}

}  // namespace loom
