// reshape, transpose, slice, concat, for every dtype.
#include "op_case.hpp"

#include <limits>

namespace loom::conformance {

namespace {

const DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8};

std::string ints(const std::vector<int64_t>& v) { return dims(v); }

void reshape(std::vector<OpCase>& out) {
  const std::pair<Shape, std::vector<int64_t>> shapes[] = {
      {{3, 4, 5}, {12, 5}}, {{3, 4, 5}, {0, -1}}, {{3, 4, 5}, {-1}}, {{7}, {1, 7, 1}}, {{2, 1, 9}, {2, 9}}, {{64, 1031}, {1031, 64}}};
  for (DType t : kAll)
    for (const auto& [x, spec] : shapes) {
      if (t != DType::f32 && shape_numel(x) > 1000) continue;
      out.push_back(CaseBuilder("reshape", std::string(dtype_name(t)) + " " + dims(x) + " to " + ints(spec))
                        .input("x", t, x, {-100, 100}).attr("shape", spec).build());
    }
}

void transpose(std::vector<OpCase>& out) {
  const std::pair<Shape, std::vector<int64_t>> shapes[] = {
      {{5, 7}, {1, 0}}, {{2, 3, 4}, {2, 0, 1}}, {{2, 3, 5, 7}, {0, 2, 1, 3}}, {{1, 9}, {1, 0}}, {{3, 1, 17}, {1, 2, 0}}, {{65, 257}, {1, 0}},
      // The last axis kept: whole rows move (from 64 bytes), over 4 and 5 axes, and split over
      // threads past 1 MiB.
      {{2, 3, 5, 32}, {0, 2, 1, 3}}, {{3, 4, 2, 5, 16}, {2, 0, 3, 1, 4}}, {{4, 64, 33, 32}, {0, 2, 1, 3}}};
  for (DType t : kAll)
    for (const auto& [x, perm] : shapes) {
      if (t != DType::f32 && shape_numel(x) > 1000) continue;
      out.push_back(CaseBuilder("transpose", std::string(dtype_name(t)) + " " + dims(x) + " perm " + ints(perm))
                        .input("x", t, x, {-100, 100}).attr("perm", perm).build());
    }
}

void slice(std::vector<OpCase>& out) {
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  struct SliceCase {
    Shape x;
    int64_t axis, start, end, step;
  };
  const SliceCase cases[] = {{{4, 9}, 1, 1, 6, 2},  {{4, 9}, 0, -3, kEnd, 1},  {{4, 9}, -1, 0, kEnd, 3},
                             {{4, 9}, 1, 7, 2, 1},  {{2, 3, 17}, 2, 5, 16, 1}, {{5}, 0, std::numeric_limits<int64_t>::min(), -1, 1},
                             {{1, 1}, 0, 0, 1, 1},  {{64, 1031}, 1, 3, 1030, 4}};
  for (DType t : kAll)
    for (const auto& c : cases) {
      if (t != DType::f32 && (c.x.size() != 2 || shape_numel(c.x) > 1000)) continue;
      const std::string end = c.end == kEnd ? "end" : std::to_string(c.end);
      out.push_back(CaseBuilder("slice", std::string(dtype_name(t)) + " " + dims(c.x) + " axis " + std::to_string(c.axis) + " " +
                                             std::to_string(c.start) + ":" + end + ":" + std::to_string(c.step))
                        .input("x", t, c.x, {-100, 100}).attr("axis", c.axis).attr("start", c.start).attr("end", c.end)
                        .attr("step", c.step).build());
    }
}

void concat(std::vector<OpCase>& out) {
  struct ConcatCase {
    std::vector<Shape> inputs;
    int64_t axis;
  };
  const ConcatCase cases[] = {{{{2, 3}, {4, 3}}, 0},           {{{2, 3}, {2, 1}, {2, 17}}, -1}, {{{5, 7}}, 1},
                              {{{1, 2, 9}, {1, 3, 9}}, 1},     {{{2, 0, 4}, {2, 3, 4}}, 1},     {{{32, 1031}, {32, 1031}}, 0}};
  for (DType t : kAll)
    for (const auto& c : cases) {
      if (t != DType::f32 && shape_numel(c.inputs[0]) > 1000) continue;
      std::string name = std::string(dtype_name(t));
      for (const Shape& s : c.inputs) (name += ' ') += dims(s);  // appended: GCC 12 warns falsely (-Wrestrict) on " " + ...
      CaseBuilder b("concat", name + " axis " + std::to_string(c.axis));
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        std::string input = "x";
        input += std::to_string(i);
        b.input(input, t, c.inputs[i], {-100, 100});
      }
      out.push_back(b.attr("axis", c.axis).build());
    }
}

}  // namespace

void shape_cases(std::vector<OpCase>& out) {
  reshape(out);
  transpose(out);
  slice(out);
  concat(out);
}

}  // namespace loom::conformance
