// The oneDNN plugin's attention heads with precision=bf16 on AMX tiles (attention_amx.hpp),
// driven through the C ABI only, against a double-precision loop.
#ifdef LOOM_TEST_ONEDNN
#include "cpu_features.hpp"
#include "bf16_reference.hpp"
#include "heads_layout.hpp"
#include "onednn_harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using loom::DType;
using loom::Tensor;
using loom::test::Attr;
using loom::test::bf16_reference;
using loom::test::GraphBuilder;
using loom::test::OnednnPlugin;

// precision=bf16 on AMX: attention heads of at least 16 queries run on tiles
// (attention_amx.hpp): q k^T over q, k rounded to bf16, softmax in f32, then p rounded to bf16
// times v rounded to bf16. Against a double-precision loop over the rounded q, k and v (p
// unrounded: its rounding moves each output by at most 2^-9 of the largest |v|), and, to show
// that the tiles ran, off the f32 result. Cases: query blocks cut short (37, 197), d 32 and 64,
// dv 48 (a last tile of 16 columns); masks over the keys ([B, 1, 1, Tk], a batch with every key
// -inf: NaN, as PyTorch gives), over queries and keys ([B, 1, Tq, Tk]) and over queries alone
// ([B, 1, Tq, 1], some rows -inf); causal heads over a cache (valid_length 45, 20, 33 and 0), at 1
// and 2 threads. Heads of fewer queries (a decode step, 7) stay on the f32 loops. Without a causal
// mask or a valid length, the node runs fused only in bf16 on AMX; in f32 the session decomposes it.
TEST_CASE("onednn attention with precision=bf16 runs on AMX tiles over bf16-rounded operands") {
  if (!loom::test::cpu_allows(loom::test::CpuIsa::amx)) return;
  enum Mask { none, keys, full, rows };
  struct Case {
    int64_t batch, heads, tq, tk, d, dv;
    bool causal;
    Mask mask;
    std::vector<int64_t> lengths;  // valid_length per batch, or empty for none
  };
  const Case cases[] = {{2, 3, 37, 37, 64, 48, false, none, {}},     {1, 2, 197, 197, 32, 32, false, keys, {}},
                        {2, 2, 40, 40, 64, 64, false, keys, {}},     {2, 2, 33, 50, 64, 64, false, full, {}},
                        {2, 2, 30, 30, 64, 64, false, rows, {}},     {2, 2, 20, 64, 64, 64, true, none, {45, 20}},
                        {2, 2, 16, 40, 64, 64, true, full, {0, 33}}, {1, 2, 7, 30, 64, 64, true, none, {30}}};
  const float inf = std::numeric_limits<float>::infinity();
  // kv16: k and v given in bf16 (a KV cache kept in bf16), their values the f32 ones rounded.
  for (int threads : {1, 2})
  for (bool bshd : {false, true})
  for (bool kv16 : {false, true}) {
    OnednnPlugin bf16(threads, "blocked", "bf16"), f32(threads, "blocked", "f32");
    for (const Case& c : cases) {
      CAPTURE(threads);
      CAPTURE(bshd);
      CAPTURE(kv16);
      CAPTURE(c.tq);
      CAPTURE(c.tk);
      CAPTURE(c.d);
      CAPTURE(static_cast<int>(c.mask));
      const loom::Shape qs{c.batch, c.heads, c.tq, c.d}, ks{c.batch, c.heads, c.tk, c.d}, vs{c.batch, c.heads, c.tk, c.dv},
          os{c.batch, c.heads, c.tq, c.dv};
      const loom::Shape ms{c.batch, 1, c.mask == full || c.mask == rows ? c.tq : 1, c.mask == rows ? 1 : c.tk};
      // The mask's value at batch b, query i, key j.
      auto mask_at = [&](int64_t b, int64_t i, int64_t j) -> float {
        switch (c.mask) {
          case keys: return b == 1 || j >= c.tk - 5 ? -inf : 0.1f * static_cast<float>(j % 3);
          case full: return (i + j) % 7 == 0 ? -inf : 0.05f * static_cast<float>((i * j) % 5);
          case rows: return i % 5 == 4 ? -inf : 0.3f;
          case none: break;
        }
        return 0.0f;
      };
      Tensor q(DType::f32, qs), k(DType::f32, ks), v(DType::f32, vs), mask(DType::f32, ms), out(DType::f32, os),
          lengths(DType::i64, {c.batch});
      for (int64_t i = 0; i < q.numel(); ++i) q.data_as<float>()[i] = static_cast<float>(std::sin(0.37 * i + 0.1));
      for (int64_t i = 0; i < k.numel(); ++i) k.data_as<float>()[i] = static_cast<float>(std::cos(0.23 * i));
      for (int64_t i = 0; i < v.numel(); ++i) v.data_as<float>()[i] = static_cast<float>(std::sin(0.71 * i + 1.0));
      Tensor k16(DType::bf16, ks), v16(DType::bf16, vs);
      if (kv16)
        for (auto [wide, narrow] : {std::pair{&k, &k16}, std::pair{&v, &v16}})
          for (int64_t i = 0; i < wide->numel(); ++i) {
            float& x = wide->data_as<float>()[i];
            x = bf16_reference(x);
            narrow->data_as<uint16_t>()[i] = static_cast<uint16_t>(std::bit_cast<uint32_t>(x) >> 16);
          }
      for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t i = 0; i < ms[2]; ++i)
          for (int64_t j = 0; j < ms[3]; ++j) mask.data_as<float>()[(b * ms[2] + i) * ms[3] + j] = mask_at(b, i, j);
      for (int64_t b = 0; b < c.batch; ++b) lengths.data_as<int64_t>()[b] = c.lengths.empty() ? c.tk : c.lengths[b];
      GraphBuilder g;
      // Layout bshd: the heads after the positions.
      auto heads = [&](int64_t width) { return bshd ? std::vector<int64_t>{-1, -1, c.heads, width} : std::vector<int64_t>{-1, c.heads, -1, width}; };
      std::vector<int32_t> ins{g.value("q", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, heads(c.d)),
                               g.value("k", LOOM_VALUE_INPUT, kv16 ? LOOM_DTYPE_BF16 : LOOM_DTYPE_F32, heads(c.d)),
                               g.value("v", LOOM_VALUE_INPUT, kv16 ? LOOM_DTYPE_BF16 : LOOM_DTYPE_F32, heads(c.dv)), -1, -1};
      if (c.mask != none) ins[3] = g.value("mask", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, 1, -1, -1});
      if (!c.lengths.empty()) ins[4] = g.value("valid_length", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {-1});
      if (c.lengths.empty()) ins.pop_back();
      if (c.mask == none && c.lengths.empty()) ins.pop_back();
      const int o = g.value("out", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, heads(c.dv));
      g.node("attention", ins, {o}, {Attr::boolean("causal", c.causal), Attr::string("layout", bshd ? "bshd" : "bhsd")});
      // Either layout runs on tiles in bf16; f32 leaves heads without a causal mask or valid
      // lengths to the decomposition, and runs the others on the packed GEMM (bshd in place).
      if (!c.causal && c.lengths.empty()) {
        CHECK(loom::test::unsupported_reason(bf16.backend(), g) == "");
        CHECK(loom::test::unsupported_reason(f32.backend(), g).find("decomposed") != std::string::npos);
      } else {
        CHECK(loom::test::unsupported_reason(bf16.backend(), g) == "");
        CHECK(loom::test::unsupported_reason(f32.backend(), g) == "");
      }
      loom::test::Executable exe(bf16.backend(), g);
      Tensor& kin = kv16 ? k16 : k;
      Tensor& vin = kv16 ? v16 : v;
      Tensor qt = loom::test::swap_heads(q), kt = loom::test::swap_heads(kin), vt = loom::test::swap_heads(vin), outt = loom::test::swap_heads(out);
      std::vector<std::vector<int64_t>> shapes{bshd ? qt.shape() : qs, bshd ? kt.shape() : ks, bshd ? vt.shape() : vs};
      std::vector<Tensor*> args{bshd ? &qt : &q, bshd ? &kt : &kin, bshd ? &vt : &vin};
      if (c.mask != none) {
        shapes.push_back(ms);
        args.push_back(&mask);
      }
      if (!c.lengths.empty()) {
        shapes.push_back({c.batch});
        args.push_back(&lengths);
      }
      shapes.push_back(bshd ? outt.shape() : os);
      args.push_back(bshd ? &outt : &out);
      exe.prepare(shapes).run(args);
      if (bshd) out = loom::test::swap_heads(outt);
      const bool tiles = c.tq >= 16;
      const double scale = 1 / std::sqrt(static_cast<double>(c.d));
      double worst = 0, off_f32 = 0;
      int64_t nan_rows = 0, wrong_nans = 0;
      for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t h = 0; h < c.heads; ++h)
          for (int64_t i = 0; i < c.tq; ++i) {
            const int64_t valid = lengths.data_as<int64_t>()[b];
            const int64_t visible = c.causal ? std::clamp<int64_t>(valid - c.tq + i + 1, 0, valid) : valid;
            // Per key: the score from rounded and from exact operands, then softmax of each.
            std::vector<double> sr(static_cast<size_t>(visible)), se(static_cast<size_t>(visible));
            double top_r = -INFINITY, top_e = -INFINITY;
            for (int64_t j = 0; j < visible; ++j) {
              double r = 0, e = 0;
              for (int64_t x = 0; x < c.d; ++x) {
                const float qv = q.data_as<float>()[((b * c.heads + h) * c.tq + i) * c.d + x];
                const float kv = k.data_as<float>()[((b * c.heads + h) * c.tk + j) * c.d + x];
                r += static_cast<double>(bf16_reference(qv)) * bf16_reference(kv);
                e += static_cast<double>(qv) * kv;
              }
              const double m = mask_at(b, i, j);
              sr[static_cast<size_t>(j)] = r * scale + m;
              se[static_cast<size_t>(j)] = e * scale + m;
              top_r = std::max(top_r, sr[static_cast<size_t>(j)]);
              top_e = std::max(top_e, se[static_cast<size_t>(j)]);
            }
            const float* got = out.data_as<float>() + ((b * c.heads + h) * c.tq + i) * c.dv;
            if (top_r == -INFINITY) {  // no key to see
              for (int64_t y = 0; y < c.dv; ++y) wrong_nans += !std::isnan(got[y]);
              ++nan_rows;
              continue;
            }
            double sum_r = 0, sum_e = 0;
            for (int64_t j = 0; j < visible; ++j) {
              sum_r += std::exp(sr[static_cast<size_t>(j)] - top_r);
              sum_e += std::exp(se[static_cast<size_t>(j)] - top_e);
            }
            for (int64_t y = 0; y < c.dv; ++y) {
              double r = 0, e = 0;
              for (int64_t j = 0; j < visible; ++j) {
                const float vv = v.data_as<float>()[((b * c.heads + h) * c.tk + j) * c.dv + y];
                r += std::exp(sr[static_cast<size_t>(j)] - top_r) / sum_r * bf16_reference(vv);
                e += std::exp(se[static_cast<size_t>(j)] - top_e) / sum_e * vv;
              }
              wrong_nans += std::isnan(got[y]);
              worst = std::max(worst, std::fabs((tiles ? r : e) - got[y]));
              off_f32 = std::max(off_f32, std::fabs(e - got[y]));
            }
          }
      CHECK(wrong_nans == 0);
      CHECK(worst < (tiles ? 2.5e-3 : 1e-5));  // |v| <= 1: 2^-9 for p's rounding, and the sums
      if (tiles) CHECK(off_f32 > 1e-4);
      const bool some_nan = (c.mask == keys && c.batch > 1) || c.mask == rows ||
                            std::count(c.lengths.begin(), c.lengths.end(), 0) > 0;
      CHECK((nan_rows > 0) == some_nan);
    }
  }
}

#endif  // LOOM_TEST_ONEDNN
