#include "ops/families.hpp"

namespace loom::ops {

namespace {

// One spatial dim of the output: (n + 2·pad − kernel) / stride + 1, or unknown when n is not
// known (a symbolic image size becomes concrete when the run binds it).
Dim conv_out(InferContext& c, const Dim& n, const Dim& kernel, int64_t stride, int64_t pad, const char* axis) {
  if (kernel.is_known() && kernel.value() < 1)
    c.fail(std::string("kernel ") + axis + " " + std::to_string(kernel.value()) + " is empty (PyTorch's conv2d refuses a kernel of size 0)");
  if (!n.is_known() || !kernel.is_known()) return Dim::unknown();
  const int64_t span = n.value() + 2 * pad;
  if (kernel.value() > span)
    c.fail(std::string("kernel ") + axis + " " + std::to_string(kernel.value()) + " is larger than the padded input's " +
           std::to_string(span));
  return Dim::known((span - kernel.value()) / stride + 1);
}

}  // namespace

void register_conv(std::vector<OpSchema>& ops) {
  // The vision models' patch embedding (nn.Conv2d with stride = kernel), and convolution in general.
  ops.push_back(OpSchema{
      "conv2d", "2-D cross-correlation of x [B, C, H, W] with weight [O, C, kH, kW], plus bias [O]",
      {{"x"}, {"weight"}, {"bias", true}}, {{"out"}},
      {attr_with_default("stride", std::vector<int64_t>{1, 1}), attr_with_default("padding", std::vector<int64_t>{0, 0})},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_same_dtype(0, 1);
        const SymShape& x = c.input(0).shape;
        const SymShape& w = c.input(1).shape;
        if (x.size() != 4) c.fail("x must be 4-D [batch, channels, height, width], got " + sym_shape_str(x));
        if (w.size() != 4) c.fail("weight '" + c.node().inputs[1] + "' must be 4-D [out, in, kH, kW], got " + sym_shape_str(w));
        if (!(x[1] == w[1]) && !x[1].is_unknown() && !w[1].is_unknown())
          c.fail("x has " + x[1].str() + " channels but weight " + sym_shape_str(w) + " takes " + w[1].str());
        if (c.has_input(2)) {
          c.expect_same_dtype(0, 2);
          const SymShape& b = c.input(2).shape;
          if (b.size() != 1 || !(b[0] == w[0])) c.fail("bias " + sym_shape_str(b) + " must have shape [" + w[0].str() + "]");
        }
        const auto& stride = c.attr_ints("stride");
        const auto& padding = c.attr_ints("padding");
        if (stride.size() != 2 || stride[0] < 1 || stride[1] < 1 || stride[0] > (int64_t(1) << 30) || stride[1] > (int64_t(1) << 30))
          c.fail("attribute 'stride' must be two strides between 1 and 2^30 (height, width)");
        if (padding.size() != 2 || padding[0] < 0 || padding[1] < 0 || padding[0] > (int64_t(1) << 30) || padding[1] > (int64_t(1) << 30))
          c.fail("attribute 'padding' must be two paddings between 0 and 2^30 (height, width)");
        c.set_output(0, {c.input(0).dtype,
                         {x[0], w[0], conv_out(c, x[2], w[2], stride[0], padding[0], "height"),
                          conv_out(c, x[3], w[3], stride[1], padding[1], "width")}});
      }});
}

}  // namespace loom::ops
