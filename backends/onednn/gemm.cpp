// The packed GEMM (gemm.hpp). Blocking as in BLIS and in Goto's paper: K is cut into slices of
// at most kMaxSlice, and one panel's slice (up to 768 x 16 floats) stays in cache while every
// 6-row tile of the activation block streams past it; the block (up to kBlockRows rows of one
// slice, packed as 6-row tiles) is read once per panel. Slices of 768 measured faster than 256
// or 384 on a Zen 3 core (y is then written once per 768 of K, which matters most for an LM head
// of 50k features), and the row tiles of each panel prefetch the next panel's slice, a share
// each. A block of a few rows (a decode step) is one lone tile, which streams the weights once
// in order, unsliced and left to the hardware's prefetcher. A 6-row tile is packed eight columns
// at a time in registers. Threads take panels a few at a time (one contiguous run each where
// there are few), so each writes its own columns of y; they pack each block together, tile by
// tile, into one copy that all of them read.
#include "gemm.hpp"

#include "isa.hpp"

#include <algorithm>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOM_GEMM_X86 1
#define LOOM_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace loom::onednn::gemm {
namespace {

constexpr int64_t kRows = 6;          // rows of the register tile (12 accumulators)
constexpr int64_t kMaxSlice = 768;    // K per slice: 48 KiB of a panel, in L2
constexpr int64_t kBlockRows = 168;   // activation rows per block: up to 504 KiB of a slice
constexpr int64_t kContiguousPanels = 32;  // below this many panels per thread, no dynamic schedule

int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Slices of equal length (a multiple of 8) that cover k.
int64_t slice_of(int64_t k) {
  const int64_t slices = div_up(k, kMaxSlice);
  return std::min(kMaxSlice, div_up(div_up(k, slices), 8) * 8);
}

// The rows of the register tile that starts at row `ir` of an `mc`-row block: 6, except that
// where 6-row tiles would leave one or two rows over, the last 7 or 8 rows go as 4 + 3 or 4 + 4
// (a tile of one or two rows keeps too few accumulators to hide the FMA latency).
int64_t tile_rows(int64_t mc, int64_t ir) {
  const int64_t r = mc % kRows, tail = kRows + r;
  if ((r == 1 || r == 2) && mc >= tail && ir >= mc - tail) return ir == mc - tail ? 4 : mc - ir;
  return std::min(kRows, mc - ir);
}

#ifdef LOOM_GEMM_X86
// Six rows x eight columns of x (row stride ld) into `out` column by column (48 floats): the
// rows pairwise interleaved, then the pairs (as doubles) put in column order.
LOOM_AVX2 inline void pack_6x8(const float* x, int64_t ld, float* out) {
  const __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + ld), r2 = _mm256_loadu_ps(x + 2 * ld);
  const __m256 r3 = _mm256_loadu_ps(x + 3 * ld), r4 = _mm256_loadu_ps(x + 4 * ld), r5 = _mm256_loadu_ps(x + 5 * ld);
  // a: rows 0-1, b: rows 2-3, c: rows 4-5; each double is one column's pair. Columns 0 1 | 4 5
  // in the low vectors, 2 3 | 6 7 in the high ones.
  const __m256d a = _mm256_castps_pd(_mm256_unpacklo_ps(r0, r1)), a2 = _mm256_castps_pd(_mm256_unpackhi_ps(r0, r1));
  const __m256d b = _mm256_castps_pd(_mm256_unpacklo_ps(r2, r3)), b2 = _mm256_castps_pd(_mm256_unpackhi_ps(r2, r3));
  const __m256d c = _mm256_castps_pd(_mm256_unpacklo_ps(r4, r5)), c2 = _mm256_castps_pd(_mm256_unpackhi_ps(r4, r5));
  const __m256d ab = _mm256_unpacklo_pd(a, b);        // a0 b0 | a4 b4
  const __m256d ca = _mm256_shuffle_pd(c, a, 0b1010);  // c0 a1 | c4 a5
  const __m256d bc = _mm256_unpackhi_pd(b, c);        // b1 c1 | b5 c5
  const __m256d ab2 = _mm256_unpacklo_pd(a2, b2);     // a2 b2 | a6 b6
  const __m256d ca2 = _mm256_shuffle_pd(c2, a2, 0b1010);  // c2 a3 | c6 a7
  const __m256d bc2 = _mm256_unpackhi_pd(b2, c2);     // b3 c3 | b7 c7
  _mm256_storeu_pd(reinterpret_cast<double*>(out), _mm256_permute2f128_pd(ab, ca, 0x20));
  _mm256_storeu_pd(reinterpret_cast<double*>(out + 8), _mm256_permute2f128_pd(bc, ab2, 0x20));
  _mm256_storeu_pd(reinterpret_cast<double*>(out + 16), _mm256_permute2f128_pd(ca2, bc2, 0x20));
  _mm256_storeu_pd(reinterpret_cast<double*>(out + 24), _mm256_permute2f128_pd(ab, ca, 0x31));
  _mm256_storeu_pd(reinterpret_cast<double*>(out + 32), _mm256_permute2f128_pd(bc, ab2, 0x31));
  _mm256_storeu_pd(reinterpret_cast<double*>(out + 40), _mm256_permute2f128_pd(ca2, bc2, 0x31));
}

// Rows [0, r) x columns [0, kc) of x (row stride ld) as one tile: for each k, r floats.
LOOM_AVX2 void pack_tile(const float* x, int64_t ld, int64_t r, int64_t kc, float* out) {
  int64_t p = 0;
  if (r == kRows)
    for (; p + 8 <= kc; p += 8) pack_6x8(x + p, ld, out + p * kRows);
  for (; p < kc; ++p)
    for (int64_t j = 0; j < r; ++j) out[p * r + j] = x[j * ld + p];
}

// v[0, count) rounded to the nearest bf16 in place (to_bf16, 8 at a time).
LOOM_AVX2 void round_to_bf16(float* v, int64_t count) {
  const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7fff), high = _mm256_set1_epi32(-65536);
  const __m256i quiet = _mm256_set1_epi32(0x400000);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    const __m256i u = _mm256_castps_si256(x);
    const __m256i even = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    const __m256i rounded = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(half, even)), high);
    const __m256i nan = _mm256_and_si256(_mm256_or_si256(u, quiet), high);
    const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    _mm256_storeu_ps(v + i, _mm256_blendv_ps(_mm256_castsi256_ps(rounded), _mm256_castsi256_ps(nan), is_nan));
  }
  for (; i < count; ++i) v[i] = round_bf16(v[i]);
}

// 16 weights of a panel row as two vectors of f32, columns 0-7 and 8-15. bf16 widened: its bits
// are an f32's upper half, and the row holds columns j and j + 8 in one 32-bit lane (slot), so a
// shift and a mask split it (one bf16 load, not two loads and two widening shuffles: GPT-2's
// decode step in bf16 at 1 thread 10.9 -> 9.7-10.0 ms).
LOOM_AVX2 inline void load16(const float* b, __m256& b0, __m256& b1) {
  b0 = _mm256_load_ps(b);
  b1 = _mm256_load_ps(b + 8);
}
LOOM_AVX2 inline void load16(const uint16_t* b, __m256& b0, __m256& b1) {
  const __m256i pairs = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
  b0 = _mm256_castsi256_ps(_mm256_slli_epi32(pairs, 16));
  b1 = _mm256_castsi256_ps(_mm256_and_si256(pairs, _mm256_set1_epi32(-65536)));
}

// A panel's slice of kc rows of 16 bf16 weights widened to f32, for the row tiles that all read it.
LOOM_AVX2 void widen(const uint16_t* b, int64_t kc, float* out) {
  for (int64_t p = 0; p < kc; ++p, b += kPanel, out += kPanel) {
    __m256 lo, hi;
    load16(b, lo, hi);
    _mm256_store_ps(out, lo);
    _mm256_store_ps(out + 8, hi);
  }
}

// One row of a tile: plus `init` on the first slice, plus the row itself on later ones.
LOOM_AVX2 inline void put(float* row, __m256 lo, __m256 hi, bool first, __m256 i0, __m256 i1) {
  if (first) {
    lo = _mm256_add_ps(lo, i0);
    hi = _mm256_add_ps(hi, i1);
  } else {
    lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));
    hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
  }
  _mm256_storeu_ps(row, lo);
  _mm256_storeu_ps(row + 8, hi);
}

// c[R, 16] (row stride ldc) = a_tile * b_slice (a_tile: R floats per k), plus `init` (16
// floats, or null for zero) on the first slice, plus c itself on later ones. R <= 6 rows keep 2R
// accumulators in registers. W: the weights' element, float or bf16 (uint16_t). Meanwhile the
// `lines` cache lines from `ahead` (at most kc) are prefetched into L2.
template <int R, typename W>
LOOM_AVX2 inline void tile(int64_t kc, const float* a, const W* b, float* c, int64_t ldc, bool first,
                           const float* init, const char* ahead, int64_t lines) {
  __m256 lo[R], hi[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  // One prefetch every 2^shift steps, spread over the tile rather than bunched at its start.
  int shift = 0;
  while (lines > 0 && (lines << (shift + 1)) <= kc) ++shift;
  const int64_t spacing = (int64_t{1} << shift) - 1;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p, a += R, b += kPanel) {
    __m256 b0, b1;
    load16(b, b0, b1);
    if ((p & spacing) == 0 && (p >> shift) < lines) _mm_prefetch(ahead + (p >> shift) * 64, _MM_HINT_T1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 s = _mm256_broadcast_ss(a + r);
      lo[r] = _mm256_fmadd_ps(s, b0, lo[r]);
      hi[r] = _mm256_fmadd_ps(s, b1, hi[r]);
    }
  }
  const __m256 i0 = first && init ? _mm256_loadu_ps(init) : _mm256_setzero_ps();
  const __m256 i1 = first && init ? _mm256_loadu_ps(init + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) put(c + r * ldc, lo[r], hi[r], first, i0, i1);
}

// The R rows of a lone tile (R < 6: a decode step) against G panels at once, each `stride`
// weights after the one before, with 2RG accumulators: G streams through memory rather than one,
// which a core's prefetchers serve faster (kStreams). No software prefetch: it only slowed
// these down.
template <int R, int G, typename W>
LOOM_AVX2 void stream_tile(int64_t kc, const float* a, const W* b, int64_t stride, float* c, int64_t ldc, bool first,
                           const float* init) {
  __m256 lo[R][G], hi[R][G];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) lo[r][g] = hi[r][g] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += R, b += kPanel) {
    __m256 b0[G], b1[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) load16(b + g * stride, b0[g], b1[g]);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 s = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) {
        lo[r][g] = _mm256_fmadd_ps(s, b0[g], lo[r][g]);
        hi[r][g] = _mm256_fmadd_ps(s, b1[g], hi[r][g]);
      }
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    const __m256 i0 = first && init ? _mm256_loadu_ps(init + g * kPanel) : _mm256_setzero_ps();
    const __m256 i1 = first && init ? _mm256_loadu_ps(init + g * kPanel + 8) : _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) put(c + r * ldc + g * kPanel, lo[r][g], hi[r][g], first, i0, i1);
  }
}

// Panels a lone tile of R rows takes at once (R < 6), as measured on GPT-2's weights (a Zen 3
// core, GB/s for 1 / 2 / 3 / 4 panels at once): one row 21 / 27 / - / 28 (6: 23, spilling);
// two rows 19 / 26 / 27; three 19 / 25; four 19 / 22; five 19 / 13.
constexpr int64_t kStreams[kRows] = {1, 4, 3, 2, 2, 1};

template <typename W>
using StreamFn = void (*)(int64_t, const float*, const W*, int64_t, float*, int64_t, bool, const float*);
template <typename W>
constexpr StreamFn<W> kStreamTiles[kRows] = {nullptr, stream_tile<1, 4, W>, stream_tile<2, 3, W>, stream_tile<3, 2, W>,
                                             stream_tile<4, 2, W>, nullptr};

template <typename W>
using TileFn = void (*)(int64_t, const float*, const W*, float*, int64_t, bool, const float*, const char*, int64_t);
template <typename W>
constexpr TileFn<W> kTiles[kRows + 1] = {nullptr,       tile<1, W>, tile<2, W>, tile<3, W>,
                                         tile<4, W>,    tile<5, W>, tile<6, W>};

// Shapes and strides of one call.
struct Call {
  int64_t m, n, k;
  int64_t packed_k;  // K of the packed panels (>= k)
  int64_t ldx, ldy;  // row strides of x and y
  Activation act;    // applied to each panel of a block after the last slice of K
};

// Every panel of y, every row. With `team` > 1 this runs inside a parallel region of that many
// threads: they pack the activation block together, and the panels of a block are handed out
// dynamically, a few at a time, so that a thread the scheduler holds back (another process on
// the core) delays the others by a few panels, not by half the work. The barrier after each
// block keeps the slices of K in order.
template <typename W>
LOOM_AVX2 void panels(const float* x, const W* w, const float* bias, float* y, const Call& call, int team,
                      float* block) {
  constexpr bool bf16 = std::is_same_v<W, uint16_t>;
  const int64_t m = call.m, n = call.n, k = call.k, np = div_up(n, kPanel);
  // A few rows (a decode step) make one lone tile: nothing to keep in cache for other tiles, so
  // K is not sliced and the weights stream past once, in order.
  const bool lone_tile = m <= kRows && m * k <= kBlockRows * std::min(kMaxSlice, div_up(k, 8) * 8);
  const int64_t kslice = lone_tile ? k : slice_of(k);
  // With few panels per thread, each takes one contiguous run of them instead: the first panel
  // of every run is read cold from memory (the tiles prefetch only the panel after their own),
  // and on 512 or 768 features that cost more than the balancing saved (CLIP's text tower at 2
  // threads: 35.4 -> 34.8 ms).
  const bool contiguous = np < kContiguousPanels * team;
  alignas(32) float part[kRows * kPanel];
  alignas(32) float part_init[kPanel];
  // bf16: the current panel slice in f32 where several row tiles read it (48 KiB, in L2).
  alignas(32) float wide[bf16 ? kMaxSlice * kPanel : 1];
  for (int64_t pc = 0; pc < k; pc += kslice) {
    const int64_t kc = std::min(kslice, k - pc);
    const bool first = pc == 0;
    // Blocks of equal size (in whole tiles): 197 rows as 102 + 95, not 168 + 29.
    const int64_t blocks = div_up(m, kBlockRows), per_block = div_up(div_up(m, blocks), kRows) * kRows;
    for (int64_t ic = 0; ic < m; ic += per_block) {
      const int64_t mc = std::min(per_block, m - ic);
      int64_t starts[kBlockRows / 4 + 2], tiles = 0;
      for (int64_t ir = 0; ir < mc; ir += tile_rows(mc, ir)) starts[tiles++] = ir;
      starts[tiles] = mc;
      auto pack = [&](int64_t t) {
        const int64_t rows = starts[t + 1] - starts[t];
        pack_tile(x + (ic + starts[t]) * call.ldx + pc, call.ldx, rows, kc, block + starts[t] * kc);
        if (bf16) round_to_bf16(block + starts[t] * kc, rows * kc);  // bf16 weights multiply bf16 activations
      };
      if (team > 1) {  // the team packs the block that all its threads read
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tiles; ++t) pack(t);
      } else {
        for (int64_t t = 0; t < tiles; ++t) pack(t);
      }
      // A lone tile of fewer than 6 rows (a decode step): memory-bound, it streams (kStreams).
      const bool few_rows = tiles == 1 && mc < kRows;
      // The activation goes with the last slice of K, tile by tile while the tile is in L1.
      const bool activate = pc + kc == k && call.act != Activation::none;
      auto panel = [&](int64_t p) {
        const W* b = w + (p * call.packed_k + pc) * kPanel;
        const int64_t col = p * kPanel, cols = std::min(kPanel, n - col);
        const float* init = bias ? bias + col : nullptr;
        if (cols < kPanel && bias) {  // the last panel: its bias padded with zeros
          std::fill(part_init, part_init + kPanel, 0.0f);
          std::copy(bias + col, bias + n, part_init);
          init = part_init;
        }
        // The next panel's slice is prefetched into L2 a share per row tile, so that its lines
        // are asked for over the whole panel rather than all during its first tile. Not under a
        // lone tile of fewer than 6 rows: it does too little work per line for that to pay, and
        // the hardware's stream prefetcher does better alone (GPT-2's decode step 26.3 -> 22.4 ms
        // of matrix-vector products at 1 thread; docs/performance.md).
        const bool prefetch = p + 1 < np && !few_rows;
        const char* next = reinterpret_cast<const char*>(b + (prefetch ? call.packed_k * kPanel : 0));
        const int64_t next_lines = prefetch ? kc * kPanel * static_cast<int64_t>(sizeof(W)) / 64 : 0;
        const int64_t share = div_up(next_lines, tiles);
        // The row tiles over the panel's slice `bv` (W, or f32 widened from bf16).
        auto row_tiles = [&](const auto* bv) {
          using V = std::remove_cv_t<std::remove_pointer_t<decltype(bv)>>;
          for (int64_t t = 0; t < tiles; ++t) {
            const int64_t ir = starts[t], rows = starts[t + 1] - ir;
            const int64_t lines = std::clamp<int64_t>(next_lines - t * share, 0, share);
            float* c = y + (ic + ir) * call.ldy + col;
            if (cols == kPanel) {
              kTiles<V>[rows](kc, block + ir * kc, bv, c, call.ldy, first, init, next + t * share * 64, lines);
            } else {
              // The last panel's columns go through a local tile, so nothing past y's row is touched.
              kTiles<V>[rows](kc, block + ir * kc, bv, part, kPanel, true, first ? init : nullptr, nullptr, 0);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < cols; ++j)
                  c[r * call.ldy + j] = (first ? 0.0f : c[r * call.ldy + j]) + part[r * kPanel + j];
            }
            if (activate) activate_rows(c, rows, cols, call.ldy, call.act);
          }
        };
        if constexpr (bf16) {
          if (tiles > 1) {  // widened once rather than in every tile
            widen(b, kc, wide);
            row_tiles(static_cast<const float*>(wide));
          } else {
            row_tiles(b);
          }
        } else {
          row_tiles(b);
        }
      };
      // Such a tile takes its panels `streams` at a time where they are whole.
      const int64_t streams = few_rows ? kStreams[mc] : 1;
      auto unit = [&](int64_t u) {
        const int64_t p0 = u * streams, p1 = std::min(np, p0 + streams);
        if (streams > 1 && p1 - p0 == streams && p1 * kPanel <= n) {
          const int64_t col = p0 * kPanel;
          float* c = y + ic * call.ldy + col;
          kStreamTiles<W>[mc](kc, block, w + (p0 * call.packed_k + pc) * kPanel, call.packed_k * kPanel, c, call.ldy,
                              first, bias ? bias + col : nullptr);
          if (activate) activate_rows(c, mc, streams * kPanel, call.ldy, call.act);
          return;
        }
        for (int64_t p = p0; p < p1; ++p) panel(p);
      };
      const int64_t units = div_up(np, streams), chunk = std::max<int64_t>(1, units / (int64_t{team} * 4));
      if (team > 1 && contiguous) {
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; ++u) unit(u);
      } else if (team > 1) {
#pragma omp for schedule(dynamic, chunk)
        for (int64_t u = 0; u < units; ++u) unit(u);
      } else {
        for (int64_t u = 0; u < units; ++u) unit(u);
      }
    }
  }
}
#endif

}  // namespace

bool available() {
#ifdef LOOM_GEMM_X86
  return avx2_allowed();
#else
  return false;
#endif
}

int64_t packed_floats(int64_t n, int64_t k) { return div_up(n, kPanel) * kPanel * k; }

namespace {

float to_out(float v, float*) { return v; }
uint16_t to_out(float v, uint16_t*) { return to_bf16(v); }

// Where column j of a panel row goes: f32 in order; bf16 pairwise, columns j and j + 8 in one
// 32-bit lane (j in the low half), which load16 splits with a shift and a mask.
int64_t slot(int64_t j, float*) { return j; }
int64_t slot(int64_t j, uint16_t*) { return j < kPanel / 2 ? 2 * j : 2 * (j - kPanel / 2) + 1; }

template <typename T>
void pack_into(const float* w, int64_t n, int64_t k, bool kn, T* out, int64_t p0, int64_t p1, int64_t ldw = 0) {
  p1 = std::min(p1, div_up(n, kPanel));
  if (ldw == 0) ldw = kn ? n : k;
  if (!kn) {  // each panel reads 16 rows of w side by side
    for (int64_t p = p0; p < p1; ++p) {
      T* dst = out + p * k * kPanel;
      const int64_t col = p * kPanel, cols = std::min(kPanel, n - col);
      for (int64_t i = 0; i < k; ++i, dst += kPanel) {
        for (int64_t j = 0; j < cols; ++j) dst[slot(j, out)] = to_out(w[(col + j) * ldw + i], out);
        for (int64_t j = cols; j < kPanel; ++j) dst[slot(j, out)] = T{0};
      }
    }
    return;
  }
  // [k, n]: each row of w is read once per group of panels, which are written side by side
  // (a few write streams rather than one long stride per row).
  constexpr int64_t kGroup = 16;
  for (int64_t g0 = p0; g0 < p1; g0 += kGroup) {
    const int64_t g1 = std::min(p1, g0 + kGroup);
    for (int64_t i = 0; i < k; ++i) {
      const float* row = w + i * ldw;
      for (int64_t p = g0; p < g1; ++p) {
        T* dst = out + (p * k + i) * kPanel;
        const int64_t col = p * kPanel, cols = std::min(kPanel, n - col);
        for (int64_t j = 0; j < cols; ++j) dst[slot(j, out)] = to_out(row[col + j], out);
        for (int64_t j = cols; j < kPanel; ++j) dst[slot(j, out)] = T{0};
      }
    }
  }
}

}  // namespace

void pack(const float* w, int64_t n, int64_t k, bool kn, float* out, int64_t ldw) {
  pack_into(w, n, k, kn, out, 0, div_up(n, kPanel), ldw);
}

void pack_panels(const float* w, int64_t n, int64_t k, bool kn, float* out, int64_t p0, int64_t p1) {
  pack_into(w, n, k, kn, out, p0, p1);
}

void pack_panels(const float* w, int64_t n, int64_t k, bool kn, uint16_t* out, int64_t p0, int64_t p1) {
  pack_into(w, n, k, kn, out, p0, p1);
}

size_t scratch_bytes(int64_t k) {
  // Sized for the longest slice any K up to k can have (slice_of is not monotonic: 700 gives
  // 704, 800 gives 400), so that scratch for k serves every smaller K too.
  const int64_t longest = std::min(kMaxSlice, div_up(k, 8) * 8);
  const size_t block = static_cast<size_t>(kBlockRows * longest) * sizeof(float);
  return div_up(static_cast<int64_t>(block), 64) * 64;
}

namespace {

template <typename W>
void run(const float* x, const W* packed, const float* bias, float* y, int64_t m, int64_t n, int64_t k, int threads,
         std::byte* scratch, int64_t packed_k, int64_t ldx, int64_t ldy, Activation act) {
#ifdef LOOM_GEMM_X86
  const Call call{m, n, k, packed_k > 0 ? packed_k : k, ldx > 0 ? ldx : k, ldy > 0 ? ldy : n, act};
  const int64_t np = div_up(n, kPanel);
  // Below about two panels per thread, or a small product over few weights, a parallel region
  // costs more than it saves. A few rows over a 768 x 768 weight are a small product, but reading
  // the weight from memory takes 90 us on one core: split (GPT-2's decode step at 2 threads: 0.5 ms).
  const int64_t useful = std::min<int64_t>(threads, std::max<int64_t>(1, np / 2));
  const bool small = m * n * k < (int64_t{1} << 20) && n * k < (int64_t{1} << 17);
  const int team = small ? 1 : static_cast<int>(std::max<int64_t>(useful, 1));
  if (team <= 1) {
    panels(x, packed, bias, y, call, 1, reinterpret_cast<float*>(scratch));
    return;
  }
#pragma omp parallel num_threads(team)
  panels(x, packed, bias, y, call, team, reinterpret_cast<float*>(scratch));
#else
  (void)x, (void)packed, (void)bias, (void)y, (void)m, (void)n, (void)k, (void)threads, (void)scratch, (void)packed_k,
      (void)ldx, (void)ldy, (void)act;
#endif
}

}  // namespace

void linear(const float* x, const float* packed, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
            int threads, std::byte* scratch, int64_t packed_k, int64_t ldx, int64_t ldy, Activation act) {
  run(x, packed, bias, y, m, n, k, threads, scratch, packed_k, ldx, ldy, act);
}

void linear(const float* x, const uint16_t* packed, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
            int threads, std::byte* scratch, int64_t packed_k, int64_t ldx, int64_t ldy, Activation act) {
  run(x, packed, bias, y, m, n, k, threads, scratch, packed_k, ldx, ldy, act);
}

}  // namespace loom::onednn::gemm
