// Builds the C structs of <loom/abi.h> (loom_graph_view, loom_shape_set) for a whole Program or
// one partition of it, with storage that stays valid as long as this object lives.
#pragma once

#include "graph/program.hpp"

#include <loom/abi.h>

#include <deque>
#include <string>
#include <vector>

namespace loom::plugins {

class GraphViewStorage {
 public:
  // `nodes`: program node indices, in execution order. `kinds`: the loom_value_kind of each
  // value the nodes touch, by program value index (absent = computed: see graph_view.cpp).
  GraphViewStorage(const Program& program, const std::vector<int>& nodes,
                   const std::vector<int32_t>& kinds);

  const loom_graph_view* view() const { return &view_; }
  // view value index -> program value index
  const std::vector<int>& values() const { return values_; }
  int view_index(int program_value) const;  // -1 if the value is not in the view

  // Concrete shapes of the view's values, taken from per-program-value shapes.
  class Shapes {
   public:
    Shapes(const GraphViewStorage& view, const std::vector<Shape>& program_shapes);
    const loom_shape_set* set() const { return &set_; }
   private:
    std::vector<int32_t> ranks_;
    std::vector<const int64_t*> dims_;
    std::vector<Shape> storage_;
    loom_shape_set set_{};
  };

 private:
  std::vector<int> values_;
  std::vector<int> program_to_view_;
  std::vector<loom_value> c_values_;
  std::vector<loom_node> c_nodes_;
  std::deque<std::vector<int64_t>> dims_;
  std::deque<std::vector<const char*>> dim_exprs_;
  std::deque<std::string> strings_;
  std::deque<std::vector<int32_t>> ports_;
  std::deque<std::vector<loom_attr>> attrs_;
  std::deque<std::vector<int64_t>> ints_;
  std::deque<std::vector<double>> floats_;
  loom_graph_view view_{};
};

}  // namespace loom::plugins
