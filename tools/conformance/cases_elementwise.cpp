// add sub mul div relu tanh sigmoid exp quick_gelu silu gelu cast.
#include "op_case.hpp"

#include <cmath>
#include <limits>

namespace loom::conformance {

namespace {

const DType kFloats[] = {DType::f32, DType::f16, DType::bf16};
const DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8};

bool integer(DType t) { return t == DType::i64 || t == DType::i32 || t == DType::u8; }

// Shape pairs: odd sizes, size 1, scalars, non-multiples of the vector width, broadcasting on
// either side and in the middle, and one large case.
const std::pair<Shape, Shape> kBinaryShapes[] = {
    {{3, 17}, {3, 17}},  {{1}, {1}},          {{}, {3, 5}},          {{5, 7, 9}, {1}},
    {{4, 33}, {33}},     {{4, 1}, {1, 15}},   {{2, 1, 9}, {3, 1}},   {{31}, {31}},
    {{2, 16}, {2, 16}},  {{129}, {129}},      {{64, 1031}, {64, 1031}}};

void binary(std::vector<OpCase>& out, const char* op) {
  const std::string name = op;
  for (DType t : kAll) {
    for (const auto& [a, b] : kBinaryShapes) {
      const bool large = shape_numel(a) > 10000;
      if (t != DType::f32 && (large || a.size() == 3)) continue;  // every shape in f32, most in the others
      // Integer divisors stay away from 0; u8 values stay small so that products fit.
      Range ra = integer(t) ? Range{t == DType::u8 ? 0.0 : -50.0, 50} : Range{-2, 2};
      Range rb = ra;
      if (name == "div") rb = integer(t) ? Range{1, 9} : Range{0.5, 3};
      out.push_back(CaseBuilder(op, std::string(dtype_name(t)) + " " + dims(a) + " " + dims(b))
                        .input("a", t, a, ra).input("b", t, b, rb).build());
    }
  }
  // Negative divisors (integer division truncates toward zero).
  for (DType t : {DType::f32, DType::i64, DType::i32}) {
    if (name != "div") break;
    out.push_back(CaseBuilder(op, std::string(dtype_name(t)) + " negative divisor")
                      .input("a", t, {2, 9}, {-40, 40}).input("b", t, {9}, {-7, -1}).build());
  }
}

void unary(std::vector<OpCase>& out, const char* op, std::vector<std::pair<std::string, AttrValue>> attrs = {}) {
  std::string suffix;
  for (const auto& [k, v] : attrs) suffix += " " + k + "=" + std::get<std::string>(v);
  for (DType t : kFloats)
    for (const Shape& s : {Shape{1}, Shape{7}, Shape{3, 17}, Shape{2, 3, 16}, Shape{4, 33}, Shape{64, 1031}}) {
      if (t != DType::f32 && shape_numel(s) > 10000) continue;
      CaseBuilder b(op, std::string(dtype_name(t)) + " " + dims(s) + suffix);
      b.input("x", t, s, {-5, 5});
      for (const auto& [k, v] : attrs) b.attr(k, v);
      out.push_back(b.build());
    }
  // NaN stays NaN and the infinities give the function's limits, on the small tensors' loops and
  // on the large ones' paths alike (oneDNN's relu had turned NaN into 0, its exp into +inf).
  for (const Shape& s : {Shape{3, 17}, Shape{64, 1031}}) {
    CaseBuilder b(op, "f32 " + dims(s) + " NaN and infinities" + suffix);
    Tensor x = b.random(DType::f32, s, {-5, 5});
    const int64_t n = shape_numel(s);
    for (int64_t i : {int64_t{0}, n / 3, n - 1}) set_element(x, i, std::numeric_limits<double>::quiet_NaN());
    set_element(x, 1, std::numeric_limits<double>::infinity());
    set_element(x, 2, -std::numeric_limits<double>::infinity());
    for (const auto& [k, v] : attrs) b.attr(k, v);
    out.push_back(b.input("x", x).build());
  }
}

void cast(std::vector<OpCase>& out) {
  for (DType from : kAll)
    for (DType to : kAll) {
      const std::string to_name(dtype_name(to));
      CaseBuilder b("cast", std::string(dtype_name(from)) + " to " + to_name);
      // Fractions to truncate, negatives and values past u8 and i32's range that saturate.
      Tensor x = b.random(from, {5, 13}, integer(from) ? Range{-1000, 1000} : Range{-300, 300});
      if (from == DType::f32 || from == DType::i64) {
        set_element(x, 0, 3e9);
        set_element(x, 1, -3e9);
      }
      if (!integer(from)) {
        set_element(x, 2, std::numeric_limits<double>::quiet_NaN());
        set_element(x, 3, std::numeric_limits<double>::infinity());
        set_element(x, 4, -std::numeric_limits<double>::infinity());
        set_element(x, 5, 0.5);
        set_element(x, 6, -0.75);
      }
      out.push_back(b.input("x", x).attr("to", to_name).build());
    }
}

}  // namespace

void elementwise_cases(std::vector<OpCase>& out) {
  for (const char* op : {"add", "sub", "mul", "div"}) binary(out, op);
  unary(out, "relu");
  unary(out, "tanh");
  unary(out, "sigmoid");
  unary(out, "exp");
  unary(out, "quick_gelu");
  unary(out, "silu");
  unary(out, "gelu");
  unary(out, "gelu", {{"approximate", std::string("tanh")}});
  cast(out);
}

}  // namespace loom::conformance
