// Hand-written kernels for a few rows: the shapes of a decode step (one token per sequence).
//
// A decode step's linear layers are matrix-vector products and its layer norms normalise one
// row. oneDNN runs them well, but every dnnl_primitive_execute allocates (oneDNN 2.6 builds a
// hash map of its arguments on each call), and a steady-state decode step must not touch the
// heap. These loops read each weight row once, keep several accumulators so that the compiler
// vectorises them, and are compiled for AVX-512, AVX2 and baseline x86-64 (picked at load time).
// They split the output features over the session's threads when the work is worth a parallel
// region, and never enter one otherwise: libgomp allocates a team for every serialised region.
#pragma once

#include "activation.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace loom::onednn {

// One value at a time, for the element-wise ops: the same formulas as activation.hpp's
// vectorised ones, which the linear layers apply to their outputs.

inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f)); }
inline float gelu_tanh(float x) {
  constexpr float k = 0.79788456080286535588f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
// x * sigmoid(1.702 x): oneDNN's swish with alpha 1.702.
inline constexpr float kQuickGeluAlpha = 1.702f;
inline float quick_gelu(float x) { return x / (1.0f + std::exp(-kQuickGeluAlpha * x)); }
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float relu(float v) { return v > 0.0f ? v : (v == v ? 0.0f : v); }

// Rows of a linear layer that the row kernel takes instead of oneDNN's matmul.
inline constexpr int64_t kRowKernelMaxRows = 4;

// Multiply-adds from which a few-row linear layer splits its outputs over threads: a parallel
// region costs a few microseconds, worth it from about a quarter million (a 512 x 512 weight).
inline constexpr int64_t kRowParallelWork = int64_t{1} << 18;

// y[r, j] = act(sum_i x[r, i] * W[j, i] + bias[j]) for r < rows; W is w read as [n, k]
// row-major, or as [k, n] when `kn` (GPT-2's Conv1D layout); bias may be null. Uses up to
// `threads` threads.
void linear_rows(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t n, int64_t k,
                 bool kn, Activation act, int threads);

// Layer norm of each of `rows` rows of `inner` floats: (x - mean) / sqrt(var + eps) * scale + shift,
// with the biased variance; scale and shift may be null. y may be x.
void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t inner, float eps, const float* scale,
                     const float* shift);
// The same over sum = a + b, written into `sum` (which may be a, b or y) as each row is read.
void add_layer_norm_rows(const float* a, const float* b, float* sum, float* y, int64_t rows, int64_t inner, float eps,
                         const float* scale, const float* shift);

// f(r0, r1) over [0, rows) cut into one contiguous range per thread, in a parallel region only
// where there are several threads and `elements` (the work) is worth one.
template <class F>
void split_rows(int64_t rows, int64_t elements, int threads, F&& f) {
  if (threads <= 1 || rows < 2 || elements < (int64_t{1} << 15)) return f(int64_t{0}, rows);
  const int team = static_cast<int>(std::min<int64_t>(threads, rows));
#pragma omp parallel num_threads(team)
  {
    const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    f(rows * t / n, rows * (t + 1) / n);
  }
}

}  // namespace loom::onednn
