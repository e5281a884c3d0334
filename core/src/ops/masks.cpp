// Masks built at run time: the additive key mask that carries attention's valid lengths and
// causality when attention runs as separate ops (its reference decomposition).
#include "ops/families.hpp"

#include <limits>

namespace loom::ops {

void register_masks(std::vector<OpSchema>& ops) {
  ops.push_back(OpSchema{
      "key_mask", "additive mask [B, 1.., Tq, Tk]: -inf for keys past valid_length[b] or (causal) after the query",
      {{"scores"}, {"valid_length", true}}, {{"out"}},
      {{"causal", AttrType::Bool, AttrValue{false}},
       // Hugging Face's causal masks hold finfo(float32).min rather than -inf: with it a row
       // whose keys are all excluded averages them instead of giving NaN.
       attr_with_default("fill", -std::numeric_limits<double>::infinity(), 3)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_rank_at_least(0, 3);
        const SymShape& s = c.input(0).shape;
        if (c.has_input(1)) {
          c.expect_dtype(1, {DType::i64});
          const SymShape& v = c.input(1).shape;
          if (v.size() != 1 || !(v[0] == s[0] || v[0].is_unknown() || s[0].is_unknown()))
            c.fail("valid_length '" + c.node().inputs[1] + "' must be i64 [" + s[0].str() +
                   "] (one length per batch row), got " + sym_shape_str(v));
        }
        SymShape out(s.size(), Dim::known(1));
        out[0] = s[0];
        out[s.size() - 2] = s[s.size() - 2];
        out[s.size() - 1] = s[s.size() - 1];
        c.set_output(0, {c.input(0).dtype, out});
      }});
}

}  // namespace loom::ops
