// Partitioning: each node goes to the first backend, in the session's priority order (a node's
// `backend:` hint moves that backend to the front), that says it can run it. Consecutive nodes
// on one backend form a partition, which that backend compiles as a whole (or, to profile each
// node, every node is a partition of its own).
#pragma once

#include "graph/program.hpp"
#include "plugins/graph_view.hpp"
#include "plugins/plugin_host.hpp"

#include <loom/engine.hpp>

#include <memory>
#include <string>
#include <vector>

namespace loom::plan {

struct Partition {
  int backend = -1;        // index into the session's backends
  std::vector<int> nodes;  // program node indices, in execution order
};

struct Placement {
  std::vector<int> node_backend;  // per program node
  std::vector<Partition> partitions;
  PlacementReport report;
};

// The whole program as backends see it when asked whether they run one node.
std::unique_ptr<plugins::GraphViewStorage> whole_program_view(const Program& program);
// Whether `backend` says it runs node `node` of `view`; `why` (may be null) gets its reason when not.
bool supports(const plugins::BackendInstance& backend, const plugins::GraphViewStorage& view, size_t node, std::string* why);

// The order placement tries backends in for `node`: those named by its hint first, then the rest.
std::vector<int> placement_order(const Node& node, const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends);
// Why a backend built against op set `opset` must not run node `n` of `p` (an attribute, or a
// combination of input dtypes, added in a later op set: ops::newer_feature), or nullopt.
std::optional<std::string> newer_feature(const Program& p, size_t n, uint32_t opset);
// The backend placement asks first whether it runs node `n` of `p`: the first of
// placement_order whose device is not lost and that knows the node's op set features; null when
// there is none.
const plugins::BackendInstance* first_candidate(const Program& p, size_t n,
                                                const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends);

// Whether `backends` alone place every node as the longer list `backends` + `later` (names of
// backends not created) would: no node of `program`, nor of `decomposed` (`program` after
// decompose_unsupported over `backends`), hints at one of `later`, every node of `program` has a
// candidate among `backends` (so decompose_unsupported asked the backend the whole list would),
// and each node of `decomposed` runs on its first candidate among `backends`. A session that names no backends creates the
// later ones only where this is false (Engine::compile).
bool first_choices_run_all(const Program& program, const Program& decomposed,
                           const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                           const std::vector<std::string>& later);

Placement place(const Program& program, const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                bool node_partitions = false);

}  // namespace loom::plan
