// Few-row kernels (rows.hpp).
#include "rows.hpp"

#include "clones.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

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

// A layer norm's row sums in four vectors of 16 partial sums (GCC's vector types: zmm registers in
// the AVX-512 clone, pairs of ymm or quads of xmm in the others), so that the adds do not wait on
// one another; the vectorised float array it replaced lived on the stack, and the 16 lanes were
// then added one after another in double: about a cycle per element of BERT-base's 128 x 768
// add_layer_norm.
using Vec = float __attribute__((vector_size(64), aligned(4), may_alias));
constexpr int64_t kVec = 16, kWide = 4 * kVec;

// The 16 floats at p, as a vector (by reference: a vector returned by value would change the
// baseline clone's ABI).
[[gnu::always_inline]] inline const Vec& load(const float* p) { return *reinterpret_cast<const Vec*>(p); }

// The sum of the lanes of a + b + c + d, in double, four chains at a time.
[[gnu::always_inline]] inline double lane_sum(const Vec& a, const Vec& b, const Vec& c, const Vec& d) {
  const Vec v = (a + b) + (c + d);
  double s[4] = {};
  for (int l = 0; l < kVec; ++l) s[l % 4] += v[l];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// The sum of x[0, n).
[[gnu::always_inline]] inline double row_sum(const float* x, int64_t n) {
  Vec a{}, b{}, c{}, d{};
  const int64_t body = n - n % kWide;
  for (int64_t i = 0; i < body; i += kWide) {
    a += load(x + i);
    b += load(x + i + kVec);
    c += load(x + i + 2 * kVec);
    d += load(x + i + 3 * kVec);
  }
  double sum = lane_sum(a, b, c, d);
  for (int64_t i = body; i < n; ++i) sum += x[i];
  return sum;
}

// s = a + b written into s, and its sum.
[[gnu::always_inline]] inline double add_row_sum(const float* a, const float* b, float* s, int64_t n) {
  Vec acc[4] = {};
  const int64_t body = n - n % kWide;
  for (int64_t i = 0; i < body; i += kWide)
    for (int64_t q = 0; q < 4; ++q) {
      const Vec v = load(a + i + q * kVec) + load(b + i + q * kVec);
      *reinterpret_cast<Vec*>(s + i + q * kVec) = v;
      acc[q] += v;
    }
  double sum = lane_sum(acc[0], acc[1], acc[2], acc[3]);
  for (int64_t i = body; i < n; ++i) {
    s[i] = a[i] + b[i];
    sum += s[i];
  }
  return sum;
}

// The centred sum of squares of x[0, n) about `mean`.
[[gnu::always_inline]] inline double row_squares(const float* x, int64_t n, float mean) {
  Vec acc[4] = {};
  const int64_t body = n - n % kWide;
  for (int64_t i = 0; i < body; i += kWide)
    for (int64_t q = 0; q < 4; ++q) {
      const Vec v = load(x + i + q * kVec) - mean;
      acc[q] += v * v;
    }
  double sq = lane_sum(acc[0], acc[1], acc[2], acc[3]);
  for (int64_t i = body; i < n; ++i) sq += static_cast<double>(x[i] - mean) * (x[i] - mean);
  return sq;
}

// The rest of a row's layer norm once its sum is known: the centred sum of squares (a second pass,
// as exact as oneDNN's), then y = (x - mean) * inv * scale + shift.
[[gnu::always_inline]] inline void normalise_row(const float* x, float* y, int64_t inner, double sum, float eps, const float* scale,
                          const float* shift) {
  const float mean = static_cast<float>(sum / static_cast<double>(inner));
  const double sq = row_squares(x, inner, mean);
  const float inv = 1.0f / std::sqrt(static_cast<float>(sq / static_cast<double>(inner)) + eps);
  if (scale && shift) {
    for (int64_t i = 0; i < inner; ++i) y[i] = (x[i] - mean) * inv * scale[i] + shift[i];
    return;
  }
  for (int64_t i = 0; i < inner; ++i) {
    float v = (x[i] - mean) * inv;
    if (scale) v *= scale[i];
    if (shift) v += shift[i];
    y[i] = v;
  }
}

LOOM_CPU_CLONES
void layer_norm_row(const float* x, float* y, int64_t inner, float eps, const float* scale, const float* shift) {
  normalise_row(x, y, inner, row_sum(x, inner), eps, scale, shift);
}

LOOM_CPU_CLONES
void add_layer_norm_row(const float* a, const float* b, float* sum, float* y, int64_t inner, float eps,
                        const float* scale, const float* shift) {
  normalise_row(sum, y, inner, add_row_sum(a, b, sum, inner), eps, scale, shift);
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

void add_layer_norm_rows(const float* a, const float* b, float* sum, float* y, int64_t rows, int64_t inner, float eps,
                         const float* scale, const float* shift) {
  for (int64_t r = 0; r < rows; ++r)
    add_layer_norm_row(a + r * inner, b + r * inner, sum + r * inner, y + r * inner, inner, eps, scale, shift);
}

}  // namespace loom::onednn
