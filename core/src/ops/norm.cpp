#include "ops/families.hpp"

namespace loom::ops {

void register_norm(std::vector<OpSchema>& ops) {
  ops.push_back(OpSchema{
      "layer_norm", "(x - mean) / sqrt(var + epsilon) * weight + bias over dims axis..", {{"x"}, {"weight", true}, {"bias", true}},
      {{"out"}}, {attr_with_default("axis", int64_t(-1)), attr_with_default("epsilon", 1e-5)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        const SymShape& x = c.input(0).shape;
        c.expect_rank_at_least(0, 1);
        int64_t axis = c.axis(c.attr_int("axis"), x.size(), "axis");
        SymShape normalized(x.begin() + axis, x.end());
        for (size_t i = 1; i <= 2; ++i) {
          if (!c.has_input(i)) continue;
          c.expect_same_dtype(0, i);
          if (!(c.input(i).shape == normalized))
            c.fail("'" + c.node().inputs[i] + "' has shape " + sym_shape_str(c.input(i).shape) + ", expected " +
                   sym_shape_str(normalized));
        }
        if (c.attr_float("epsilon") < 0) c.fail("attribute 'epsilon' must not be negative");
        c.set_output(0, c.input(0));
      }});

  ops.push_back(OpSchema{
      "softmax", "softmax(x + mask) along axis", {{"x"}, {"mask", true}}, {{"out"}},
      {attr_with_default("axis", int64_t(-1))},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_rank_at_least(0, 1);
        c.axis(c.attr_int("axis"), c.input(0).shape.size(), "axis");
        if (c.has_input(1)) {
          c.expect_same_dtype(0, 1);
          auto b = broadcast(c.input(0).shape, c.input(1).shape);
          if (!b || !(*b == c.input(0).shape))
            c.fail("mask " + sym_shape_str(c.input(1).shape) + " does not broadcast to x " + sym_shape_str(c.input(0).shape));
        }
        c.set_output(0, c.input(0));
      }});
}

}  // namespace loom::ops
