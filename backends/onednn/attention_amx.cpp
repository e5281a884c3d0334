// A prompt's attention heads in bf16 on AMX tiles (attention_amx.hpp).
#include "attention_amx.hpp"

#include "activation.hpp"
#include "amx.hpp"
#include "avx512.hpp"
#include "blocked_amx.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace loom::onednn {

namespace {

constexpr int64_t kRows = 16;  // queries per tile
constexpr int64_t kMaxKeys = 8192, kMaxWidth = 256;

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// Where one head's operands lie in the scratch, for `keys` keys.
struct Layout {
  int64_t k16, k32;  // the keys rounded up to a tile's 16 columns, and to a tile product's 32 K
  size_t keys_at, values_at, queries_at, scores_at, probs_at, out_at, end;
  Layout(int64_t keys, int64_t d, int64_t dv) : k16(round_up(keys, 16)), k32(round_up(keys, 32)) {
    keys_at = 0;                                                                  // [d/2 pairs][k16] of bf16 pairs
    values_at = keys_at + static_cast<size_t>(d * k16) * 2;                      // [k32/2 pairs][dv] of bf16 pairs
    queries_at = values_at + static_cast<size_t>(k32 * dv) * 2;                  // [16][d] bf16
    scores_at = queries_at + static_cast<size_t>(kRows * d) * 2;                 // [16][k32] f32
    probs_at = scores_at + static_cast<size_t>(kRows * k32) * 4;                 // [16][k32] bf16
    out_at = probs_at + static_cast<size_t>(kRows * k32) * 2;                    // [16][dv] f32
    end = out_at + static_cast<size_t>(kRows * dv) * 4;
  }
};

}  // namespace

bool amx_attention_fits(int64_t tq, int64_t tk, int64_t d, int64_t dv) {
  return amx_gemm_supported() && tq >= kRows && tk >= 1 && tk <= kMaxKeys && d > 0 && d % 32 == 0 && d <= kMaxWidth &&
         dv > 0 && dv % 16 == 0 && dv <= kMaxWidth;
}

size_t amx_attention_scratch_bytes(int64_t tk, int64_t d, int64_t dv) { return Layout(tk, d, dv).end; }

#if LOOM_AMX_GEMM
namespace {

using avx512::lanes;

// 32 floats (`count` of them, zero past it) as 32 bf16, rounded to nearest even.
LOOM_AMX inline __m512i bf16x32(const float* p, int64_t count) {
  const __m512 lo = _mm512_maskz_loadu_ps(lanes(count), p);
  const __m512 hi = _mm512_maskz_loadu_ps(lanes(count - 16), p + std::min<int64_t>(16, std::max<int64_t>(count, 0)));
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// Rows r[0..15] of a 16 x 16 matrix of 32-bit words become its columns: interleaved words, then
// word pairs, then 128-bit quarters twice (the masked forms of the intrinsics: the plain ones take
// an undefined operand that GCC 12 warns of).
LOOM_AMX inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_epi32(0xffff, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_epi32(0xffff, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_maskz_unpacklo_epi64(0xff, t[i], t[i + 2]);
    u[i + 1] = _mm512_maskz_unpackhi_epi64(0xff, t[i], t[i + 2]);
    u[i + 2] = _mm512_maskz_unpacklo_epi64(0xff, t[i + 1], t[i + 3]);
    u[i + 3] = _mm512_maskz_unpackhi_epi64(0xff, t[i + 1], t[i + 3]);
  }
  for (int h = 0; h < 16; h += 8)  // t: quarters (0, 2) and (1, 3) of rows h..h+3 and h+4..h+7
    for (int m = 0; m < 4; ++m) {
      t[h + m] = _mm512_maskz_shuffle_i32x4(0xffff, u[h + m], u[h + 4 + m], 0x88);
      t[h + 4 + m] = _mm512_maskz_shuffle_i32x4(0xffff, u[h + m], u[h + 4 + m], 0xdd);
    }
  for (int m = 0; m < 8; ++m) {  // t[m] and t[m + 8]: columns m and m + 8, rows 0..7 and 8..15
    r[m] = _mm512_maskz_shuffle_i32x4(0xffff, t[m], t[m + 8], 0x88);
    r[m + 8] = _mm512_maskz_shuffle_i32x4(0xffff, t[m], t[m + 8], 0xdd);
  }
}

// The keys (rows `ld` floats apart) as the B operand of q k^T: pairs[c][j] = (k[j][2c],
// k[j][2c + 1]), zero for j >= keys; 16 keys by 16 pairs at a time, transposed in registers.
LOOM_AMX void pack_keys(const float* k, int64_t ld, int64_t keys, int64_t d, int64_t k16, uint32_t* pairs) {
  __m512i r[16];
  for (int64_t j0 = 0; j0 < k16; j0 += 16)
    for (int64_t c = 0; c < d; c += 32) {
      for (int64_t i = 0; i < 16; ++i) r[i] = j0 + i < keys ? bf16x32(k + (j0 + i) * ld + c, 32) : _mm512_setzero_si512();
      transpose16(r);
      for (int64_t p = 0; p < 16; ++p) _mm512_storeu_si512(pairs + (c / 2 + p) * k16 + j0, r[p]);
    }
}

// The values (rows `ld` floats apart) as the B operand of p v: pairs[r][c] = (v[2r][c],
// v[2r + 1][c]), zero past keys.
LOOM_AMX void pack_values(const float* v, int64_t ld, int64_t keys, int64_t dv, int64_t k32, uint32_t* pairs) {
  alignas(64) static constexpr uint16_t kLow[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                                     8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  const __m512i low = _mm512_load_si512(kLow), high = _mm512_add_epi16(low, _mm512_set1_epi16(16));
  for (int64_t r = 0; r < k32 / 2; ++r) {
    const int64_t j = 2 * r;
    for (int64_t c = 0; c < dv; c += 32) {
      const int64_t n = std::min<int64_t>(32, dv - c);
      const __m512i a = j < keys ? bf16x32(v + j * ld + c, n) : _mm512_setzero_si512();
      const __m512i b = j + 1 < keys ? bf16x32(v + (j + 1) * ld + c, n) : _mm512_setzero_si512();
      uint32_t* out = pairs + r * dv + c;
      _mm512_storeu_si512(out, _mm512_permutex2var_epi16(a, low, b));
      if (n > 16) _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi16(a, high, b));
    }
  }
}

// Lane r of the result: op over the 16 lanes of v[r]. Halves, quarters, pairs and single lanes
// of two rows at a time are folded together (30 shuffles for the 16 rows, none of them waiting on
// another row), then the lanes put in row order. The masked forms of the intrinsics: the plain
// ones take an undefined operand that GCC 12 warns of.
template <class Op>
LOOM_AMX __m512 reduce_rows(const __m512 v[16], Op op) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; ++i)  // rows 2i, 2i + 1: eight lanes each
    w[i] = op(_mm512_maskz_shuffle_f32x4(0xffff, v[2 * i], v[2 * i + 1], 0x44),
              _mm512_maskz_shuffle_f32x4(0xffff, v[2 * i], v[2 * i + 1], 0xee));
  for (int i = 0; i < 4; ++i)  // rows 4i .. 4i + 3: a quarter each
    x[i] = op(_mm512_maskz_shuffle_f32x4(0xffff, w[2 * i], w[2 * i + 1], 0x88),
              _mm512_maskz_shuffle_f32x4(0xffff, w[2 * i], w[2 * i + 1], 0xdd));
  for (int i = 0; i < 2; ++i)  // quarter m: rows 8i + m and 8i + 4 + m, two lanes each
    y[i] = op(_mm512_maskz_shuffle_ps(0xffff, x[2 * i], x[2 * i + 1], 0x44),
              _mm512_maskz_shuffle_ps(0xffff, x[2 * i], x[2 * i + 1], 0xee));
  // lane 4m + a: row 4a + m
  const __m512 z = op(_mm512_maskz_shuffle_ps(0xffff, y[0], y[1], 0x88), _mm512_maskz_shuffle_ps(0xffff, y[0], y[1], 0xdd));
  return _mm512_maskz_permutexvar_ps(0xffff, _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), z);
}

struct MaxOf {
  LOOM_AMX __m512 operator()(__m512 a, __m512 b) const { return _mm512_maskz_max_ps(0xffff, a, b); }
};
struct SumOf {
  LOOM_AMX __m512 operator()(__m512 a, __m512 b) const { return _mm512_add_ps(a, b); }
};

// A row of scores (f32, in place) scaled and masked over the first `visible`: x = scale * score +
// mask. Returns the largest x of each lane.
LOOM_AMX __m512 scaled_max(float* row, int64_t visible, float scale, const float* mask, int64_t mask_col) {
  if (mask && mask_col != 1 && mask_col != 0) {  // a mask strided along the keys: added here
    for (int64_t j = 0; j < visible; ++j) row[j] = std::fma(row[j], scale, mask[j * mask_col]);
    scale = 1.0f;
    mask = nullptr;
  }
  const __m512 sc = _mm512_set1_ps(scale);
  const __m512 broadcast = mask && mask_col == 0 ? _mm512_set1_ps(mask[0]) : _mm512_setzero_ps();
  __m512 top = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < visible; j += 16) {
    const __mmask16 m = lanes(visible - j);
    const __m512 add = mask && mask_col == 1 ? _mm512_maskz_loadu_ps(m, mask + j) : broadcast;
    const __m512 x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + j), sc, add);
    _mm512_mask_storeu_ps(row + j, m, x);
    top = _mm512_mask_max_ps(top, m, top, x);
  }
  return top;
}

// The row's unnormalised probabilities p = exp(x - top) as bf16, `span32` of them, zero from
// `visible`. Returns the sum of the exps of each lane.
LOOM_AMX __m512 exps_to_bf16(const float* row, int64_t visible, int64_t span32, float top, uint16_t* p) {
  const __m512 tv = _mm512_set1_ps(top);
  __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
  for (int64_t j = 0; j < span32; j += 32) {
    const __mmask16 m0 = lanes(visible - j), m1 = lanes(visible - j - 16);
    const __m512 e0 = _mm512_maskz_mov_ps(m0, avx512::exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m0, row + j), tv)));
    const __m512 e1 = _mm512_maskz_mov_ps(m1, avx512::exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m1, row + j + 16), tv)));
    sum0 = _mm512_add_ps(sum0, e0);
    sum1 = _mm512_add_ps(sum1, e1);
    _mm512_storeu_si512(p + j, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(e1, e0)));
  }
  return _mm512_add_ps(sum0, sum1);
}

// C tiles 0..N-1 = A (tile 4: 16 rows of bf16, `lda` bytes apart, 32 K per step) times N
// consecutive B tiles (16 pairs x 16 columns each, `ldb` bytes per pair row), over `steps` steps;
// stored as 16 rows x 16 N floats at c, `ldc` bytes apart.
template <int N>
LOOM_AMX void tile_products(const char* a, int64_t lda, const char* b, int64_t ldb, int64_t steps, float* c, int64_t ldc) {
  _tile_zero(0);
  if constexpr (N > 1) _tile_zero(1);
  if constexpr (N > 2) _tile_zero(2);
  if constexpr (N > 3) _tile_zero(3);
  for (int64_t s = 0; s < steps; ++s) {
    const char* bs = b + s * 16 * ldb;
    _tile_loadd(4, a + s * 64, lda);
    _tile_loadd(5, bs, ldb);
    _tile_dpbf16ps(0, 4, 5);
    if constexpr (N > 1) {
      _tile_loadd(6, bs + 64, ldb);
      _tile_dpbf16ps(1, 4, 6);
    }
    if constexpr (N > 2) {
      _tile_loadd(7, bs + 128, ldb);
      _tile_dpbf16ps(2, 4, 7);
    }
    if constexpr (N > 3) {
      _tile_loadd(5, bs + 192, ldb);
      _tile_dpbf16ps(3, 4, 5);
    }
  }
  _tile_stored(0, c, ldc);
  if constexpr (N > 1) _tile_stored(1, c + 16, ldc);
  if constexpr (N > 2) _tile_stored(2, c + 32, ldc);
  if constexpr (N > 3) _tile_stored(3, c + 48, ldc);
}

// `blocks` B tiles side by side (64 bytes apart), four at a time.
LOOM_AMX void product_row(const char* a, int64_t lda, const char* b, int64_t ldb, int64_t steps, int64_t blocks, float* c,
                          int64_t ldc) {
  int64_t t = 0;
  for (; t + 4 <= blocks; t += 4) tile_products<4>(a, lda, b + t * 64, ldb, steps, c + t * 16, ldc);
  switch (blocks - t) {
    case 3: tile_products<3>(a, lda, b + t * 64, ldb, steps, c + t * 16, ldc); break;
    case 2: tile_products<2>(a, lda, b + t * 64, ldb, steps, c + t * 16, ldc); break;
    case 1: tile_products<1>(a, lda, b + t * 64, ldb, steps, c + t * 16, ldc); break;
    default: break;
  }
}

LOOM_AMX void head_tiles(const AmxHead& h, std::byte* scratch) {
  const Layout at(h.keys, h.d, h.dv);
  auto* keys = reinterpret_cast<uint32_t*>(scratch + at.keys_at);
  auto* values = reinterpret_cast<uint32_t*>(scratch + at.values_at);
  auto* queries = reinterpret_cast<uint16_t*>(scratch + at.queries_at);
  auto* scores = reinterpret_cast<float*>(scratch + at.scores_at);
  auto* probs = reinterpret_cast<uint16_t*>(scratch + at.probs_at);
  auto* out = reinterpret_cast<float*>(scratch + at.out_at);
  pack_keys(h.k, h.k_ld, h.keys, h.d, at.k16, keys);
  pack_values(h.v, h.v_ld, h.keys, h.dv, at.k32, values);
  amx::TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = kRows;
    config.bytes_per_row[t] = 64;
  }
  _tile_loadconfig(&config);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto visible_of = [&](int64_t i) {
    return h.causal ? std::clamp<int64_t>(h.keys - h.tq + i + 1, 0, h.keys) : h.keys;
  };
  for (int64_t i0 = 0; i0 < h.tq; i0 += kRows) {
    const int64_t rows = std::min(kRows, h.tq - i0);
    const int64_t span = visible_of(i0 + rows - 1);  // the most any query of the block sees
    float* ob = h.out + i0 * h.out_ld;
    if (span == 0) {
      for (int64_t r = 0; r < rows; ++r) std::fill(ob + r * h.out_ld, ob + r * h.out_ld + h.dv, nan);
      continue;
    }
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t c = 0; c < h.d; c += 32)
        _mm512_storeu_si512(queries + r * h.d + c, r < rows ? bf16x32(h.q + (i0 + r) * h.q_ld + c, 32) : _mm512_setzero_si512());
    product_row(reinterpret_cast<const char*>(queries), h.d * 2, reinterpret_cast<const char*>(keys), at.k16 * 4,
                h.d / 32, (span + 15) / 16, scores, at.k32 * 4);
    // The softmax of the block's rows: scale, mask and maximum, then the exps as bf16 and their
    // sums, each row's lanes reduced with the other rows'. A row with nothing to see (no
    // visible key, or every one -inf) gets p = 0 and 1 / sum = 0.
    const int64_t span32 = round_up(span, 32);
    const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity()), zero = _mm512_setzero_ps();
    int64_t visible[kRows];
    __m512 part[kRows];
    for (int64_t r = 0; r < kRows; ++r) {
      const int64_t i = i0 + r;
      visible[r] = r < rows ? visible_of(i) : 0;
      part[r] = visible[r] == 0 ? minus_inf
                                : scaled_max(scores + r * at.k32, visible[r], h.scale, h.mask ? h.mask + i * h.mask_row : nullptr,
                                             h.mask_col);
    }
    alignas(64) float top[kRows];
    _mm512_store_ps(top, reduce_rows(part, MaxOf{}));
    for (int64_t r = 0; r < kRows; ++r) {
      uint16_t* p = probs + r * at.k32;
      if (top[r] == -std::numeric_limits<float>::infinity()) {
        std::fill(p, p + span32, uint16_t{0});
        part[r] = zero;
      } else {
        part[r] = exps_to_bf16(scores + r * at.k32, visible[r], span32, top[r], p);
      }
    }
    const __m512 sums = reduce_rows(part, SumOf{});
    alignas(64) float inv_sum[kRows];
    _mm512_store_ps(inv_sum, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(sums, zero, _CMP_GT_OQ), _mm512_set1_ps(1.0f), sums));
    product_row(reinterpret_cast<const char*>(probs), at.k32 * 2, reinterpret_cast<const char*>(values), h.dv * 4,
                span32 / 32, h.dv / 16, out, h.dv * 4);
    for (int64_t r = 0; r < rows; ++r) {
      float* o = ob + r * h.out_ld;
      if (inv_sum[r] == 0.0f) {  // no key to attend to: NaN, as PyTorch's softmax gives
        std::fill(o, o + h.dv, nan);
        continue;
      }
      const __m512 inv = _mm512_set1_ps(inv_sum[r]);
      for (int64_t c = 0; c < h.dv; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(out + r * h.dv + c), inv));
    }
  }
  _tile_release();
}

}  // namespace

void attention_head_amx(const AmxHead& head, std::byte* scratch) { head_tiles(head, scratch); }

#else

void attention_head_amx(const AmxHead&, std::byte*) { throw std::logic_error("attention_head_amx without AMX"); }

#endif

}  // namespace loom::onednn
