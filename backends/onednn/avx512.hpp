// What the hand-written AVX-512 loops share (activation.cpp, attention_amx.cpp, blocked_gemm.cpp,
// blocked_amx.cpp): the target attribute of their functions, masks of lanes, and Cephes' exp over
// 16 lanes.
#pragma once

#include "activation.hpp"

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOM_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))

namespace loom::onednn::avx512 {

// The first `count` (clamped to 0..16) of 16 lanes.
LOOM_AVX512 inline __mmask16 lanes(int64_t count) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(count, 0, 16)) - 1u);
}

// exp(d) for d <= 0, exactly 0 below -87 (as softmax_row's), NaN where d is NaN; activation.hpp's
// constants. Above 0 the result is not clamped: callers pass d <= 0 only.
LOOM_AVX512 inline __m512 exp16(__m512 d) {
  const __mmask16 keep = _mm512_cmp_ps_mask(d, _mm512_set1_ps(-87.0f), _CMP_NLT_UQ);
  const __m512 n = _mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(d, _mm512_set1_ps(kExpLog2e)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kExpLn2Hi), d);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(kExpLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP[i]));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(keep, y, n);
}

}  // namespace loom::onednn::avx512
#endif
