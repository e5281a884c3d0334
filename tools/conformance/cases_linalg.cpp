// matmul, linear and conv2d.
#include "op_case.hpp"

namespace loom::conformance {

namespace {

struct MatmulShape {
  Shape a, b;
  bool ta = false, tb = false;
  double alpha = 1.0;
};

std::string describe(const MatmulShape& m) {
  std::string s = dims(m.a) + " @ " + dims(m.b);
  if (m.ta) s += " transpose_a";
  if (m.tb) s += " transpose_b";
  if (m.alpha != 1.0) s += " alpha=" + std::to_string(m.alpha);
  return s;
}

void matmul(std::vector<OpCase>& out) {
  const MatmulShape shapes[] = {
      {{1, 1}, {1, 1}},
      {{3, 5}, {5, 7}},
      {{17, 33}, {33, 15}},
      {{8, 16}, {16, 16}},
      {{2, 3, 7, 9}, {9, 5}},            // b broadcast over a's batch
      {{4, 1, 5, 8}, {3, 8, 6}},         // both batches broadcast
      {{2, 9, 3}, {2, 9, 4}, true},      // a read transposed
      {{2, 3, 9}, {2, 4, 9}, false, true},
      {{9, 3}, {4, 9}, true, true, 0.125},
      {{1, 7}, {7, 1}, false, false, -2.0},
      {{67, 129}, {129, 71}},            // large
      {{2, 3, 300}, {300, 70}},          // a few rows over a long K (GPU backends' decode kernels)
      {{1, 300}, {70, 300}, false, true},
      {{3, 0}, {0, 4}},                  // inner dim 0: zeros
      {{2, 3, 0}, {2, 5, 0}, false, true},
  };
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const MatmulShape& m : shapes) {
      if (t != DType::f32 && shape_numel(m.a) > 1000) continue;
      out.push_back(CaseBuilder("matmul", std::string(dtype_name(t)) + " " + describe(m))
                        .input("a", t, m.a).input("b", t, m.b)
                        .attr("transpose_a", m.ta).attr("transpose_b", m.tb).attr("alpha", m.alpha).build());
    }
}

void linear(std::vector<OpCase>& out) {
  struct Shape3 {
    Shape x;
    int64_t n;
  };
  const Shape3 shapes[] = {{{5, 16}, 8}, {{16}, 8}, {{1, 1}, 1}, {{2, 3, 17}, 9}, {{7, 31}, 33}, {{33, 257}, 65}, {{3, 257}, 65},
                           {{4, 0}, 5}};  // K = 0: the bias (or 0) through the activation
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const auto& [x, n] : shapes)
      for (bool bias : {true, false})
        for (bool transposed : {false, true})
          for (const char* act : {"none", "relu", "gelu", "gelu_tanh", "quick_gelu", "silu", "tanh"}) {
            const bool large = shape_numel(x) > 1000;
            // Every activation on one shape; the other shapes with none (and relu when large).
            if (std::string(act) != "none" && x != Shape{5, 16} && x != Shape{4, 0} && !(large && std::string(act) == "relu"))
              continue;
            if (t != DType::f32 && (large || !bias)) continue;
            const int64_t k = x.back();
            CaseBuilder b("linear", std::string(dtype_name(t)) + " " + dims(x) + " -> " + std::to_string(n) +
                                        (bias ? " bias" : "") + (transposed ? " weight_transposed" : "") + " " + act);
            b.input("x", t, x).input("weight", t, transposed ? Shape{k, n} : Shape{n, k});
            if (bias) b.input("bias", t, {n});
            b.attr("activation", std::string(act)).attr("weight_transposed", transposed);
            out.push_back(b.build());
          }
}

void conv2d(std::vector<OpCase>& out) {
  struct ConvCase {
    Shape x, w;
    std::vector<int64_t> stride, padding;
  };
  const ConvCase cases[] = {
      {{2, 3, 32, 32}, {16, 3, 8, 8}, {8, 8}, {0, 0}},    // patch embedding
      {{1, 3, 30, 30}, {24, 3, 16, 16}, {16, 16}, {0, 0}}, // a grid that drops the last pixels
      {{1, 4, 7, 9}, {5, 4, 3, 3}, {1, 1}, {1, 1}},       // padded, odd sizes
      {{2, 6, 5, 5}, {3, 6, 1, 1}, {1, 1}, {0, 0}},       // 1x1
      {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1}, {0, 0}},
      {{1, 2, 9, 6}, {3, 2, 3, 2}, {2, 3}, {1, 0}},       // unequal strides and paddings
      {{1, 3, 64, 64}, {48, 3, 16, 16}, {16, 16}, {0, 0}}, // large
      {{2, 0, 4, 4}, {3, 0, 2, 2}, {2, 2}, {0, 0}},       // no input channels: the bias (or 0)
  };
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (const ConvCase& c : cases)
      for (bool bias : {true, false}) {
        if (t != DType::f32 && (shape_numel(c.x) > 1000 || !bias)) continue;
        CaseBuilder b("conv2d", std::string(dtype_name(t)) + " " + dims(c.x) + " * " + dims(c.w) + " stride " + dims(c.stride) +
                                    " padding " + dims(c.padding) + (bias ? " bias" : ""));
        b.input("x", t, c.x).input("weight", t, c.w);
        if (bias) b.input("bias", t, {c.w[0]});
        out.push_back(b.attr("stride", c.stride).attr("padding", c.padding).build());
      }
}

}  // namespace

void linalg_cases(std::vector<OpCase>& out) {
  matmul(out);
  linear(out);
  conv2d(out);
}

}  // namespace loom::conformance
