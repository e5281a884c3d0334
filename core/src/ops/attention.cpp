// The ops of generation with a KV cache: fused scaled dot-product attention that reads only the
// filled prefix of a cache, and the in-place write of new rows into a cache at a per-row offset.
#include "ops/families.hpp"

#include <cmath>

namespace loom::ops {

namespace {

bool compatible(const Dim& a, const Dim& b) { return a == b || a.is_unknown() || b.is_unknown(); }

// A per-row i64 vector [batch] (offsets, valid lengths).
void expect_per_row(InferContext& c, size_t input, const Dim& batch) {
  c.expect_dtype(input, {DType::i64});
  const SymShape& s = c.input(input).shape;
  if (s.size() != 1 || !compatible(s[0], batch))
    c.fail("'" + c.node().inputs[input] + "' must be i64 [" + batch.str() + "] (one value per batch row), got " +
           sym_shape_str(s));
}

}  // namespace

void register_attention(std::vector<OpSchema>& ops) {
  ops.push_back(OpSchema{
      "attention",
      "softmax(scale * q @ k^T + mask, keys limited by valid_length and causality) @ v, per head",
      {{"q"}, {"k"}, {"v"}, {"mask", true}, {"valid_length", true}},
      {{"out"}},
      {{"causal", AttrType::Bool, AttrValue{false}},
       {"scale", AttrType::Float, AttrValue{0.0}},
       // bshd (op set 7): q, k, v and out are [batch, positions, heads, head_dim], the heads
       // of a projection before their transpose, so that no copy moves them.
       attr_with_default("layout", std::string("bhsd"), 7)},
      [](InferContext& c) {
        // k and v share a dtype, which may be a narrower one than q's (op set 8): a KV cache kept
        // in bf16 (the session option kv_cache) is read as it lies.
        c.expect_dtype(0, kFloat);
        c.expect_dtype(1, kFloat);
        c.expect_same_dtype(1, 2);
        const std::string& layout = c.attr_string("layout");
        if (layout != "bhsd" && layout != "bshd") c.fail("attribute 'layout' is '" + layout + "', not bhsd or bshd");
        const bool bshd = layout == "bshd";
        for (size_t i = 0; i < 3; ++i)
          if (c.input(i).shape.size() != 4)
            c.fail("'" + c.node().inputs[i] + "' must be 4-D [batch, " + (bshd ? "positions, heads" : "heads, positions") +
                   ", head_dim], got " + sym_shape_str(c.input(i).shape));
        // Each input as [batch, heads, positions, head_dim], whatever its layout.
        auto heads_first = [&](size_t i) {
          const SymShape& s = c.input(i).shape;
          return bshd ? SymShape{s[0], s[2], s[1], s[3]} : s;
        };
        const SymShape q = heads_first(0), k = heads_first(1), v = heads_first(2);
        if (!compatible(q[0], k[0]) || !compatible(q[1], k[1]) || !compatible(q[3], k[3]))
          c.fail("q " + sym_shape_str(c.input(0).shape) + " and k " + sym_shape_str(c.input(1).shape) +
                 " must agree in batch, heads and head_dim");
        if (!compatible(k[0], v[0]) || !compatible(k[1], v[1]) || !compatible(k[2], v[2]))
          c.fail("k " + sym_shape_str(c.input(1).shape) + " and v " + sym_shape_str(c.input(2).shape) +
                 " must agree in batch, heads and positions");
        if (c.has_input(3)) {
          c.expect_same_dtype(0, 3);
          SymShape scores = {q[0], q[1], q[2], k[2]};
          auto b = broadcast(scores, c.input(3).shape);
          if (!b || !(*b == scores))
            c.fail("mask " + sym_shape_str(c.input(3).shape) + " does not broadcast to the scores " + sym_shape_str(scores));
        }
        if (c.has_input(4)) expect_per_row(c, 4, q[0]);
        if (!(c.attr_float("scale") >= 0) || std::isinf(c.attr_float("scale")))
          c.fail("attribute 'scale' must be a finite number >= 0 (0 means 1/sqrt(head_dim))");
        c.set_output(0, {c.input(0).dtype, bshd ? SymShape{q[0], q[2], q[1], v[3]} : SymShape{q[0], q[1], q[2], v[3]}});
      },
      {},
      false,
      [](std::span<const DType> in) -> uint32_t { return in.size() >= 2 && in[1] != in[0] ? 8 : 1; }});

  OpSchema write{
      "cache_write", "cache with update written at offset[b] along axis, row by row (in place)",
      {{"cache"}, {"update"}, {"offset"}},
      {{"out"}},
      {{"axis", AttrType::Int, AttrValue{int64_t(2)}}},
      [](InferContext& c) {
        c.expect_same_dtype(0, 1);
        const SymShape &cache = c.input(0).shape, &update = c.input(1).shape;
        if (cache.size() < 2) c.fail("cache must have a batch dim and at least one more, got " + sym_shape_str(cache));
        const int64_t axis = c.axis(c.attr_int("axis"), cache.size(), "axis");
        if (axis == 0) c.fail("attribute 'axis' must not be the batch axis 0");
        if (update.size() != cache.size())
          c.fail("update " + sym_shape_str(update) + " must have the rank of cache " + sym_shape_str(cache));
        for (size_t i = 0; i < cache.size(); ++i) {
          if (static_cast<int64_t>(i) == axis) {
            if (cache[i].is_known() && update[i].is_known() && update[i].value() > cache[i].value())
              c.fail("update " + sym_shape_str(update) + " has more positions than cache " + sym_shape_str(cache));
            continue;
          }
          if (!compatible(cache[i], update[i]))
            c.fail("update " + sym_shape_str(update) + " must match cache " + sym_shape_str(cache) + " except along axis " +
                   std::to_string(axis));
        }
        expect_per_row(c, 2, cache[0]);
        c.set_output(0, c.input(0));
      },
      {0}};
  ops.push_back(std::move(write));
}

}  // namespace loom::ops
