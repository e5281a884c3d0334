#include "masks.hpp"

#include <cstdint>
#include <limits>
#include <vector>

namespace loom::models {

std::string causal_padding_mask(GraphWriter& g, const std::string& p, const std::string& ids,
                                const std::string& attention_mask) {
  using Ints = std::vector<int64_t>;
  const double lowest = static_cast<double>(std::numeric_limits<float>::lowest());
  g.constant(p + "one.f", "f32", {}, {1.0});
  g.constant(p + "zero.f", "f32", {}, {0.0});
  g.constant(p + "mask_min", "f32", {}, {lowest});
  // (1 - attention_mask) * finfo.min as [batch, 1, 1, seq].
  g.node("cast", {attention_mask}, {p + "mask.f"}, Attrs().set("to", "f32"));
  g.node("sub", {p + "one.f", p + "mask.f"}, {p + "mask.inverted"});
  g.node("mul", {p + "mask.inverted", p + "mask_min"}, {p + "mask.additive"});
  g.node("reshape", {p + "mask.additive"}, {p + "mask.padding"}, Attrs().set("shape", Ints{0, 1, 1, -1}));
  // A [1, 1, seq, 1] of zeros gives the padding mask its query axis: [batch, 1, seq, seq].
  g.node("positions", {ids}, {p + "query.index"}, Attrs().set("axis", 1));
  g.node("cast", {p + "query.index"}, {p + "query.index.f"}, Attrs().set("to", "f32"));
  g.node("mul", {p + "query.index.f", p + "zero.f"}, {p + "query.zeros"});
  g.node("reshape", {p + "query.zeros"}, {p + "query.zeros.column"}, Attrs().set("shape", Ints{1, 1, -1, 1}));
  g.node("add", {p + "mask.padding", p + "query.zeros.column"}, {p + "mask.padding.square"});
  g.node("key_mask", {p + "mask.padding.square"}, {p + "mask.causal"}, Attrs().set("causal", true).set("fill", lowest));
  g.node("add", {p + "mask.causal", p + "mask.padding.square"}, {p + "mask"});
  return p + "mask";
}

}  // namespace loom::models
