#include "values.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace loom::reference {

int64_t numel(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

bool is_float(int32_t t) { return t == LOOM_DTYPE_F32 || t == LOOM_DTYPE_F16 || t == LOOM_DTYPE_BF16; }
bool is_integer(int32_t t) { return t == LOOM_DTYPE_I64 || t == LOOM_DTYPE_I32 || t == LOOM_DTYPE_U8; }

namespace {

// A binary float format: `digits` significant bits, normal numbers from 2^min_exp, overflow at
// 2^max_exp.
struct FloatFormat {
  int digits, min_exp, max_exp;
};
FloatFormat format_of(int32_t dtype) {
  switch (dtype) {
    case LOOM_DTYPE_F32: return {24, -126, 128};
    case LOOM_DTYPE_F16: return {11, -14, 16};
    case LOOM_DTYPE_BF16: return {8, -126, 128};
    default: throw Error("not a float dtype: " + dtype_name(dtype));
  }
}

long double round_float(FloatFormat f, long double x) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  int e = 0;
  std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
  // The spacing of representable values around x; below the normal range it stays fixed.
  const int quantum = std::max(e - 1, f.min_exp) - (f.digits - 1);
  const long double r = std::ldexp(std::nearbyint(std::ldexp(x, -quantum)), quantum);
  if (std::fabs(r) >= std::ldexp(1.0L, f.max_exp)) return x < 0 ? -INFINITY : INFINITY;
  return r;
}

long double int_range(int32_t dtype, bool max) {
  switch (dtype) {
    case LOOM_DTYPE_I64: return max ? std::ldexp(1.0L, 63) - 1 : -std::ldexp(1.0L, 63);
    case LOOM_DTYPE_I32: return max ? std::ldexp(1.0L, 31) - 1 : -std::ldexp(1.0L, 31);
    case LOOM_DTYPE_U8: return max ? 255 : 0;
    default: throw Error("not an integer dtype: " + dtype_name(dtype));
  }
}

uint16_t encode_half(float v) {
  // v is already an f16 value (round_to): only the encoding is left.
  uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return 0x7E00;
  const float a = std::fabs(v);
  if (std::isinf(a)) return sign | 0x7C00;
  if (a < std::ldexp(1.0f, -14)) return sign | static_cast<uint16_t>(a * std::ldexp(1.0f, 24));
  int e = 0;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const auto mantissa = static_cast<uint16_t>((m * 2 - 1) * 1024);
  return sign | static_cast<uint16_t>((e - 1 + 15) << 10) | mantissa;
}

float decode_half(uint16_t h) {
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  const int exp = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  if (exp == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(1.0f + mantissa / 1024.0f, exp - 15);
}

// The memory offset, in elements, of row-major element i.
int64_t element_offset(const View& v, int64_t i) {
  if (v.strides.empty()) return i;
  int64_t offset = 0;
  for (size_t d = v.dims.size(); d-- > 0;) {
    offset += (i % v.dims[d]) * v.strides[d];
    i /= v.dims[d];
  }
  return offset;
}

template <class T>
T load(const View& v, int64_t i) {
  T x;
  std::memcpy(&x, static_cast<const char*>(v.data) + element_offset(v, i) * sizeof(T), sizeof(T));
  return x;
}
template <class T>
void store(const View& v, int64_t i, T x) {
  std::memcpy(static_cast<char*>(v.data) + element_offset(v, i) * sizeof(T), &x, sizeof(T));
}

double load_real(const View& v, int64_t i) {
  switch (v.dtype) {
    case LOOM_DTYPE_F32: return load<float>(v, i);
    case LOOM_DTYPE_F16: return decode_half(load<uint16_t>(v, i));
    case LOOM_DTYPE_BF16: {
      const uint32_t bits = static_cast<uint32_t>(load<uint16_t>(v, i)) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case LOOM_DTYPE_I64: return static_cast<double>(load<int64_t>(v, i));
    case LOOM_DTYPE_I32: return load<int32_t>(v, i);
    case LOOM_DTYPE_U8: return load<uint8_t>(v, i);
    default: throw Error("cannot read dtype " + dtype_name(v.dtype));
  }
}

void store_rounded(const View& v, int64_t i, long double x) {
  const long double r = round_to(v.dtype, x);
  switch (v.dtype) {
    case LOOM_DTYPE_F32: return store(v, i, static_cast<float>(r));
    case LOOM_DTYPE_F16: return store(v, i, encode_half(static_cast<float>(r)));
    case LOOM_DTYPE_BF16: {
      const float f = std::isnan(r) ? NAN : static_cast<float>(r);  // exact: r has 8 digits
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return store(v, i, static_cast<uint16_t>(bits >> 16));
    }
    case LOOM_DTYPE_I64: return store(v, i, static_cast<int64_t>(r));
    case LOOM_DTYPE_I32: return store(v, i, static_cast<int32_t>(r));
    case LOOM_DTYPE_U8: return store(v, i, static_cast<uint8_t>(r));
    default: throw Error("cannot write dtype " + dtype_name(v.dtype));
  }
}

}  // namespace

long double round_to(int32_t dtype, long double x) {
  if (is_float(dtype)) return round_float(format_of(dtype), x);
  if (std::isnan(x)) return 0;
  const long double t = std::trunc(x), lo = int_range(dtype, false), hi = int_range(dtype, true);
  return t < lo ? lo : t > hi ? hi : t;
}

std::vector<double> read_real(const View& v) {
  std::vector<double> out(static_cast<size_t>(v.numel()));
  for (int64_t i = 0; i < v.numel(); ++i) out[i] = load_real(v, i);
  return out;
}

std::vector<int64_t> read_int(const View& v) {
  std::vector<int64_t> out(static_cast<size_t>(v.numel()));
  for (int64_t i = 0; i < v.numel(); ++i) {
    switch (v.dtype) {
      case LOOM_DTYPE_I64: out[i] = load<int64_t>(v, i); break;
      case LOOM_DTYPE_I32: out[i] = load<int32_t>(v, i); break;
      case LOOM_DTYPE_U8: out[i] = load<uint8_t>(v, i); break;
      default: throw Error("expected an integer tensor, got " + dtype_name(v.dtype));
    }
  }
  return out;
}

std::vector<std::byte> read_raw(const View& v) {
  const size_t size = sdk::dtype_size(v.dtype);
  std::vector<std::byte> out(static_cast<size_t>(v.numel()) * size);
  for (int64_t i = 0; i < v.numel(); ++i)
    std::memcpy(out.data() + i * size, static_cast<const char*>(v.data) + element_offset(v, i) * size, size);
  return out;
}

void write_real(const View& v, const std::vector<double>& values) {
  for (int64_t i = 0; i < v.numel(); ++i) store_rounded(v, i, values[i]);
}

void write_int(const View& v, const std::vector<int64_t>& values) {
  for (int64_t i = 0; i < v.numel(); ++i) {
    switch (v.dtype) {
      // Integers keep their low bits (two's complement), as PyTorch's integer arithmetic does.
      case LOOM_DTYPE_I64: store(v, i, values[i]); break;
      case LOOM_DTYPE_I32: store(v, i, static_cast<int32_t>(static_cast<uint32_t>(values[i]))); break;
      case LOOM_DTYPE_U8: store(v, i, static_cast<uint8_t>(values[i])); break;
      default: store_rounded(v, i, static_cast<long double>(values[i]));  // exact in long double
    }
  }
}

void write_raw(const View& v, const std::vector<std::byte>& bytes) {
  const size_t size = sdk::dtype_size(v.dtype);
  for (int64_t i = 0; i < v.numel(); ++i)
    std::memcpy(static_cast<char*>(v.data) + element_offset(v, i) * size, bytes.data() + i * size, size);
}

Dims dense_strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

Dims broadcast_dims(const Dims& a, const Dims& b) {
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t x = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t y = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (x != y && x != 1 && y != 1) throw Error("shapes " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

std::vector<int64_t> broadcast_map(const Dims& in, const Dims& out) {
  if (in.size() > out.size()) throw Error("cannot broadcast " + dims_str(in) + " to " + dims_str(out));
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1 && in[d] != out[lead + d]) throw Error("cannot broadcast " + dims_str(in) + " to " + dims_str(out));
  const Dims in_strides = dense_strides(in);
  std::vector<int64_t> map(static_cast<size_t>(numel(out)));
  for (int64_t i = 0; i < numel(out); ++i) {
    int64_t rest = i, at = 0;
    for (size_t d = out.size(); d-- > lead;) {
      const int64_t coord = rest % out[d];
      rest /= out[d];
      if (in[d - lead] != 1) at += coord * in_strides[d - lead];
    }
    map[i] = at;
  }
  return map;
}

}  // namespace loom::reference
