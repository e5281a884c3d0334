#include "ops/families.hpp"

namespace loom::ops {

void register_elementwise(std::vector<OpSchema>& ops) {
  auto binary = [](const char* name, const char* summary) {
    return OpSchema{name, summary, {{"a"}, {"b"}}, {{"out"}}, {}, [](InferContext& c) {
                      c.expect_dtype(0, kNumeric);
                      c.expect_same_dtype(0, 1);
                      auto shape = broadcast(c.input(0).shape, c.input(1).shape);
                      if (!shape)
                        c.fail("shapes " + sym_shape_str(c.input(0).shape) + " and " +
                               sym_shape_str(c.input(1).shape) + " do not broadcast");
                      c.set_output(0, {c.input(0).dtype, *shape});
                    }, {0}};
  };
  ops.push_back(binary("add", "a + b with broadcasting"));
  ops.push_back(binary("sub", "a - b with broadcasting"));
  ops.push_back(binary("mul", "a * b with broadcasting"));
  ops.push_back(binary("div", "a / b with broadcasting"));

  auto unary_float = [](const char* name, const char* summary, std::vector<AttrSpec> attrs = {}) {
    return OpSchema{name, summary, {{"x"}}, {{"out"}}, std::move(attrs), [](InferContext& c) {
                      c.expect_dtype(0, kFloat);
                      c.set_output(0, c.input(0));
                    }, {0}};
  };
  ops.push_back(unary_float("relu", "max(x, 0)"));
  ops.push_back(unary_float("tanh", "tanh(x)"));
  ops.push_back(unary_float("sigmoid", "1 / (1 + exp(-x))"));
  ops.push_back(unary_float("exp", "e^x"));
  // CLIP's and ImageGPT's activation (transformers' QuickGELUActivation).
  ops.push_back(unary_float("quick_gelu", "x * sigmoid(1.702 x)"));
  ops.push_back(unary_float("silu", "x * sigmoid(x)"));
  OpSchema gelu = unary_float("gelu", "GELU, exact (erf) or tanh approximation",
                              {attr_with_default("approximate", std::string("none"))});
  gelu.infer = [](InferContext& c) {
    c.expect_dtype(0, kFloat);
    const std::string& a = c.attr_string("approximate");
    if (a != "none" && a != "tanh") c.fail("attribute 'approximate' must be \"none\" or \"tanh\", not \"" + a + "\"");
    c.set_output(0, c.input(0));
  };
  ops.push_back(std::move(gelu));

  ops.push_back(OpSchema{"cast", "converts x to another dtype", {{"x"}}, {{"out"}},
                         {required_attr("to", AttrType::String)}, [](InferContext& c) {
                           auto to = parse_dtype(c.attr_string("to"));
                           if (!to) c.fail("attribute 'to' is not a dtype: \"" + c.attr_string("to") + "\"");
                           c.set_output(0, {*to, c.input(0).shape});
                         }, {0}});
}

}  // namespace loom::ops
