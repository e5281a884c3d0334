// A small host evaluator for constant folding: the cheap ops whose result the core can compute
// exactly as every backend does (data movement, casts, integer and f32 arithmetic, positions).
// Anything else is left to the backends.
#pragma once

#include <loom/graph.hpp>
#include <loom/tensor.hpp>

#include <optional>
#include <vector>

namespace loom::passes {

// The node's outputs, or nullopt when the op is not one the host evaluates, an output would
// hold more than `max_elements`, or the evaluation would fail at run time (an index out of
// range, an integer division by zero): the node then stays and the backend reports it.
// `inputs` holds null for an absent optional input.
std::optional<std::vector<Tensor>> evaluate_on_host(const Node& node, const std::vector<const Tensor*>& inputs,
                                                    int64_t max_elements);

}  // namespace loom::passes
