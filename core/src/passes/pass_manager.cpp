// Runs the passes of an optimisation level, revalidating the graph after each pass that changed
// it, and reports what each pass did.
#include "passes/passes.hpp"

#include <loom/error.hpp>

namespace loom::passes {

std::vector<Pass> pipeline(OptimizeLevel level) {
  // Dead nodes go first so that a value read only by dead nodes does not block a fusion, and
  // again last for what folding and fusion left unread. Transposes are folded before the
  // fusions so that attention written with an explicit transpose of k is still recognised.
  std::vector<Pass> passes;
  if (level == OptimizeLevel::none) return passes;
  passes.push_back({"remove-dead-nodes", remove_dead_nodes, false});
  passes.push_back({"fold-constants", fold_constants, false});
  passes.push_back({"fold-matmul-transposes", fold_matmul_transposes, false});
  if (level == OptimizeLevel::all) {
    passes.push_back({"fuse-attention", fuse_attention, true});
    passes.push_back({"fold-attention-transposes", fold_attention_transposes, true});
    passes.push_back({"fuse-linear-activation", fuse_linear_activation, true});
    passes.push_back({"fuse-add-layer-norm", fuse_add_layer_norm, true});
  }
  passes.push_back({"remove-dead-nodes", remove_dead_nodes, false});
  return passes;
}

std::shared_ptr<const Program> optimize(const Graph& graph, OptimizeLevel level, OptimizationReport& report,
                                        std::shared_ptr<WeightFiles> files) {
  auto program = build_program(graph, true, std::move(files));
  report.level = level;
  report.nodes_before = report.nodes_after = program->nodes.size();
  for (const Pass& pass : pipeline(level)) {
    GraphEdit edit(*program);
    pass.run(edit);
    PassReport r{pass.name, program->nodes.size(), program->nodes.size(), edit.rewrites()};
    if (edit.changed()) {
      try {
        program = build_program(edit.result(), true, program->weight_files);
      } catch (const Error& e) {
        throw Error("graph pass " + std::string(pass.name) + " made an invalid graph (optimisation level none skips the passes): " +
                    e.what());
      }
      r.nodes_after = program->nodes.size();
    }
    if (pass.fuses) report.fused.insert(report.fused.end(), edit.replaced().begin(), edit.replaced().end());
    report.passes.push_back(std::move(r));
  }
  report.nodes_after = program->nodes.size();
  return program;
}

}  // namespace loom::passes

namespace loom {

std::string_view optimize_level_name(OptimizeLevel level) {
  switch (level) {
    case OptimizeLevel::none: return "none";
    case OptimizeLevel::basic: return "basic";
    case OptimizeLevel::all: return "all";
  }
  return "all";
}

std::optional<OptimizeLevel> parse_optimize_level(std::string_view name) {
  for (OptimizeLevel l : {OptimizeLevel::none, OptimizeLevel::basic, OptimizeLevel::all})
    if (name == optimize_level_name(l)) return l;
  return std::nullopt;
}

}  // namespace loom
