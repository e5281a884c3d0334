// A transpose that swaps only the last two dims, read by a matmul, becomes that matmul's
// transpose_a / transpose_b: backends read the operand with swapped strides instead of copying
// it. The transpose stays if something else reads it (dead-node removal drops it otherwise).
#include "passes/passes.hpp"

namespace loom::passes {

namespace {

bool swaps_last_two(const std::vector<int64_t>& perm) {
  const size_t r = perm.size();
  if (r < 2) return false;
  for (size_t i = 0; i + 2 < r; ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return perm[r - 2] == static_cast<int64_t>(r - 1) && perm[r - 1] == static_cast<int64_t>(r - 2);
}

}  // namespace

void fold_matmul_transposes(GraphEdit& edit) {
  for (size_t i = 0; i < edit.num_nodes(); ++i) {
    const int n = static_cast<int>(i);
    if (edit.node(n).op != "matmul") continue;
    Node changed = edit.node(n);
    bool folded = false;
    for (size_t port = 0; port < 2; ++port) {
      const int t = edit.input_from(n, port, "transpose");
      if (t < 0 || !swaps_last_two(attr_ints(edit.node(t), "perm"))) continue;
      const char* attr = port == 0 ? "transpose_a" : "transpose_b";
      changed.inputs[port] = edit.node(t).inputs[0];
      changed.attrs[attr] = !attr_bool(changed, attr);
      folded = true;
    }
    if (!folded) continue;
    edit.update(n, std::move(changed));
    edit.count_rewrite();
  }
}

}  // namespace loom::passes
