// conv2d: every output element a sum over its window, in f64, rounded once.
#include "kernel.hpp"

namespace loom::reference {
namespace {

void conv2d(const Node& node, const Io& io) {
  const View &x = io.in[0], &w = io.in[1];
  if (x.dims.size() != 4 || w.dims.size() != 4) node.fail("conv2d needs 4-D x and weight");
  const auto& stride = node.attr_ints("stride");
  const auto& padding = node.attr_ints("padding");
  if (stride.size() != 2 || padding.size() != 2 || stride[0] < 1 || stride[1] < 1 || padding[0] < 0 || padding[1] < 0)
    node.fail("conv2d needs two strides >= 1 and two paddings >= 0");
  const int64_t batch = x.dims[0], c = x.dims[1], h = x.dims[2], wd = x.dims[3];
  const int64_t o = w.dims[0], kh = w.dims[2], kw = w.dims[3];
  if (w.dims[1] != c) node.fail("x " + dims_str(x.dims) + " does not match weight " + dims_str(w.dims));
  if (kh > h + 2 * padding[0] || kw > wd + 2 * padding[1]) node.fail("kernel larger than the padded input");
  const int64_t oh = (h + 2 * padding[0] - kh) / stride[0] + 1, ow = (wd + 2 * padding[1] - kw) / stride[1] + 1;
  const Dims dims = {batch, o, oh, ow};
  node.expect_dims(io.out[0], dims);
  const bool has_bias = io.in.size() > 2 && io.in[2].present;
  if (has_bias && io.in[2].dims != Dims{o}) node.fail("bias " + dims_str(io.in[2].dims) + " must be [" + std::to_string(o) + "]");

  const auto xs = read_real(x), ws = read_real(w);
  const auto bias = has_bias ? read_real(io.in[2]) : std::vector<double>(static_cast<size_t>(o), 0.0);
  std::vector<double> out(static_cast<size_t>(numel(dims)));
  size_t at = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < o; ++f)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double sum = bias[f];
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t u = 0; u < kh; ++u) {
              const int64_t y = i * stride[0] - padding[0] + u;
              if (y < 0 || y >= h) continue;
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t xx = j * stride[1] - padding[1] + v;
                if (xx < 0 || xx >= wd) continue;
                sum += xs[((b * c + ch) * h + y) * wd + xx] * ws[((f * c + ch) * kh + u) * kw + v];
              }
            }
          out[at++] = sum;
        }
  write_real(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> conv_ops() { return {{"conv2d", conv2d}}; }

}  // namespace loom::reference
