// Loom's own f32 GEMM over weights packed once, for linear layers on AVX2 CPUs.
//
// On a CPU without AVX-512, oneDNN 2.6 runs matmul on `gemm:jit`, which copies the weights into
// panels inside every call, and has no packed-weight interface there (`format_tag::any` gives the
// plain layout back). ONNX Runtime packs once at load time. This GEMM does the same: a linear
// layer's constant weight is packed at compile time into panels of kPanel output features, each
// panel holding all K rows of kPanel contiguous floats, zero-padded past N; the engine's
// packed-constant cache shares the copy between sessions (docs/plugins.md). A run packs only the
// activations, block by block, and a 6x16 register tile of FMAs does the arithmetic
// (docs/performance.md, "Packed weights"). With precision=bf16 the panels hold bf16 weights,
// half the bytes, widened to f32 as they are read (docs/performance.md, "bf16 on the CPU").
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "activation.hpp"

namespace loom::onednn::gemm {

// Output features per panel: two AVX2 vectors.
inline constexpr int64_t kPanel = 16;

// bf16 (precision=bf16): the upper 16 bits of an f32, rounded to nearest even as PyTorch rounds;
// a NaN stays a (quiet) NaN, and a finite value past bf16's range rounds to infinity.
inline uint16_t to_bf16(float v) {
  const uint32_t u = std::bit_cast<uint32_t>(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float from_bf16(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }
inline float round_bf16(float v) { return from_bf16(to_bf16(v)); }

// Whether this CPU runs the packed GEMM (AVX2 and FMA).
bool available();

// Floats of the packed copy of an [n, k] (or [k, n]) weight.
int64_t packed_floats(int64_t n, int64_t k);

// Packs `w`, read as [n, k] row-major, or as [k, n] when `kn`, into `out` (packed_floats(n, k)
// floats, 32-byte aligned). `ldw`: the row stride of w in floats (0: k, or n when `kn`), as an
// attention head's keys and values lie among the other heads' in layout bshd.
void pack(const float* w, int64_t n, int64_t k, bool kn, float* out, int64_t ldw = 0);
// The same for panels [p0, p1) only (panel p holds output features 16p .. 16p + 15).
void pack_panels(const float* w, int64_t n, int64_t k, bool kn, float* out, int64_t p0, int64_t p1);
// The same as bf16 (each weight rounded by to_bf16): half the bytes (32-byte aligned `out`).
void pack_panels(const float* w, int64_t n, int64_t k, bool kn, uint16_t* out, int64_t p0, int64_t p1);

// Scratch bytes of one call (the packed activation block, shared by its threads); enough for any
// call whose K is at most k.
size_t scratch_bytes(int64_t k);

// y[m, n] = act(x[m, k] * W^T (+ bias[n])), W packed by pack(). Uses up to `threads` threads;
// `scratch` is 64-byte aligned and holds scratch_bytes(k). `packed_k` is the K that W
// was packed with when only its first k rows are used (0: k), and `ldx`, `ldy` the row strides
// of x and y (0: k and n).
void linear(const float* x, const float* packed, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
            int threads, std::byte* scratch, int64_t packed_k = 0, int64_t ldx = 0, int64_t ldy = 0,
            Activation act = Activation::none);
// The same over bf16 weights (pack_panels into uint16_t): x is rounded to bf16 as it is packed,
// so each product is of two bf16 values, exact in f32, and the sums are f32, as in a bf16
// matmul on AVX-512 BF16 or AMX.
void linear(const float* x, const uint16_t* packed, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
            int threads, std::byte* scratch, int64_t packed_k = 0, int64_t ldx = 0, int64_t ldy = 0,
            Activation act = Activation::none);

}  // namespace loom::onednn::gemm
