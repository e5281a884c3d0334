// reduce_mean, argmax and topk: odd sizes, every axis, keepdims, ties and NaN (torch's order).
#include "op_case.hpp"

#include <limits>

namespace loom::conformance {

namespace {

void reduce_mean(std::vector<OpCase>& out) {
  struct MeanShape {
    Shape x;
    std::vector<int64_t> axes;
  };
  const MeanShape shapes[] = {{{2, 197, 12}, {1}}, {{3, 17}, {-1}}, {{2, 3, 4, 5}, {-1, 1}}, {{1, 1}, {0}},
                              {{4, 9, 7}, {0, 1, 2}}, {{8, 1031}, {1}}};
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const auto& s : shapes)
      for (bool keep : {false, true}) {
        if (t != DType::f32 && (shape_numel(s.x) > 1000 || keep)) continue;
        std::string axes;
        for (int64_t a : s.axes) {
          if (!axes.empty()) axes += ',';
          axes += std::to_string(a);
        }
        CaseBuilder b("reduce_mean", std::string(dtype_name(t)) + " " + dims(s.x) + " axes " + axes + (keep ? " keepdims" : ""));
        out.push_back(b.input("x", t, s.x, {-3, 5}).attr("axes", s.axes).attr("keepdims", keep).build());
      }
}

// Integer data in a small range has many ties; float data gets NaN in places.
Tensor with_ties(CaseBuilder& b, DType t, const Shape& shape) {
  const bool integer = t == DType::i64 || t == DType::i32 || t == DType::u8;
  Tensor x = b.random(t, shape, integer ? Range{0, 4} : Range{-2, 2});
  if (!integer && shape_numel(shape) > 7) {
    set_element(x, 3, std::numeric_limits<double>::quiet_NaN());
    set_element(x, 6, 2.0);
    set_element(x, 7, 2.0);
  }
  return x;
}

// [[2^53, 2^53 + 1, 2^53 - 1], [INT64_MAX, 5, INT64_MIN]]: integers that a double would merge or
// round out of range.
Tensor large_i64() {
  Tensor x(DType::i64, {2, 3});
  const int64_t p = int64_t{1} << 53;
  const int64_t values[] = {p, p + 1, p - 1, std::numeric_limits<int64_t>::max(), 5, std::numeric_limits<int64_t>::min()};
  std::copy(std::begin(values), std::end(values), x.data_as<int64_t>());
  return x;
}

void argmax(std::vector<OpCase>& out) {
  struct ArgShape {
    Shape x;
    int64_t axis;
  };
  const ArgShape shapes[] = {{{2, 6}, -1}, {{3, 4, 5}, 0}, {{3, 4, 5}, 1}, {{1}, 0}, {{4, 1000}, -1}, {{2, 77}, 1}};
  for (DType t : {DType::f32, DType::i64, DType::i32, DType::f16, DType::u8})
    for (const auto& s : shapes)
      for (bool keep : {false, true}) {
        if (t != DType::f32 && t != DType::i64 && (shape_numel(s.x) > 1000 || keep)) continue;
        CaseBuilder b("argmax", std::string(dtype_name(t)) + " " + dims(s.x) + " axis " + std::to_string(s.axis) +
                                    (keep ? " keepdims" : ""));
        out.push_back(b.input("x", with_ties(b, t, s.x)).attr("axis", s.axis).attr("keepdims", keep).build());
      }
  // i64 values no double holds apart (2^53 + 1) and at the ends of the range.
  CaseBuilder b("argmax", "i64 [2, 3] past 2^53 and at the limits");
  out.push_back(b.input("x", large_i64()).attr("axis", -1).attr("keepdims", false).build());
}

void topk(std::vector<OpCase>& out) {
  struct TopkShape {
    Shape x;
    int64_t k, axis;
  };
  const TopkShape shapes[] = {{{2, 1000}, 5, -1}, {{3, 6, 2}, 6, 1}, {{4, 9}, 1, -1}, {{5, 3}, 2, 0}, {{1, 1}, 1, -1}, {{2, 33}, 17, 1}};
  for (DType t : {DType::f32, DType::i64, DType::i32, DType::bf16})
    for (const auto& s : shapes) {
      if (t != DType::f32 && shape_numel(s.x) > 1000) continue;
      CaseBuilder b("topk", std::string(dtype_name(t)) + " " + dims(s.x) + " k " + std::to_string(s.k) + " axis " + std::to_string(s.axis));
      out.push_back(b.input("x", with_ties(b, t, s.x)).attr("k", s.k).attr("axis", s.axis).outputs(2).build());
    }
  CaseBuilder b("topk", "i64 [2, 3] past 2^53 and at the limits k 2");
  out.push_back(b.input("x", large_i64()).attr("k", 2).attr("axis", -1).outputs(2).build());
}

}  // namespace

void reduce_cases(std::vector<OpCase>& out) {
  reduce_mean(out);
  argmax(out);
  topk(out);
}

}  // namespace loom::conformance
