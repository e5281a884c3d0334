// A tied embedding table (GPT-2's wte, BERT's word embeddings) is both gathered and the LM head's
// weight. The oneDNN backend packs it once for the head (the packed GEMM's panels of 16 rows, or
// oneDNN's blocked layout in panels of 64, reordered a block of 4,096 rows at a time) and gathers
// its rows from that copy (backends/onednn/ops/indexing.cpp), so that the rows must come out bit
// for bit as they are in the table, in every panel (the last one partial), for negative indices
// too, and in every precision (bf16 keeps the head in bf16: the rows are then read from the
// table itself).
#ifdef LOOM_TEST_ONEDNN
#include "cpu_features.hpp"
#include "session_graphs.hpp"

#include <loom/engine.hpp>

#include <doctest/doctest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace loom;

constexpr int64_t kDim = 24;

// Every row differs from every other (r / 1024), and a column from its neighbours.
float table_value(int64_t r, int64_t d) {
  return std::ldexp(static_cast<float>((r * 131 + d * 17) % 97) - 48.0f, -5) + std::ldexp(static_cast<float>(r), -10);
}

Graph tied_graph(int64_t rows) {
  std::string values;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < kDim; ++d) {
      char text[32];
      const auto end = std::to_chars(text, text + sizeof text, table_value(r, d)).ptr;  // shortest exact text
      values += (values.empty() ? "" : ", ") + std::string(text, end);
    }
  return parse_graph_yaml(R"(loom: 1
name: tied
inputs:
  - {name: ids, dtype: i64, shape: [n]}
  - {name: hidden, dtype: f32, shape: [m, 24]}
outputs: [rows, logits]
initializers:
  - {name: table, dtype: f32, shape: [)" + std::to_string(rows) + R"(, 24], values: [)" + values + R"(]}
nodes:
  - {op: gather, inputs: [table, ids], outputs: [rows]}
  - {op: linear, inputs: [hidden, table], outputs: [logits], attrs: {weight_transposed: false}}
)",
                          "tied.yaml");
}

}  // namespace

TEST_CASE("tied weights: rows gathered from a table the LM head packed are the table's rows, in f32 and bf16") {
  Engine engine = test::onednn_engine();
  const bool bf16_cpu = loom::test::cpu_allows(loom::test::CpuIsa::avx512_bf16);
  const bool avx2 = loom::test::cpu_allows(loom::test::CpuIsa::avx2);  // the packed GEMM
  // 37 rows: 3 panels of 16 (the last holding 5), one of 64; 4,200: two blocks of 4,096 rows.
  for (const int64_t kRows : {37, 4200}) {
  CAPTURE(kRows);
  const Graph g = tied_graph(kRows);
  std::vector<int64_t> id_values = {0, 15, 16, 31, 32, 36, -1, -37, 5, 5};
  if (kRows > 4096) id_values.insert(id_values.end(), {63, 64, 4095, 4096, 4199, -4200});
  // Enough rows (1,400 x 24 elements) that a gather from panels splits them over two threads.
  if (kRows > 4096)
    for (int64_t i = 0; i < 1400; ++i) id_values.push_back(i * 37 % kRows);
  Tensor ids(DType::i64, {static_cast<int64_t>(id_values.size())});
  std::memcpy(ids.data(), id_values.data(), id_values.size() * sizeof(int64_t));
  Tensor hidden(DType::f32, {2, kDim});
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data_as<float>()[i] = 0.25f * static_cast<float>(i % 7) - 0.75f;

  for (const char* precision : {"f32", "bf16"}) {
    for (const std::string gemm : {"packed", "blocked", "auto"}) {
      // Refused there: bf16 on the blocked GEMM without a CPU that multiplies bf16; the packed
      // GEMM (which bf16 takes otherwise) without AVX2.
      const bool bf16 = precision == std::string("bf16");
      if (gemm == "blocked" && bf16 && !bf16_cpu) continue;
      if (!avx2 && (gemm == "packed" || (gemm == "auto" && bf16 && !bf16_cpu))) continue;
      INFO("precision " << std::string(precision) << ", gemm " << gemm);
      SessionOptions options;
      options.backends = {"onednn"};
      options.threads = kRows > 4096 ? 2 : 1;
      options.options = {{"precision", precision}, {"onednn.gemm", gemm.c_str()}};
      // Two sessions: the second finds the head's copy in the engine's cache, not made by its own compile.
      for (int session = 0; session < 2; ++session) {
        Session s = engine.compile(g, options);
        const TensorMap out = s.run({{"ids", ids}, {"hidden", hidden}});
        const Tensor& rows = out.at("rows");
        REQUIRE(rows.shape() == Shape{static_cast<int64_t>(id_values.size()), kDim});
        for (size_t j = 0; j < id_values.size(); ++j) {
          const int64_t r = id_values[j] < 0 ? id_values[j] + kRows : id_values[j];
          for (int64_t d = 0; d < kDim; ++d) REQUIRE(rows.data_as<float>()[j * kDim + d] == table_value(r, d));
        }
        // The head still multiplies by the same table (f32: to rounding; bf16: to its operands' rounding).
        const Tensor& logits = out.at("logits");
        REQUIRE(logits.shape() == Shape{2, kRows});
        for (int64_t m = 0; m < 2; ++m)
          for (int64_t r = 0; r < kRows; ++r) {
            double want = 0, scale = 1;  // scale: 1 + the sum of the products' magnitudes
            for (int64_t d = 0; d < kDim; ++d) {
              const double product = double(hidden.data_as<float>()[m * kDim + d]) * table_value(r, d);
              want += product;
              scale += std::abs(product);
            }
            CHECK(std::abs(logits.data_as<float>()[m * kRows + r] - want) <= (precision[0] == 'f' ? 1e-6 : 1e-2) * scale);
          }
      }
    }
  }
  }
}
#endif
