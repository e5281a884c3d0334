// The machine's limits that tools/bench/models/run.sh sets the workloads against, measured in
// the same run: the f32 GEMM ceiling of oneDNN (a large square matmul, GFLOP/s), its bf16 GEMM
// ceiling (bf16 operands, f32 result; null where oneDNN has no bf16 matmul for this CPU, which
// needs AVX-512 BF16 or AMX) and the memory read bandwidth (a streaming sum over a buffer far
// larger than the last-level cache, on 2 MiB pages where the kernel allows, as 1 to 8 streams
// side by side; GB/s).
// Threads: OMP_NUM_THREADS (oneDNN and the read loop both use OpenMP). Prints one JSON line.
//
//   c++ -O3 -march=native -fopenmp -std=c++17 limits.cpp -ldnnl -o limits
//   OMP_NUM_THREADS=1 ./limits [--size 2048] [--iterations 10] [--buffer-mb 1024]
#include <dnnl.hpp>

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double best(std::vector<double> v) { return *std::max_element(v.begin(), v.end()); }

constexpr size_t kBlockDoubles = 48 * 1024 / sizeof(double);

// The sum of p[0, n) (n: whole groups of S blocks) read as S streams, S = 1, 2, 4 or 8.
template <int S>
double sum_streams(const double* p, size_t n) {
  double part[S][8] = {};
  for (size_t g = 0; g < n; g += S * kBlockDoubles)
    for (size_t k = 0; k < kBlockDoubles; k += 8)
      for (int s = 0; s < S; ++s)
        for (int j = 0; j < 8; ++j) part[s][j] += p[g + s * kBlockDoubles + k + j];
  double total = 0;
  for (const auto& lane : part)
    for (double v : lane) total += v;
  return total;
}

double sum_streams(const double* p, size_t n, int streams) {
  switch (streams) {
    case 1: return sum_streams<1>(p, n);
    case 2: return sum_streams<2>(p, n);
    case 4: return sum_streams<4>(p, n);
    default: return sum_streams<8>(p, n);
  }
}

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
  // Read bandwidth: sum a buffer of buffer_mb MiB, each thread its own contiguous part, as S
  // streams side by side (S = 1, 2, 4, 8; the best of all): the part is cut into groups of S
  // blocks of 48 KiB, read together line by line, as a GEMM reads S weight panels at once (one
  // stream is not a core's limit: one Zen 3 core sums 23 GB/s from one, 28 from two). The
  // buffer lies on 2 MiB pages where the kernel allows, as the engine's packed weights do.
  const size_t n = static_cast<size_t>(buffer_mb) * 1024 * 1024 / sizeof(double);
  const size_t huge = size_t{2} << 20, bytes = n * sizeof(double);
  void* map = mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    std::fprintf(stderr, "limits: no memory for a %ld MiB buffer\n", buffer_mb);
    return 1;
  }
  auto* buf = reinterpret_cast<double*>((reinterpret_cast<uintptr_t>(map) + huge - 1) & ~(huge - 1));
  madvise(buf, bytes, MADV_HUGEPAGE);
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < n; ++k) buf[k] = static_cast<double>(k & 7);
  double sink = 0;
  std::vector<double> gbps;
  for (int streams : {1, 2, 4, 8}) {
    for (long i = 0; i < std::max(3L, iterations / 4); ++i) {
      double sum = 0, read = 0;
      auto t0 = clock_type::now();
#pragma omp parallel reduction(+ : sum, read)
      {
        const size_t team = static_cast<size_t>(omp_get_num_threads()), group = streams * kBlockDoubles;
        const size_t per = n / team / group * group;  // whole groups per thread
        sum += sum_streams(buf + static_cast<size_t>(omp_get_thread_num()) * per, per, streams);
        read += static_cast<double>(per * sizeof(double));
      }
      gbps.push_back(read / seconds_since(t0) / 1e9);
      sink += sum;
    }
  }
  munmap(map, bytes + huge);
  std::printf("{\"threads\": %d, \"gemm_size\": %ld, \"gemm_gflops\": %.2f, \"bf16_gemm_gflops\": %s, "
              "\"read_buffer_mb\": %ld, \"read_gbps\": %.2f, \"checksum\": %.0f}\n",
              omp_get_max_threads(), size, f32_gflops, bf16_gflops.c_str(), buffer_mb, best(gbps), sink);
  return 0;
}
