#include "vision_blocks.hpp"

#include <vector>

namespace loom::models {

using Ints = std::vector<int64_t>;

void patch_embedding(GraphWriter& g, const std::string& pixels, const std::string& weight, const std::string& bias, int64_t patch,
                     const std::string& prefix, const std::string& out) {
  patch_embedding(g, pixels, weight, bias, patch, patch, prefix, out);
}

void patch_embedding(GraphWriter& g, const std::string& pixels, const std::string& weight, const std::string& bias, int64_t patch_h,
                     int64_t patch_w, const std::string& prefix, const std::string& out) {
  g.node("conv2d", {pixels, weight, bias}, {prefix + ".grid"}, Attrs().set("stride", Ints{patch_h, patch_w}));
  g.node("reshape", {prefix + ".grid"}, {prefix + ".flat"}, Attrs().set("shape", Ints{0, 0, -1}));
  g.node("transpose", {prefix + ".flat"}, {out}, Attrs().set("perm", Ints{0, 2, 1}));
}

void prepend_token(GraphWriter& g, const std::string& token, int64_t hidden, const std::string& batch_like, const std::string& tokens,
                   const std::string& prefix, const std::string& out) {
  g.constant(prefix + ".zero", "i64", {}, {0.0});
  g.node("positions", {batch_like}, {prefix + ".rows"}, Attrs().set("axis", 0));
  g.node("mul", {prefix + ".rows", prefix + ".zero"}, {prefix + ".zeros"});
  g.node("reshape", {prefix + ".zeros"}, {prefix + ".index"}, Attrs().set("shape", Ints{0, 1}));
  g.node("reshape", {token}, {prefix + ".table"}, Attrs().set("shape", Ints{1, hidden}));
  g.node("gather", {prefix + ".table", prefix + ".index"}, {prefix + ".once"});
  g.node("concat", {prefix + ".once", tokens}, {out}, Attrs().set("axis", 1));
}

}  // namespace loom::models
