// key_mask: 0 where query i of row b sees key j, `fill` where it does not.
#include "kernel.hpp"

namespace loom::reference {
namespace {

void key_mask(const Node& node, const Io& io) {
  const Dims& s = io.in[0].dims;
  if (s.size() < 3) node.fail("scores must have rank >= 3, got " + dims_str(s));
  const int64_t b = s[0], tq = s[s.size() - 2], tk = s.back();
  Dims dims(s.size(), 1);
  dims[0] = b;
  dims[s.size() - 2] = tq;
  dims.back() = tk;
  node.expect_dims(io.out[0], dims);
  const View absent;
  const auto lengths = valid_lengths(node, io.in.size() > 1 ? io.in[1] : absent, b, tk);
  const bool causal = node.attr_bool("causal");
  const double fill = node.attr_float("fill");
  std::vector<double> out;
  for (int64_t r = 0; r < b; ++r)
    for (int64_t i = 0; i < tq; ++i)
      for (int64_t j = 0; j < tk; ++j) out.push_back(key_visible(i, j, tq, lengths[r], causal) ? 0.0 : fill);
  write_real(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> mask_ops() { return {{"key_mask", key_mask}}; }

}  // namespace loom::reference
