// roll and pad: every dtype they move, shifts past the dim and negative, padding at either end.
#include "op_case.hpp"

#include <limits>

namespace loom::conformance {

namespace {

void roll(std::vector<OpCase>& out) {
  struct RollCase {
    Shape x;
    std::vector<int64_t> shifts, axes;
  };
  const RollCase cases[] = {{{2, 7, 7, 5}, {-3, -3}, {1, 2}}, {{2, 7, 7, 5}, {3, 3}, {1, 2}}, {{17}, {40}, {0}},
                            {{3, 4}, {-9}, {-1}}, {{1, 1}, {1}, {0}}, {{4, 8, 8, 33}, {-2, 5}, {2, 1}}, {{3, 5}, {2, 1}, {1, 1}}};
  for (DType t : {DType::f32, DType::i64, DType::i32, DType::f16, DType::u8})
    for (const auto& c : cases) {
      if (t != DType::f32 && shape_numel(c.x) > 1000) continue;
      std::string what;
      for (size_t k = 0; k < c.axes.size(); ++k) {
        what += ' ';
        what += std::to_string(c.shifts[k]);
        what += '@';
        what += std::to_string(c.axes[k]);
      }
      CaseBuilder b("roll", std::string(dtype_name(t)) + " " + dims(c.x) + what);
      out.push_back(b.input("x", t, c.x, {-50, 50}).attr("shifts", c.shifts).attr("axes", c.axes).build());
    }
}

void pad(std::vector<OpCase>& out) {
  struct PadCase {
    Shape x;
    std::vector<int64_t> before, after;
    double value;
  };
  const PadCase cases[] = {{{1, 5, 6, 3}, {0, 0, 0, 0}, {0, 2, 1, 0}, 0}, {{2, 3}, {1, 2}, {0, 1}, -1.5}, {{4}, {0}, {0}, 0},
                           {{3, 1}, {2, 0}, {2, 3}, 7}, {{2, 0, 3}, {0, 1, 0}, {0, 1, 0}, 2}, {{1, 55, 55, 96}, {0, 0, 0, 0}, {0, 1, 1, 0}, 0},
                           {{}, {}, {}, 0}};  // a scalar: no axis, a copy
  for (DType t : {DType::f32, DType::i64, DType::i32, DType::bf16})
    for (const auto& c : cases) {
      if (t != DType::f32 && shape_numel(c.x) > 1000) continue;
      CaseBuilder b("pad", std::string(dtype_name(t)) + " " + dims(c.x) + " before " + dims(c.before) + " after " + dims(c.after));
      out.push_back(b.input("x", t, c.x, {-50, 50}).attr("before", c.before).attr("after", c.after).attr("value", c.value).build());
    }
  // Integer fills past their type's range or NaN: saturated, NaN as 0, as cast converts.
  for (DType t : {DType::i64, DType::i32})
    for (double value : {3e10, -1e19, std::numeric_limits<double>::quiet_NaN()}) {
      CaseBuilder b("pad", std::string(dtype_name(t)) + " [2, 3] value " + std::to_string(value));
      out.push_back(b.input("x", t, {2, 3}, {-50, 50}).attr("before", std::vector<int64_t>{1, 0}).attr("after", std::vector<int64_t>{0, 1})
                        .attr("value", value).build());
    }
}

}  // namespace

void layout_cases(std::vector<OpCase>& out) {
  roll(out);
  pad(out);
}

}  // namespace loom::conformance
