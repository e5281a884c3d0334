// attention (fused scaled dot-product over heads) and cache_write (new rows into a KV cache at a
// per-row offset). Both are plain loops: attention reads only the keys a query may see, so a
// decode step over a cache sized for the maximum length costs what the filled prefix costs.
#include "activation.hpp"
#include "attention_amx.hpp"
#include "clones.hpp"
#include "gemm.hpp"
#include "kernel.hpp"
#include "threads.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace loom::onednn {
namespace {

// Strides (in elements) of a tensor broadcast to a 4-D [B, H, Tq, Tk] view: 0 where it repeats.
std::array<int64_t, 4> broadcast_strides(std::span<const int64_t> dims, const std::array<int64_t, 4>& to) {
  std::array<int64_t, 4> strides{};
  int64_t s = 1;
  for (int k = 3, i = static_cast<int>(dims.size()) - 1; k >= 0; --k, --i) {
    const int64_t d = i >= 0 ? dims[static_cast<size_t>(i)] : 1;
    strides[static_cast<size_t>(k)] = (d == 1 && to[static_cast<size_t>(k)] != 1) ? 0 : s;
    s *= d;
  }
  return strides;
}

// Rows of a cache asked for this many rows before they are read: a decode step's head reads a
// few tens of KB of keys and then of values, which the hardware prefetchers, restarting at each
// 4 KiB page, fetched at about 10 GB/s.
constexpr int64_t kRowsAhead = 8;

template <class T>
inline void prefetch_row(const T* row, int64_t width) {
  for (int64_t c = 0; c < width; c += 64 / static_cast<int64_t>(sizeof(T))) __builtin_prefetch(row + c);
}

// A key or value element as f32: f32 as it is, bf16 (a KV cache kept in bf16, the session
// option kv_cache) widened.
inline float widen(float x) { return x; }
inline float widen(uint16_t x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }

// One query against n keys as they are ([n, d], rows `ld` elements apart): scores[j] = q . k_j.
// A decode step's attention is these and weighted_values, over the filled part of the cache;
// compiled for AVX-512 and AVX2 too, as the baseline's 4-wide loops read the cache at half the
// memory's speed.
template <class T>
LOOM_INLINE void key_scores_of(const float* q, const T* keys, int64_t ld, int64_t n, int64_t d, float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    const T* kj = keys + j * ld;
    if (j + kRowsAhead < n) prefetch_row(kj + kRowsAhead * ld, d);
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < d; ++c) dot += q[c] * widen(kj[c]);
    scores[j] = dot;
  }
}

// out[c] += sum_j p[j] * v_j[c] over n values ([n, dv], rows `ld` elements apart).
template <class T>
LOOM_INLINE void weighted_values_of(const float* p, const T* values, int64_t ld, int64_t n, int64_t dv, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    const float pj = p[j];
    const T* vj = values + j * ld;
    if (j + kRowsAhead < n) prefetch_row(vj + kRowsAhead * ld, dv);
#pragma omp simd
    for (int64_t c = 0; c < dv; ++c) out[c] += pj * widen(vj[c]);
  }
}

// The two above over f32 or bf16 rows (`bf16`), each compiled once per CPU clone.
LOOM_CPU_CLONES
void key_scores(const float* q, const void* keys, bool bf16, int64_t ld, int64_t n, int64_t d, float* scores) {
  if (bf16) key_scores_of(q, static_cast<const uint16_t*>(keys), ld, n, d, scores);
  else key_scores_of(q, static_cast<const float*>(keys), ld, n, d, scores);
}
LOOM_CPU_CLONES
void weighted_values(const float* p, const void* values, bool bf16, int64_t ld, int64_t n, int64_t dv, float* out) {
  if (bf16) weighted_values_of(p, static_cast<const uint16_t*>(values), ld, n, dv, out);
  else weighted_values_of(p, static_cast<const float*>(values), ld, n, dv, out);
}

// Rows [0, n) of a head of bf16 keys or values (rows `ld` apart) widened into `to` ([n, width]):
// what the packed GEMM and AMX paths read.
void widen_rows(const uint16_t* from, int64_t ld, int64_t n, int64_t width, float* to) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < width; ++c) to[j * width + c] = widen(from[j * ld + c]);
}

struct AttentionShape {
  int64_t batch, heads, tq, tk, d, dv;
  float scale;
  bool causal;
  bool has_mask, has_lengths;
  std::array<int64_t, 4> mask_strides;
  bool bshd = false;  // q, k, v and out [B, T, H, D]: a head's rows are heads * width apart
  bool kv_bf16 = false;  // k and v in bf16 (a KV cache kept in bf16)

  // Head h of batch row b in a tensor of `t` positions and rows of `width`, and its row stride.
  template <class T>
  T* head(T* base, int64_t b, int64_t h, int64_t t, int64_t width) const {
    return base + (bshd ? (b * t * heads + h) * width : (b * heads + h) * t * width);
  }
  int64_t ld(int64_t width) const { return bshd ? heads * width : width; }
};

class AttentionStep final : public Step {
 public:
  AttentionStep(const NodeInfo& info, AttentionShape s, int threads)
      : info_(info), s_(s), threads_(threads), amx_(info.linear.bf16 && amx_attention_fits(s.tq, s.tk, s.d, s.dv)) {}

  // Several queries at a time go through the packed GEMM (gemm.hpp), where the CPU runs it, or
  // with precision=bf16 on AMX tiles (attention_amx.hpp).
  bool blocked() const { return s_.tq > 1 && gemm::available(); }
  static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }
  // Per thread, in floats. AMX: attention_amx.hpp's. Blocked: the head's keys and values packed,
  // the scores of one block of queries, and the GEMM's own scratch. Else: a row of scores and,
  // for several queries, the head's keys transposed.
  int64_t per_thread() const { return paths_per_thread() + widened_per_thread(); }
  int64_t paths_per_thread() const {
    if (amx_) return round16(static_cast<int64_t>(amx_attention_scratch_bytes(s_.tk, s_.d, s_.dv) / sizeof(float)));
    if (blocked())
      return round16(s_.tk) * s_.d + round16(s_.dv) * s_.tk + round16(kQueryBlock * s_.tk) +
             static_cast<int64_t>(gemm::scratch_bytes(std::max(s_.d, s_.tk)) / sizeof(float));
    return round16(s_.tk + (s_.tq > 1 ? s_.tk * s_.d : 0));
  }
  // A bf16 head's keys and values widened for the AMX and packed-GEMM paths, which read f32; the
  // loop of head() reads them as they are.
  bool widens() const { return s_.kv_bf16 && (amx_ || blocked()); }
  int64_t widened_per_thread() const { return widens() ? round16(s_.tk * s_.d) + round16(s_.tk * s_.dv) : 0; }
  size_t scratch_bytes() const override { return static_cast<size_t>(threads_ * per_thread()) * sizeof(float); }

  void run(const RunContext& ctx) const override {
    const float* q = ctx.as<const float>(info_.inputs[0]);
    const void* k = ctx.as<const void>(info_.inputs[1]);
    const void* v = ctx.as<const void>(info_.inputs[2]);
    const float* mask = s_.has_mask ? ctx.as<const float>(info_.inputs[3]) : nullptr;
    const int64_t* lengths = s_.has_lengths ? ctx.as<const int64_t>(info_.inputs[4]) : nullptr;
    float* out = ctx.as<float>(info_.outputs[0]);
    if (lengths)
      for (int64_t b = 0; b < s_.batch; ++b)
        if (lengths[b] < 0 || lengths[b] > s_.tk)
          info_.fail("valid_length[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) +
                     " is outside 0.." + std::to_string(s_.tk) + " (the keys' positions)");
    if (std::isinf(s_.scale)) {  // no dims to score at the default scale: every score NaN
      std::fill(out, out + s_.batch * s_.heads * s_.tq * s_.dv, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    float* scores_all = reinterpret_cast<float*>(ctx.scratch);
    const int64_t jobs = s_.batch * s_.heads;
    // Even a parallel region that its `if` clause serialises allocates in libgomp: stay out of
    // OpenMP entirely where one thread does the work.
    const bool blocked_heads = blocked();
    auto one = [&](int64_t job, float* scratch) {
      const int64_t b = job / s_.heads, h = job % s_.heads;
      Heads kv{};
      if (!s_.kv_bf16) {
        kv = {s_.head(static_cast<const float*>(k), b, h, s_.tk, s_.d), s_.ld(s_.d),
              s_.head(static_cast<const float*>(v), b, h, s_.tk, s_.dv), s_.ld(s_.dv)};
      } else {
        const uint16_t* kh = s_.head(static_cast<const uint16_t*>(k), b, h, s_.tk, s_.d);
        const uint16_t* vh = s_.head(static_cast<const uint16_t*>(v), b, h, s_.tk, s_.dv);
        if (!widens()) return head(b, h, q, kh, s_.ld(s_.d), vh, s_.ld(s_.dv), mask, lengths, out, scratch);
        float* wide = scratch + paths_per_thread();
        const int64_t valid = lengths ? lengths[b] : s_.tk;
        widen_rows(kh, s_.ld(s_.d), valid, s_.d, wide);
        widen_rows(vh, s_.ld(s_.dv), valid, s_.dv, wide + round16(s_.tk * s_.d));
        kv = {wide, s_.d, wide + round16(s_.tk * s_.d), s_.dv};
      }
      if (amx_) head_amx(b, h, q, kv, mask, lengths, out, scratch);
      else if (blocked_heads) head_blocked(b, h, q, kv, mask, lengths, out, scratch);
      else head(b, h, q, kv.k, kv.k_ld, kv.v, kv.v_ld, mask, lengths, out, scratch);
    };
    if (jobs == 1 || threads_ == 1) {
      for (int64_t job = 0; job < jobs; ++job) one(job, scores_all);
      return;
    }
    // Heads go to whichever thread is free (a static split waits for the slower of two vCPUs).
#pragma omp parallel for num_threads(threads_) schedule(dynamic)
    for (int64_t job = 0; job < jobs; ++job) one(job, scores_all + static_cast<int64_t>(omp_get_thread_num()) * per_thread());
  }

 private:
  // A head's f32 keys and values and their row strides (in floats).
  struct Heads {
    const float* k;
    int64_t k_ld;
    const float* v;
    int64_t v_ld;
  };
  static constexpr int64_t kQueryBlock = 96;  // queries per block of scores (16 tiles of the GEMM)
  // Under a causal mask a block sees only the keys up to its last query: blocks of 24 (4 tiles)
  // skip most of the masked triangle (CLIP's 77 tokens: 212 -> 169 us a layer on one core).
  static constexpr int64_t kCausalBlock = 24;

  // The keys query i of batch b may see (0: none).
  int64_t visible_of(int64_t i, int64_t valid) const {
    return s_.causal ? std::clamp<int64_t>(valid - s_.tq + i + 1, 0, valid) : valid;
  }

  bool softmax(float* row, int64_t visible, int64_t span, const float* mrow) const {
    return softmax_row(row, visible, span, s_.scale, mrow, s_.mask_strides[3]);
  }

  void head_amx(int64_t b, int64_t h, const float* q, const Heads& kv, const float* mask, const int64_t* lengths, float* out,
                float* scratch) const {
    AmxHead head{s_.head(q, b, h, s_.tq, s_.d), kv.k, kv.v, s_.head(out, b, h, s_.tq, s_.dv), s_.tq, s_.d, s_.dv, s_.ld(s_.d),
                 kv.k_ld, kv.v_ld, s_.ld(s_.dv),
                 lengths ? lengths[b] : s_.tk, s_.causal, s_.scale,
                 mask ? mask + b * s_.mask_strides[0] + h * s_.mask_strides[1] : nullptr, s_.mask_strides[2],
                 s_.mask_strides[3]};
    if (head.keys == 0)
      for (int64_t i = 0; i < s_.tq; ++i)
        std::fill(head.out + i * head.out_ld, head.out + i * head.out_ld + s_.dv, std::numeric_limits<float>::quiet_NaN());
    else attention_head_amx(head, reinterpret_cast<std::byte*>(scratch));
  }

  // One head as two GEMMs per block of queries: scores = q k^T over the keys the block may see,
  // softmax by row, then out = p v. The keys and values are packed once per head.
  void head_blocked(int64_t b, int64_t h, const float* q, const Heads& kv, const float* mask, const int64_t* lengths,
                    float* out, float* scratch) const {
    const float* qh = s_.head(q, b, h, s_.tq, s_.d);
    float* oh = s_.head(out, b, h, s_.tq, s_.dv);
    const int64_t q_ld = s_.ld(s_.d), out_ld = s_.ld(s_.dv);  // bshd: rows among the other heads'
    const int64_t valid = lengths ? lengths[b] : s_.tk;
    if (valid == 0) {
      for (int64_t i = 0; i < s_.tq; ++i)
        std::fill(oh + i * out_ld, oh + i * out_ld + s_.dv, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    float* keys = scratch;                                // [valid keys as N, d as K]
    float* values = keys + round16(s_.tk) * s_.d;         // [valid as K, dv as N]
    float* scores = values + round16(s_.dv) * s_.tk;      // [block rows, span]
    auto* gemm_scratch = reinterpret_cast<std::byte*>(scores + round16(kQueryBlock * s_.tk));
    gemm::pack(kv.k, valid, s_.d, false, keys, kv.k_ld);
    gemm::pack(kv.v, s_.dv, valid, true, values, kv.v_ld);
    const int64_t block = s_.causal ? kCausalBlock : kQueryBlock;
    for (int64_t i0 = 0; i0 < s_.tq; i0 += block) {
      const int64_t rows = std::min(block, s_.tq - i0);
      const int64_t span = visible_of(i0 + rows - 1, valid);  // the most any row of the block sees
      float* ob = oh + i0 * out_ld;
      if (span == 0) {
        for (int64_t r = 0; r < rows; ++r)
          std::fill(ob + r * out_ld, ob + r * out_ld + s_.dv, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      gemm::linear(qh + i0 * q_ld, keys, nullptr, scores, rows, span, s_.d, 1, gemm_scratch, 0, q_ld);
      uint64_t empty_rows[(kQueryBlock + 63) / 64] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        const float* mrow =
            mask ? mask + b * s_.mask_strides[0] + h * s_.mask_strides[1] + i * s_.mask_strides[2] : nullptr;
        const int64_t visible = visible_of(i, valid);
        if (visible == 0 || !softmax(scores + r * span, visible, span, mrow)) {
          empty_rows[r / 64] |= uint64_t{1} << (r % 64);
          std::fill(scores + r * span, scores + (r + 1) * span, 0.0f);
        }
      }
      gemm::linear(scores, values, nullptr, ob, rows, s_.dv, span, 1, gemm_scratch, valid, 0, out_ld);
      for (int64_t r = 0; r < rows; ++r)  // no key to attend to: NaN, as PyTorch's softmax gives
        if (empty_rows[r / 64] >> (r % 64) & 1)
          std::fill(ob + r * out_ld, ob + r * out_ld + s_.dv, std::numeric_limits<float>::quiet_NaN());
    }
  }

  // One head by plain loops over its keys kh and values vh (f32 or bf16, rows k_ld and v_ld apart).
  template <class T>
  void head(int64_t b, int64_t h, const float* q, const T* kh, int64_t k_ld, const T* vh, int64_t v_ld, const float* mask,
            const int64_t* lengths, float* out, float* scores) const {
    const float* qh = s_.head(q, b, h, s_.tq, s_.d);
    float* oh = s_.head(out, b, h, s_.tq, s_.dv);
    const int64_t q_ld = s_.ld(s_.d), out_ld = s_.ld(s_.dv);
    const int64_t valid = lengths ? lengths[b] : s_.tk;
    // With several queries, the head's keys are transposed once ([d, valid]) so that each query's
    // scores are a few contiguous multiply-adds; one query (a decode step) reads them as they are.
    float* kt = nullptr;
    if (s_.tq > 1 && valid > 0) {
      kt = scores + s_.tk;
      for (int64_t j = 0; j < valid; ++j)
        for (int64_t c = 0; c < s_.d; ++c) kt[c * valid + j] = widen(kh[j * k_ld + c]);
    }
    for (int64_t i = 0; i < s_.tq; ++i) {
      const float* qi = qh + i * q_ld;
      float* oi = oh + i * out_ld;
      const int64_t visible = visible_of(i, valid);
      if (visible == 0) {
        std::fill(oi, oi + s_.dv, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      const float* mrow = mask ? mask + b * s_.mask_strides[0] + h * s_.mask_strides[1] + i * s_.mask_strides[2] : nullptr;
      if (kt) {
        // scores = q . k over the transposed keys: contiguous, vectorised rows.
        std::fill(scores, scores + visible, 0.0f);
        for (int64_t c = 0; c < s_.d; ++c) {
          const float qc = qi[c];
          const float* row = kt + c * valid;
#pragma omp simd
          for (int64_t j = 0; j < visible; ++j) scores[j] += qc * row[j];
        }
      } else {
        for (int64_t j = 0; j < std::min(kRowsAhead, visible); ++j) prefetch_row(vh + j * v_ld, s_.dv);
        key_scores(qi, kh, std::is_same_v<T, uint16_t>, k_ld, visible, s_.d, scores);
      }
      std::fill(oi, oi + s_.dv, 0.0f);
      if (!softmax(scores, visible, visible, mrow)) {  // every visible key masked with -inf
        std::fill(oi, oi + s_.dv, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      weighted_values(scores, vh, std::is_same_v<T, uint16_t>, v_ld, visible, s_.dv, oi);
    }
  }

  NodeInfo info_;
  AttentionShape s_;
  int threads_;
  bool amx_;
};

class AttentionKernel final : public NodeKernel {
 public:
  AttentionKernel(NodeInfo info, bool causal, double scale, bool bshd, int threads)
      : NodeKernel(std::move(info)), causal_(causal), scale_(scale), bshd_(bshd), threads_(threads) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto q = in_dims(shapes, 0), k = in_dims(shapes, 1), v = in_dims(shapes, 2);
    if (q.size() != 4 || k.size() != 4 || v.size() != 4)
      info_.fail("q, k and v must be 4-D, got " + dims_str(q) + ", " + dims_str(k) + ", " + dims_str(v));
    const size_t h = bshd_ ? 2 : 1, t = bshd_ ? 1 : 2;  // the heads' and the positions' dims
    if (q[0] != k[0] || q[h] != k[h] || q[3] != k[3] || k[0] != v[0] || k[h] != v[h] || k[t] != v[t])
      info_.fail("q " + dims_str(q) + ", k " + dims_str(k) + " and v " + dims_str(v) + " do not agree");
    AttentionShape s{q[0], q[h], q[t], k[t], q[3], v[3], 0, causal_, has_input(3), has_input(4), {}, bshd_};
    s.kv_bf16 = info_.input_dtypes[1] == LOOM_DTYPE_BF16;
    // D = 0 at the default scale: 1/sqrt(0) is +inf and each score 0 * inf, NaN (run() fills the output).
    s.scale = static_cast<float>(scale_ > 0 ? scale_ : s.d > 0 ? 1.0 / std::sqrt(static_cast<double>(s.d))
                                                                : std::numeric_limits<double>::infinity());
    const std::array<int64_t, 4> scores = {s.batch, s.heads, s.tq, s.tk};
    if (s.has_mask) {
      auto m = in_dims(shapes, 3);
      auto b = broadcast_dims(scores, m);
      if (m.size() > 4 || !b || !std::equal(b->begin(), b->end(), scores.begin()))
        info_.fail("mask " + dims_str(m) + " does not broadcast to the scores " + dims_str(scores));
      s.mask_strides = broadcast_strides(m, scores);
    }
    if (s.has_lengths && count(in_dims(shapes, 4)) != s.batch)
      info_.fail("valid_length has shape " + dims_str(in_dims(shapes, 4)) + ", expected [" + std::to_string(s.batch) + "]");
    const int64_t o[] = {s.batch, bshd_ ? s.tq : s.heads, bshd_ ? s.heads : s.tq, s.dv};
    expect_output(shapes, 0, o);
    if (count(o) == 0) {
      if (s.has_lengths && s.batch > 0) return std::make_unique<BatchValuesCheckStep>(info_, 4, s.batch, 0, s.tk, "valid_length");
      return std::make_unique<NoStep>();
    }
    return std::make_unique<AttentionStep>(info_, s, resolved_threads(threads_));
  }

 private:
  bool causal_;
  double scale_;
  bool bshd_;
  int threads_;
};

std::optional<std::string> check_attention(const sdk::NodeView& node, bool bf16) {
  if (auto r = check_arity(node, 3, 5, 1)) return r;
  // k and v f32, or both bf16 (a KV cache kept in bf16).
  for (size_t i = 0; i < 4; ++i)
    if (node.has_input(i))
      if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32, i == 1 || i == 2 ? LOOM_DTYPE_BF16 : LOOM_DTYPE_F32})) return r;
  if (node.input(1).dtype() != node.input(2).dtype()) return "k and v differ in dtype";
  if (auto r = check_dtype(node, 4, {LOOM_DTYPE_I64})) return r;
  for (size_t i = 0; i < 3; ++i)
    if (node.input(i).rank() != 4) return "input '" + std::string(node.input(i).name()) + "' must be 4-D";
  if (node.has_input(3) && node.input(3).rank() > 4) return "mask must have rank 4 or less";
  const std::string layout = attr_string(node, "layout", "bhsd");
  if (layout != "bhsd" && layout != "bshd") return "layout '" + layout + "' is not bhsd or bshd";
  // Without a cache to read a prefix of, or a causal mask to skip keys with, this kernel only
  // does what oneDNN's JIT matmul and softmax do as fast in f32 (ViT-B/16's heads: 24 ms of a
  // run decomposed, 36 fused on the packed GEMM): the session decomposes such a node. With
  // precision=bf16 on AMX, the heads run on tiles (docs/performance.md, "bf16 attention on AMX
  // tiles") where their widths are known to fit. Either layout: the tiles and the packed GEMM
  // read each head's rows in place (bshd spares the decomposition's four transposes).
  const size_t t = layout == "bshd" ? 1 : 2;
  const auto q = node.input(0).dims(), k = node.input(1).dims(), v = node.input(2).dims();
  const bool amx = bf16 && q[3] > 0 && v[3] > 0 && amx_attention_fits(q[t] > 0 ? q[t] : 16, k[t] > 0 ? k[t] : 1, q[3], v[3]);
  // Heads of width 0 at the default scale have no decomposition (1/sqrt(0) is no finite alpha):
  // run here, where they give NaN as the reference does.
  const bool no_width = q[3] == 0 && attr_float(node, "scale", 0.0) <= 0;
  if (!node.has_input(4) && !attr_bool(node, "causal", false) && !amx && !no_width)
    return "attention without valid_length or causal runs faster here as matmul, softmax and matmul (decomposed)";
  return std::nullopt;
}

std::optional<std::string> check_attention_f32(const sdk::NodeView& node) { return check_attention(node, false); }
std::optional<std::string> check_attention_setup(const sdk::NodeView& node, const LinearSetup& setup) {
  return check_attention(node, setup.bf16);
}

std::unique_ptr<NodeKernel> compile_attention(const sdk::NodeView& node, NodeInfo info) {
  const int threads = info.threads;
  return std::make_unique<AttentionKernel>(std::move(info), attr_bool(node, "causal", false), attr_float(node, "scale", 0.0),
                                           attr_string(node, "layout", "bhsd") == "bshd", threads);
}

// ---------------------------------------------------------------- cache_write

class CacheWriteStep final : public Step {
 public:
  CacheWriteStep(const NodeInfo& info, int64_t batch, int64_t outer, int64_t len, int64_t rows, size_t row_bytes)
      : info_(info), batch_(batch), outer_(outer), len_(len), rows_(rows), row_bytes_(row_bytes) {}

  void run(const RunContext& ctx) const override {
    const auto* cache = ctx.as<const std::byte>(info_.inputs[0]);
    const auto* update = ctx.as<const std::byte>(info_.inputs[1]);
    const int64_t* offset = ctx.as<const int64_t>(info_.inputs[2]);
    auto* out = ctx.as<std::byte>(info_.outputs[0]);
    for (int64_t b = 0; b < batch_; ++b)
      if (offset[b] < 0 || offset[b] > len_ - rows_)
        info_.fail("offset[" + std::to_string(b) + "] = " + std::to_string(offset[b]) + " leaves no room for " +
                   std::to_string(rows_) + " position(s) in a cache of " + std::to_string(len_));
    // Written in place when the host gives the cache's own memory as the output.
    if (out != cache) std::memcpy(out, cache, static_cast<size_t>(batch_ * outer_ * len_) * row_bytes_);
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t o = 0; o < outer_; ++o) {
        const int64_t slab = b * outer_ + o;
        std::memcpy(out + static_cast<size_t>(slab * len_ + offset[b]) * row_bytes_,
                    update + static_cast<size_t>(slab * rows_) * row_bytes_, static_cast<size_t>(rows_) * row_bytes_);
      }
  }

 private:
  NodeInfo info_;
  int64_t batch_, outer_, len_, rows_;
  size_t row_bytes_;
};

class CacheWriteKernel final : public NodeKernel {
 public:
  CacheWriteKernel(NodeInfo info, int64_t axis) : NodeKernel(std::move(info)), axis_(axis) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto cache = in_dims(shapes, 0), update = in_dims(shapes, 1);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(cache.size()));
    if (!axis || *axis == 0) info_.fail("axis " + std::to_string(axis_) + " is not a non-batch axis of " + dims_str(cache));
    const size_t a = static_cast<size_t>(*axis);
    bool ok = update.size() == cache.size() && update[a] <= cache[a];
    for (size_t i = 0; ok && i < cache.size(); ++i) ok = i == a || update[i] == cache[i];
    if (!ok) info_.fail("update " + dims_str(update) + " does not fit cache " + dims_str(cache) + " along axis " + std::to_string(a));
    if (count(in_dims(shapes, 2)) != cache[0])
      info_.fail("offset has shape " + dims_str(in_dims(shapes, 2)) + ", expected [" + std::to_string(cache[0]) + "]");
    expect_output(shapes, 0, cache);
    if (count(cache) == 0) {
      if (cache[0] > 0) return std::make_unique<BatchValuesCheckStep>(info_, 2, cache[0], 0, cache[a] - update[a], "offset");
      return std::make_unique<NoStep>();
    }
    const size_t row_bytes = static_cast<size_t>(count(cache.subspan(a + 1))) * sdk::dtype_size(info_.input_dtypes[0]);
    return std::make_unique<CacheWriteStep>(info_, cache[0], count(cache.subspan(1, a - 1)), cache[a], update[a], row_bytes);
  }

 private:
  int64_t axis_;
};

std::optional<std::string> check_cache_write(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 3, 3, 1)) return r;
  if (!movable_dtype(node.input(0).dtype()))
    return "dtype " + dtype_name(node.input(0).dtype()) + " of the cache is not supported";
  if (node.input(1).dtype() != node.input(0).dtype()) return "update dtype differs from the cache's";
  if (auto r = check_dtype(node, 2, {LOOM_DTYPE_I64})) return r;
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_cache_write(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<CacheWriteKernel>(std::move(info), attr_int(node, "axis", 2));
}

}  // namespace

std::vector<OpEntry> attention_ops() {
  return {{"attention", check_attention_f32, compile_attention, /*compile_last=*/false, check_attention_setup},
          {"cache_write", check_cache_write, compile_cache_write}};
}

}  // namespace loom::onednn
