#include "ops/families.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <limits>

namespace loom::ops {

namespace {

Dim product(const SymShape& s) {
  Dim n = Dim::known(1);
  for (const Dim& d : s) n = n * d;
  return n;
}

void infer_reshape(InferContext& c) {
  const SymShape& in = c.input(0).shape;
  const auto& spec = c.attr_ints("shape");
  SymShape out;
  int infer_at = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t s = spec[i];
    if (s == -1) {
      if (infer_at >= 0) c.fail("attribute 'shape' has more than one -1");
      infer_at = static_cast<int>(i);
      out.push_back(Dim::known(1));
    } else if (s == 0) {
      if (i >= in.size()) c.fail("attribute 'shape' copies dim " + std::to_string(i) + " (0) but x has rank " + std::to_string(in.size()));
      out.push_back(in[i]);
    } else if (s < 0) {
      c.fail("attribute 'shape' has a negative size " + std::to_string(s));
    } else {
      out.push_back(Dim::known(s));
    }
  }
  const Dim total = product(in);
  if (infer_at >= 0) {
    // The dims copied by 0 cancel out of both sides, so that -1 is found where they are 0 (an
    // empty batch): [0, 5] to [0, 1, 1, -1] gives [0, 1, 1, 5], as the symbols do.
    Dim rest = Dim::known(1), fixed = Dim::known(1);
    for (size_t i = 0; i < in.size(); ++i)
      if (i >= spec.size() || spec[i] != 0) rest = rest * in[i];
    for (size_t i = 0; i < spec.size(); ++i)
      if (spec[i] > 0) fixed = fixed * out[i];
    auto q = rest.divided_by(fixed);
    if (!q) c.fail("cannot reshape " + sym_shape_str(in) + " to " + sym_shape_str(out) + " with -1 at " + std::to_string(infer_at));
    out[infer_at] = *q;
  }
  const Dim got = product(out);
  if (total.is_known() && got.is_known() && total.value() != got.value())
    c.fail("cannot reshape " + sym_shape_str(in) + " (" + total.str() + " elements) to " + sym_shape_str(out));
  if (!total.is_unknown() && !got.is_unknown() && !(total == got) && (total.is_symbolic() || got.is_symbolic()))
    c.fail("cannot prove that " + sym_shape_str(in) + " and " + sym_shape_str(out) + " have the same number of elements");
  c.set_output(0, {c.input(0).dtype, out});
}

void infer_transpose(InferContext& c) {
  const SymShape& in = c.input(0).shape;
  const auto& perm = c.attr_ints("perm");
  if (perm.size() != in.size())
    c.fail("attribute 'perm' has " + std::to_string(perm.size()) + " entries for a tensor of rank " + std::to_string(in.size()));
  std::vector<bool> seen(in.size(), false);
  SymShape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p]) c.fail("attribute 'perm' is not a permutation of 0.." + std::to_string(in.size() - 1));
    seen[p] = true;
    out.push_back(in[p]);
  }
  c.set_output(0, {c.input(0).dtype, out});
}

void infer_slice(InferContext& c) {
  const SymShape& in = c.input(0).shape;
  c.expect_rank_at_least(0, 1);
  int64_t axis = c.axis(c.attr_int("axis"), in.size(), "axis");
  int64_t start = c.attr_int("start"), end = c.attr_int("end"), step = c.attr_int("step");
  if (step < 1) c.fail("attribute 'step' must be >= 1, got " + std::to_string(step));
  SymShape out = in;
  const Dim& d = in[axis];
  if (d.is_known()) {
    out[axis] = Dim::known(sdk::slice_range(d.value(), start, end, step).count);
  } else if (start == 0 && end == std::numeric_limits<int64_t>::max() && step == 1) {
    out[axis] = d;
  } else {
    out[axis] = Dim::unknown();  // depends on the symbol's value: known once shapes are concrete
  }
  c.set_output(0, {c.input(0).dtype, out});
}

void infer_concat(InferContext& c) {
  const SymShape& first = c.input(0).shape;
  c.expect_rank_at_least(0, 1);
  int64_t axis = c.axis(c.attr_int("axis"), first.size(), "axis");
  SymShape out = first;
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    c.expect_same_dtype(0, i);
    const SymShape& s = c.input(i).shape;
    if (s.size() != first.size())
      c.fail("input '" + c.node().inputs[i] + "' has rank " + std::to_string(s.size()) + ", expected " + std::to_string(first.size()));
    for (size_t k = 0; k < s.size(); ++k) {
      if (static_cast<int64_t>(k) == axis) continue;
      if (!(s[k] == first[k]) && !s[k].is_unknown() && !first[k].is_unknown())
        c.fail("input '" + c.node().inputs[i] + "' has shape " + sym_shape_str(s) + ", which differs from " +
               sym_shape_str(first) + " outside axis " + std::to_string(axis));
    }
    out[axis] = out[axis] + s[axis];
  }
  c.set_output(0, {c.input(0).dtype, out});
}

}  // namespace

void register_shape(std::vector<OpSchema>& ops) {
  OpSchema reshape{"reshape", "same data, new shape (0 copies a dim, -1 is inferred)", {{"x"}}, {{"out"}},
                   {required_attr("shape", AttrType::Ints)}, infer_reshape};
  reshape.view = true;
  ops.push_back(std::move(reshape));
  ops.push_back(OpSchema{"transpose", "permutes dimensions", {{"x"}}, {{"out"}},
                         {required_attr("perm", AttrType::Ints)}, infer_transpose});
  ops.push_back(OpSchema{"slice", "x[..., start:end:step, ...] along axis", {{"x"}}, {{"out"}},
                         {required_attr("axis", AttrType::Int),
                          attr_with_default("start", int64_t(0)),
                          attr_with_default("end", std::numeric_limits<int64_t>::max()),
                          attr_with_default("step", int64_t(1))},
                         infer_slice});
  ops.push_back(OpSchema{"concat", "joins inputs along axis", {{"inputs", false, true}}, {{"out"}},
                         {required_attr("axis", AttrType::Int)}, infer_concat});
}

}  // namespace loom::ops
