// Weights stored as F16 or BF16 and declared f32 by the graph are widened to f32 when loaded,
// exactly, and the sessions of one engine over the same file read one f32 copy
// (docs/graph-format.md, "Initializers"). Other mismatches between the declared and the stored
// dtype stay errors naming the initializer, the tensor and the file.
#include "graph/program.hpp"
#include "io/weight_files.hpp"
#include "safetensors_bytes.hpp"
#include "session_graphs.hpp"
#include "tensor/widen.hpp"

#include <loom/loom.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>
#include "scratch_dir.hpp"

namespace {

using namespace loom;
using loom::test::StTensor;
namespace fs = std::filesystem;

fs::path temp_dir() {
  return loom::test::scratch_dir("weight_conversion");
}

// Bit patterns with the f32 value each one stands for, worked out from the formats' definitions
// (sign, exponent bias 15 / 127, 10 / 7 mantissa bits) rather than by the code under test.
struct Case {
  uint16_t bits;
  float value;
};

const std::vector<Case> kF16 = {
    {0x3c00, 1.0f},           {0xc000, -2.0f},         {0x3555, 0.333251953125f},  {0x7bff, 65504.0f},
    {0x0001, 0x1p-24f},       {0x03ff, 1023 * 0x1p-24f}, {0x0400, 0x1p-14f},         {0x8000, -0.0f},
    {0x7c00, std::numeric_limits<float>::infinity()},  {0xfc00, -std::numeric_limits<float>::infinity()},
    {0x0000, 0.0f},           {0x5640, 100.0f}};
const std::vector<Case> kBF16 = {
    {0x3f80, 1.0f},           {0xc000, -2.0f},         {0x4049, 3.140625f},        {0x7f7f, 0x1.fep127f},
    {0x0001, 0x1p-133f},      {0x0080, 0x1p-126f},     {0x8000, -0.0f},            {0xff80, -std::numeric_limits<float>::infinity()},
    {0x3eab, 0.333984375f},   {0x0000, 0.0f},          {0x42c8, 100.0f},           {0xbf00, -0.5f}};
// NaNs: the payload moves up with the mantissa (f16 0x7e01 -> 0x7fc02000; bf16 0xffc1 -> 0xffc10000).
constexpr uint16_t kF16Nan = 0x7e01, kBF16Nan = 0xffc1;
constexpr uint32_t kF16NanAsF32 = 0x7fc02000, kBF16NanAsF32 = 0xffc10000;

std::vector<uint16_t> bits_of(const std::vector<Case>& cases) {
  std::vector<uint16_t> out;
  for (const auto& c : cases) out.push_back(c.bits);
  return out;
}

// half.safetensors: h (F16 [12]), b (BF16 [12]), nan16 (F16 [1]), nanb (BF16 [1]), i (I32 [2]),
// f (F32 [12]).
fs::path half_file() {
  const fs::path file = temp_dir() / "half.safetensors";
  std::vector<float> f(kF16.size(), 0.5f);
  loom::test::write_safetensors(file, {
      {"h", "F16", {12}, loom::test::raw_bytes(bits_of(kF16))},
      {"b", "BF16", {12}, loom::test::raw_bytes(bits_of(kBF16))},
      {"nan16", "F16", {1}, loom::test::raw_bytes(std::vector<uint16_t>{kF16Nan})},
      {"nanb", "BF16", {1}, loom::test::raw_bytes(std::vector<uint16_t>{kBF16Nan})},
      {"i", "I32", {2}, loom::test::raw_bytes(std::vector<int32_t>{3, -4})},
      loom::test::f32_tensor("f", {12}, f)});
  return file;
}

void check_exact(const Tensor& t, const std::vector<Case>& cases) {
  REQUIRE(t.dtype() == DType::f32);
  REQUIRE(t.numel() == static_cast<int64_t>(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("element " << i << ", bits 0x" << std::hex << cases[i].bits);
    CHECK(std::bit_cast<uint32_t>(t.data_as<float>()[i]) == std::bit_cast<uint32_t>(cases[i].value));
  }
}

// y = x * w for every file tensor w named, each declared as `dtype` ("" = not declared).
Graph scale_graph(const fs::path& weights, const std::string& tensor, const std::string& dtype, int64_t n = 12) {
  const std::string declared = dtype.empty() ? "" : ", dtype: " + dtype;
  return parse_graph_yaml("loom: 1\nweights: " + weights.string() + "\ninputs:\n  - {name: x, dtype: f32, shape: [" +
                              std::to_string(n) + "]}\noutputs: [y]\ninitializers:\n  - {name: w, tensor: " + tensor + declared +
                              ", shape: [" + std::to_string(n) + "]}\nnodes:\n  - {op: mul, inputs: [x, w], outputs: [y]}\n",
                          "scale.yaml");
}

Engine device_only_engine() {
  EngineOptions o;
  o.plugin_files = {fs::path(LOOM_TEST_DEVICE_PLUGIN)};
  o.search_default_paths = false;
  Engine e(o);
  REQUIRE_MESSAGE(e.plugins().front().loaded, e.plugins().front().error);
  return e;
}

}  // namespace

TEST_CASE("weight conversion: f16 and bf16 bits widen to the f32 of the same value") {
  for (const auto& c : kF16) CHECK(std::bit_cast<uint32_t>(f16_bits_to_f32(c.bits)) == std::bit_cast<uint32_t>(c.value));
  for (const auto& c : kBF16) CHECK(std::bit_cast<uint32_t>(bf16_bits_to_f32(c.bits)) == std::bit_cast<uint32_t>(c.value));
  CHECK(std::bit_cast<uint32_t>(f16_bits_to_f32(kF16Nan)) == kF16NanAsF32);
  CHECK(std::bit_cast<uint32_t>(bf16_bits_to_f32(kBF16Nan)) == kBF16NanAsF32);
  // Every f16 value: finite ones against ldexp of the definition, the rest as infinities and NaNs.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    const float got = f16_bits_to_f32(static_cast<uint16_t>(h));
    if (exponent == 31) {
      REQUIRE(std::isinf(got) == (mantissa == 0));
      REQUIRE(std::isnan(got) == (mantissa != 0));
      continue;
    }
    const float want = exponent == 0 ? sign * std::ldexp(static_cast<float>(mantissa), -24)
                                     : sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
    REQUIRE_MESSAGE(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want), "f16 bits 0x" << std::hex << h);
  }
}

TEST_CASE("weight conversion: an F16 or BF16 tensor declared f32 is read as its exact f32 values") {
  const fs::path file = half_file();
  auto program = build_program(scale_graph(file, "h", "f32"));
  const ProgramValue& w = program->values[program->find("w")];
  check_exact(w.constant, kF16);
  CHECK(program->weight_bytes == 48);
  CHECK(program->converted_bytes == 48);
  check_exact(build_program(scale_graph(file, "b", "f32"))->values[1].constant, kBF16);

  const Tensor nan16 = build_program(scale_graph(file, "nan16", "f32", 1))->values[1].constant;
  CHECK(std::bit_cast<uint32_t>(nan16.data_as<float>()[0]) == kF16NanAsF32);
  const Tensor nanb = build_program(scale_graph(file, "nanb", "f32", 1))->values[1].constant;
  CHECK(std::bit_cast<uint32_t>(nanb.data_as<float>()[0]) == kBF16NanAsF32);

  // Declared as stored, or not declared: read as stored, nothing converted.
  for (const std::string declared : {"f16", ""}) {
    auto p = build_program(parse_graph_yaml("loom: 1\nweights: " + file.string() + "\noutputs: [w]\ninitializers:\n  - {name: w, tensor: h" +
                                                (declared.empty() ? "" : ", dtype: " + declared) + "}\nnodes: []\n",
                                            "as_stored.yaml"));
    CHECK(p->values[p->find("w")].constant.dtype() == DType::f16);
    CHECK(p->converted_bytes == 0);
    CHECK(p->weight_bytes == 24);
  }
  CHECK(build_program(scale_graph(file, "f", "f32"))->converted_bytes == 0);
}

TEST_CASE("weight conversion: other declared and stored dtypes that differ are errors naming the tensor and file") {
  const fs::path file = half_file();
  struct Bad {
    std::string tensor, declared, stored;
  };
  for (const Bad& bad : {Bad{"h", "bf16", "f16"}, Bad{"b", "f16", "bf16"}, Bad{"h", "i32", "f16"}, Bad{"i", "f32", "i32"},
                         Bad{"f", "f16", "f32"}, Bad{"b", "i64", "bf16"}}) {
    const int64_t n = bad.tensor == "i" ? 2 : 12;
    const std::string message = loom::test::error_of([&] { build_program(scale_graph(file, bad.tensor, bad.declared, n)); });
    CHECK_MESSAGE(message.find("initializer 'w': declared dtype " + bad.declared + " but " + file.string() + " holds '" +
                               bad.tensor + "' as " + bad.stored) != std::string::npos,
                  message);
    CHECK_MESSAGE(message.find("only f16 and bf16 are converted, to a declared f32") != std::string::npos, message);
  }
  // A shape that differs is still refused before anything is converted.
  const std::string shape = loom::test::error_of([&] {
    build_program(parse_graph_yaml("loom: 1\nweights: " + file.string() +
                                       "\noutputs: [w]\ninitializers:\n  - {name: w, tensor: h, dtype: f32, shape: [3, 4]}\nnodes: []\n",
                                   "shape.yaml"));
  });
  CHECK_MESSAGE(shape.find("declared shape [3, 4] but " + file.string() + " holds 'h' as [12]") != std::string::npos, shape);
}

TEST_CASE("weight conversion: the weight files of an engine hold one f32 copy per mapped file and tensor") {
  const fs::path file = half_file();
  auto files = std::make_shared<WeightFiles>();
  auto mapped = files->open(file);
  std::optional<Tensor> a = files->widened(mapped, "h");
  std::optional<Tensor> b = files->widened(files->open(file), "h");
  CHECK(a->data() == b->data());
  CHECK(files->widened_bytes() == 48);
  std::optional<Tensor> c = files->widened(mapped, "b");
  CHECK(c->data() != b->data());
  CHECK(files->widened_bytes() == 96);
  check_exact(*c, kBF16);
  CHECK_THROWS_WITH_AS(files->widened(mapped, "i"), doctest::Contains("cannot widen a tensor of i32"), Error);
  CHECK_THROWS_WITH_AS(files->widened(mapped, "absent"), doctest::Contains("absent: no such tensor in the file"), Error);

  // A copy keeps its file mapped, and goes with its last holder.
  mapped.reset();
  CHECK(files->mapped() == 1);
  a.reset();
  CHECK(files->widened_bytes() == 96);  // b still holds the copy of h
  b.reset();
  CHECK(files->widened_bytes() == 48);
  CHECK(files->mapped() == 1);
  c.reset();
  CHECK(files->widened_bytes() == 0);
  CHECK(files->mapped() == 0);
}

TEST_CASE("weight conversion: sessions of one engine over one file share the f32 copy") {
  const fs::path file = half_file();
  Engine engine = device_only_engine();
  const Graph g = scale_graph(file, "b", "f32");
  std::optional<Session> first = engine.compile(g, {.backends = {"external"}});
  CHECK(engine.converted_bytes() == 48);
  CHECK(first->plan_memory({}).converted_bytes == 48);
  CHECK(first->plan_memory({}).weight_bytes == 48);
  // The device backend uploads each constant once per address: one upload for both sessions.
  const uint64_t packed = engine.packed_bytes();
  CHECK(packed == 48);
  Session second = engine.compile(g, {.backends = {"external"}});
  CHECK(engine.converted_bytes() == 48);
  CHECK(engine.packed_bytes() == packed);
  CHECK(second.plan_memory({}).converted_bytes == 48);

  Tensor ones(DType::f32, {12});
  for (int i = 0; i < 12; ++i) ones.data_as<float>()[i] = 1.0f;
  check_exact(first->run({{"x", ones}}).at("y"), kBF16);
  check_exact(second.run({{"x", ones}}).at("y"), kBF16);

  // Another tensor of the file: a copy of its own. Sessions gone: the copies go.
  Session third = engine.compile(scale_graph(file, "h", "f32"), {.backends = {"external"}});
  CHECK(engine.converted_bytes() == 96);
  first.reset();
  CHECK(engine.converted_bytes() == 96);
  {
    Session gone = std::move(second);
  }
  CHECK(engine.converted_bytes() == 48);
}

TEST_CASE("weight conversion: validate and optimize convert, and keep nothing once done") {
  const fs::path file = half_file();
  Engine engine = device_only_engine();
  const Graph g = scale_graph(file, "h", "f32");
  engine.validate(g);
  const Graph optimized = engine.optimize(g, OptimizeLevel::all);
  CHECK(optimized.initializers.size() == 1);
  CHECK(engine.converted_bytes() == 0);
}
