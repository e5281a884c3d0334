#include "activation.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace loom::onednn {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOOM_ACT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LOOM_ACT_CLONES
#endif

// exp(x), x clamped to [-87, 88] (so 0 < result < inf); branch-free so that loops vectorise.
inline float exp_clamped(float x) {
  x = x < -87.0f ? -87.0f : x;  // NaN passes through both
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  const float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                   1.6666665459e-1f) * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  return y * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

inline float erf_as(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  const float e = 1.0f - poly * exp_clamped(-a * a);
  return std::copysign(e, x);
}

LOOM_ACT_CLONES void relu_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : (y[i] == y[i] ? 0.0f : y[i]);  // NaN stays NaN
}
LOOM_ACT_CLONES void gelu_erf_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * y[i] * (1.0f + erf_as(y[i] * 0.70710678118654752440f));
}
LOOM_ACT_CLONES void gelu_tanh_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i], u = 0.79788456080286535588f * (v + 0.044715f * v * v * v);
    y[i] = v / (1.0f + exp_clamped(-2.0f * u));
  }
}
LOOM_ACT_CLONES void quick_gelu_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] / (1.0f + exp_clamped(-1.702f * y[i]));
}
LOOM_ACT_CLONES void tanh_all(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f - 2.0f / (1.0f + exp_clamped(2.0f * y[i]));
}

LOOM_ACT_CLONES bool softmax_row_impl(float* row, int64_t visible, int64_t span, float scale, const float* mask,
                                      int64_t mask_stride) {
  for (int64_t j = 0; j < visible; ++j) row[j] *= scale;
  if (mask)
    for (int64_t j = 0; j < visible; ++j) row[j] += mask[j * mask_stride];
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < visible; ++j) top = row[j] > top ? row[j] : top;
  if (top == -std::numeric_limits<float>::infinity()) return false;
  float sum = 0.0f;
  for (int64_t j = 0; j < visible; ++j) {
    const float x = row[j] - top;
    const float e = x < -87.0f ? 0.0f : exp_clamped(x);
    row[j] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
  for (int64_t j = visible; j < span; ++j) row[j] = 0.0f;
  return true;
}

}  // namespace

bool softmax_row(float* row, int64_t visible, int64_t span, float scale, const float* mask, int64_t mask_stride) {
  return softmax_row_impl(row, visible, span, scale, mask, mask_stride);
}

void activate_inplace(float* y, int64_t n, Activation act) {
  switch (act) {
    case Activation::none: return;
    case Activation::relu: return relu_all(y, n);
    case Activation::gelu_erf: return gelu_erf_all(y, n);
    case Activation::gelu_tanh: return gelu_tanh_all(y, n);
    case Activation::quick_gelu: return quick_gelu_all(y, n);
    case Activation::tanh: return tanh_all(y, n);
  }
}

}  // namespace loom::onednn
