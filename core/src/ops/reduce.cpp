#include "ops/families.hpp"

#include <set>

namespace loom::ops {

void register_reduce(std::vector<OpSchema>& ops) {
  // BEiT's mean pooling over the patch tokens, and any mean over axes.
  ops.push_back(OpSchema{
      "reduce_mean", "mean of x over axes (each once), kept as size-1 dims with keepdims", {{"x"}}, {{"out"}},
      {required_attr("axes", AttrType::Ints), attr_with_default("keepdims", false)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        const SymShape& x = c.input(0).shape;
        const auto& axes = c.attr_ints("axes");
        if (axes.empty()) c.fail("attribute 'axes' names no axis");
        std::set<int64_t> reduced;
        for (int64_t a : axes)
          if (!reduced.insert(c.axis(a, x.size(), "axes")).second) c.fail("attribute 'axes' names axis " + std::to_string(a) + " twice");
        const bool keep = c.attr_bool("keepdims");
        SymShape out;
        for (size_t i = 0; i < x.size(); ++i) {
          if (!reduced.count(static_cast<int64_t>(i))) out.push_back(x[i]);
          else if (keep) out.push_back(Dim::known(1));
        }
        c.set_output(0, {c.input(0).dtype, out});
      }});

  // Indices of the largest values (the first one on ties, as torch.argmax): CLIP's eos position.
  ops.push_back(OpSchema{
      "argmax", "i64 index of the largest value along axis (the first on ties)", {{"x"}}, {{"out"}},
      {attr_with_default("axis", int64_t(-1)), attr_with_default("keepdims", false)},
      [](InferContext& c) {
        c.expect_dtype(0, kNumeric);
        c.expect_rank_at_least(0, 1);
        const SymShape& x = c.input(0).shape;
        const int64_t axis = c.axis(c.attr_int("axis"), x.size(), "axis");
        if (x[static_cast<size_t>(axis)].is_known() && x[static_cast<size_t>(axis)].value() == 0)
          c.fail("argmax along an axis of size 0");
        SymShape out = x;
        if (c.attr_bool("keepdims")) out[static_cast<size_t>(axis)] = Dim::known(1);
        else out.erase(out.begin() + axis);
        c.set_output(0, {DType::i64, out});
      }});

  // The k largest values along an axis, largest first, with their i64 indices (the lower index
  // first among equal values).
  ops.push_back(OpSchema{
      "topk", "the k largest values along axis, sorted, and their i64 indices", {{"x"}}, {{"values"}, {"indices"}},
      {required_attr("k", AttrType::Int), attr_with_default("axis", int64_t(-1))},
      [](InferContext& c) {
        c.expect_dtype(0, kNumeric);
        c.expect_rank_at_least(0, 1);
        const SymShape& x = c.input(0).shape;
        const int64_t axis = c.axis(c.attr_int("axis"), x.size(), "axis");
        const int64_t k = c.attr_int("k");
        if (k < 1) c.fail("attribute 'k' must be at least 1, not " + std::to_string(k));
        const Dim& n = x[static_cast<size_t>(axis)];
        if (n.is_known() && k > n.value())
          c.fail("k = " + std::to_string(k) + " is larger than the axis (" + std::to_string(n.value()) + ")");
        SymShape out = x;
        out[static_cast<size_t>(axis)] = Dim::known(k);
        c.set_output(0, {c.input(0).dtype, out});
        c.set_output(1, {DType::i64, out});
      }});
}

}  // namespace loom::ops
