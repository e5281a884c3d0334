// Activations fused into linear (the packed GEMM applies them to each block of its output while
// it is in cache), and attention's softmax rows: AVX-512 by hand where the CPU has it (gelu,
// gelu_tanh, quick_gelu and silu), else AVX2 by hand, else loops the compiler vectorises.
//
// oneDNN 2.6's eltwise gelu_tanh runs at about 3.5 ns per element on an AVX2 core (a GPT-2 MLP
// output of 128 x 3072 took 1.4 ms, a sixth of its matmul), and a oneDNN call allocates, which
// a decode step must not. These loops use one exp (Cephes' reduction and polynomial, relative
// error about 1e-7): gelu_tanh(x) = x / (1 + exp(-2u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
// which is 0.5 x (1 + tanh u); quick_gelu(x) = x / (1 + exp(-1.702 x)); silu(x) = x / (1 + exp(-x)); tanh(x) = 1 - 2 / (1 +
// exp(2x)); exp is +inf above 88, so gelu_tanh(-inf), quick_gelu(-inf) and silu(-inf) are NaN as in
// PyTorch; gelu_erf through a rational approximation of erf without exp (activation.cpp, absolute
// error of erf about 4.5e-7).
#pragma once

#include <cstdint>

namespace loom::onednn {

enum class Activation { none, relu, gelu_erf, gelu_tanh, quick_gelu, silu, tanh };

// Cephes' exp, as the vector loops compute it (activation.cpp's exp8, attention_amx.cpp's exp16):
// n = round(x log2(e)), r = x - n ln(2) in two parts (kExpLn2Hi - kExpLn2Lo), then
// exp(x) = 2^n (1 + r + r^2 P(r)), P's coefficients from the highest power down.
inline constexpr float kExpLog2e = 1.44269504088896341f, kExpLn2Hi = 0.693359375f, kExpLn2Lo = 2.12194440e-4f;
inline constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                   4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// y[i] = act(y[i]) for i < n.
void activate_inplace(float* y, int64_t n, Activation act);
// The same over `rows` rows of `cols` floats, `ld` floats apart.
void activate_rows(float* y, int64_t rows, int64_t cols, int64_t ld, Activation act);

// One row of attention scores into probabilities, in place: each of the first `visible` scores
// times `scale`, plus mask[j * mask_stride] where `mask` is given, then softmax over them (the
// same exp, exactly 0 below -87); scores from `visible` to `span` become 0. False (the row
// unchanged past the mask) when every visible score is -inf.
bool softmax_row(float* row, int64_t visible, int64_t span, float scale, const float* mask, int64_t mask_stride);

}  // namespace loom::onednn
