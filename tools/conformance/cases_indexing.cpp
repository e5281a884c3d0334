// gather, gather_rows and positions.
#include "op_case.hpp"

namespace loom::conformance {

namespace {

void gather(std::vector<OpCase>& out) {
  struct GatherShape {
    Shape data, indices;
    int64_t axis;
  };
  const GatherShape shapes[] = {{{10, 7}, {4}, 0},    {{10, 7}, {2, 3}, 0}, {{5, 9}, {6}, 1},   {{5, 9}, {}, 1},
                                {{3, 4, 17}, {5}, -1}, {{1}, {1}, 0},       {{1000, 33}, {64}, 0}};
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8})
    for (DType it : {DType::i64, DType::i32})
      for (const auto& s : shapes) {
        if ((t != DType::f32 || it != DType::i64) && (s.data.size() != 2 || s.indices.size() != 1)) continue;
        const int64_t axis = s.axis < 0 ? s.axis + static_cast<int64_t>(s.data.size()) : s.axis;
        const int64_t n = s.data[axis];
        CaseBuilder b("gather", std::string(dtype_name(t)) + " " + dims(s.data) + " axis " + std::to_string(s.axis) + " " +
                                    std::string(dtype_name(it)) + " indices " + dims(s.indices));
        b.input("data", t, s.data, {-50, 50});
        // Negative indices count from the end.
        b.input("indices", it, s.indices, {static_cast<double>(-n), static_cast<double>(n - 1)});
        out.push_back(b.attr("axis", s.axis).build());
      }
}

void gather_rows(std::vector<OpCase>& out) {
  const std::pair<Shape, DType> shapes[] = {{{2, 6, 8}, DType::f32}, {{3, 4, 2, 5}, DType::f32}, {{1, 1, 3}, DType::f32},
                                            {{4, 77, 512}, DType::f32}, {{3, 5}, DType::i64}, {{2, 9, 4}, DType::f16}};
  for (const auto& [data, t] : shapes)
    for (DType it : {DType::i64, DType::i32}) {
      const int64_t rows = data[1];
      CaseBuilder b("gather_rows", std::string(dtype_name(t)) + " " + dims(data) + " " + std::string(dtype_name(it)) + " indices");
      b.input("data", t, data, {-50, 50});
      // Negative indices count from the end.
      out.push_back(b.input("indices", it, {data[0]}, {static_cast<double>(-rows), static_cast<double>(rows - 1)}).build());
    }
}

void positions(std::vector<OpCase>& out) {
  out.push_back(CaseBuilder("positions", "like [2, 9] axis 1").input("like", DType::i64, {2, 9}).build());
  out.push_back(CaseBuilder("positions", "like f32 [3, 5, 4] axis -1").input("like", DType::f32, {3, 5, 4})
                    .attr("axis", int64_t(-1)).build());
  out.push_back(CaseBuilder("positions", "like [1, 33] offset [1]").input("like", DType::i64, {1, 33})
                    .input("offset", DType::i64, {1}, {0, 100}).build());
  out.push_back(CaseBuilder("positions", "like [2, 1] offset []").input("like", DType::i64, {2, 1})
                    .input("offset", DType::i64, {}, {0, 100}).build());
  out.push_back(CaseBuilder("positions", "like [3, 17] per_row").input("like", DType::i64, {3, 17})
                    .input("offset", DType::i64, {3}, {0, 100}).attr("per_row", true).build());
  out.push_back(CaseBuilder("positions", "like [2, 4, 3] axis 2 per_row").input("like", DType::f32, {2, 4, 3})
                    .input("offset", DType::i64, {2}, {0, 9}).attr("axis", int64_t(2)).attr("per_row", true).build());
}

}  // namespace

void indexing_cases(std::vector<OpCase>& out) {
  gather(out);
  gather_rows(out);
  positions(out);
}

}  // namespace loom::conformance
