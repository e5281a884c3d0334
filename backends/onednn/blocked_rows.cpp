// Few-row linear layers over oneDNN's blocked weights (blocked_rows.hpp).
#include "blocked_rows.hpp"

#include "clones.hpp"
#include "gemm.hpp"
#include "rows.hpp"
#include "threads.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace loom::onednn {
namespace {

constexpr int64_t kP = kBlockedPanel;

// A panel's row (f32) or pair of rows (bf16) is 256 bytes; each stream asks for its lines 1 KiB
// ahead of its reads, which the hardware's prefetchers alone leave for later: GPT-2's bf16
// decode step 16.7-17.2 -> 15.3-16.4 ms at 1 thread (AMX Xeon, docs/performance.md). A stream of
// bf16 tiles, read 64 bytes at a time, asks 2 KiB ahead (1 KiB: 0.97x on GPT-2's decode
// products, 4 KiB 0.97x). `Bytes`: the bytes read from `row` on. Panels ask for their lines into
// L2 only (`prefetcht1`, Locality 2), which left the core's few L1 miss buffers to the loads:
// GPT-2's decode step 0.93x in f32 and bf16 at 1 thread, 0.97-0.98x at 2, on a Zen 4 (2 KiB
// ahead into L2: 1.1x, 512 bytes: 1.0x); the tiles (AMX only) keep the L1 requests they were
// measured with.
constexpr int64_t kPrefetchBytes = 1024, kTilePrefetchBytes = 2048;
template <int64_t Bytes, int64_t Distance = kPrefetchBytes, int Locality = 2>
LOOM_INLINE void prefetch_ahead(const void* row) {
  const char* ahead = static_cast<const char*>(row) + Distance;
  for (int64_t line = 0; line < Bytes / 64; ++line) __builtin_prefetch(ahead + 64 * line, 0, Locality);
}

// acc[g][r][j] over G panels side by side (G streams of the weight, which a core reads faster
// than one): each panel's K rows of kP floats, scaled by x[r][i].
template <int G, int R>
LOOM_INLINE void panels_f32(const float* x, int64_t k, const float* const (&panel)[G], float (&acc)[G][R][kP]) {
  for (int64_t i = 0; i < k; ++i)
    for (int g = 0; g < G; ++g) {
      const float* w = panel[g] + i * kP;
      prefetch_ahead<kP * 4>(w);
      for (int r = 0; r < R; ++r) {
        const float xv = x[r * k + i];
        for (int64_t j = 0; j < kP; ++j) acc[g][r][j] += xv * w[j];
      }
    }
}

// A bf16 pair as one 32-bit lane, read from the uint16_t panels.
using Lanes = uint32_t __attribute__((may_alias));

// x's rows rounded to bf16 over K [i0, i0 + len), zeros from len up to `padded` (the panels' zeros
// past K): the block the bf16 loops below multiply, off the weights' path.
constexpr int64_t kRoundBlock = 128;
template <int R>
LOOM_INLINE void round_block(const float* x, int64_t k, int64_t i0, int64_t len, int64_t padded, float (&xb)[R][kRoundBlock]) {
  for (int r = 0; r < R; ++r) {
    for (int64_t i = 0; i < len; ++i) xb[r][i] = gemm::round_bf16(x[r * k + i0 + i]);
    for (int64_t i = len; i < padded; ++i) xb[r][i] = 0.0f;
  }
}

// The same over bf16 panels: pairs of K rows interleaved, (row 2i, row 2i + 1) in one 32-bit
// lane per output feature; the low half widens by a shift, the high one by a mask.
template <int G, int R>
LOOM_INLINE void panels_bf16(const float* x, int64_t k, const uint16_t* const (&panel)[G], float (&acc)[G][R][kP]) {
  float xb[R][kRoundBlock];
  for (int64_t i0 = 0; i0 < k; i0 += kRoundBlock) {
    const int64_t len = std::min(kRoundBlock, k - i0), pairs = (len + 1) / 2;
    round_block<R>(x, k, i0, len, 2 * pairs, xb);
    for (int64_t q = 0; q < pairs; ++q) {
      for (int g = 0; g < G; ++g) {
        const Lanes* w = reinterpret_cast<const Lanes*>(panel[g] + (i0 + 2 * q) * kP);
        prefetch_ahead<kP * 4>(w);
        for (int r = 0; r < R; ++r) {
          const float x0 = xb[r][2 * q], x1 = xb[r][2 * q + 1];
          for (int64_t j = 0; j < kP; ++j) {
            acc[g][r][j] += x0 * std::bit_cast<float>(w[j] << 16);
            acc[g][r][j] += x1 * std::bit_cast<float>(w[j] & 0xffff0000u);
          }
        }
      }
    }
  }
}

// The same over bf16 tiles (blocked_rows.hpp): each step of 32 K read as it lies, tile after tile
// (16 features of 16 pairs), so that a panel is still one stream read in order. Reading the four
// tiles of a K pair together, at four places 1 KiB apart, ran 0.95-0.97x as fast as the panels
// above, and 0.66x without the prefetches.
template <int G, int R>
LOOM_INLINE void tiles_bf16(const float* x, int64_t k, const uint16_t* const (&panel)[G], float (&acc)[G][R][kP]) {
  constexpr int64_t kStep = 32, kTile = kBlockedTile;
  static_assert(kRoundBlock % kStep == 0);
  float xb[R][kRoundBlock];
  for (int64_t i0 = 0; i0 < k; i0 += kRoundBlock) {
    const int64_t len = std::min(kRoundBlock, k - i0), steps = (len + kStep - 1) / kStep;
    round_block<R>(x, k, i0, len, steps * kStep, xb);
    // A tile at a time over the G panels side by side, its sums in a block of their own (which
    // stays in registers, where the compiler kept sums indexed by the tile on the stack).
    for (int64_t s = 0; s < steps; ++s)
      for (int64_t t = 0; t < kP / kTile; ++t) {
        float sum[G][R][kTile];
        for (int g = 0; g < G; ++g)
          for (int r = 0; r < R; ++r)
            for (int64_t j = 0; j < kTile; ++j) sum[g][r][j] = acc[g][r][t * kTile + j];
        for (int64_t q = 0; q < kStep / 2; ++q)
          for (int g = 0; g < G; ++g) {
            const Lanes* w = reinterpret_cast<const Lanes*>(panel[g] + (i0 + s * kStep) * kP + (t * kStep / 2 + q) * kTile * 2);
            prefetch_ahead<kTile * 4, kTilePrefetchBytes, 3>(w);
            for (int r = 0; r < R; ++r) {
              const float x0 = xb[r][s * kStep + 2 * q], x1 = xb[r][s * kStep + 2 * q + 1];
              for (int64_t j = 0; j < kTile; ++j) {
                sum[g][r][j] += x0 * std::bit_cast<float>(w[j] << 16);
                sum[g][r][j] += x1 * std::bit_cast<float>(w[j] & 0xffff0000u);
              }
            }
          }
        for (int g = 0; g < G; ++g)
          for (int r = 0; r < R; ++r)
            for (int64_t j = 0; j < kTile; ++j) acc[g][r][t * kTile + j] = sum[g][r][j];
      }
  }
}

// Panels p .. p + G - 1 for R rows.
template <int G, int R>
LOOM_INLINE void panel_group(const float* x, const void* w, bool bf16, PanelLayout layout, const float* bias, float* y,
                             int64_t n, int64_t k, Activation act, int64_t p) {
  float acc[G][R][kP] = {};
  const int64_t kp = layout.kp;
  if (bf16) {
    const uint16_t* panel[G];
    for (int g = 0; g < G; ++g) panel[g] = static_cast<const uint16_t*>(w) + (p + g) * kp * kP;
    if (layout.tiles)
      tiles_bf16<G, R>(x, k, panel, acc);
    else
      panels_bf16<G, R>(x, k, panel, acc);
  } else {
    const float* panel[G];
    for (int g = 0; g < G; ++g) panel[g] = static_cast<const float*>(w) + (p + g) * kp * kP;
    panels_f32<G, R>(x, k, panel, acc);
  }
  for (int g = 0; g < G; ++g) {
    const int64_t j0 = (p + g) * kP, cols = std::min(kP, n - j0);
    for (int r = 0; r < R; ++r) {
      float* yr = y + r * n + j0;
      for (int64_t j = 0; j < cols; ++j) yr[j] = acc[g][r][j] + (bias ? bias[j0 + j] : 0.0f);
      activate_inplace(yr, cols, act);
    }
  }
}

// G = 4 / R panels side by side for R rows: as many streams of the weight (the accumulators fill
// half the AVX-512 registers).
constexpr int group_of(int64_t rows) { return rows > 0 && rows < 4 ? static_cast<int>(4 / rows) : 1; }

// The panels `claims` hands team member `member`, for R rows, G at a time (claims come in
// multiples of G but for the last).
template <int R>
LOOM_INLINE void claimed_panels(const float* x, const void* w, bool bf16, PanelLayout layout, const float* bias, float* y,
                                int64_t n, int64_t k, Activation act, Claims& claims, int member) {
  constexpr int G = group_of(R);
  int64_t p0, p1;
  while (claims.next(member, p0, p1)) {
    int64_t p = p0;
    for (; p + G <= p1; p += G) panel_group<G, R>(x, w, bf16, layout, bias, y, n, k, act, p);
    for (; p < p1; ++p) panel_group<1, R>(x, w, bf16, layout, bias, y, n, k, act, p);
  }
}

// Up to four rows (which share each weight read).
LOOM_CPU_CLONES
void blocked_rows(const float* x, const void* w, bool bf16, PanelLayout layout, const float* bias, float* y, int64_t rows,
                  int64_t n, int64_t k, Activation act, Claims& claims, int member) {
  switch (rows) {
    case 1: return claimed_panels<1>(x, w, bf16, layout, bias, y, n, k, act, claims, member);
    case 2: return claimed_panels<2>(x, w, bf16, layout, bias, y, n, k, act, claims, member);
    case 3: return claimed_panels<3>(x, w, bf16, layout, bias, y, n, k, act, claims, member);
    default: return claimed_panels<4>(x, w, bf16, layout, bias, y, n, k, act, claims, member);
  }
}

}  // namespace

std::optional<PanelLayout> panel_layout(const dnnl::memory::desc& md, int64_t k, int64_t n, bool bf16) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims != 2 || d.dims[0] != k || d.dims[1] != n || d.offset0 != 0) return std::nullopt;
  if (d.data_type != (bf16 ? dnnl_bf16 : dnnl_f32)) return std::nullopt;
  const auto& b = d.format_desc.blocking;
  // The inner blocks, outermost first: (size, dim) pairs.
  auto blocks = [&](std::initializer_list<std::pair<int64_t, int>> want) {
    if (b.inner_nblks != static_cast<int>(want.size())) return false;
    const auto* block = want.begin();
    for (int i = 0; i < b.inner_nblks; ++i, ++block)
      if (b.inner_blks[i] != block->first || b.inner_idxs[i] != block->second) return false;
    return true;
  };
  const bool tiles = bf16 && blocks({{4, 1}, {16, 0}, {kBlockedTile, 1}, {2, 0}});
  if (!(bf16 ? tiles || blocks({{16, 0}, {kP, 1}, {2, 0}}) : blocks({{16, 0}, {kP, 1}}))) return std::nullopt;
  const int64_t kp = d.padded_dims[0], k_block = bf16 ? 32 : 16;
  if (kp < k || kp % k_block != 0 || d.padded_dims[1] < n || d.padded_dims[1] % kP != 0) return std::nullopt;
  if (b.strides[0] != k_block * kP || b.strides[1] != kp * kP) return std::nullopt;
  return PanelLayout{kp, tiles};
}

dnnl::memory::desc bf16_tiles_md(int64_t k, int64_t n) {
  // BA16a64b2a with its 64 features cut into four tiles outside the 16 K pairs.
  dnnl_memory_desc_t d = dnnl::memory::desc({k, n}, dnnl::memory::data_type::bf16, dnnl::memory::format_tag::BA16a64b2a).data;
  auto& b = d.format_desc.blocking;
  b.inner_nblks = 4;
  const int64_t sizes[] = {4, 16, kBlockedTile, 2}, dims[] = {1, 0, 1, 0};
  for (int i = 0; i < 4; ++i) b.inner_blks[i] = sizes[i], b.inner_idxs[i] = dims[i];
  return dnnl::memory::desc(d);
}

dnnl::memory::desc panel_md(int64_t k, int64_t n, PanelLayout layout, bool bf16) {
  using tag = dnnl::memory::format_tag;
  if (layout.tiles) return bf16_tiles_md(k, n);
  return dnnl::memory::desc({k, n}, bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32,
                            bf16 ? tag::BA16a64b2a : tag::BA16a64b);
}

void linear_rows_blocked(const float* x, const void* w, bool bf16, PanelLayout layout, const float* bias, float* y,
                         int64_t rows, int64_t n, int64_t k, Activation act, int threads) {
  for (int64_t r = 4; r < rows; r += 4)  // more than four rows: further passes over the weight
    linear_rows_blocked(x + r * k, w, bf16, layout, bias, y + r * n, std::min<int64_t>(4, rows - r), n, k, act, threads);
  rows = std::min<int64_t>(rows, 4);
  const int64_t count = (n + kP - 1) / kP;
  const int teams = static_cast<int>(std::min<int64_t>({threads, count, std::max<int64_t>(1, rows * n * k / kRowParallelWork)}));
  Claims claims(count, teams, group_of(rows));
  if (teams <= 1) return blocked_rows(x, w, bf16, layout, bias, y, rows, n, k, act, claims, 0);
#pragma omp parallel num_threads(teams)
  blocked_rows(x, w, bf16, layout, bias, y, rows, n, k, act, claims, omp_get_thread_num());
}

}  // namespace loom::onednn
