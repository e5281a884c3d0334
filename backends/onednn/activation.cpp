#include "activation.hpp"

#include "avx512.hpp"
#include "clones.hpp"
#include "isa.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace loom::onednn {
namespace {

// exp(x), x clamped below to -87 (so 0 < result), +inf above 88; branch-free so that loops
// vectorise.
inline float exp_clamped(float x) {
  const bool huge = x > 88.0f;
  x = x < -87.0f ? -87.0f : x;  // NaN passes through both
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * kExpLog2e + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = x - n * kExpLn2Hi + n * kExpLn2Lo;
  float p = kExpP[0];
  for (int i = 1; i < 6; ++i) p = p * r + kExpP[i];
  const float y = p * (r * r) + r + 1.0f;
  return huge ? std::numeric_limits<float>::infinity() : y * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

// erf(x) as x P(x^2) / Q(x^2) over x clamped to [-4, 4] (the rational approximation of Eigen's and
// XLA's f32 erf; absolute error about 4.5e-7). erf(+-4) comes out exactly +-1 in f32, so
// gelu(-inf) = -inf * 0 is NaN, as in PyTorch. No exp: half the work of Abramowitz and Stegun's
// 7.1.26, which needs one.
constexpr float kErfP[] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f, -5.69250639462346e-05f,
                           -7.34990630326855e-04f, -2.95459980854025e-03f, -1.60960333262415e-02f};
constexpr float kErfQ[] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                           -7.37332916720468e-03f, -1.42647390514189e-02f};

inline float erf_rational(float x) {
  x = x < -4.0f ? -4.0f : x;  // NaN passes through both
  x = x > 4.0f ? 4.0f : x;
  const float z = x * x;
  float p = kErfP[0], q = kErfQ[0];
  for (int i = 1; i < 7; ++i) p = p * z + kErfP[i];
  for (int i = 1; i < 5; ++i) q = q * z + kErfQ[i];
  return x * p / q;
}

LOOM_CPU_CLONES void relu_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : (y[i] == y[i] ? 0.0f : y[i]);  // NaN stays NaN
}
LOOM_CPU_CLONES void gelu_erf_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * y[i] * (1.0f + erf_rational(y[i] * 0.70710678118654752440f));
}
LOOM_CPU_CLONES void gelu_tanh_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i], u = 0.79788456080286535588f * (v + 0.044715f * v * v * v);
    y[i] = v / (1.0f + exp_clamped(-2.0f * u));
  }
}
LOOM_CPU_CLONES void quick_gelu_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] / (1.0f + exp_clamped(-1.702f * y[i]));
}
LOOM_CPU_CLONES void silu_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] / (1.0f + exp_clamped(-y[i]));
}
LOOM_CPU_CLONES void tanh_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f - 2.0f / (1.0f + exp_clamped(2.0f * y[i]));
}


#if defined(__x86_64__) && defined(__GNUC__)
// The same functions by hand on AVX2. Vectorising the scalar ones, GCC splits exp's clamps into
// separate paths, constant-folds the clamped ones and blends: v / (1 + exp(88)) is then computed
// for every lane, and its subnormal quotient costs a microcode assist per vector (a 128 x 3072
// gelu_tanh measured 1.1 ms, 0.12 ms here). min/max with the input as second operand keep NaN.
#define LOOM_AVX2 __attribute__((target("avx2,fma")))

// exp(x); +inf above 88 (so that -inf / (1 + exp(inf)) is NaN, as in PyTorch), about 1e-38 below -87.
LOOM_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 huge = _mm256_cmp_ps(x, _mm256_set1_ps(88.0f), _CMP_GT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
  x = _mm256_max_ps(_mm256_set1_ps(-87.0f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kExpLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kExpLn2Hi), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(kExpLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP[i]));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_blendv_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(e)), _mm256_set1_ps(std::numeric_limits<float>::infinity()), huge);
}

// v / (1 + exp(a v)), the form of quick_gelu, silu and gelu_tanh.
LOOM_AVX2 inline __m256 over_one_plus_exp(__m256 v, __m256 a) {
  return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(a)));
}

struct Relu {
  // The second operand where either is NaN or both are zero: NaN stays NaN, -0 stays -0 (PyTorch).
  LOOM_AVX2 __m256 operator()(__m256 v) const { return _mm256_max_ps(_mm256_setzero_ps(), v); }
};
struct GeluTanh {
  LOOM_AVX2 __m256 operator()(__m256 v) const {
    const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286535588f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
    return over_one_plus_exp(v, _mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
  }
};
struct QuickGelu {
  LOOM_AVX2 __m256 operator()(__m256 v) const { return over_one_plus_exp(v, _mm256_mul_ps(_mm256_set1_ps(-1.702f), v)); }
};
struct Silu {
  LOOM_AVX2 __m256 operator()(__m256 v) const { return over_one_plus_exp(v, _mm256_sub_ps(_mm256_setzero_ps(), v)); }
};
struct Tanh {
  LOOM_AVX2 __m256 operator()(__m256 v) const {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 d = _mm256_add_ps(one, exp8(_mm256_mul_ps(_mm256_set1_ps(2.0f), v)));
    return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), d));
  }
};
struct GeluErf {
  LOOM_AVX2 __m256 operator()(__m256 v) const {
    const __m256 s = _mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752440f));
    const __m256 x = _mm256_max_ps(_mm256_set1_ps(-4.0f), _mm256_min_ps(_mm256_set1_ps(4.0f), s));  // NaN stays
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kErfP[0]), z, _mm256_set1_ps(kErfP[1]));
    for (int i = 2; i < 7; ++i) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kErfP[i]));
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(kErfQ[0]), z, _mm256_set1_ps(kErfQ[1]));
    for (int i = 2; i < 5; ++i) q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(kErfQ[i]));
    const __m256 erf = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    const __m256 h = _mm256_mul_ps(_mm256_set1_ps(0.5f), v);
    return _mm256_fmadd_ps(h, erf, h);  // 0.5 v (1 + erf)
  }
};

template <class F>
LOOM_AVX2 void each8(float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(y + i)));
  if (i == n) return;
  alignas(32) float tail[8] = {};
  std::copy(y + i, y + n, tail);
  _mm256_store_ps(tail, f(_mm256_load_ps(tail)));
  std::copy(tail, tail + (n - i), y + i);
}

template <class F>
LOOM_AVX2 void rows8(float* y, int64_t rows, int64_t cols, int64_t ld, F f) {
  for (int64_t r = 0; r < rows; ++r) each8(y + r * ld, cols, f);
}

LOOM_AVX2 void activate_avx2(float* y, int64_t rows, int64_t cols, int64_t ld, Activation act) {
  switch (act) {
    case Activation::none: return;
    case Activation::relu: return rows8(y, rows, cols, ld, Relu{});
    case Activation::gelu_erf: return rows8(y, rows, cols, ld, GeluErf{});
    case Activation::gelu_tanh: return rows8(y, rows, cols, ld, GeluTanh{});
    case Activation::quick_gelu: return rows8(y, rows, cols, ld, QuickGelu{});
    case Activation::silu: return rows8(y, rows, cols, ld, Silu{});
    case Activation::tanh: return rows8(y, rows, cols, ld, Tanh{});
  }
}

// The sigmoid forms again over 16 lanes on AVX-512, where the division is the costly part: v
// sigmoid(t) = v s (t >= 0) or v e s (t < 0), with e = exp(-|t|) and s = 1 / (1 + e) from
// vrcp14ps and one Newton step (1 + e lies in [1, 2]: about 1 ulp). e is exactly 0 where |t| > 87
// (the avx512.hpp exp), so v sigmoid(t) is -0 for a large negative t, NaN for v = -inf (-inf x 0)
// and v for a large positive one, as PyTorch's; NaN stays NaN. gelu_erf's quotient stays a
// division (its denominator has no such range). 1.3-1.6x the AVX2 loops on an AMX Xeon. The masked
// forms of the intrinsics: the plain ones take an undefined operand that GCC 12 warns of.
LOOM_AVX512 inline __m512 times_sigmoid(__m512 v, __m512 t) {
  const __m512 e = avx512::exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(t)));
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), e), r = _mm512_maskz_rcp14_ps(0xffff, d);
  const __m512 s = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
  const __mmask16 negative = _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mul_ps(v, _mm512_mask_mul_ps(s, negative, s, e));
}

struct GeluTanh16 {
  LOOM_AVX512 __m512 operator()(__m512 v) const {  // v sigmoid(2u)
    const __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    const __m512 u2 = _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.79788456080286535588f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v));
    return times_sigmoid(v, u2);
  }
};
struct QuickGelu16 {
  LOOM_AVX512 __m512 operator()(__m512 v) const { return times_sigmoid(v, _mm512_mul_ps(_mm512_set1_ps(1.702f), v)); }
};
struct Silu16 {
  LOOM_AVX512 __m512 operator()(__m512 v) const { return times_sigmoid(v, v); }
};
struct GeluErf16 {
  LOOM_AVX512 __m512 operator()(__m512 v) const {
    const __m512 s = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752440f));
    const __m512 x = _mm512_maskz_max_ps(0xffff, _mm512_set1_ps(-4.0f), _mm512_maskz_min_ps(0xffff, _mm512_set1_ps(4.0f), s));
    const __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kErfP[0]), z, _mm512_set1_ps(kErfP[1]));
    for (int i = 2; i < 7; ++i) p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kErfP[i]));
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(kErfQ[0]), z, _mm512_set1_ps(kErfQ[1]));
    for (int i = 2; i < 5; ++i) q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(kErfQ[i]));
    const __m512 erf = _mm512_div_ps(_mm512_mul_ps(x, p), q);
    const __m512 h = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
    return _mm512_fmadd_ps(h, erf, h);  // 0.5 v (1 + erf)
  }
};

template <class F>
LOOM_AVX512 void rows16(float* y, int64_t rows, int64_t cols, int64_t ld, F f) {
  const __mmask16 tail = avx512::lanes(cols % 16);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ld;
    int64_t i = 0;
    for (; i + 16 <= cols; i += 16) _mm512_storeu_ps(row + i, f(_mm512_loadu_ps(row + i)));
    if (tail) _mm512_mask_storeu_ps(row + i, tail, f(_mm512_maskz_loadu_ps(tail, row + i)));
  }
}

// False where the activation has no AVX-512 form here (relu and tanh stay on AVX2).
LOOM_AVX512 bool activate_avx512(float* y, int64_t rows, int64_t cols, int64_t ld, Activation act) {
  switch (act) {
    case Activation::gelu_erf: rows16(y, rows, cols, ld, GeluErf16{}); return true;
    case Activation::gelu_tanh: rows16(y, rows, cols, ld, GeluTanh16{}); return true;
    case Activation::quick_gelu: rows16(y, rows, cols, ld, QuickGelu16{}); return true;
    case Activation::silu: rows16(y, rows, cols, ld, Silu16{}); return true;
    default: return false;
  }
}

// exp(x - top), exactly 0 where x - top < -87.
LOOM_AVX2 inline __m256 exp_below(__m256 x, __m256 top) {
  const __m256 d = _mm256_sub_ps(x, top);
  return _mm256_andnot_ps(_mm256_cmp_ps(d, _mm256_set1_ps(-87.0f), _CMP_LT_OQ), exp8(d));
}

// exp(x - top) of the first `visible` scores in place, and their sum.
LOOM_AVX2 float exp_sum_avx2(float* row, int64_t visible, float top) {
  const __m256 t = _mm256_set1_ps(top);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= visible; j += 8) {
    const __m256 e = exp_below(_mm256_loadu_ps(row + j), t);
    _mm256_storeu_ps(row + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (j < visible) {
    alignas(32) float tail[8];
    std::fill(tail, tail + 8, -std::numeric_limits<float>::infinity());
    std::copy(row + j, row + visible, tail);
    const __m256 e = exp_below(_mm256_load_ps(tail), t);
    _mm256_store_ps(tail, e);
    std::copy(tail, tail + (visible - j), row + j);
    sum = _mm256_add_ps(sum, e);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float s = 0.0f;
  for (float v : lanes) s += v;
  return s;
}

// Each of the first `visible` scores times `scale`, plus mask[j * mask_stride] where `mask` is
// given, in place; returns their largest (NaN ignored, as the scalar loop does).
LOOM_AVX2 float scale_max_avx2(float* row, int64_t visible, float scale, const float* mask, int64_t mask_stride) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256 top = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  if (!mask || mask_stride == 1)
    for (; j + 8 <= visible; j += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + j), s);
      if (mask) v = _mm256_add_ps(v, _mm256_loadu_ps(mask + j));
      _mm256_storeu_ps(row + j, v);
      top = _mm256_max_ps(v, top);  // the second operand where v is NaN
    }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, top);
  float t = -std::numeric_limits<float>::infinity();
  for (float v : lanes) t = v > t ? v : t;
  for (; j < visible; ++j) {
    float v = row[j] * scale;
    if (mask) v += mask[j * mask_stride];
    row[j] = v;
    t = v > t ? v : t;
  }
  return t;
}

LOOM_AVX2 void scale_avx2(float* row, int64_t n, float by) {
  const __m256 s = _mm256_set1_ps(by);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), s));
  for (; j < n; ++j) row[j] *= by;
}

// The same three passes over 16 lanes, the tail under a mask: ViT-B/16's softmaxes (rows of 197)
// 4.7 ms a run at 1 thread against 6.5-6.9 over 8 lanes (AMX Xeon, traces alternated).
LOOM_AVX512 float scale_max_avx512(float* row, int64_t visible, float scale, const float* mask) {
  const __m512 s = _mm512_set1_ps(scale);
  __m512 top = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < visible; j += 16) {
    const __mmask16 m = avx512::lanes(visible - j);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), s);
    if (mask) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask + j));
    _mm512_mask_storeu_ps(row + j, m, v);
    top = _mm512_mask_max_ps(top, m, v, top);  // the second operand where v is NaN
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, top);
  float t = lanes[0];
  for (float v : lanes) t = v > t ? v : t;
  return t;
}

LOOM_AVX512 float exp_sum_avx512(float* row, int64_t visible, float top) {
  const __m512 t = _mm512_set1_ps(top);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < visible; j += 16) {
    const __mmask16 m = avx512::lanes(visible - j);
    const __m512 e = avx512::exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), t));
    _mm512_mask_storeu_ps(row + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

LOOM_AVX512 void scale_avx512(float* row, int64_t n, float by) {
  const __m512 s = _mm512_set1_ps(by);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = avx512::lanes(n - j);
    _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), s));
  }
}

LOOM_AVX512 bool softmax_row_avx512(float* row, int64_t visible, float scale, const float* mask) {
  const float top = scale_max_avx512(row, visible, scale, mask);
  if (top == -std::numeric_limits<float>::infinity()) return false;
  scale_avx512(row, visible, 1.0f / exp_sum_avx512(row, visible, top));
  return true;
}

#else
bool softmax_row_avx512(float*, int64_t, float, const float*) { return false; }
bool activate_avx512(float*, int64_t, int64_t, int64_t, Activation) { return false; }
void activate_avx2(float*, int64_t, int64_t, int64_t, Activation) {}
float exp_sum_avx2(float*, int64_t, float) { return 0.0f; }
float scale_max_avx2(float*, int64_t, float, const float*, int64_t) { return 0.0f; }
void scale_avx2(float*, int64_t, float) {}
#endif

LOOM_CPU_CLONES bool softmax_row_impl(float* row, int64_t visible, int64_t span, float scale, const float* mask,
                                      int64_t mask_stride) {
  if ((!mask || mask_stride == 1) && avx512_allowed()) {
    if (!softmax_row_avx512(row, visible, scale, mask)) return false;
    for (int64_t j = visible; j < span; ++j) row[j] = 0.0f;
    return true;
  }
  const bool avx2 = avx2_allowed();
  float top = -std::numeric_limits<float>::infinity();
  if (avx2) {
    top = scale_max_avx2(row, visible, scale, mask, mask_stride);
  } else {
    for (int64_t j = 0; j < visible; ++j) row[j] *= scale;
    if (mask)
      for (int64_t j = 0; j < visible; ++j) row[j] += mask[j * mask_stride];
    for (int64_t j = 0; j < visible; ++j) top = row[j] > top ? row[j] : top;
  }
  if (top == -std::numeric_limits<float>::infinity()) return false;
  float sum = 0.0f;
  if (avx2) {
    sum = exp_sum_avx2(row, visible, top);
  } else {
    for (int64_t j = 0; j < visible; ++j) {
      const float x = row[j] - top;
      const float e = x < -87.0f ? 0.0f : exp_clamped(x);
      row[j] = e;
      sum += e;
    }
  }
  const float inv = 1.0f / sum;
  if (avx2) {
    scale_avx2(row, visible, inv);
  } else {
    for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
  }
  for (int64_t j = visible; j < span; ++j) row[j] = 0.0f;
  return true;
}

}  // namespace

bool softmax_row(float* row, int64_t visible, int64_t span, float scale, const float* mask, int64_t mask_stride) {
  return softmax_row_impl(row, visible, span, scale, mask, mask_stride);
}

void activate_rows(float* y, int64_t rows, int64_t cols, int64_t ld, Activation act) {
  if (avx512_allowed() && activate_avx512(y, rows, cols, ld, act)) return;
  if (avx2_allowed()) return activate_avx2(y, rows, cols, ld, act);
  for (int64_t r = 0; r < rows; ++r) activate_inplace(y + r * ld, cols, act);
}

void activate_inplace(float* y, int64_t n, Activation act) {
  if (avx512_allowed() && activate_avx512(y, 1, n, n, act)) return;
  if (avx2_allowed()) return activate_avx2(y, 1, n, n, act);
  switch (act) {
    case Activation::none: return;
    case Activation::relu: return relu_all(y, n);
    case Activation::gelu_erf: return gelu_erf_all(y, n);
    case Activation::gelu_tanh: return gelu_tanh_all(y, n);
    case Activation::quick_gelu: return quick_gelu_all(y, n);
    case Activation::silu: return silu_all(y, n);
    case Activation::tanh: return tanh_all(y, n);
  }
}

}  // namespace loom::onednn
