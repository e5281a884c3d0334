// The oneDNN backend's packed GEMM (backends/onednn/gemm.cpp) against oneDNN's sgemm on the
// linear layers of the benchmark models, same data, same process, alternating; the weights are
// packed once before timing, as the backend packs them at compile time, while dnnl_sgemm reads
// them in their checkpoint layout ([N, K], transposed) on every call. Also checks that the two
// agree. See docs/performance.md, "Packed weights"; built and run by run.sh.
//
//   packed_vs_onednn [THREADS] [ROUNDS]
#include "gemm.hpp"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace gemm = loom::onednn::gemm;

namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Shape {
  const char* what;
  int64_t m, k, n;
};

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  if (threads < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: packed_vs_onednn [THREADS>=1] [ROUNDS>=1]\n");
    return 2;
  }
  if (!gemm::available()) {
    std::fprintf(stderr, "packed_vs_onednn: this CPU has no AVX2 and FMA\n");
    return 1;
  }
  omp_set_num_threads(threads);
  const Shape shapes[] = {
      {"BERT/GPT-2 projection, 128 rows", 128, 768, 768},   {"GPT-2 qkv, 128 rows", 128, 768, 2304},
      {"MLP up, 128 rows", 128, 768, 3072},                 {"MLP down, 128 rows", 128, 3072, 768},
      {"ViT projection, 197 rows", 197, 768, 768},          {"ViT MLP up, 197 rows", 197, 768, 3072},
      {"CLIP image MLP up, 50 rows", 50, 768, 3072},        {"CLIP text projection, 77 rows", 77, 512, 512},
      {"GPT-2 LM head, 128 rows", 128, 768, 50257},         {"decode MLP up, 1 row", 1, 768, 3072},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("%-32s %8s %12s %12s %8s %10s\n", "shape (m x k x n)", "", "packed GF/s", "oneDNN GF/s", "ratio",
              "max diff");
  int status = 0;
  for (const Shape& s : shapes) {
    std::vector<float> x(static_cast<size_t>(s.m * s.k)), w(static_cast<size_t>(s.n * s.k));
    std::vector<float> y(static_cast<size_t>(s.m * s.n)), ref(y.size());
    for (auto& v : x) v = dist(rng);
    for (auto& v : w) v = dist(rng) * 0.05f;
    std::vector<float> packed(static_cast<size_t>(gemm::packed_floats(s.n, s.k)) + 16);
    float* p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(packed.data()) + 63) / 64 * 64);
    gemm::pack(w.data(), s.n, s.k, false, p);
    std::vector<std::byte> scratch_buf(gemm::scratch_bytes(s.k) + 64);
    auto* scratch = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(scratch_buf.data()) + 63) / 64 * 64);
    std::vector<double> ours, theirs;
    const int runs = s.m * s.n * s.k > 1000000000 ? std::max(3, rounds / 4) : rounds;
    for (int r = 0; r < runs + 2; ++r) {
      const double t0 = seconds();
      gemm::linear(x.data(), p, nullptr, y.data(), s.m, s.n, s.k, threads, scratch);
      const double t1 = seconds();
      dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0f, x.data(), s.k, w.data(), s.k, 0.0f, ref.data(), s.n);
      const double t2 = seconds();
      if (r >= 2) {  // two warm-up runs
        ours.push_back(t1 - t0);
        theirs.push_back(t2 - t1);
      }
    }
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k);
    const double a = flops / ours[ours.size() / 2] / 1e9, b = flops / theirs[theirs.size() / 2] / 1e9;
    double diff = 0;
    for (size_t i = 0; i < y.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(y[i] - ref[i])));
    char dims[48];
    std::snprintf(dims, sizeof dims, "%ldx%ldx%ld", static_cast<long>(s.m), static_cast<long>(s.k),
                  static_cast<long>(s.n));
    std::printf("%-32s %14s %8.1f %12.1f %8.2f %10.1e\n", s.what, dims, a, b, a / b, diff);
    if (!(diff < 1e-3)) status = 1;
  }
  if (status) std::fprintf(stderr, "packed_vs_onednn: the two GEMMs disagree\n");
  return status;
}
