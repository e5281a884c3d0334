// The oneDNN backend plugin, driven through the C ABI only: every op against PyTorch's results
// (tests/fixtures/ops, written by tools/fixtures/make_op_fixtures.py), placement answers,
// NaN and infinities, and one plan run from several threads at once (run-time errors:
// test_onednn_errors.cpp).
#ifdef LOOM_TEST_ONEDNN
#include "cpu_features.hpp"
#include "onednn_harness.hpp"
#include "../../backends/onednn/gemm.hpp"
#include "slice_reference.hpp"
#include "bf16_reference.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

namespace fs = std::filesystem;
using loom::DType;
using loom::Tensor;
using loom::test::Attr;
using loom::test::GraphBuilder;
using loom::test::OnednnPlugin;
using loom::test::PluginError;
using loom::test::bf16_reference;

namespace {

const fs::path kFixtures = fs::path(LOOM_TEST_DATA_DIR) / "fixtures" / "ops";

int32_t dtype_of(const std::string& name) {
  auto d = loom::parse_dtype(name);
  if (!d) throw std::runtime_error("unknown dtype " + name);
  return static_cast<int32_t>(*d);
}

Attr attr_of(const nlohmann::json& j) {
  const std::string name = j.at("name"), type = j.at("type");
  if (type == "int") return Attr::integer(name, j.at("value").get<int64_t>());
  if (type == "bool") return Attr::boolean(name, j.at("value").get<bool>());
  if (type == "float") return Attr::real(name, j.at("value").get<double>());
  if (type == "string") return Attr::string(name, j.at("value").get<std::string>());
  if (type == "ints") return Attr::list(name, j.at("value").get<std::vector<int64_t>>());
  throw std::runtime_error("unknown attribute type " + type);
}

// Largest violation of |out - ref| <= atol + rtol*|ref| (0 when all hold); NaN must meet NaN.
double worst_error(const Tensor& out, const Tensor& ref, double atol, double rtol, std::string& where) {
  REQUIRE(out.dtype() == ref.dtype());
  REQUIRE(out.shape() == ref.shape());
  double worst = 0;
  auto visit = [&](auto tag) {
    using T = decltype(tag);
    const T* o = out.data_as<T>();
    const T* r = ref.data_as<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      double a = static_cast<double>(o[i]), b = static_cast<double>(r[i]);
      if (std::isnan(a) || std::isnan(b)) {
        if (std::isnan(a) != std::isnan(b)) { where = "NaN mismatch at " + std::to_string(i); return (void)(worst = INFINITY); }
        continue;
      }
      if constexpr (std::is_integral_v<T>) {
        if (o[i] != r[i]) { where = "element " + std::to_string(i); worst = INFINITY; return; }
        continue;
      }
      double excess = std::fabs(a - b) - (atol + rtol * std::fabs(b));
      if (excess > worst) {
        worst = excess;
        where = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs " + std::to_string(b);
      }
    }
  };
  switch (out.dtype()) {
    case DType::f32: visit(float{}); break;
    case DType::i64: visit(int64_t{}); break;
    case DType::i32: visit(int32_t{}); break;
    case DType::u8: visit(uint8_t{}); break;
    default: FAIL("unexpected dtype");
  }
  return worst;
}

struct FixtureCase {
  std::string name;
  nlohmann::json spec;
  std::vector<Tensor> inputs, outputs;
};

FixtureCase load_case(const fs::path& dir) {
  FixtureCase c;
  c.name = dir.filename().string();
  std::ifstream in(dir / "case.json");
  c.spec = nlohmann::json::parse(in);
  // A null input is an optional input left out before a given one.
  for (const auto& i : c.spec.at("inputs"))
    c.inputs.push_back(i.is_null() ? Tensor() : loom::read_npy(dir / i.at("file").get<std::string>()));
  for (const auto& o : c.spec.at("outputs")) c.outputs.push_back(loom::read_npy(dir / o.at("file").get<std::string>()));
  return c;
}

// The ops the backend runs itself. A fixture of another op (a fused op it does not implement,
// which sessions run through its decomposition) runs here only if the backend accepts it.
const std::set<std::string> kBackendOps = {"add", "sub", "mul", "div", "relu", "tanh", "sigmoid", "gelu",
                                           "cast", "matmul", "linear", "layer_norm", "add_layer_norm", "softmax",
                                           "gather", "positions", "reshape", "transpose", "slice", "concat", "key_mask",
                                           "cache_write"};

// Runs a fixture as a one-node graph. With `symbolic`, the activations' first dim is -1 at
// compile time, so that the concrete shape is known only to prepare(). nullopt: the backend
// declines an op outside kBackendOps.
std::optional<std::vector<Tensor>> run_case(OnednnPlugin& plugin, const FixtureCase& c, bool symbolic) {
  GraphBuilder g;
  std::vector<int32_t> ins, outs;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<Tensor*> tensors;
  std::vector<Tensor> results;
  const auto& spec = c.spec;
  auto compile_dims = [&](const loom::Shape& s, bool constant) {
    std::vector<int64_t> d = s;
    if (symbolic && !constant && !d.empty()) d[0] = -1;
    return d;
  };
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const auto& j = spec.at("inputs")[k];
    if (j.is_null()) {
      ins.push_back(-1);
      continue;
    }
    bool constant = j.value("constant", false);
    ins.push_back(g.value(j.at("name"), constant ? LOOM_VALUE_CONSTANT : LOOM_VALUE_INPUT, dtype_of(j.at("dtype")),
                          compile_dims(c.inputs[k].shape(), constant), constant ? &c.inputs[k] : nullptr));
    shapes.push_back(c.inputs[k].shape());
    tensors.push_back(constant ? nullptr : const_cast<Tensor*>(&c.inputs[k]));
  }
  results.reserve(c.outputs.size());
  for (size_t k = 0; k < c.outputs.size(); ++k) {
    const auto& j = spec.at("outputs")[k];
    outs.push_back(g.value(j.at("name"), LOOM_VALUE_OUTPUT, dtype_of(j.at("dtype")),
                           compile_dims(c.outputs[k].shape(), false)));
    shapes.push_back(c.outputs[k].shape());
    results.emplace_back(c.outputs[k].dtype(), c.outputs[k].shape());
  }
  for (auto& r : results) tensors.push_back(&r);
  std::vector<Attr> attrs;
  for (const auto& a : spec.at("attrs")) attrs.push_back(attr_of(a));
  g.node(spec.at("op"), ins, outs, attrs, c.name);
  if (!kBackendOps.count(spec.at("op")) && !loom::test::unsupported_reason(plugin.backend(), g).empty()) return std::nullopt;
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare(shapes);
  plan.run(tensors);
  return results;
}

}  // namespace

TEST_CASE("onednn plugin: descriptor, one CPU device, only the entry point exported") {
  OnednnPlugin plugin;
  const loom_plugin& d = plugin.descriptor();
  CHECK(d.abi_major == LOOM_ABI_VERSION_MAJOR);
  CHECK(d.kind == LOOM_PLUGIN_BACKEND);
  CHECK(std::string(d.name) == "onednn");
  REQUIRE(d.backend);
  CHECK(d.backend->device_count(plugin.state()) == 1);
  loom_device_info info{};
  loom::test::check(d.backend->device_info(plugin.state(), 0, &info), "device_info");
  CHECK(std::string(info.name) == "CPU");
  CHECK(std::string(info.description).find("oneDNN 2.") == 0);
  CHECK(info.memory_kind == LOOM_MEMORY_HOST);
  CHECK(plugin.backend().memory_kind == LOOM_MEMORY_HOST);
  loom_device_info none{};
  CHECK_THROWS_AS(loom::test::check(d.backend->device_info(plugin.state(), 1, &none), "device_info"), PluginError);
  // Hidden visibility: kernel classes are not reachable from outside.
  CHECK(dlsym(plugin.library(), "_ZN4loom6onednn10cpu_engineEv") == nullptr);
}

TEST_CASE("onednn ops match PyTorch on every fixture") {
  OnednnPlugin plugin;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kFixtures))
    if (fs::exists(e.path() / "case.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  REQUIRE(dirs.size() >= 50);
  std::map<std::string, int> per_op;
  for (const auto& dir : dirs) {
    FixtureCase c = load_case(dir);
    CAPTURE(c.name);
    per_op[c.spec.at("op")]++;
    const double atol = c.spec.at("tolerance").at("atol"), rtol = c.spec.at("tolerance").at("rtol");
    for (bool symbolic : {false, true}) {
      CAPTURE(symbolic);
      std::vector<Tensor> got;
      try {
        auto outs = run_case(plugin, c, symbolic);
        if (!outs) continue;
        got = std::move(*outs);
      } catch (const std::exception& e) {
        FAIL_CHECK(e.what());
        continue;
      }
      REQUIRE(got.size() == c.outputs.size());
      for (size_t k = 0; k < got.size(); ++k) {
        std::string where;
        double err = worst_error(got[k], c.outputs[k], atol, rtol, where);
        CAPTURE(where);
        CHECK(err == 0.0);
      }
    }
  }
  // Every op the backend runs has at least one case.
  for (const auto& op : kBackendOps) {
    CAPTURE(op);
    CHECK(per_op[op] >= 1);
  }
}

TEST_CASE("onednn supports_node says precisely why it refuses") {
  OnednnPlugin plugin;
  auto reason = [&](const std::string& op, int32_t dtype, std::vector<int64_t> dims, std::vector<Attr> attrs,
                    int inputs = 1) {
    GraphBuilder g;
    std::vector<int32_t> in;
    for (int i = 0; i < inputs; ++i) in.push_back(g.value("x" + std::to_string(i), LOOM_VALUE_INPUT, dtype, dims));
    int y = g.value("y", LOOM_VALUE_OUTPUT, dtype, dims);
    g.node(op, in, {y}, attrs, "n");
    return loom::test::unsupported_reason(plugin.backend(), g);
  };
  CHECK(reason("relu", LOOM_DTYPE_F32, {2, 3}, {}) == "");
  CHECK(reason("frobnicate", LOOM_DTYPE_F32, {2}, {}) == "op 'frobnicate' is unknown to the onednn backend");
  CHECK(reason("gelu", LOOM_DTYPE_F16, {2}, {Attr::string("approximate", "none")}) ==
        "dtype f16 of input 'x0' is not supported (onednn runs gelu on f32)");
  CHECK(reason("add", LOOM_DTYPE_U8, {2}, {}, 2) ==
        "dtype u8 of input 'x0' is not supported (onednn runs add on f32, i64, i32)");
  CHECK(reason("add", LOOM_DTYPE_F32, std::vector<int64_t>(9, 1), {}, 2) ==
        "rank 9 of input 'x0' is too high (onednn runs add up to rank 8)");
  CHECK(reason("gelu", LOOM_DTYPE_F32, {2}, {Attr::string("approximate", "sigmoid")}) ==
        "approximate='sigmoid' is not one of none, tanh");
  CHECK(reason("transpose", LOOM_DTYPE_F32, {2, 3}, {Attr::list("perm", {0, 0})}) ==
        "perm [0, 0] is not a permutation of the 2 dims");
  CHECK(reason("softmax", LOOM_DTYPE_F32, {2, 3}, {Attr::integer("axis", 2)}) == "axis 2 is out of range for rank 2");
  CHECK(reason("slice", LOOM_DTYPE_F32, {4}, {Attr::integer("axis", 0), Attr::integer("step", 0)}) ==
        "step 0 is not >= 1");
  CHECK(reason("add", LOOM_DTYPE_F32, {2}, {}, 1) == "takes 2 inputs, the node has 1");
  // Data movement runs on every dtype.
  CHECK(reason("transpose", LOOM_DTYPE_BF16, {2, 3}, {Attr::list("perm", {1, 0})}) == "");
}

TEST_CASE("onednn slice takes what Python takes for every start, end and step, the int64 limits included") {
  OnednnPlugin plugin;
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}}) {
    Tensor x(DType::i32, {2, n});
    for (int64_t i = 0; i < 2 * n; ++i) x.data_as<int32_t>()[i] = static_cast<int32_t>(100 * (i / n) + i % n);
    for (int64_t start : loom::test::extreme_bounds(n))
      for (int64_t end : loom::test::extreme_bounds(n))
        for (int64_t step : loom::test::extreme_steps(n)) {
          if (step < 1) continue;
          CAPTURE(n);
          CAPTURE(start);
          CAPTURE(end);
          CAPTURE(step);
          const std::vector<int64_t> want = loom::test::python_slice(n, start, end, step);
          const auto count = static_cast<int64_t>(want.size());
          GraphBuilder g;
          int xi = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_I32, {2, n});
          int yi = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_I32, {2, count});
          g.node("slice", {xi}, {yi},
                 {Attr::integer("axis", 1), Attr::integer("start", start), Attr::integer("end", end), Attr::integer("step", step)}, "s");
          loom::test::Executable exe(plugin.backend(), g);
          auto plan = exe.prepare({{2, n}, {2, count}});
          Tensor y(DType::i32, {2, count});
          plan.run({&x, &y});
          for (int64_t r = 0; r < 2; ++r)
            for (int64_t k = 0; k < count; ++k) CHECK(y.data_as<int32_t>()[r * count + k] == 100 * r + want[k]);
        }
  }
}

// oneDNN 2.6 keeps some sizes in 32 bits: a linear layer over 2^32 rows divided by zero while its
// primitive was made. The backend refuses such a value by name before it makes any primitive.
TEST_CASE("onednn refuses a value of more than 2^31 - 1 elements when it prepares, before oneDNN sees it") {
  OnednnPlugin plugin;
  for (int64_t rows : {int64_t{1} << 31, int64_t{1} << 32}) {
    CAPTURE(rows);
    Tensor w(DType::f32, {2, 2});
    GraphBuilder g;
    int xi = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, 2});
    int wi = g.value("w", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {2, 2}, &w);
    int yi = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, 2});
    g.node("linear", {xi, wi}, {yi}, {}, "l");
    loom::test::Executable exe(plugin.backend(), g);
    const std::string want = "value 'x' of shape [" + std::to_string(rows) + ", 2] has more than 2^31 - 1 elements";
    CHECK_THROWS_WITH(exe.prepare({{rows, 2}, {2, 2}, {rows, 2}}), doctest::Contains(want.c_str()));
  }
}

// Slices and row-moving transposes of at least 128 KB split over the threads (shape.cpp): on
// two threads, an odd count of outer rows and a step, they must copy what one thread copies.
TEST_CASE("onednn slice and head transpose split over two threads copy every row") {
  OnednnPlugin plugin(2);
  const int64_t outer = 257, len = 7, row = 64;
  Tensor x(DType::f32, {outer, len, row});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = static_cast<float>(i);
  {
    // Every second of rows 1..6: 257 x 3 x 256 bytes.
    GraphBuilder g;
    int xi = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {outer, len, row});
    int yi = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {outer, 3, row});
    g.node("slice", {xi}, {yi}, {Attr::integer("axis", 1), Attr::integer("start", 1), Attr::integer("step", 2)}, "s");
    loom::test::Executable exe(plugin.backend(), g);
    auto plan = exe.prepare({{outer, len, row}, {outer, 3, row}});
    Tensor y(DType::f32, {outer, 3, row});
    plan.run({&x, &y});
    int64_t wrong = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < 3; ++k)
        for (int64_t c = 0; c < row; ++c)
          wrong += y.data_as<float>()[(o * 3 + k) * row + c] != static_cast<float>((o * len + 1 + 2 * k) * row + c);
    CHECK(wrong == 0);
  }
  {
    // [1, 257, 7, 64] -> [1, 7, 257, 64], as attention's heads move.
    GraphBuilder g;
    int xi = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, outer, len, row});
    int yi = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {1, len, outer, row});
    g.node("transpose", {xi}, {yi}, {Attr::list("perm", {0, 2, 1, 3})}, "t");
    loom::test::Executable exe(plugin.backend(), g);
    auto plan = exe.prepare({{1, outer, len, row}, {1, len, outer, row}});
    Tensor y(DType::f32, {1, len, outer, row});
    plan.run({&x, &y});
    int64_t wrong = 0;
    for (int64_t h = 0; h < len; ++h)
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < row; ++c)
          wrong += y.data_as<float>()[(h * outer + o) * row + c] != static_cast<float>((o * len + h) * row + c);
    CHECK(wrong == 0);
  }
}

TEST_CASE("onednn softmax of a row that is all -inf gives NaN, as PyTorch") {
  OnednnPlugin plugin;
  GraphBuilder g;
  int x = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {2, 3});
  int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {2, 3});
  g.node("softmax", {x}, {y}, {Attr::integer("axis", -1)});
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare({{2, 3}, {2, 3}});
  Tensor tx(DType::f32, {2, 3}), ty(DType::f32, {2, 3});
  float* px = tx.data_as<float>();
  for (int i = 0; i < 3; ++i) px[i] = -INFINITY;
  px[3] = 0.0f, px[4] = -INFINITY, px[5] = 0.0f;
  plan.run({&tx, &ty});
  const float* py = ty.data_as<float>();
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(py[i]));
  CHECK(py[3] == doctest::Approx(0.5f));
  CHECK(py[4] == 0.0f);
  CHECK(py[5] == doctest::Approx(0.5f));
}

namespace {

// linear+gelu -> layer_norm -> softmax(mask) -> mul: a bit of everything that has oneDNN
// primitives with scratchpads and hand-written loops.
struct Block {
  Tensor w{DType::f32, {32, 16}}, bias{DType::f32, {32}}, gamma{DType::f32, {32}}, beta{DType::f32, {32}};
  GraphBuilder g;
  Block() {
    for (Tensor* t : {&w, &bias, &gamma, &beta})
      for (int64_t i = 0; i < t->numel(); ++i) t->data_as<float>()[i] = std::sin(0.37f * static_cast<float>(i + 1));
    int x = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, 16});
    int mask = g.value("mask", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 32});
    int wv = g.value("w", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {32, 16}, &w);
    int bv = g.value("b", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {32}, &bias);
    int gv = g.value("gamma", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {32}, &gamma);
    int bev = g.value("beta", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {32}, &beta);
    int h = g.value("h", LOOM_VALUE_ACTIVATION, LOOM_DTYPE_F32, {-1, 32});
    int n = g.value("n", LOOM_VALUE_ACTIVATION, LOOM_DTYPE_F32, {-1, 32});
    int s = g.value("s", LOOM_VALUE_ACTIVATION, LOOM_DTYPE_F32, {-1, 32});
    int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, 32});
    g.node("linear", {x, wv, bv}, {h}, {Attr::string("activation", "gelu")});
    g.node("layer_norm", {h, gv, bev}, {n}, {Attr::integer("axis", -1), Attr::real("epsilon", 1e-12)});
    g.node("softmax", {n, mask}, {s}, {Attr::integer("axis", -1)});
    g.node("mul", {s, n}, {y}, {});
  }
  static constexpr int64_t kRows = 24;
  std::vector<std::vector<int64_t>> shapes() const {
    return {{kRows, 16}, {1, 32}, {32, 16}, {32}, {32}, {32}, {kRows, 32}, {kRows, 32}, {kRows, 32}, {kRows, 32}};
  }
};

struct Buffers {
  Tensor x{DType::f32, {Block::kRows, 16}}, mask{DType::f32, {1, 32}};
  Tensor h{DType::f32, {Block::kRows, 32}}, n{DType::f32, {Block::kRows, 32}}, s{DType::f32, {Block::kRows, 32}};
  Tensor y{DType::f32, {Block::kRows, 32}};
  explicit Buffers(int seed) {
    for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = std::cos(0.11f * static_cast<float>(i * (seed + 1)));
    for (int64_t i = 0; i < 32; ++i) mask.data_as<float>()[i] = (i + seed) % 5 == 0 ? -1e9f : 0.0f;
  }
  std::vector<Tensor*> args() { return {&x, &mask, nullptr, nullptr, nullptr, nullptr, &h, &n, &s, &y}; }
};

}  // namespace

TEST_CASE("onednn one plan runs from 4 threads at once, each with its own scratch") {
  OnednnPlugin plugin(1);
  Block block;
  loom::test::Executable exe(plugin.backend(), block.g);
  auto plan = exe.prepare(block.shapes());
  constexpr int kThreads = 4, kRuns = 50;
  std::vector<Tensor> expected;
  for (int t = 0; t < kThreads; ++t) {
    Buffers b(t);
    plan.run(b.args());
    expected.push_back(b.y.clone());
  }
  // The threads' inputs differ, so a run that saw another's data or scratch shows.
  CHECK(std::memcmp(expected[0].data(), expected[1].data(), expected[0].nbytes()) != 0);
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Buffers b(t);
      std::vector<std::byte> scratch(plan.scratch_bytes() + 1);
      for (int r = 0; r < kRuns; ++r) {
        std::fill(b.y.data_as<float>(), b.y.data_as<float>() + b.y.numel(), 0.0f);
        try {
          // An odd offset: the plan aligns the scratch it is given.
          plan.run(b.args(), scratch.data() + 1);
        } catch (...) {
          ++errors[t];
          continue;
        }
        if (std::memcmp(b.y.data(), expected[t].data(), b.y.nbytes()) != 0) ++mismatches[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
    CHECK(mismatches[t] == 0);
  }
}

TEST_CASE("onednn plan asks for scratch and refuses too little" * doctest::description("scratchpad_mode::user")) {
  // oneDNN's matmul for the linear layer, where its scratchpad is the plan's (on AVX-512; its
  // AVX2 matmul needs none), and the packed GEMM, which packs the activations in the scratch (the
  // blocked weights' kernels for few rows need none).
  bool tested = false;
  for (const std::string gemm : {"onednn", "packed"}) {
    if (gemm == "packed" && !loom::test::cpu_allows(loom::test::CpuIsa::avx2)) continue;
    CAPTURE(gemm);
    OnednnPlugin plugin(1, gemm.c_str());
    Block block;
    loom::test::Executable exe(plugin.backend(), block.g);
    auto plan = exe.prepare(block.shapes());
    Buffers b(0);
    if (gemm == "onednn" && plan.scratch_bytes() == 0) continue;
    REQUIRE(plan.scratch_bytes() > 0);
    tested = true;
    std::vector<std::byte> scratch(plan.scratch_bytes());
    CHECK_THROWS_AS(plan.run(b.args(), scratch.data(), plan.scratch_bytes() - 1), PluginError);
    CHECK_THROWS_AS(plan.run(b.args(), nullptr, plan.scratch_bytes()), PluginError);
    CHECK_NOTHROW(plan.run(b.args()));
  }
  CHECK((tested || !loom::test::cpu_allows(loom::test::CpuIsa::avx2)));
}

// Executor overhead: a chain of tiny element-wise nodes. A benchmark, not a test: run it with
// `loom_unit_tests -tc="*overhead*" --no-skip`.
TEST_CASE("onednn per-node overhead of a 1000-node add/mul chain" * doctest::skip()) {
  OnednnPlugin plugin(1);
  GraphBuilder g;
  int prev = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 16});
  int c = g.value("c", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {1, 16});
  constexpr int kNodes = 1000;
  for (int i = 0; i < kNodes; ++i) {
    int y = g.value("v" + std::to_string(i), i + 1 == kNodes ? LOOM_VALUE_OUTPUT : LOOM_VALUE_ACTIVATION,
                    LOOM_DTYPE_F32, {1, 16});
    g.node(i % 2 ? "mul" : "add", {prev, c}, {y}, {});
    prev = y;
  }
  loom::test::Executable exe(plugin.backend(), g);
  std::vector<std::vector<int64_t>> shapes(g.num_values(), {1, 16});
  auto plan = exe.prepare(shapes);
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < g.num_values(); ++i) tensors.emplace_back(DType::f32, loom::Shape{1, 16});
  std::vector<Tensor*> args;
  for (auto& t : tensors) args.push_back(&t);
  for (int i = 0; i < 100; ++i) plan.run(args);
  constexpr int kRuns = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) plan.run(args);
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("per node: " << us / kRuns / kNodes << " us");
}


// y = act(x·Wᵀ + b) over x [-1, k]: a graph of one linear node with fixed weights, w [n, k] (or
// [k, n] when `kn`) and b [n], that the graph borrows.
struct LinearLayer {
  int64_t k, n;
  Tensor w, b;
  GraphBuilder g;
  LinearLayer(int64_t k_, int64_t n_, bool kn, const std::string& act)
      : k(k_), n(n_), w(DType::f32, kn ? loom::Shape{k, n} : loom::Shape{n, k}), b(DType::f32, {n}) {
    for (int64_t i = 0; i < w.numel(); ++i) w.data_as<float>()[i] = static_cast<float>(std::sin(0.37 * i)) * 0.1f;
    for (int64_t i = 0; i < n; ++i) b.data_as<float>()[i] = static_cast<float>(std::cos(1.3 * i)) * 0.5f;
    int x = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, k});
    int wv = g.value("w", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, w.shape(), &w);
    int bv = g.value("b", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {n}, &b);
    int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, n});
    g.node("linear", {x, wv, bv}, {y}, {Attr::string("activation", act), Attr::boolean("weight_transposed", kn)});
  }
  // x [m, k] of fixed values, and the layer's output on it, run by `exe` (compiled from g).
  std::pair<Tensor, Tensor> run(loom::test::Executable& exe, int64_t m) const {
    Tensor x(DType::f32, {m, k}), y(DType::f32, {m, n});
    for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = static_cast<float>(std::cos(0.11 * i + m));
    auto plan = exe.prepare({{m, k}, w.shape(), {n}, {m, n}});
    plan.run({&x, nullptr, nullptr, &y});
    return {std::move(x), std::move(y)};
  }
};

// A decode step's linear layers (at most 4 rows) run on the plugin's row kernels, larger ones on
// oneDNN's matmul (gemm=onednn); the packed GEMM (gemm=packed) and oneDNN's matmul over a blocked
// copy of the weight (gemm=blocked) take every row count: each must compute
// act(x·Wᵀ + b), for both weight layouts, odd sizes (not multiples of the vector width, of the
// 6-row tile or of the 16-feature panel), K over one and over several slices (or none, for a
// lone tile of a few rows), rows over several activation blocks, and a size large enough to be
// split over two threads.
TEST_CASE("onednn linear: row kernel, matmul, packed GEMM and blocked weights agree with a double-precision loop in both weight layouts") {
  const std::pair<const char*, double (*)(double)> acts[] = {
      {"none", [](double v) { return v; }},
      {"relu", [](double v) { return v > 0 ? v : 0.0; }},
      {"gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"gelu_tanh", [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }},
      {"quick_gelu", [](double v) { return v / (1 + std::exp(-1.702 * v)); }},
      {"silu", [](double v) { return v / (1 + std::exp(-v)); }},
      {"tanh", [](double v) { return std::tanh(v); }}};
  const bool avx2 = loom::test::cpu_allows(loom::test::CpuIsa::avx2);
  for (const std::string gemm : {"onednn", "packed", "blocked"}) {
    if (gemm == "packed" && !avx2) continue;  // the packed GEMM needs AVX2 and FMA
    for (int threads : {1, 2}) {
      OnednnPlugin plugin(threads, gemm.c_str());
      // K = 2000: three slices of the packed GEMM from 7 rows up, unsliced below.
      for (auto shape : {std::pair<int64_t, int64_t>{37, 19}, {768, 1000}, {2000, 40}}) {
        const int64_t k = shape.first, n = shape.second;  // variables, not bindings: CAPTURE takes them
        for (bool kn : {false, true}) {
          for (const auto& act_f : acts) {
            const auto& act = act_f.first;
            const auto& f = act_f.second;
            LinearLayer layer(k, n, kn, act);
            const Tensor &w = layer.w, &b = layer.b;
            loom::test::Executable exe(plugin.backend(), layer.g);
            std::vector<int64_t> rows{1, 2, 3, 4, 5, 7, 8, 13};  // 7, 8 and 13 end in the 4 + 3 and 4 + 4 tiles
            if (k < 100) rows.push_back(350);  // three activation blocks of the packed GEMM
            if (k > 100 && act == std::string("gelu_tanh")) rows.push_back(50);
            // The last row count of blocked_gemm.hpp's kernel (f32, AVX-512) and the first past it.
            if (k > 100 && act == std::string("none")) rows.insert(rows.end(), {80, 81});
            for (int64_t m : rows) {
              CAPTURE(gemm);
              CAPTURE(threads);
              CAPTURE(k);
              CAPTURE(kn);
              CAPTURE(act);
              CAPTURE(m);
              auto [xt, out] = layer.run(exe, m);
              double worst = 0;
              for (int64_t r = 0; r < m; ++r)
                for (int64_t j = 0; j < n; ++j) {
                  double s = b.data_as<float>()[j];
                  for (int64_t i = 0; i < k; ++i)
                    s += static_cast<double>(xt.data_as<float>()[r * k + i]) * w.data_as<float>()[kn ? i * n + j : j * k + i];
                  worst = std::max(worst, std::fabs(f(s) - out.data_as<float>()[r * n + j]) / (1 + std::fabs(f(s))));
                }
              CHECK(worst < 2e-5);
            }
          }
        }
      }
    }
  }
}

// precision=bf16: a linear layer's constant weight is kept as bf16 and the activations are
// rounded to bf16 as the GEMM packs them, so each product is exact in f32 and only the sums
// round; bias and activation stay f32. On the packed GEMM (AVX2) and, where the CPU multiplies
// bf16 (AVX512-BF16 or AMX), on oneDNN's bf16 matmul over a blocked weight (gemm=blocked). None
// of the feature counts (19, 1000, 40, 70) is a multiple of 16, so from 5 rows the blocked
// matmul runs on padded features and copies its rows out (matmul.cpp's padded_features); on AMX,
// the weights are kept in tiles of 16 features x 16 K pairs (blocked_rows.hpp), read also by the
// row kernel, and from 5 rows 768 and 63 deep (padded to 64) run on blocked_amx.hpp's kernel,
// whose K steps are 32 deep (the last panels 40 and 6 features wide; 350 rows are 11 blocks of
// 32, the last cut short; 1100 rows three passes over the weight, of 367, 367 and 366 rows).
TEST_CASE("onednn linear with precision=bf16 multiplies bf16-rounded operands and sums in f32") {
  CHECK_THROWS_WITH_AS(OnednnPlugin(1, "onednn", "bf16"), doctest::Contains("packed or blocked GEMM only"), PluginError);
  const bool bf16_cpu = loom::test::cpu_allows(loom::test::CpuIsa::avx512_bf16);
  if (!bf16_cpu)
    CHECK_THROWS_WITH_AS(OnednnPlugin(1, "blocked", "bf16"), doctest::Contains("AVX512-BF16 or AMX"), PluginError);
  CHECK_THROWS_WITH_AS(OnednnPlugin(1, nullptr, "f16"), doctest::Contains("f32 or bf16"), PluginError);
  if (!loom::test::cpu_allows(loom::test::CpuIsa::avx2)) {
    CHECK_THROWS_WITH_AS(OnednnPlugin(1, nullptr, "bf16"), doctest::Contains("AVX2 and FMA"), PluginError);
    return;
  }
  // The backend's rounding against the definition, on every 65,537th bit pattern and the edges.
  int64_t differ = 0;
  auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); };
  for (uint64_t u = 0; u <= 0xffffffffu; u += 65537) {
    const float v = std::bit_cast<float>(static_cast<uint32_t>(u));
    differ += !same(loom::onednn::gemm::round_bf16(v), bf16_reference(v));
  }
  CHECK(differ == 0);
  for (float v : {1.0f, 1.00390625f, 1.01171875f, -1.01171875f, 1e-40f, -0.0f, 3.4e38f, -3.4e38f, 3.39e38f})
    CHECK(same(loom::onednn::gemm::round_bf16(v), bf16_reference(v)));
  CHECK(bf16_reference(1.00390625f) == 1.0f);           // a tie, to the even value
  CHECK(bf16_reference(1.01171875f) == 1.015625f);      // a tie, to the even value (up)
  CHECK(std::isinf(bf16_reference(3.4e38f)));           // past the largest bf16
  std::vector<const char*> gemms = {"packed"};
  if (bf16_cpu) gemms.push_back("blocked");
  for (const char* gemm : gemms)
  for (int threads : {1, 2}) {
    OnednnPlugin plugin(threads, gemm, "bf16");
    for (auto shape : {std::pair<int64_t, int64_t>{37, 19}, {768, 1000}, {2000, 40}, {63, 70}}) {
      const int64_t k = shape.first, n = shape.second;
      for (bool kn : {false, true}) {
        for (std::string act : {"none", "gelu_tanh"}) {
          LinearLayer layer(k, n, kn, act);
          const Tensor &w = layer.w, &b = layer.b;
          loom::test::Executable exe(plugin.backend(), layer.g);
          std::vector<int64_t> rows{1, 2, 3, 4, 7, 8, 13};
          if (k < 100) rows.push_back(350);
          if (k < 100 && std::string_view(gemm) == "blocked") rows.push_back(1100);
          // blocked_amx.hpp's blocks of up to 32 rows in tiles cut short: 45 rows as 2 blocks of
          // 2 x 12 (the last row padding), 77 as 3 blocks of 2 x 13 (7 and 13 above: 1 block).
          if (k == 768 && std::string_view(gemm) == "blocked") rows.insert(rows.end(), {45, 77});
          for (int64_t m : rows) {
            CAPTURE(gemm);
            CAPTURE(threads);
            CAPTURE(k);
            CAPTURE(kn);
            CAPTURE(act);
            CAPTURE(m);
            auto [xt, out] = layer.run(exe, m);
            auto f = [&](double v) { return act == "none" ? v : 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); };
            double worst = 0, off_f32 = 0;
            for (int64_t r = 0; r < m; ++r)
              for (int64_t j = 0; j < n; ++j) {
                double s = b.data_as<float>()[j], exact = s;
                for (int64_t i = 0; i < k; ++i) {
                  const float xv = xt.data_as<float>()[r * k + i], wv = w.data_as<float>()[kn ? i * n + j : j * k + i];
                  s += static_cast<double>(bf16_reference(xv)) * bf16_reference(wv);
                  exact += static_cast<double>(xv) * wv;
                }
                const double got = out.data_as<float>()[r * n + j];
                worst = std::max(worst, std::fabs(f(s) - got) / (1 + std::fabs(f(s))));
                off_f32 = std::max(off_f32, std::fabs(f(exact) - got) / (1 + std::fabs(f(exact))));
              }
            CHECK(worst < 2e-5);
            if (k > 100) CHECK(off_f32 > 1e-4);  // the operands were rounded: not the f32 result
          }
        }
      }
    }
  }
}

// A patch embedding (a constant weight, stride equal to the kernel, no padding) runs as one
// product on the GEMM of the linear layers (conv.cpp; with gemm=blocked, for up to 80 patches,
// and oneDNN's matmul over the same panels above): on each GEMM and thread count it must compute the
// convolution, with patch grids under and over blocked_gemm.hpp's 80 rows, images
// that the patches do not divide (the last pixels dropped), 50 output channels (a panel cut
// short) and 3 x 16 x 16 = 768-deep patches, enough work to split over two threads.
//
// With precision=bf16 where the linear layers run on AMX tiles, the patches, rounded to bf16,
// multiply bf16 tiles (blocked_amx.hpp): held to a double-precision convolution of the rounded
// operands and shown off the f32 result; 576 patches take two passes over the weight.
TEST_CASE("onednn patch embedding agrees with a double-precision convolution on every GEMM") {
  const int64_t c = 3, p = 16, o = 50;
  Tensor w(DType::f32, {o, c, p, p}), b(DType::f32, {o});
  for (int64_t i = 0; i < w.numel(); ++i) w.data_as<float>()[i] = static_cast<float>(std::sin(0.37 * i) * 0.05);
  for (int64_t i = 0; i < o; ++i) b.data_as<float>()[i] = static_cast<float>(0.1 * i - 2);
  const bool amx = loom::test::cpu_allows(loom::test::CpuIsa::amx);
  for (const std::string gemm : {"onednn", "packed", "blocked", "blocked-bf16"}) {
    if (gemm == "packed" && !(loom::test::cpu_allows(loom::test::CpuIsa::avx2))) continue;
    const bool bf16 = gemm == "blocked-bf16";
    if (bf16 && !amx) continue;
    for (int threads : {1, 2}) {
      OnednnPlugin plugin(threads, bf16 ? "blocked" : gemm.c_str(), bf16 ? "bf16" : nullptr);
      GraphBuilder g;
      int x = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, c, -1, -1});
      int wv = g.value("w", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, w.shape(), &w);
      int bv = g.value("b", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {o}, &b);
      int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, o, -1, -1});
      g.node("conv2d", {x, wv, bv}, {y}, {Attr::list("stride", {p, p}), Attr::list("padding", {0, 0})});
      loom::test::Executable exe(plugin.backend(), g);
      // 2 x 3 x 4 = 24 patch rows; 1 x 7 x 7 = 49 (CLIP ViT-B/32's grid); 1 x 9 x 10 = 90; 1 x 24 x 24 = 576.
      std::vector<std::tuple<int64_t, int64_t, int64_t>> images = {{2, 48, 70}, {1, 112, 112}, {1, 150, 165}};
      if (bf16) images.emplace_back(1, 384, 390);
      for (const auto& image : images) {
        const int64_t n = std::get<0>(image), h = std::get<1>(image), wd = std::get<2>(image);
        const int64_t gh = h / p, gw = wd / p;
        Tensor xt(DType::f32, {n, c, h, wd}), out(DType::f32, {n, o, gh, gw});
        for (int64_t i = 0; i < xt.numel(); ++i) xt.data_as<float>()[i] = static_cast<float>(std::cos(0.013 * i));
        auto plan = exe.prepare({xt.shape(), w.shape(), {o}, out.shape()});
        plan.run({&xt, nullptr, nullptr, &out});
        const bool tiles = bf16;
        double worst = 0, off_f32 = 0;
        for (int64_t bi = 0; bi < n; ++bi)
          for (int64_t oc = 0; oc < o; ++oc)
            for (int64_t gi = 0; gi < gh; ++gi)
              for (int64_t gj = 0; gj < gw; ++gj) {
                double s = b.data_as<float>()[oc], rounded = s;
                for (int64_t ci = 0; ci < c; ++ci)
                  for (int64_t kh = 0; kh < p; ++kh)
                    for (int64_t kw = 0; kw < p; ++kw) {
                      const float xv = xt.data_as<float>()[((bi * c + ci) * h + gi * p + kh) * wd + gj * p + kw];
                      const float wv = w.data_as<float>()[((oc * c + ci) * p + kh) * p + kw];
                      s += double(xv) * wv;
                      rounded += double(bf16_reference(xv)) * bf16_reference(wv);
                    }
                const double got = out.data_as<float>()[((bi * o + oc) * gh + gi) * gw + gj];
                worst = std::max(worst, std::abs((tiles ? rounded : s) - got));
                off_f32 = std::max(off_f32, std::abs(s - got));
              }
        CAPTURE(gemm);
        CAPTURE(threads);
        CAPTURE(n * gh * gw);
        CHECK(worst < 1e-4);
        if (tiles) CHECK(off_f32 > 1e-4);
      }
    }
  }
}

// The activations fused into linear on infinities, NaN and signed zeros give what PyTorch gives
// (torch.nn.functional on the same values): a linear layer with zero weights computes act(bias).
// 19 features: two full vectors and a tail, on the row kernel (1 row) and the GEMMs (9 rows).
TEST_CASE("onednn linear activations of infinities, NaN and zeros are PyTorch's") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> bias = {-inf, inf, nan, -0.0f, -100.0f, 100.0f, 0.5f, -0.5f, 3.0f, -3.0f,
                                   -inf, inf, nan, -0.0f, -100.0f, 100.0f, 1.0f, -1.0f, 10.0f};
  // Per activation: the expected values of the first six (the rest are finite, checked by value).
  const std::vector<std::pair<std::string, std::vector<float>>> expected = {
      {"relu", {0.0f, inf, nan, -0.0f, 0.0f, 100.0f}},
      {"gelu", {nan, inf, nan, 0.0f, 0.0f, 100.0f}},
      {"gelu_tanh", {nan, inf, nan, -0.0f, -0.0f, 100.0f}},
      {"quick_gelu", {nan, inf, nan, -0.0f, -0.0f, 100.0f}},
      {"silu", {nan, inf, nan, -0.0f, -0.0f, 100.0f}},
      {"tanh", {-1.0f, 1.0f, nan, -0.0f, -1.0f, 1.0f}}};
  const int64_t n = static_cast<int64_t>(bias.size()), k = 8;
  for (const std::string gemm : {"onednn", "packed", "blocked"}) {
    if (gemm == "packed" && !(loom::test::cpu_allows(loom::test::CpuIsa::avx2))) continue;
    OnednnPlugin plugin(1, gemm.c_str());
    for (const auto& act_want : expected) {
      const std::string& act = act_want.first;
      const std::vector<float>& want = act_want.second;
      Tensor w(DType::f32, {n, k}), b(DType::f32, {n});
      std::copy(bias.begin(), bias.end(), b.data_as<float>());
      GraphBuilder g;
      int x = g.value("x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, {-1, k});
      int wv = g.value("w", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, w.shape(), &w);
      int bv = g.value("b", LOOM_VALUE_CONSTANT, LOOM_DTYPE_F32, {n}, &b);
      int y = g.value("y", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, {-1, n});
      g.node("linear", {x, wv, bv}, {y}, {Attr::string("activation", act)});
      loom::test::Executable exe(plugin.backend(), g);
      for (int64_t m : {1, 9}) {
        Tensor xt(DType::f32, {m, k}), out(DType::f32, {m, n});
        for (int64_t i = 0; i < xt.numel(); ++i) xt.data_as<float>()[i] = 1.0f;
        auto plan = exe.prepare({{m, k}, w.shape(), {n}, {m, n}});
        plan.run({&xt, nullptr, nullptr, &out});
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < n; ++j) {
            CAPTURE(gemm);
            CAPTURE(act);
            CAPTURE(m);
            CAPTURE(j);
            const float got = out.data_as<float>()[r * n + j], want_j = want[static_cast<size_t>(j % 10 < 6 ? j % 10 : 0)];
            if (j % 10 < 6) {
              if (std::isnan(want_j)) {
                CHECK(std::isnan(got));
              } else {
                CHECK(got == want_j);
              }
            } else {
              CHECK(std::isfinite(got));
            }
          }
      }
    }
  }
}

#endif  // LOOM_TEST_ONEDNN
