// Few-row kernels (rows.hpp).
#include "rows.hpp"

#include "clones.hpp"

#include <omp.h>

#include <algorithm>

namespace loom::onednn {
namespace {

// Lanes of the accumulators: one AVX-512 vector, two AVX2 ones.
constexpr int64_t kLanes = 16;

// Outputs [begin, end) of a [k, n] weight: each row of the weight is scaled by one input and
// added into the outputs (rows at a time, so that the outputs stay in registers or L1).
LOOM_CPU_CLONES
void linear_kn_range(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t n, int64_t k,
                     Activation act, int64_t begin, int64_t end) {
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * n;
    for (int64_t j = begin; j < end; ++j) yr[j] = bias ? bias[j] : 0.0f;
  }
  // Four weight rows per pass over the outputs: a quarter of the loads and stores of y.
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const float *w0 = w + i * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k + i;
      const float x0 = xr[0], x1 = xr[1], x2 = xr[2], x3 = xr[3];
      float* yr = y + r * n;
      for (int64_t j = begin; j < end; ++j) yr[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];
    }
  }
  for (; i < k; ++i) {
    const float* wi = w + i * n;
    for (int64_t r = 0; r < rows; ++r) {
      const float xi = x[r * k + i];
      float* yr = y + r * n;
      for (int64_t j = begin; j < end; ++j) yr[j] += xi * wi[j];
    }
  }
  for (int64_t r = 0; r < rows; ++r) activate_inplace(y + r * n + begin, end - begin, act);
}

LOOM_CPU_CLONES
void linear_range(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t n, int64_t k,
                  Activation act, int64_t begin, int64_t end) {
  const int64_t body = k - k % kLanes;
  for (int64_t j = begin; j < end; ++j) {
    const float* wj = w + j * k;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k;
      float acc[kLanes] = {};
      for (int64_t i = 0; i < body; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) acc[l] += xr[i + l] * wj[i + l];
      float sum = 0.0f;
      for (int64_t i = body; i < k; ++i) sum += xr[i] * wj[i];
      for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
      if (bias) sum += bias[j];
      y[r * n + j] = sum;
    }
  }
  for (int64_t r = 0; r < rows; ++r) activate_inplace(y + r * n + begin, end - begin, act);
}

LOOM_CPU_CLONES
void layer_norm_row(const float* x, float* y, int64_t inner, float eps, const float* scale, const float* shift) {
  // Two passes over the row (mean, then the centred sum of squares): as exact as oneDNN's.
  double sum = 0;
  {
    float acc[kLanes] = {};
    const int64_t body = inner - inner % kLanes;
    for (int64_t i = 0; i < body; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) acc[l] += x[i + l];
    for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
    for (int64_t i = body; i < inner; ++i) sum += x[i];
  }
  const float mean = static_cast<float>(sum / static_cast<double>(inner));
  double sq = 0;
  {
    float acc[kLanes] = {};
    const int64_t body = inner - inner % kLanes;
    for (int64_t i = 0; i < body; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) {
        const float d = x[i + l] - mean;
        acc[l] += d * d;
      }
    for (int64_t l = 0; l < kLanes; ++l) sq += acc[l];
    for (int64_t i = body; i < inner; ++i) sq += static_cast<double>(x[i] - mean) * (x[i] - mean);
  }
  const float inv = 1.0f / std::sqrt(static_cast<float>(sq / static_cast<double>(inner)) + eps);
  for (int64_t i = 0; i < inner; ++i) {
    float v = (x[i] - mean) * inv;
    if (scale) v *= scale[i];
    if (shift) v += shift[i];
    y[i] = v;
  }
}

}  // namespace

void linear_rows(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t n, int64_t k,
                 bool kn, Activation act, int threads) {
  auto range = [&](int64_t begin, int64_t end) {
    if (kn) linear_kn_range(x, w, bias, y, rows, n, k, act, begin, end);
    else linear_range(x, w, bias, y, rows, n, k, act, begin, end);
  };
  const int64_t work = rows * n * k;
  const int teams = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, work / kRowParallelWork)));
  if (teams <= 1 || n < 2 * teams) {
    range(0, n);
    return;
  }
#pragma omp parallel num_threads(teams)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    // Split the outputs on multiples of 16 rows of the weight, so threads touch whole cache lines.
    const int64_t chunk = ((n + count - 1) / count + 15) / 16 * 16;
    const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (begin < end) range(begin, end);
  }
}

void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t inner, float eps, const float* scale,
                     const float* shift) {
  for (int64_t r = 0; r < rows; ++r) layer_norm_row(x + r * inner, y + r * inner, inner, eps, scale, shift);
}

}  // namespace loom::onednn
