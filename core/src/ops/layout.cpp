#include "ops/families.hpp"

namespace loom::ops {

void register_layout(std::vector<OpSchema>& ops) {
  // Swin's cyclic shift of the windows (torch.roll).
  ops.push_back(OpSchema{
      "roll", "x shifted cyclically along axes: out[.., (i + shift) mod n, ..] = x[.., i, ..]", {{"x"}}, {{"out"}},
      {required_attr("shifts", AttrType::Ints), required_attr("axes", AttrType::Ints)},
      [](InferContext& c) {
        const auto& shifts = c.attr_ints("shifts");
        const auto& axes = c.attr_ints("axes");
        if (axes.empty() || shifts.size() != axes.size())
          c.fail("attributes 'shifts' and 'axes' must name as many shifts as axes, at least one (" + std::to_string(shifts.size()) +
                 " and " + std::to_string(axes.size()) + ")");
        for (int64_t a : axes) c.axis(a, c.input(0).shape.size(), "axes");
        c.set_output(0, c.input(0));
      }});

  // Swin's padding of the feature map to a multiple of the window (F.pad with a constant).
  ops.push_back(OpSchema{
      "pad", "x with before[i] and after[i] elements of `value` added along each axis i", {{"x"}}, {{"out"}},
      {required_attr("before", AttrType::Ints), required_attr("after", AttrType::Ints), attr_with_default("value", 0.0)},
      [](InferContext& c) {
        const SymShape& x = c.input(0).shape;
        const auto& before = c.attr_ints("before");
        const auto& after = c.attr_ints("after");
        if (before.size() != x.size() || after.size() != x.size())
          c.fail("attributes 'before' and 'after' need one entry per axis of x " + sym_shape_str(x));
        SymShape out = x;
        for (size_t i = 0; i < x.size(); ++i) {
          if (before[i] < 0 || after[i] < 0 || before[i] > (int64_t(1) << 40) || after[i] > (int64_t(1) << 40))
            c.fail("padding of axis " + std::to_string(i) + " must be between 0 and 2^40, not " + std::to_string(before[i]) + " and " +
                   std::to_string(after[i]));
          out[i] = x[i] + Dim::known(before[i] + after[i]);
        }
        c.set_output(0, {c.input(0).dtype, out});
      }});
}

}  // namespace loom::ops
