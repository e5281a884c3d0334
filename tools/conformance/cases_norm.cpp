// layer_norm, add_layer_norm (fused and decomposed), rms_norm, l2_normalize, softmax.
#include "op_case.hpp"

#include <limits>

namespace loom::conformance {

namespace {

struct NormShape {
  Shape x;
  int64_t axis;
};
const NormShape kNormShapes[] = {{{3, 17}, -1}, {{2, 5, 9}, 1}, {{4, 1}, -1}, {{1, 16}, -1}, {{3, 33}, 1}, {{16, 1031}, -1}};

Shape normalized(const NormShape& s) {
  const int64_t axis = s.axis < 0 ? s.axis + static_cast<int64_t>(s.x.size()) : s.axis;
  return Shape(s.x.begin() + axis, s.x.end());
}

void layer_norm(std::vector<OpCase>& out) {
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const NormShape& s : kNormShapes)
      for (int params : {2, 1, 0}) {  // weight and bias, weight only, neither
        if (t != DType::f32 && (shape_numel(s.x) > 1000 || params != 2)) continue;
        CaseBuilder b("layer_norm", std::string(dtype_name(t)) + " " + dims(s.x) + " axis " + std::to_string(s.axis) +
                                        (params == 2 ? " weight bias" : params == 1 ? " weight" : ""));
        b.input("x", t, s.x, {-3, 5});
        if (params >= 1) b.input("weight", t, normalized(s));
        if (params == 2) b.input("bias", t, normalized(s));
        out.push_back(b.attr("axis", s.axis).build());
      }
  out.push_back(CaseBuilder("layer_norm", "f32 [3, 17] epsilon 0.1").input("x", DType::f32, {3, 17}, {-0.1, 0.1})
                    .attr("epsilon", 0.1).build());
}

void add_layer_norm(std::vector<OpCase>& out) {
  const std::pair<Shape, Shape> shapes[] = {{{3, 17}, {3, 17}}, {{2, 4, 33}, {33}}, {{1, 16}, {1, 16}}, {{16, 1031}, {16, 1031}}};
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const auto& [a, bshape] : shapes)
      for (int outputs : {1, 2})  // with and without the sum
        for (bool decompose : {false, true}) {
          if (t != DType::f32 && shape_numel(a) > 1000) continue;
          CaseBuilder b("add_layer_norm", std::string(dtype_name(t)) + " " + dims(a) + " + " + dims(bshape) +
                                              (outputs == 2 ? " with sum" : ""));
          b.input("a", t, a).input("b", t, bshape).input("weight", t, {a.back()}).input("bias", t, {a.back()}).outputs(outputs);
          if (decompose) b.decomposed();
          out.push_back(b.build());
        }
  out.push_back(CaseBuilder("add_layer_norm", "f32 [2, 5, 9] axis 1 no weight").input("a", DType::f32, {2, 5, 9})
                    .input("b", DType::f32, {2, 5, 9}).attr("axis", int64_t(1)).build());
}

void rms_norm(std::vector<OpCase>& out) {
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const NormShape& s : kNormShapes)
      for (bool weight : {true, false}) {
        if (t != DType::f32 && (shape_numel(s.x) > 1000 || !weight)) continue;
        CaseBuilder b("rms_norm", std::string(dtype_name(t)) + " " + dims(s.x) + " axis " + std::to_string(s.axis) +
                                      (weight ? " weight" : ""));
        b.input("x", t, s.x, {-3, 5});
        if (weight) b.input("weight", t, normalized(s));
        out.push_back(b.attr("axis", s.axis).build());
      }
}

void l2_normalize(std::vector<OpCase>& out) {
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const NormShape& s : kNormShapes) {
      if (t != DType::f32 && shape_numel(s.x) > 1000) continue;
      CaseBuilder b("l2_normalize", std::string(dtype_name(t)) + " " + dims(s.x) + " axis " + std::to_string(s.axis));
      out.push_back(b.input("x", t, s.x, {-3, 3}).attr("axis", s.axis).build());
    }
  // A zero vector: NaN without epsilon, zeros with it.
  for (double eps : {0.0, 1e-12}) {
    CaseBuilder b("l2_normalize", "f32 [3, 5] a zero row, epsilon " + std::to_string(eps));
    Tensor x = b.random(DType::f32, {3, 5}, {-1, 1});
    for (int64_t j = 5; j < 10; ++j) set_element(x, j, 0.0);
    out.push_back(b.input("x", x).attr("epsilon", eps).build());
  }
}

void softmax(std::vector<OpCase>& out) {
  struct SoftmaxShape {
    Shape x, mask;
    int64_t axis;
  };
  const SoftmaxShape shapes[] = {{{3, 17}, {}, -1}, {{5, 4}, {}, 0},   {{2, 7, 3}, {}, 1},  {{1}, {}, 0},
                                 {{4, 33}, {1, 33}, -1}, {{2, 3, 5, 9}, {2, 1, 1, 9}, -1}, {{8, 1031}, {}, -1},
                                 // a mask of fewer dims, and one broadcast along the softmax's axis
                                 {{2, 4, 9}, {9}, -1}, {{3, 5, 7}, {3, 5, 1}, -1},
                                 // masks broadcast over a middle dim, and one of x's own shape
                                 {{2, 3, 5, 20}, {1, 3, 1, 20}, -1}, {{2, 3, 4, 37}, {2, 3, 4, 37}, -1},
                                 // empty: no elements after the axis, or none along it
                                 {{3, 0}, {}, 0}, {{2, 3, 0}, {}, 1}, {{2, 0, 4}, {}, -1}};
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const auto& s : shapes) {
      if (t != DType::f32 && shape_numel(s.x) > 1000) continue;
      CaseBuilder b("softmax", std::string(dtype_name(t)) + " " + dims(s.x) + " axis " + std::to_string(s.axis) +
                                   (s.mask.empty() ? "" : " mask " + dims(s.mask)));
      b.input("x", t, s.x, {-8, 8});
      if (!s.mask.empty()) b.input("mask", t, s.mask, {-4, 0});
      out.push_back(b.attr("axis", s.axis).build());
    }
  // -inf in the mask: keys left out, and one row with none left (NaN, as PyTorch).
  CaseBuilder b("softmax", "f32 [3, 6] mask with -inf");
  Tensor mask = b.random(DType::f32, {3, 6}, {-1, 0});
  for (int64_t j : {1, 4, 6, 7, 8, 9, 10, 11}) set_element(mask, j, -std::numeric_limits<double>::infinity());
  out.push_back(b.input("x", DType::f32, {3, 6}).input("mask", mask).build());
  // A line holding NaN or +inf is NaN throughout, as PyTorch's (oneDNN's max and sum skip NaN),
  // along the last axis and along a middle one.
  for (int64_t axis : {1, 2}) {
    CaseBuilder c("softmax", "f32 [2, 5, 7] axis " + std::to_string(axis) + " NaN and +inf");
    Tensor x = c.random(DType::f32, {2, 5, 7}, {-8, 8});
    set_element(x, 3, std::numeric_limits<double>::quiet_NaN());      // [0, 0, 3]
    set_element(x, 37, std::numeric_limits<double>::infinity());      // [1, 0, 2]
    set_element(x, 50, -std::numeric_limits<double>::infinity());     // [1, 2, 1]: finite still
    out.push_back(c.input("x", x).attr("axis", axis).build());
  }
}

}  // namespace

void norm_cases(std::vector<OpCase>& out) {
  layer_norm(out);
  add_layer_norm(out);
  rms_norm(out);
  l2_normalize(out);
  softmax(out);
}

}  // namespace loom::conformance
