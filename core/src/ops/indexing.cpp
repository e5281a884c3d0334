#include "ops/families.hpp"

namespace loom::ops {

void register_indexing(std::vector<OpSchema>& ops) {
  ops.push_back(OpSchema{
      "gather", "rows of data picked by indices (embedding lookup)", {{"data"}, {"indices"}}, {{"out"}},
      {attr_with_default("axis", int64_t(0))},
      [](InferContext& c) {
        c.expect_dtype(1, kIndex);
        const SymShape& d = c.input(0).shape;
        c.expect_rank_at_least(0, 1);
        int64_t axis = c.axis(c.attr_int("axis"), d.size(), "axis");
        SymShape out(d.begin(), d.begin() + axis);
        out.insert(out.end(), c.input(1).shape.begin(), c.input(1).shape.end());
        out.insert(out.end(), d.begin() + axis + 1, d.end());
        c.set_output(0, {c.input(0).dtype, out});
      }});

  // One row of each batch entry, at an index of its own: CLIP's pooling at the eos token,
  // last_hidden_state[arange(B), index].
  ops.push_back(OpSchema{
      "gather_rows", "out[b] = data[b, indices[b]]: one row per batch entry along axis 1", {{"data"}, {"indices"}}, {{"out"}}, {},
      [](InferContext& c) {
        c.expect_dtype(1, kIndex);
        c.expect_rank_at_least(0, 2);
        const SymShape& d = c.input(0).shape;
        const SymShape& i = c.input(1).shape;
        if (i.size() != 1 || !(i[0] == d[0] || i[0].is_unknown() || d[0].is_unknown()))
          c.fail("indices '" + c.node().inputs[1] + "' must be [" + d[0].str() + "] (one per batch entry), has shape " + sym_shape_str(i));
        SymShape out = d;
        out.erase(out.begin() + 1);
        c.set_output(0, {c.input(0).dtype, out});
      }});

  ops.push_back(OpSchema{
      "positions", "i64 [like.shape[axis]] = offset, offset+1, ... (or [batch, ...] with one offset per row)",
      {{"like"}, {"offset", true}}, {{"out"}},
      {attr_with_default("axis", int64_t(1)), attr_with_default("per_row", false, 2)},
      [](InferContext& c) {
        const SymShape& like = c.input(0).shape;
        int64_t axis = c.axis(c.attr_int("axis"), like.size(), "axis");
        const bool per_row = c.attr_bool("per_row");
        if (per_row) {
          if (!c.has_input(1)) c.fail("per_row needs the 'offset' input (one offset per batch row)");
          if (axis == 0) c.fail("per_row positions run along an axis other than the batch axis 0");
        }
        if (c.has_input(1)) {
          c.expect_dtype(1, {DType::i64});
          const SymShape& off = c.input(1).shape;
          if (per_row) {
            if (off.size() != 1 || !(off[0] == like[0] || off[0].is_unknown() || like[0].is_unknown()))
              c.fail("offset '" + c.node().inputs[1] + "' must be [" + like[0].str() + "] (one per batch row), has shape " +
                     sym_shape_str(off));
          } else {
            Dim n = Dim::known(1);
            for (const Dim& d : off) n = n * d;
            if (n.is_known() && n.value() != 1)
              c.fail("offset '" + c.node().inputs[1] + "' must hold one element, has shape " + sym_shape_str(off));
          }
        }
        if (per_row) c.set_output(0, {DType::i64, {like[0], like[axis]}});
        else c.set_output(0, {DType::i64, {like[axis]}});
      }});
}

}  // namespace loom::ops
