// precision=f16 on the Vulkan backend (docs/vulkan.md, "Precision"): the constant weights of
// linear and matmul, and the tables gather reads, are stored as f16 and the sums stay f32. Against a reference computed in
// double from the weights rounded to f16 by the compiler's own _Float16 (not the plugin's
// conversion), the outputs agree within 1e-4: the only rounding is that of the weights, with f32
// accumulation over 13 terms of order 1 (about 1e-6). Against the unrounded weights they differ
// by more than 3e-4 (6.8e-4 here), so the weights really are f16. Odd counts of halves (a [37, 13] weight, rows starting inside
// a word) and weights split over bindings (max_buffer_range) included. A gather of rows of the
// linear's weight (one constant read both ways, as GPT-2's wte) gives exactly the f16-rounded rows.
#include <doctest/doctest.h>

#include <loom/loom.hpp>

#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kM = 3, kK = 13, kN = 37;
const std::vector<int64_t> kIds = {0, 36, 19, 1, -2};  // rows of w: odd rows start inside a word

float round_f16(float f) { return static_cast<float>(static_cast<_Float16>(f)); }

struct Weights {
  std::vector<float> x, w, wt, bias;  // x [M, K]; w [N, K]; wt [K, N]; bias [N]
};

Weights make_weights() {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  Weights s;
  for (int64_t i = 0; i < kM * kK; ++i) s.x.push_back(u(rng));
  for (int64_t i = 0; i < kN * kK; ++i) s.w.push_back(u(rng));
  for (int64_t i = 0; i < kK * kN; ++i) s.wt.push_back(u(rng));
  for (int64_t i = 0; i < kN; ++i) s.bias.push_back(u(rng));
  return s;
}

std::string values(const std::vector<float>& v) {
  std::string s;
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", static_cast<double>(v[i]));  // round-trips the float
    s += buf;
  }
  return s;
}

// y1 = linear(x, w, bias), y2 = linear(x, wt) with weight_transposed, y3 = matmul(x, wt),
// rows = gather(w, ids).
fs::path write_graph(const Weights& s) {
  const fs::path file = fs::temp_directory_path() / ("loom-vulkan-f16-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream out(file);
  out << "loom: 1\nname: f16\ninputs:\n  - {name: x, dtype: f32, shape: [" << kM << ", " << kK << "]}\n"
      << "  - {name: ids, dtype: i64, shape: [" << kIds.size() << "]}\n"
      << "outputs: [y1, y2, y3, rows]\ninitializers:\n"
      << "  - {name: w, dtype: f32, shape: [" << kN << ", " << kK << "], values: [" << values(s.w) << "]}\n"
      << "  - {name: wt, dtype: f32, shape: [" << kK << ", " << kN << "], values: [" << values(s.wt) << "]}\n"
      << "  - {name: bias, dtype: f32, shape: [" << kN << "], values: [" << values(s.bias) << "]}\n"
      << "nodes:\n  - {op: linear, inputs: [x, w, bias], outputs: [y1]}\n"
      << "  - {op: linear, inputs: [x, wt], outputs: [y2], attrs: {weight_transposed: true}}\n"
      << "  - {op: matmul, inputs: [x, wt], outputs: [y3]}\n"
      << "  - {op: gather, inputs: [w, ids], outputs: [rows]}\n";
  return file;
}

// y1, y2, y3 in double, from the weights rounded to f16 or not.
std::vector<std::vector<double>> reference(const Weights& s, bool half) {
  auto w = [&](const std::vector<float>& v, int64_t i) { return static_cast<double>(half ? round_f16(v[i]) : v[i]); };
  std::vector<std::vector<double>> y(3, std::vector<double>(kM * kN, 0.0));
  for (int64_t m = 0; m < kM; ++m)
    for (int64_t n = 0; n < kN; ++n) {
      double a = s.bias[n], b = 0;
      for (int64_t k = 0; k < kK; ++k) {
        a += static_cast<double>(s.x[m * kK + k]) * w(s.w, n * kK + k);
        b += static_cast<double>(s.x[m * kK + k]) * w(s.wt, k * kN + n);
      }
      y[0][m * kN + n] = a;
      y[1][m * kN + n] = y[2][m * kN + n] = b;
    }
  return y;
}

// The largest |rows - w[ids]| with w's values rounded to f16 or not.
double worst_rows(const loom::TensorMap& out, const Weights& s, bool half) {
  const loom::Tensor& t = out.at("rows");
  if (t.numel() != static_cast<int64_t>(kIds.size()) * kK) return INFINITY;
  double e = 0;
  for (size_t r = 0; r < kIds.size(); ++r) {
    const int64_t row = kIds[r] < 0 ? kIds[r] + kN : kIds[r];
    for (int64_t k = 0; k < kK; ++k) {
      const float want = s.w[static_cast<size_t>(row * kK + k)];
      const float got = static_cast<const float*>(t.data())[r * kK + k];
      e = std::max(e, std::abs(static_cast<double>(got) - (half ? round_f16(want) : want)));
    }
  }
  return e;
}

double worst(const loom::TensorMap& out, const std::vector<std::vector<double>>& ref) {
  double e = 0;
  for (size_t i = 0; i < 3; ++i) {
    const loom::Tensor& t = out.at("y" + std::to_string(i + 1));
    if (t.numel() != kM * kN) return INFINITY;  // no assertion here: INFO below calls this
    const auto* p = static_cast<const float*>(t.data());
    for (int64_t j = 0; j < kM * kN; ++j) e = std::max(e, std::abs(static_cast<double>(p[j]) - ref[i][j]));
  }
  return e;
}

uint64_t uploaded_constants() {
  const fs::path file = fs::absolute(fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-vulkan.so").lexically_normal();
  void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE_MESSAGE(lib, "loom-vulkan.so is not loaded");
  void* symbol = dlsym(lib, "loom_vulkan_constant_uploads");
  REQUIRE(symbol != nullptr);
  uint64_t constants = 0;
  reinterpret_cast<void (*)(uint64_t*, uint64_t*, uint64_t*)>(symbol)(&constants, nullptr, nullptr);
  dlclose(lib);
  return constants;
}

}  // namespace

TEST_CASE("vulkan: precision=f16 stores linear and matmul weights and gather tables as f16 and sums in f32") {
  loom::EngineOptions eo;
  eo.plugin_files = {fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-vulkan.so"};
  eo.search_default_paths = false;
  const loom::Engine engine(eo);
  const Weights s = make_weights();
  const fs::path file = write_graph(s);
  loom::TensorMap in;
  loom::Tensor x(loom::DType::f32, {kM, kK});
  std::memcpy(x.data(), s.x.data(), s.x.size() * sizeof(float));
  in.emplace("x", x);
  loom::Tensor ids(loom::DType::i64, {static_cast<int64_t>(kIds.size())});
  std::memcpy(ids.data(), kIds.data(), kIds.size() * sizeof(int64_t));
  in.emplace("ids", ids);
  const auto half_ref = reference(s, true), full_ref = reference(s, false);
  // Rounding the weights moves the outputs measurably: the test below could tell.
  REQUIRE(worst([&] {
            loom::TensorMap m;
            for (size_t i = 0; i < 3; ++i) {
              loom::Tensor t(loom::DType::f32, {kM, kN});
              for (int64_t j = 0; j < kM * kN; ++j) static_cast<float*>(t.data())[j] = static_cast<float>(full_ref[i][j]);
              m.emplace("y" + std::to_string(i + 1), t);
            }
            return m;
          }(), half_ref) > 3e-4);

  // One graph, so that its sessions may share uploads through the host's cache: an f32 session
  // must never be handed the f16 session's copy of w and wt, nor the other way round.
  const loom::Graph g = engine.load_graph(file);
  for (const char* range : {"", "512"}) {
    CAPTURE(range);
    std::map<std::string, std::string> options{{"precision", "f16"}};
    if (*range) options["vulkan.max_buffer_range"] = range;  // w and wt split in chunks of rows
    const uint64_t before = uploaded_constants();
    loom::Session f16 = engine.compile(g, {.backends = {"vulkan"}, .options = options});
    const uint64_t first = uploaded_constants();
    const loom::TensorMap out = f16.run(in);
    const double e = worst(out, half_ref), f = worst(out, full_ref);
    INFO("max |out - ref(f16 weights)| = " << e << ", against the f32 weights " << f);
    CHECK(e <= 1e-4);
    CHECK(f > 3e-4);
    CHECK(worst_rows(out, s, true) == 0);
    CHECK(worst_rows(out, s, false) > 1e-5);
    auto f32_options = options;
    f32_options.erase("precision");
    loom::Session f32 = engine.compile(g, {.backends = {"vulkan"}, .options = f32_options});
    const uint64_t second = uploaded_constants();
    const loom::TensorMap out32 = f32.run(in);
    CHECK(worst(out32, full_ref) <= 1e-4);
    CHECK(worst_rows(out32, s, false) == 0);
    loom::Session f16_again = engine.compile(g, {.backends = {"vulkan"}, .options = options});
    CHECK(worst(f16_again.run(in), half_ref) <= 1e-4);
    MESSAGE("uploads: f16 " << first - before << ", f32 " << second - first << ", f16 again " << uploaded_constants() - second);
  }
  fs::remove(file);
}
