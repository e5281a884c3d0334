// The oneDNN CPU backend plugin: descriptor, device, and the Backend / Executable / Plan
// classes of the SDK. Kernels live in ops/<family>.cpp behind the interface of kernel.hpp.
#include "gemm.hpp"
#include "kernel.hpp"
#include "threads.hpp"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <span>

namespace loom::onednn {
namespace {

const std::map<std::string_view, OpEntry>& op_table() {
  static const std::map<std::string_view, OpEntry> table = [] {
    std::map<std::string_view, OpEntry> t;
    for (auto family : {elementwise_ops, cast_ops, matmul_ops, norm_ops, indexing_ops, shape_ops, attention_ops, mask_ops,
                        vector_norm_ops, reduce_ops, layout_ops, conv_ops})
      for (const OpEntry& e : family()) t.emplace(e.name, e);
    return t;
  }();
  return table;
}

// Why this backend, set up as `linear` says, cannot run `node` (nullopt: it can).
std::optional<std::string> unsupported(const OpEntry& entry, const sdk::NodeView& node, const LinearSetup& linear) {
  return entry.check_setup ? entry.check_setup(node, linear) : entry.check(node);
}

const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "generic";
  }
}

// oneDNN streams are per thread: a CPU stream is cheap but creating one allocates, and run()
// must not allocate after a thread's first run.
dnnl_stream_t thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream.get();
}

constexpr size_t kScratchAlign = 64;

class OnednnPlan final : public sdk::Plan {
 public:
  OnednnPlan(std::vector<std::unique_ptr<Step>> steps, std::vector<const void*> constants,
             std::vector<bool> nonempty, std::shared_ptr<ThreadBudget> budget)
      : steps_(std::move(steps)), constants_(std::move(constants)), budget_(std::move(budget)) {
    // The values the host must give data for: the check runs on every run, so it walks only
    // these rather than every value of the partition.
    for (size_t i = 0; i < constants_.size(); ++i)
      if (nonempty[i] && !constants_[i]) needs_data_.push_back(i);
    for (const auto& s : steps_) {
      first_memory_.push_back(descs_.size());
      descs_.insert(descs_.end(), s->memory_descs.begin(), s->memory_descs.end());
      step_scratch_ = std::max(step_scratch_, s->scratch_bytes());
    }
  }

  // Steps run one after another, so they share one scratch region; the extra bytes let run()
  // align whatever pointer it is given.
  uint64_t scratch_bytes() const override { return step_scratch_ ? step_scratch_ + kScratchAlign : 0; }

  void run(const loom_run_args& args) const override {
    if (args.num_values != constants_.size())
      throw Error("run: " + std::to_string(args.num_values) + " tensors given, the partition has " +
                  std::to_string(constants_.size()) + " values", LOOM_STATUS_INVALID_ARGUMENT);
    const size_t stride = args.num_values ? args.tensors[0].struct_size : sizeof(loom_tensor);
    if (stride < sizeof(loom_tensor))
      throw Error("run: the host's tensors are older than this plugin's ABI", LOOM_STATUS_INVALID_ARGUMENT);
    for (size_t i : needs_data_)
      if (!sdk::record(args.tensors, i).data)
        throw Error("run: value " + std::to_string(i) + " has no data", LOOM_STATUS_INVALID_ARGUMENT);
    std::byte* scratch = nullptr;
    if (step_scratch_) {
      if (!args.scratch || args.scratch_bytes < scratch_bytes())
        throw Error("run: scratch of " + std::to_string(args.scratch_bytes) + " bytes given, the plan needs " +
                    std::to_string(scratch_bytes()), LOOM_STATUS_INVALID_ARGUMENT);
      auto p = reinterpret_cast<uintptr_t>(args.scratch);
      scratch = reinterpret_cast<std::byte*>((p + kScratchAlign - 1) & ~(kScratchAlign - 1));
    }
    // The session's threads, one partition run at a time (threads.hpp).
    ThreadBudget::Lease turn(*budget_, args);
    if (!turn.acquired()) sdk::stopped("while waiting for the session's threads");
    ThreadScope threads(budget_->threads());

    RunContext ctx{args.tensors, constants_.data(), scratch, nullptr, nullptr, stride};
    // The host's stop poll, between steps: one indirect call per step, only when it passed one.
    const auto should_stop = args.should_stop;
    auto poll = [&](size_t i) {
      if (i > 0 && should_stop && should_stop(args.stop_context))
        sdk::stopped("after " + std::to_string(i) + " of " + std::to_string(steps_.size()) + " steps");
    };
    if (descs_.empty()) {
      for (size_t i = 0; i < steps_.size(); ++i) {
        poll(i);
        steps_[i]->run(ctx);
      }
      return;
    }
    ctx.stream = thread_stream();
    MemorySet lease(*this);
    for (size_t i = 0; i < steps_.size(); ++i) {
      poll(i);
      ctx.memories = lease.memories + first_memory_[i];
      steps_[i]->run(ctx);
    }
  }

 private:
  // One set of oneDNN memory objects per concurrent run, taken without locking; only a run that
  // finds every set busy (more concurrent runs than sets) makes a set of its own.
  struct Slot {
    std::atomic<bool> busy{false};
    std::atomic<bool> ready{false};
    std::vector<dnnl::memory> memories;
  };
  static constexpr size_t kSlots = 16;

  std::vector<dnnl::memory> make_memories() const {
    std::vector<dnnl::memory> m;
    m.reserve(descs_.size());
    for (const auto& d : descs_) m.emplace_back(d, cpu_engine(), static_cast<void*>(DNNL_MEMORY_NONE));
    return m;
  }

  class MemorySet {
   public:
    explicit MemorySet(const OnednnPlan& plan) {
      for (Slot& s : plan.slots_) {
        bool expected = false;
        if (s.busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
          if (!s.ready.load(std::memory_order_relaxed)) {
            s.memories = plan.make_memories();
            s.ready.store(true, std::memory_order_relaxed);
          }
          slot_ = &s;
          memories = s.memories.data();
          return;
        }
      }
      own_ = plan.make_memories();
      memories = own_.data();
    }
    ~MemorySet() {
      if (slot_) slot_->busy.store(false, std::memory_order_release);
    }
    MemorySet(const MemorySet&) = delete;
    MemorySet& operator=(const MemorySet&) = delete;
    const dnnl::memory* memories = nullptr;

   private:
    Slot* slot_ = nullptr;
    std::vector<dnnl::memory> own_;
  };

  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<const void*> constants_;
  std::vector<size_t> needs_data_;  // values with elements and no compile-time data
  std::shared_ptr<ThreadBudget> budget_;
  std::vector<size_t> first_memory_;
  std::vector<dnnl::memory::desc> descs_;
  size_t step_scratch_ = 0;
  mutable std::array<Slot, kSlots> slots_;
};

class OnednnExecutable final : public sdk::Executable {
 public:
  OnednnExecutable(const sdk::GraphView& g, const sdk::ConstantCache& cache, LinearSetup linear, std::shared_ptr<ThreadBudget> budget)
      : budget_(std::move(budget)) {
    for (size_t i = 0; i < g.num_values(); ++i) {
      sdk::ValueView v = g.value(i);
      names_.emplace_back(v.name());
      ranks_.push_back(v.rank());
      dims_.emplace_back(v.dims().begin(), v.dims().end());
      constants_.push_back(v.is_constant() ? v.data() : nullptr);
      // Values of known shape (constants, whose layouts are made now) are checked before any
      // primitive sees them; the others when a plan is prepared.
      if (std::all_of(v.dims().begin(), v.dims().end(), [](int64_t e) { return e >= 0; }))
        check_elements("value '" + names_.back() + "'", v.dims());
      if (v.is_constant()) {
        uint64_t expected = sdk::dtype_size(v.dtype());
        for (int64_t d : v.dims()) expected *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
        if (!v.data() || v.nbytes() != expected)
          throw Error("constant '" + names_.back() + "' holds " + std::to_string(v.nbytes()) +
                      " bytes, its shape " + dims_str(v.dims()) + " needs " + std::to_string(expected),
                      LOOM_STATUS_INVALID_ARGUMENT);
      }
    }
    std::vector<const OpEntry*> entries;
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      sdk::NodeView node = g.node(i);
      auto it = op_table().find(node.op());
      if (it == op_table().end())
        throw Error("node '" + std::string(node.name()) + "': op '" + std::string(node.op()) +
                    "' is unknown to the onednn backend", LOOM_STATUS_UNSUPPORTED);
      if (auto why = unsupported(it->second, node, linear))
        throw Error("node '" + std::string(node.name()) + "' (" + std::string(node.op()) + "): " + *why,
                    LOOM_STATUS_UNSUPPORTED);
      entries.push_back(&it->second);
    }
    kernels_.resize(g.num_nodes());
    for (bool last : {false, true}) {
      for (size_t i = 0; i < g.num_nodes(); ++i) {
        if (entries[i]->compile_last != last) continue;
        sdk::NodeView node = g.node(i);
        NodeInfo info = NodeInfo::from(node);
        info.threads = budget_->threads();
        info.linear = linear;
        info.constants = &cache;
        kernels_[i] = entries[i]->compile(node, std::move(info));
      }
    }
  }

  static constexpr int64_t kMaxElements = INT32_MAX;

  // The elements of a value of shape `d` (dims >= 0). oneDNN 2.6 keeps some sizes in 32 bits: a
  // matmul over 2^32 rows divided by zero while its primitive was made. No value may hold more
  // elements than an int32 counts; `what` names it in the error.
  static int64_t check_elements(const std::string& what, std::span<const int64_t> d) {
    int64_t n = 1;
    for (int64_t e : d) n = e == 0 || n == 0 ? 0 : (n > kMaxElements / e ? kMaxElements + 1 : n * e);
    if (n > kMaxElements)
      throw Error(what + " of shape " + dims_str(d) + " has more than 2^31 - 1 elements, " +
                      "which the onednn backend does not take (oneDNN 2.6 counts some sizes in 32 bits)",
                  LOOM_STATUS_UNSUPPORTED);
    return n;
  }

  std::unique_ptr<sdk::Plan> prepare(const sdk::ShapeSet& shapes) override {
    if (shapes.size() != names_.size())
      throw Error("prepare: shapes for " + std::to_string(shapes.size()) + " values given, the partition has " +
                  std::to_string(names_.size()), LOOM_STATUS_INVALID_ARGUMENT);
    std::vector<bool> nonempty(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) {
      auto d = shapes.dims(i);
      bool ok = static_cast<int32_t>(d.size()) == ranks_[i];
      for (size_t k = 0; ok && k < d.size(); ++k) ok = d[k] >= 0 && (dims_[i][k] < 0 || dims_[i][k] == d[k]);
      if (!ok)
        throw Error("prepare: value '" + names_[i] + "' gets shape " + dims_str(d) + ", which does not fit " +
                    dims_str(dims_[i]), LOOM_STATUS_INVALID_ARGUMENT);
      nonempty[i] = check_elements("prepare: value '" + names_[i] + "'", d) > 0;
    }
    // Primitives take their thread count from the ICV in force when they are created.
    ThreadScope threads(budget_->threads());
    std::vector<std::unique_ptr<Step>> steps;
    steps.reserve(kernels_.size());
    for (const auto& k : kernels_) steps.push_back(k->prepare(shapes));
    return std::make_unique<OnednnPlan>(std::move(steps), constants_, std::move(nonempty), budget_);
  }

 private:
  std::shared_ptr<ThreadBudget> budget_;
  std::vector<std::string> names_;
  std::vector<int32_t> ranks_;
  std::vector<Dims> dims_;
  std::vector<const void*> constants_;
  std::vector<std::unique_ptr<NodeKernel>> kernels_;
};

class OnednnBackend final : public sdk::Backend {
 public:
  OnednnBackend(int num_threads, LinearSetup linear) : budget_(std::make_shared<ThreadBudget>(num_threads)), linear_(linear) {}

  std::optional<std::string> unsupported_reason(const sdk::GraphView& graph, size_t node_index) override {
    if (node_index >= graph.num_nodes()) throw Error("no node " + std::to_string(node_index), LOOM_STATUS_INVALID_ARGUMENT);
    sdk::NodeView node = graph.node(node_index);
    auto it = op_table().find(node.op());
    if (it == op_table().end()) return "op '" + std::string(node.op()) + "' is unknown to the onednn backend";
    return unsupported(it->second, node, linear_);
  }

  std::unique_ptr<sdk::Executable> compile(const sdk::GraphView& partition, const loom_compile_options& options) override {
    sdk::ConstantCache cache(options);
    return std::make_unique<OnednnExecutable>(partition, cache, linear_, budget_);
  }

 private:
  std::shared_ptr<ThreadBudget> budget_;  // shared by the session's executables and plans
  LinearSetup linear_;
};

class OnednnPlugin final : public sdk::BackendPlugin {
 public:
  // The OpenMP runtime keeps a pool of worker threads and their teams for the life of the
  // process; unloading it with this plugin would leave those threads parked in unmapped code and
  // their memory unowned. So the plugin may unload, but its OpenMP runtime stays.
  OnednnPlugin() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&omp_get_max_threads), &info) && info.dli_fname)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }

  std::vector<sdk::DeviceInfo> devices() override {
    const dnnl_version_t* v = dnnl_version();
    std::string desc = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                       std::to_string(v->patch) + ", " + isa_name(dnnl_get_effective_cpu_isa()) + ", " +
                       std::to_string(omp_get_max_threads()) + " threads";
    return {sdk::DeviceInfo{"CPU", desc, LOOM_MEMORY_HOST}};
  }

  std::unique_ptr<sdk::Backend> create_backend(size_t device, sdk::BackendOptions& options) override {
    if (device != 0) throw Error("the onednn backend has one device (CPU), not " + std::to_string(device),
                                 LOOM_STATUS_INVALID_ARGUMENT);
    if (options.threads < 0)
      throw Error("num_threads must be >= 0, got " + std::to_string(options.threads), LOOM_STATUS_INVALID_ARGUMENT);
    // precision=bf16: linear layers with a constant weight keep it as bf16 and multiply bf16
    // activations by it (docs/performance.md, "bf16 on the CPU"); the rest stays f32.
    const std::string precision = options.get("precision", "f32", {"f32", "bf16", "f16"});
    if (precision == "f16")
      throw Error("option precision=f16: the onednn backend computes in f32 or bf16, not f16", LOOM_STATUS_UNSUPPORTED);
    const bool bf16 = precision == "bf16";
    // gemm: which GEMM runs linear layers with constant weights (docs/performance.md, "Packed
    // weights"): packed (gemm.hpp's, AVX2), blocked (oneDNN's matmul, the weight reordered once
    // into the layout it picks), onednn (oneDNN's matmul on the weight as mapped, and the row
    // kernel for a few rows). auto: in f32, blocked on AVX-512 and packed below; in bf16, blocked
    // where the CPU multiplies bf16 (AVX512-BF16 or AMX), else packed.
    const std::string gemm_choice = options.get("gemm", "auto", {"auto", "packed", "blocked", "onednn"});
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    auto has = [&](dnnl_cpu_isa_t want) { return (isa & want) == want; };
    const bool bf16_isa = has(dnnl_cpu_isa_avx512_core_bf16) || has(dnnl_cpu_isa_avx512_core_amx);
    if (bf16 && gemm_choice == "onednn")
      throw Error("options precision=bf16 and gemm=onednn: bf16 weights run on the packed or blocked GEMM only",
                  LOOM_STATUS_UNSUPPORTED);
    if (bf16 && gemm_choice == "blocked" && !bf16_isa)
      throw Error(std::string("options precision=bf16 and gemm=blocked: oneDNN multiplies bf16 on CPUs with AVX512-BF16 or AMX; this one has ") +
                  isa_name(isa), LOOM_STATUS_UNSUPPORTED);
    LinearSetup linear{Gemm::onednn, bf16};
    if (gemm_choice == "blocked" || (gemm_choice == "auto" && (bf16 ? bf16_isa : has(dnnl_cpu_isa_avx512_core))))
      linear.gemm = Gemm::blocked;
    else if (gemm_choice == "packed" || bf16 || (gemm_choice == "auto" && gemm::available() && !has(dnnl_cpu_isa_avx512_core)))
      linear.gemm = Gemm::packed;
    if (linear.gemm == Gemm::packed && !gemm::available())
      throw Error(std::string(bf16 ? "option precision=bf16" : "option gemm=packed") +
                  ": the packed GEMM needs a CPU with AVX2 and FMA", LOOM_STATUS_UNSUPPORTED);
    options.finish("onednn");
    // 0: OpenMP's default as the session is made (OMP_NUM_THREADS, else every core).
    return std::make_unique<OnednnBackend>(options.threads > 0 ? options.threads : omp_get_max_threads(), linear);
  }
};

}  // namespace
}  // namespace loom::onednn

LOOM_BACKEND_PLUGIN(loom::onednn::OnednnPlugin, "onednn", "0.1.0",
                    "CPU backend on oneDNN: fused matmul, norms, softmax, element-wise and data movement")
