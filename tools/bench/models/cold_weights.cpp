// How much a linear layer's f32 matmul waits on its weight: oneDNN's matmul over packed weights
// (format_tag::any, reordered once, on 2 MiB pages where the kernel allows), the shapes of
// BERT-base's linear layers at 128 rows, timed once with the weight already in the caches (one
// copy, called again and again) and once as a model meets it (copies enough to overflow the
// last-level cache, called in turn). Prints GFLOP/s per shape: median and best, cold and hot.
// Threads: OMP_NUM_THREADS.
//
//   c++ -O3 -fopenmp -std=c++17 cold_weights.cpp -ldnnl -o cold_weights
//   OMP_NUM_THREADS=1 ./cold_weights
#include <dnnl.hpp>

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Shape {
  int64_t m, k, n, copies;  // copies: enough weights to be read from memory in turn (> 100 MB)
};

struct PageFree {
  void operator()(void* p) const { std::free(p); }
};

// A buffer of `bytes` on 2 MiB pages where transparent huge pages allow it, as Loom's weights.
std::unique_ptr<void, PageFree> huge_buffer(size_t bytes) {
  constexpr size_t kPage = size_t{2} << 20;
  bytes = (bytes + kPage - 1) / kPage * kPage;
  void* p = std::aligned_alloc(kPage, bytes);
  if (!p) throw std::bad_alloc();
  madvise(p, bytes, MADV_HUGEPAGE);
  return std::unique_ptr<void, PageFree>(p);
}

}  // namespace

int main() {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const Shape shapes[] = {{128, 768, 3072, 12}, {128, 3072, 768, 12}, {128, 768, 768, 48}};
  std::printf("threads %d\n", omp_get_max_threads());
  for (const Shape& s : shapes)
    for (bool hot : {false, true}) {
      const dnnl::memory::desc a({s.m, s.k}, dt::f32, tag::ab), c({s.m, s.n}, dt::f32, tag::ab);
      const dnnl::memory::desc any({s.k, s.n}, dt::f32, tag::any);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, any, c), engine);
      const dnnl::matmul matmul(pd);
      const int64_t copies = hot ? 1 : s.copies;
      std::vector<std::unique_ptr<void, PageFree>> buffers;
      std::vector<dnnl::memory> weights;
      dnnl::memory plain({{s.k, s.n}, dt::f32, tag::ab}, engine);
      float* p = static_cast<float*>(plain.get_data_handle());
      for (int64_t j = 0; j < s.k * s.n; ++j) p[j] = static_cast<float>(j % 97) * 0.001f;
      for (int64_t i = 0; i < copies; ++i) {
        buffers.push_back(huge_buffer(pd.weights_desc().get_size()));
        weights.emplace_back(pd.weights_desc(), engine, buffers.back().get());
        dnnl::reorder(plain, weights.back()).execute(stream, plain, weights.back());
      }
      dnnl::memory x(a, engine), y(c, engine);
      std::fill_n(static_cast<float*>(x.get_data_handle()), s.m * s.k, 0.5f);
      std::vector<double> seconds;
      for (int r = 0; r < 96; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        matmul.execute(stream, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, weights[r % copies]}, {DNNL_ARG_DST, y}});
        stream.wait();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(seconds.begin(), seconds.end());
      const double flop = 2.0 * static_cast<double>(s.m * s.k * s.n);
      std::printf("%4lld x %4lld x %5lld %s median %6.1f best %6.1f GFLOP/s\n", static_cast<long long>(s.m),
                  static_cast<long long>(s.k), static_cast<long long>(s.n), hot ? "hot " : "cold",
                  flop / seconds[seconds.size() / 2] / 1e9, flop / seconds.front() / 1e9);
    }
}
