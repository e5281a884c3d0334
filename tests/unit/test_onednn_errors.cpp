// The oneDNN backend plugin's run-time errors, driven through the C ABI: indices, offsets and
// valid lengths out of range (also where the output is empty), shapes that do not fit, and the
// zero-width attention heads the reference computes as NaN.
#ifdef LOOM_TEST_ONEDNN
#include "onednn_harness.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <climits>
#include <cstdint>
#include <string>

using loom::DType;
using loom::Tensor;
using loom::test::Attr;
using loom::test::GraphBuilder;
using loom::test::OnednnPlugin;
using loom::test::PluginError;

TEST_CASE("onednn gather with an index out of range is an error naming the node") {
  OnednnPlugin plugin;
  Tensor table(DType::f32, {10, 4}), ids(DType::i64, {3}), out(DType::f32, {3, 4});
  GraphBuilder g;
  int t = g.value("table", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {10, 4}, &table);
  int i = g.value("ids", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {-1});
  int y = g.value("emb", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, 4});
  g.node("gather", {t, i}, {y}, {Attr::integer("axis", 0)}, "embeddings.word");
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare({{10, 4}, {3}, {3, 4}});
  for (int64_t bad : {int64_t{10}, int64_t{-11}, INT64_MIN}) {
    CAPTURE(bad);
    ids.data_as<int64_t>()[0] = 1;
    ids.data_as<int64_t>()[1] = bad;
    ids.data_as<int64_t>()[2] = 2;
    try {
      plan.run({nullptr, &ids, &out});
      FAIL("no error");
    } catch (const PluginError& e) {
      std::string msg = e.what();
      CHECK(msg.find("node 'embeddings.word' (gather)") != std::string::npos);
      CHECK(msg.find("index " + std::to_string(bad)) != std::string::npos);
      CHECK(msg.find("size 10") != std::string::npos);
    }
  }
  ids.data_as<int64_t>()[1] = -10;
  CHECK_NOTHROW(plan.run({nullptr, &ids, &out}));
}

TEST_CASE("onednn checks offsets and valid lengths even where the output is empty, as the reference does") {
  OnednnPlugin plugin;
  {  // cache_write into a cache of no positions: an offset past 0 does not fit
    GraphBuilder g;
    int c = g.value("cache", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 2, 0, 4});
    int u = g.value("update", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 2, 0, 4});
    int o = g.value("offset", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {1});
    int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {1, 2, 0, 4});
    g.node("cache_write", {c, u, o}, {y}, {Attr::integer("axis", 2)}, "write");
    loom::test::Executable exe(plugin.backend(), g);
    auto plan = exe.prepare({{1, 2, 0, 4}, {1, 2, 0, 4}, {1}, {1, 2, 0, 4}});
    Tensor cache(DType::f32, {1, 2, 0, 4}), offset(DType::i64, {1}), out(DType::f32, {1, 2, 0, 4});
    offset.data_as<int64_t>()[0] = 5;
    CHECK_THROWS_WITH_AS(plan.run({&cache, &cache, &offset, &out}), "run: node 'write' (cache_write): offset[0] = 5 is outside 0..0",
                         PluginError);
    offset.data_as<int64_t>()[0] = 0;
    CHECK_NOTHROW(plan.run({&cache, &cache, &offset, &out}));
  }
  {  // attention with values of width 0 (an empty output) and a valid length past the keys
    GraphBuilder g;
    int q = g.value("q", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {2, 1, 3, 4});
    int k = g.value("k", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {2, 1, 5, 4});
    int v = g.value("v", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {2, 1, 5, 0});
    int l = g.value("lengths", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {2});
    int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {2, 1, 3, 0});
    g.node("attention", {q, k, v, -1, l}, {y}, {}, "heads");
    loom::test::Executable exe(plugin.backend(), g);
    auto plan = exe.prepare({{2, 1, 3, 4}, {2, 1, 5, 4}, {2, 1, 5, 0}, {2}, {2, 1, 3, 0}});
    Tensor tq(DType::f32, {2, 1, 3, 4}), tk(DType::f32, {2, 1, 5, 4}), tv(DType::f32, {2, 1, 5, 0}), lengths(DType::i64, {2}),
        out(DType::f32, {2, 1, 3, 0});
    lengths.data_as<int64_t>()[0] = 5;
    lengths.data_as<int64_t>()[1] = 6;
    CHECK_THROWS_WITH_AS(plan.run({&tq, &tk, &tv, &lengths, &out}),
                         "run: node 'heads' (attention): valid_length[1] = 6 is outside 0..5", PluginError);
    lengths.data_as<int64_t>()[1] = 0;
    CHECK_NOTHROW(plan.run({&tq, &tk, &tv, &lengths, &out}));
  }
}

TEST_CASE("onednn attention over heads of width 0 at the default scale gives NaN, as the reference does") {
  OnednnPlugin plugin;
  GraphBuilder g;
  int q = g.value("q", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 2, 3, 0});
  int k = g.value("k", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 2, 4, 0});
  int v = g.value("v", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 2, 4, 2});
  int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {1, 2, 3, 2});
  g.node("attention", {q, k, v}, {y}, {}, "heads");  // no mask, causal flag or valid length: not decomposed
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare({{1, 2, 3, 0}, {1, 2, 4, 0}, {1, 2, 4, 2}, {1, 2, 3, 2}});
  Tensor tq(DType::f32, {1, 2, 3, 0}), tk(DType::f32, {1, 2, 4, 0}), tv(DType::f32, {1, 2, 4, 2}), out(DType::f32, {1, 2, 3, 2});
  for (int64_t i = 0; i < 16; ++i) tv.data_as<float>()[i] = static_cast<float>(i);
  plan.run({&tq, &tk, &tv, &out});
  for (int64_t i = 0; i < 12; ++i) CHECK(std::isnan(out.data_as<float>()[i]));
}

TEST_CASE("onednn prepare and run reject what does not fit") {
  OnednnPlugin plugin;
  GraphBuilder g;
  int a = g.value("a", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {-1});
  int b = g.value("b", LOOM_VALUE_INPUT, LOOM_DTYPE_I64, {-1});
  int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_I64, {-1});
  g.node("div", {a, b}, {y}, {}, "ratio");
  loom::test::Executable exe(plugin.backend(), g);
  CHECK_THROWS_WITH_AS(exe.prepare({{4}, {4}, {5}}),
                       "prepare: node 'ratio' (div): output 0 has shape [5], expected [4]", PluginError);
  CHECK_THROWS_WITH_AS(exe.prepare({{4}, {3}, {4}}), "prepare: node 'ratio' (div): shapes [4] and [3] do not broadcast",
                       PluginError);
  CHECK_THROWS_AS(exe.prepare({{4}, {4}}), PluginError);
  auto plan = exe.prepare({{2}, {2}, {2}});
  Tensor ta(DType::i64, {2}), tb(DType::i64, {2}), ty(DType::i64, {2});
  ta.data_as<int64_t>()[0] = 7;
  tb.data_as<int64_t>()[0] = 2;
  CHECK_THROWS_WITH_AS(plan.run({&ta, &tb, &ty}), "run: node 'ratio' (div): integer division by zero", PluginError);
  tb.data_as<int64_t>()[1] = -1;
  ta.data_as<int64_t>()[1] = INT64_MIN;
  plan.run({&ta, &tb, &ty});
  CHECK(ty.data_as<int64_t>()[0] == 3);
  CHECK(ty.data_as<int64_t>()[1] == INT64_MIN);
  CHECK_THROWS_AS(plan.run({&ta, &tb}), PluginError);
  CHECK_THROWS_AS(plan.run({&ta, nullptr, &ty}), PluginError);
}

#endif  // LOOM_TEST_ONEDNN
