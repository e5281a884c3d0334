// attention (fused and decomposed, with every mask, valid length and causality), cache_write and
// key_mask.
#include "op_case.hpp"

#include <limits>

namespace loom::conformance {

namespace {

struct AttentionCase {
  int64_t b, h, tq, tk, d, dv;
  bool causal = false;
  bool valid_length = false;
  Shape mask;       // empty: none
  double scale = 0;
  bool bshd = false;  // layout bshd: q, k, v and out [B, T, H, D]
};

std::string describe(const AttentionCase& c) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "B" + std::to_string(...).
  std::string s;
  for (auto [label, value] : {std::pair<const char*, int64_t>{"B", c.b}, {" H", c.h}, {" Tq", c.tq}, {" Tk", c.tk}, {" D", c.d}}) {
    s += label;
    s += std::to_string(value);
  }
  if (c.dv != c.d) {
    s += " Dv";
    s += std::to_string(c.dv);
  }
  if (c.causal) s += " causal";
  if (c.valid_length) s += " valid_length";
  if (!c.mask.empty()) s += " mask " + dims(c.mask);
  if (c.scale) s += " scale " + std::to_string(c.scale);
  if (c.bshd) s += " bshd";
  return s;
}

void attention(std::vector<OpCase>& out) {
  const AttentionCase cases[] = {
      {1, 1, 1, 1, 1, 1},
      {2, 3, 5, 5, 8, 8},
      {1, 2, 7, 7, 16, 16, true},
      {2, 2, 1, 9, 8, 8, false, true},             // a decode step reading a cache's prefix
      {2, 2, 3, 9, 8, 8, true, true},              // causal over the last Tq positions
      {2, 1, 4, 6, 5, 3, false, false, {2, 1, 1, 6}},
      {1, 2, 3, 4, 8, 8, false, false, {1, 2, 3, 4}, 0.5},
      {2, 2, 5, 5, 9, 9, true, true, {2, 1, 1, 5}},
      {1, 3, 17, 17, 33, 33, true},
      {2, 4, 33, 65, 40, 40, false, true, {2, 1, 1, 65}},  // large
      {1, 2, 100, 100, 16, 20, true},                       // several blocks of queries, causal
      {2, 1, 130, 150, 24, 8, true, true, {2, 1, 1, 150}},   // causal over a valid prefix, several blocks
      {1, 1, 800, 800, 8, 8, true},                          // spans past one slice of the GEMM's K
      {1, 3, 1, 37, 64, 64, false, true},                    // decode steps of 64-wide heads
      {2, 2, 1, 21, 36, 40, true, true, {2, 1, 1, 21}},      // ... of odd widths, masked
      {2, 2, 1, 6, 16, 16, true, true, {2, 1, 1, 6}},        // ... 16 wide, keys past a block of 4
      {1, 2, 1, 23, 32, 80, false, true, {}, 0, true},       // ... bshd, values past 64 wide
      {2, 3, 5, 5, 8, 8, false, false, {}, 0, true},         // heads after the positions (bshd)
      {2, 2, 3, 9, 8, 6, true, true, {2, 1, 1, 9}, 0, true},
      {1, 3, 4, 6, 8, 8, false, false, {1, 3, 4, 6}, 0.5, true},
      {2, 4, 33, 65, 64, 64, false, true, {2, 1, 1, 65}, 0, true},
      {1, 2, 100, 100, 32, 32, true, false, {}, 0, true},
  };
  // Every dtype, and f32 queries over bf16 keys and values (a KV cache kept in bf16, op set 8).
  struct Dtypes {
    DType q, kv;
  };
  for (Dtypes t : {Dtypes{DType::f32, DType::f32}, {DType::f16, DType::f16}, {DType::bf16, DType::bf16}, {DType::f32, DType::bf16}})
    for (const AttentionCase& c : cases)
      for (bool decompose : {false, true}) {
        if (t.kv != DType::f32 && t.q != DType::f32 && c.tk > 20) continue;
        const std::string name = t.q == t.kv ? std::string(dtype_name(t.q)) : "f32 q, bf16 k v";
        CaseBuilder b("attention", name + " " + describe(c));
        auto heads = [&](int64_t positions, int64_t width) {
          return c.bshd ? Shape{c.b, positions, c.h, width} : Shape{c.b, c.h, positions, width};
        };
        b.input("q", t.q, heads(c.tq, c.d)).input("k", t.kv, heads(c.tk, c.d)).input("v", t.kv, heads(c.tk, c.dv));
        if (!c.mask.empty()) b.input("mask", t.q, c.mask, {-3, 0});
        else if (c.valid_length) b.absent();
        if (c.valid_length) {
          // One row sees every key; the others fewer (a causal row needs at least Tq).
          Tensor lengths = b.random(DType::i64, {c.b}, {static_cast<double>(c.tq), static_cast<double>(c.tk)});
          set_element(lengths, 0, static_cast<double>(c.tk));
          b.input("valid_length", lengths);
        }
        b.attr("causal", c.causal).attr("scale", c.scale);
        if (c.bshd) b.attr("layout", std::string("bshd"));
        if (decompose) b.decomposed();
        out.push_back(b.build());
      }
  // -inf in the mask: a row with every key -inf gives NaN; rows whose only finite scores come
  // late (past a first tile of keys), first, or after -inf ones, and a row of the lowest float
  // (Hugging Face's padding: the average of every value).
  for (bool bshd : {false, true})
  for (bool causal : {false, true}) {
    CaseBuilder b("attention", std::string("f32 mask -inf rows") + (causal ? " causal valid_length" : "") + (bshd ? " bshd" : ""));
    const double inf = std::numeric_limits<double>::infinity(), lowest = std::numeric_limits<float>::lowest();
    const int64_t tq = 20, tk = 70;
    Tensor mask = b.random(DType::f32, {2, 1, tq, tk}, {-3, 0});
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t j = 0; j < tk; ++j) {
        const int64_t row = r * tq * tk;
        set_element(mask, row + j, -inf);
        if (j < 65) set_element(mask, row + tk + j, -inf);
        if (j > 0) set_element(mask, row + 2 * tk + j, -inf);
        set_element(mask, row + 3 * tk + j, j < 40 ? -inf : lowest);
        set_element(mask, row + 4 * tk + j, lowest);
        if (j % 3 == 0) set_element(mask, row + 5 * tk + j, -inf);
      }
    auto heads = [&](int64_t positions, int64_t width) { return bshd ? Shape{2, positions, 2, width} : Shape{2, 2, positions, width}; };
    b.input("q", DType::f32, heads(tq, 8)).input("k", DType::f32, heads(tk, 8)).input("v", DType::f32, heads(tk, 6));
    b.input("mask", mask);
    if (bshd) b.attr("layout", std::string("bshd"));
    if (causal) {
      Tensor lengths(DType::i64, {2});
      set_element(lengths, 0, static_cast<double>(tk));
      set_element(lengths, 1, 45);
      b.input("valid_length", lengths);
    }
    out.push_back(b.attr("causal", causal).build());
  }
  // A row with no key to see gives NaN, as PyTorch.
  for (bool bshd : {false, true}) {
    CaseBuilder b("attention", bshd ? "f32 valid_length 0 bshd" : "f32 valid_length 0");
    Tensor lengths(DType::i64, {2});
    set_element(lengths, 1, 3);
    const Shape q{2, 2, 2, 4}, kv = bshd ? Shape{2, 3, 2, 4} : Shape{2, 2, 3, 4};  // [B, 2, 2, 4] either way
    b.input("q", DType::f32, q).input("k", DType::f32, kv).input("v", DType::f32, kv).absent().input("valid_length", lengths);
    if (bshd) b.attr("layout", std::string("bshd"));
    out.push_back(b.build());
  }
  // Keys and values past the valid length are never read: a KV cache's unwritten tail holding
  // NaN and inf leaves the output finite.
  {
    CaseBuilder t("attention", "f32 valid_length over a tail of NaN and inf");
    Tensor k = t.random(DType::f32, {2, 2, 5, 8}, {-1, 1}), v = t.random(DType::f32, {2, 2, 5, 6}, {-1, 1});
    for (int64_t bh = 0; bh < 4; ++bh)
      for (int64_t j = 3; j < 5; ++j) {
        for (int64_t c = 0; c < 8; ++c) set_element(k, (bh * 5 + j) * 8 + c, std::numeric_limits<double>::quiet_NaN());
        for (int64_t c = 0; c < 6; ++c) set_element(v, (bh * 5 + j) * 6 + c, std::numeric_limits<double>::infinity());
      }
    Tensor valid(DType::i64, {2});
    set_element(valid, 0, 3);
    set_element(valid, 1, 2);
    out.push_back(t.input("q", DType::f32, {2, 2, 3, 8}).input("k", k).input("v", v).absent().input("valid_length", valid).build());
  }
}

void cache_write(std::vector<OpCase>& out) {
  struct CacheCase {
    Shape cache;
    int64_t t, axis;
  };
  const CacheCase cases[] = {{{2, 3, 8, 4}, 1, 2}, {{2, 3, 8, 4}, 3, 2}, {{1, 2, 5, 3}, 5, 2}, {{3, 7, 5}, 2, 1}, {{2, 2, 9, 17}, 4, -2},
                             // empty rows after the axis
                             {{2, 8, 0}, 2, 1}, {{2, 3, 8, 0}, 1, 2}};
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::i64})
    for (const auto& c : cases) {
      if (t != DType::f32 && c.cache.size() != 4) continue;
      const int64_t axis = c.axis < 0 ? c.axis + static_cast<int64_t>(c.cache.size()) : c.axis;
      Shape update = c.cache;
      update[axis] = c.t;
      CaseBuilder b("cache_write", std::string(dtype_name(t)) + " cache " + dims(c.cache) + " update " + dims(update) + " axis " +
                                       std::to_string(c.axis));
      b.input("cache", t, c.cache, {-9, 9}).input("update", t, update, {10, 20});
      b.input("offset", DType::i64, {c.cache[0]}, {0, static_cast<double>(c.cache[axis] - c.t)});
      out.push_back(b.attr("axis", c.axis).build());
    }
}

void key_mask(std::vector<OpCase>& out) {
  const double lowest = std::numeric_limits<float>::lowest();
  struct MaskCase {
    Shape scores;
    bool valid_length, causal;
    double fill;
  };
  const MaskCase cases[] = {{{2, 1, 3, 5}, true, false, -INFINITY}, {{2, 4, 3, 5}, false, true, -INFINITY},
                            {{3, 2, 4, 7}, true, true, -INFINITY},  {{2, 3, 6}, true, true, lowest},
                            {{1, 1, 1, 1}, false, true, -INFINITY}};
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const auto& c : cases) {
      const int64_t tq = c.scores[c.scores.size() - 2], tk = c.scores.back();
      CaseBuilder b("key_mask", std::string(dtype_name(t)) + " " + dims(c.scores) + (c.valid_length ? " valid_length" : "") +
                                    (c.causal ? " causal" : "") + (c.fill == lowest ? " fill lowest" : ""));
      b.input("scores", t, c.scores);
      if (c.valid_length) b.input("valid_length", DType::i64, {c.scores[0]}, {static_cast<double>(c.causal ? tq : 0), static_cast<double>(tk)});
      out.push_back(b.attr("causal", c.causal).attr("fill", c.fill).build());
    }
}

}  // namespace

void attention_cases(std::vector<OpCase>& out) {
  attention(out);
  cache_write(out);
  key_mask(out);
}

}  // namespace loom::conformance
