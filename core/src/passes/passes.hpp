// The graph passes between validation and placement (docs/architecture.md, "Graph passes"):
// one file per pass, a small manager that runs the passes of a level, and the reference
// decompositions of the fused ops.
#pragma once

#include "graph/program.hpp"
#include "passes/graph_edit.hpp"
#include "plugins/plugin_host.hpp"

#include <loom/engine.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace loom::passes {

struct Pass {
  const char* name;
  void (*run)(GraphEdit& edit);
  bool fuses;  // its rewrites are fused nodes (listed by loom inspect)
};

void remove_dead_nodes(GraphEdit& edit);       // dead_nodes.cpp
void fold_constants(GraphEdit& edit);          // constant_folding.cpp
void fold_matmul_transposes(GraphEdit& edit);  // matmul_transposes.cpp
void fuse_attention(GraphEdit& edit);          // fuse_attention.cpp
void fold_attention_transposes(GraphEdit& edit);  // attention_layout.cpp
void fuse_linear_activation(GraphEdit& edit);  // fuse_linear_activation.cpp
void fuse_add_layer_norm(GraphEdit& edit);     // fuse_add_layer_norm.cpp

// The passes of a level, in the order they run.
std::vector<Pass> pipeline(OptimizeLevel level);

// Validates `graph`, runs the passes of `level` and returns the program of the result. Weight
// files are mapped through `files` when given.
std::shared_ptr<const Program> optimize(const Graph& graph, OptimizeLevel level, OptimizationReport& report,
                                        std::shared_ptr<WeightFiles> files = nullptr);

// kv-cache-bf16 (kv_cache.cpp): the KV caches that only a cache_write writes and only
// attention's k and v read become bf16 states, their updates cast to bf16 before the write. Run
// by a session with kv_cache=bf16, at any level; its PassReport is appended to `report`.
std::shared_ptr<const Program> narrow_kv_caches(std::shared_ptr<const Program> program, OptimizationReport& report);
// Why `narrowed` (narrow_kv_caches' result) would not keep its caches in bf16 on `backends`: a
// node that holds or reads a bf16 cache (the cast, the cache_write, attention over bf16 k and v)
// which the backend placement tries first for it does not run (a device backend without bf16,
// one built for an older op set), naming both; nullopt when every such node runs there.
std::optional<std::string> narrowed_caches_unsupported(const Program& narrowed,
                                                       const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends);

// ---- reference decompositions (decompose.cpp)

// Whether `op` is a fused op with a reference decomposition into basic ops.
bool has_decomposition(std::string_view op);
// Which nodes of a program (by index) to decompose, and why (nullopt: keep the node): asked once
// per program it is given.
using DecomposeWhich = std::function<std::function<std::optional<std::string>(int)>(const Program&)>;
// Rewrites the nodes that `which(program)` picks into their decompositions and returns the
// program of the result (the same program when nothing was rewritten); each rewrite is appended
// to `decomposed`. A decomposition may yield another fused node (attention with layout bshd: the
// bhsd one between transposes), which `which` of the new program is then asked about in turn.
std::shared_ptr<const Program> decompose(std::shared_ptr<const Program> program, const DecomposeWhich& which,
                                         std::vector<RewrittenNode>& decomposed);
// Decomposes the fused nodes that the backend placement would try first for them (the node's
// hint, else the first of `backends` whose device is not lost) does not run, so that they run
// decomposed on that backend rather than fused on another, and graphs run on backends without them.
std::shared_ptr<const Program> decompose_unsupported(std::shared_ptr<const Program> program,
                                                     const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                                                     std::vector<RewrittenNode>& decomposed);

}  // namespace loom::passes
