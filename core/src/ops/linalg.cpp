#include "ops/families.hpp"

namespace loom::ops {

namespace {
const char* const kActivations[] = {"none", "relu", "gelu", "gelu_tanh", "quick_gelu", "silu", "tanh"};
}

void register_linalg(std::vector<OpSchema>& ops) {
  ops.push_back(OpSchema{
      "matmul", "batched a @ b with optional transposes and scale", {{"a"}, {"b"}}, {{"out"}},
      {attr_with_default("transpose_a", false),
       attr_with_default("transpose_b", false),
       attr_with_default("alpha", 1.0)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_same_dtype(0, 1);
        c.expect_rank_at_least(0, 2);
        c.expect_rank_at_least(1, 2);
        SymShape a = c.input(0).shape, b = c.input(1).shape;
        if (c.attr_bool("transpose_a")) std::swap(a[a.size() - 1], a[a.size() - 2]);
        if (c.attr_bool("transpose_b")) std::swap(b[b.size() - 1], b[b.size() - 2]);
        const Dim &m = a[a.size() - 2], &k = a.back(), &k2 = b[b.size() - 2], &n = b.back();
        if (!(k == k2) && !k.is_unknown() && !k2.is_unknown())
          c.fail("inner dimensions differ: " + sym_shape_str(a) + " @ " + sym_shape_str(b) + " (after transposes)");
        auto batch = broadcast(SymShape(a.begin(), a.end() - 2), SymShape(b.begin(), b.end() - 2));
        if (!batch) c.fail("batch dimensions of " + sym_shape_str(a) + " and " + sym_shape_str(b) + " do not broadcast");
        batch->push_back(m);
        batch->push_back(n);
        c.set_output(0, {c.input(0).dtype, *batch});
      }});

  ops.push_back(OpSchema{
      "linear", "act(x @ weight^T + bias), weight in [out, in] layout", {{"x"}, {"weight"}, {"bias", true}},
      // weight_transposed: the weight is stored [in, out] (GPT-2's Conv1D) and read as it is.
      {{"out"}}, {attr_with_default("activation", std::string("none")), attr_with_default("weight_transposed", false, 3)},
      [](InferContext& c) {
        c.expect_dtype(0, kFloat);
        c.expect_same_dtype(0, 1);
        c.expect_rank_at_least(0, 1);
        const SymShape& x = c.input(0).shape;
        const SymShape& w = c.input(1).shape;
        const bool kn = c.attr_bool("weight_transposed");
        if (w.size() != 2)
          c.fail("weight '" + c.node().inputs[1] + "' must be 2-D " + (kn ? "[in, out]" : "[out, in]") + ", got " + sym_shape_str(w));
        const Dim& in = kn ? w[0] : w[1];
        const Dim& out_dim = kn ? w[1] : w[0];
        if (!(x.back() == in) && !x.back().is_unknown() && !in.is_unknown())
          c.fail("x " + sym_shape_str(x) + " does not match weight " + sym_shape_str(w) + " (last dim of x must equal weight's dim " +
                 (kn ? "0" : "1") + ")");
        if (c.has_input(2)) {
          c.expect_same_dtype(0, 2);
          const SymShape& b = c.input(2).shape;
          if (b.size() != 1 || !(b[0] == out_dim))
            c.fail("bias " + sym_shape_str(b) + " must have shape [" + out_dim.str() + "]");
        }
        const std::string& act = c.attr_string("activation");
        bool ok = false;
        std::string known;
        for (const char* a : kActivations) {
          ok |= act == a;
          known.append(known.empty() ? "" : ", ").append(a);
        }
        if (!ok) c.fail("attribute 'activation' must be one of " + known + "; not \"" + act + "\"");
        SymShape out = x;
        out.back() = out_dim;
        c.set_output(0, {c.input(0).dtype, out});
      }});
}

}  // namespace loom::ops
