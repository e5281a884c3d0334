// The machine's limits that tools/bench/models/run.sh sets the workloads against, measured in
// the same run: the f32 GEMM ceiling of oneDNN (a large square matmul, GFLOP/s), its bf16 GEMM
// ceiling (bf16 operands, f32 result; null where oneDNN has no bf16 matmul for this CPU, which
// needs AVX-512 BF16 or AMX) and the memory read bandwidth (a streaming sum over a buffer far
// larger than the last-level cache, GB/s).
// Threads: OMP_NUM_THREADS (oneDNN and the read loop both use OpenMP). Prints one JSON line.
//
//   c++ -O3 -march=native -fopenmp -std=c++17 limits.cpp -ldnnl -o limits
//   OMP_NUM_THREADS=1 ./limits [--size 2048] [--iterations 10] [--buffer-mb 1024]
#include <dnnl.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double best(std::vector<double> v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  long size = 2048, iterations = 10, buffer_mb = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    long v = std::strtol(argv[i + 1], nullptr, 10);
    if (v < 1) {
      std::fprintf(stderr, "limits: %s: '%s' is not a positive integer\n", argv[i], argv[i + 1]);
      return 2;
    }
    if (!std::strcmp(argv[i], "--size")) size = v;
    else if (!std::strcmp(argv[i], "--iterations")) iterations = v;
    else if (!std::strcmp(argv[i], "--buffer-mb")) buffer_mb = v;
    else {
      std::fprintf(stderr, "limits: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  // GEMM: C[n, n] = A[n, n] B[n, n] in f32, 2 n^3 FLOPs a call; the best of the calls.
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::dims d{size, size};
  dnnl::memory::desc md(d, dt::f32, tag::ab);
  dnnl::memory a(md, eng), b(md, eng), c(md, eng);
  for (auto* m : {&a, &b}) {
    auto* p = static_cast<float*>(m->get_data_handle());
    for (long k = 0; k < size * size; ++k) p[k] = static_cast<float>((k % 97) - 48) / 97.0f;
  }
  // The best of `iterations` calls of a matmul on these memories, in GFLOP/s.
  auto ceiling = [&](const dnnl::matmul& mm, dnnl::memory& x, dnnl::memory& w, dnnl::memory& y) {
    auto gemm = [&] { mm.execute(strm, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}}); strm.wait(); };
    gemm();
    std::vector<double> gflops;
    for (long i = 0; i < iterations; ++i) {
      auto t0 = clock_type::now();
      gemm();
      gflops.push_back(2.0 * size * size * size / seconds_since(t0) / 1e9);
    }
    return best(gflops);
  };
  const double f32_gflops = ceiling(dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), eng)), a, b, c);
  // bf16: the same operands converted, weights in oneDNN's preferred layout (as packed weights are).
  std::string bf16_gflops = "null";
  try {
    dnnl::memory::desc xd(d, dt::bf16, tag::ab), wd(d, dt::bf16, tag::any);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(xd, wd, md), eng);
    dnnl::memory x(xd, eng), w(pd.weights_desc(), eng);
    dnnl::reorder(a, x).execute(strm, a, x);
    dnnl::reorder(b, w).execute(strm, b, w);
    strm.wait();
    bf16_gflops = std::to_string(ceiling(dnnl::matmul(pd), x, w, c));
  } catch (const dnnl::error&) {  // no bf16 matmul on this CPU
  }
  // Read bandwidth: sum a buffer of buffer_mb MiB, each thread its own contiguous part.
  const size_t n = static_cast<size_t>(buffer_mb) * 1024 * 1024 / sizeof(double);
  std::vector<double> buf(n);
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < n; ++k) buf[k] = static_cast<double>(k & 7);
  double sink = 0;
  std::vector<double> gbps;
  for (long i = 0; i < std::max(3L, iterations / 2); ++i) {
    double sum = 0;
    auto t0 = clock_type::now();
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t k = 0; k < n; ++k) sum += buf[k];
    gbps.push_back(static_cast<double>(n * sizeof(double)) / seconds_since(t0) / 1e9);
    sink += sum;
  }
  std::printf("{\"threads\": %d, \"gemm_size\": %ld, \"gemm_gflops\": %.2f, \"bf16_gemm_gflops\": %s, "
              "\"read_buffer_mb\": %ld, \"read_gbps\": %.2f, \"checksum\": %.0f}\n",
              omp_get_max_threads(), size, f32_gflops, bf16_gflops.c_str(), buffer_mb, best(gbps), sink);
  return 0;
}
