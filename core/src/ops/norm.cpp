#include "ops/families.hpp"

namespace loom::ops {

namespace {

// layer_norm over dims axis.. of `x`: checks weight and bias (inputs first_param and the next)
// against the normalised dims.
void check_norm_params(InferContext& c, const TensorInfo& x, size_t first_param) {
  if (!(x.dtype == DType::f32 || x.dtype == DType::f16 || x.dtype == DType::bf16))
    c.fail("the normalised value has dtype " + std::string(dtype_name(x.dtype)) + ", expected a float dtype");
  if (x.shape.empty()) c.fail("the normalised value is a scalar; layer norm needs rank >= 1");
  const int64_t axis = c.axis(c.attr_int("axis"), x.shape.size(), "axis");
  const SymShape normalized(x.shape.begin() + axis, x.shape.end());
  for (size_t i = first_param; i <= first_param + 1; ++i) {
    if (!c.has_input(i)) continue;
    if (c.input(i).dtype != x.dtype)
      c.fail("'" + c.node().inputs[i] + "' has dtype " + std::string(dtype_name(c.input(i).dtype)) + ", expected " +
             std::string(dtype_name(x.dtype)));
    if (!(c.input(i).shape == normalized))
      c.fail("'" + c.node().inputs[i] + "' has shape " + sym_shape_str(c.input(i).shape) + ", expected " +
             sym_shape_str(normalized));
  }
  if (c.attr_float("epsilon") < 0) c.fail("attribute 'epsilon' must not be negative");
}

}  // namespace

void register_norm(std::vector<OpSchema>& ops) {
  const std::vector<AttrSpec> norm_attrs = {attr_with_default("axis", int64_t(-1)),
                                            attr_with_default("epsilon", 1e-5)};
  ops.push_back(OpSchema{
      "layer_norm", "(x - mean) / sqrt(var + epsilon) * weight + bias over dims axis..", {{"x"}, {"weight", true}, {"bias", true}},
      {{"out"}}, norm_attrs,
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_rank_at_least(0, 1);
        check_norm_params(c, c.input(0), 1);
        c.set_output(0, c.input(0));
      }});

  // The residual add and the layer norm after it, as in every post-norm encoder layer; `sum`
  // (a + b) is an output only when something else reads it (a pre-norm residual stream).
  ops.push_back(OpSchema{
      "add_layer_norm", "layer_norm(a + b) over dims axis.., and optionally the sum a + b",
      {{"a"}, {"b"}, {"weight", true}, {"bias", true}}, {{"out"}, {"sum", true}}, norm_attrs,
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_same_dtype(0, 1);
        auto shape = broadcast(c.input(0).shape, c.input(1).shape);
        if (!shape)
          c.fail("a " + sym_shape_str(c.input(0).shape) + " and b " + sym_shape_str(c.input(1).shape) + " do not broadcast");
        const TensorInfo sum{c.input(0).dtype, *shape};
        check_norm_params(c, sum, 2);
        c.set_output(0, sum);
        c.set_output(1, sum);
      }});

  // ImageGPT's LayerNorm (and T5's, Llama's): no centring and no bias.
  ops.push_back(OpSchema{
      "rms_norm", "x / sqrt(mean(x^2) + epsilon) * weight over dims axis..", {{"x"}, {"weight", true}}, {{"out"}}, norm_attrs,
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_rank_at_least(0, 1);
        check_norm_params(c, c.input(0), 1);
        c.set_output(0, c.input(0));
      }});

  // CLIP's embeddings: x / ||x||_2 along an axis; with epsilon > 0, x / max(||x||, epsilon)
  // (torch.nn.functional.normalize). A zero vector with epsilon 0 gives NaN, as x / x.norm() does.
  ops.push_back(OpSchema{
      "l2_normalize", "x / max(||x||_2, epsilon) along axis", {{"x"}}, {{"out"}},
      {attr_with_default("axis", int64_t(-1)), attr_with_default("epsilon", 0.0)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_rank_at_least(0, 1);
        c.axis(c.attr_int("axis"), c.input(0).shape.size(), "axis");
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
