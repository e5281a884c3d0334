// The cost of one oneDNN binary primitive call on a tiny tensor, the floor for an executor that
// sends every element-wise node to oneDNN. Times `add` of two f32 [1, W] tensors two ways:
//   execute:       the primitive with its memory objects bound once (the library's own cost)
//   bind+execute:  three dnnl_memory_set_data_handle_v2 calls, then the execute, as an executor
//                  whose tensors move between runs must do for every node
// Prints one JSON object: median, p10 and min microseconds per call for each.
//
//   c++ -O2 -std=c++17 onednn_binary.cpp -ldnnl -o onednn_binary
//   OMP_NUM_THREADS=1 ./onednn_binary [--width 16] [--iterations 200] [--repeat 1000]
#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Stats {
  double median, p10, min;
};

template <class F>
Stats time_calls(int iterations, int repeat, F&& call) {
  using clock = std::chrono::steady_clock;
  std::vector<double> samples;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = clock::now();
    for (int r = 0; r < repeat; ++r) call();
    samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / repeat);
  }
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) { return samples[static_cast<size_t>(q * (samples.size() - 1) + 0.5)]; };
  return {pct(0.5), pct(0.1), samples.front()};
}

int positive(const char* option, const char* text) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (!*text || *end || v < 1 || v > 100000000) {
    std::fprintf(stderr, "onednn_binary: %s: '%s' is not a positive integer\n", option, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

void check(dnnl_status_t st, const char* what) {
  if (st != dnnl_success) {
    std::fprintf(stderr, "onednn_binary: %s failed with status %d\n", what, static_cast<int>(st));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int width = 16, iterations = 200, repeat = 1000, warmup = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "onednn_binary: unknown option or missing value: %s\n", k.c_str());
      return 2;
    }
    if (k == "--width") width = positive("--width", argv[++i]);
    else if (k == "--iterations") iterations = positive("--iterations", argv[++i]);
    else if (k == "--repeat") repeat = positive("--repeat", argv[++i]);
    else if (k == "--warmup") warmup = positive("--warmup", argv[++i]);
    else {
      std::fprintf(stderr, "onednn_binary: unknown option %s\n", k.c_str());
      return 2;
    }
  }

  try {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl::memory::dims dims = {1, width};
    dnnl::memory::desc md(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
    // User scratchpad, as an executor that runs one primitive from several threads needs.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::binary::primitive_desc pd({dnnl::algorithm::binary_add, md, md, md}, attr, engine);
    dnnl::binary prim(pd);
    const std::string impl = pd.impl_info_str();

    std::vector<float> a(width), b(width), c(width), a2(width), c2(width);
    for (int i = 0; i < width; ++i) {
      a[i] = a2[i] = 0.5f * i;
      b[i] = 1.0f;
    }
    std::vector<uint8_t> scratch(std::max<size_t>(pd.scratchpad_desc().get_size(), 1));
    dnnl::memory src0(md, engine, a.data()), src1(md, engine, b.data()), dst(md, engine, c.data());
    dnnl::memory pad(pd.scratchpad_desc(), engine, scratch.data());
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC_0, src0.get()}, {DNNL_ARG_SRC_1, src1.get()},
                              {DNNL_ARG_DST, dst.get()}, {DNNL_ARG_SCRATCHPAD, pad.get()}};

    auto execute = [&] { check(dnnl_primitive_execute(prim.get(), stream.get(), 4, args), "execute"); };
    // Alternate between two buffers so the handles really change, as they do between nodes.
    bool flip = false;
    auto bind_execute = [&] {
      flip = !flip;
      check(dnnl_memory_set_data_handle_v2(src0.get(), flip ? a2.data() : a.data(), stream.get()), "set_data_handle");
      check(dnnl_memory_set_data_handle_v2(src1.get(), b.data(), stream.get()), "set_data_handle");
      check(dnnl_memory_set_data_handle_v2(dst.get(), flip ? c2.data() : c.data(), stream.get()), "set_data_handle");
      execute();
    };

    for (int i = 0; i < warmup; ++i) bind_execute();
    stream.wait();
    for (int i = 0; i < width; ++i)
      if (c[i] != a[i] + b[i] || c2[i] != a2[i] + b[i]) {
        std::fprintf(stderr, "onednn_binary: wrong sum at %d: %g\n", i, static_cast<double>(c[i]));
        return 1;
      }
    Stats plain = time_calls(iterations, repeat, execute);
    Stats bound = time_calls(iterations, repeat, bind_execute);
    stream.wait();

    const char* omp = std::getenv("OMP_NUM_THREADS");
    const dnnl_version_t* v = dnnl_version();
    std::printf("{\"onednn\": \"%d.%d.%d\", \"impl\": \"%s\", \"omp_num_threads\": \"%s\", \"width\": %d, "
                "\"iterations\": %d, \"repeat\": %d,\n"
                " \"execute_us\": {\"median\": %.4f, \"p10\": %.4f, \"min\": %.4f},\n"
                " \"bind_execute_us\": {\"median\": %.4f, \"p10\": %.4f, \"min\": %.4f}}\n",
                v->major, v->minor, v->patch, impl.c_str(), omp ? omp : "", width, iterations, repeat,
                plain.median, plain.p10, plain.min, bound.median, bound.p10, bound.min);
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn_binary: oneDNN error: %s (status %d)\n", e.what(), static_cast<int>(e.status));
    return 1;
  }
  return 0;
}
