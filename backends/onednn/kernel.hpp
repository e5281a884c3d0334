// The oneDNN backend's internal kernel interface. Every op family (ops/<family>.cpp) hands the
// backend a table of OpEntry: a placement check, and a compile function that copies what it
// needs out of the borrowed graph view into a NodeKernel. A NodeKernel's prepare() turns
// concrete shapes into a Step: everything that depends on shapes (oneDNN primitives, strides,
// loop bounds) is computed there, so that a run is a flat loop over steps.
#pragma once

#include <loom/plugin_sdk.hpp>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom::onednn {

using sdk::Error;
using Dims = std::vector<int64_t>;

// Hand-written broadcasting loops keep their (collapsed) dims in fixed arrays.
inline constexpr int kMaxLoopRank = 8;
inline constexpr int kMaxDnnlRank = DNNL_MAX_NDIMS;

using sdk::dims_str;
using sdk::dtype_name;
int64_t count(std::span<const int64_t> dims);
// Normalises a possibly negative axis; nullopt when out of range.
std::optional<int64_t> normalize_axis(int64_t axis, int64_t rank);

// Which GEMM runs linear layers with a constant weight (the backend's `gemm` option, resolved):
// oneDNN's matmul on the weight as mapped (and the row kernel for a few rows), gemm.hpp's packed
// GEMM, or oneDNN's matmul on a copy of the weight reordered once into the layout it picks.
enum class Gemm { onednn, packed, blocked };

// How a backend computes linear layers with a constant weight: the GEMM, and whether the weight
// is kept as bf16 and multiplies bf16 activations (precision=bf16; packed or blocked only).
struct LinearSetup {
  Gemm gemm = Gemm::onednn;
  bool bf16 = false;
};

// A node as compiled: everything copied out of the graph view, which is only borrowed by
// compile(). Value indices refer to the partition's values (-1: an absent optional input).
struct NodeInfo {
  std::string name;
  std::string op;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::vector<int32_t> input_dtypes;
  std::vector<int32_t> output_dtypes;
  std::vector<int32_t> input_ranks;
  int threads = 0;  // the backend's thread count (0: OpenMP's default), for kernels that size per-thread scratch
  LinearSetup linear;  // how linear layers with a constant weight run
  // The host's packed-constant cache: valid during compile only, never kept by a kernel.
  const sdk::ConstantCache* constants = nullptr;

  static NodeInfo from(const sdk::NodeView& node);
  // "node 'encoder.0.attn.q' (linear)"
  std::string where() const;
  [[noreturn]] void fail(const std::string& what, int32_t code = LOOM_STATUS_INVALID_ARGUMENT) const;
};

// Attributes with the schema's default when the host left them out.
int64_t attr_int(const sdk::NodeView& node, std::string_view name, int64_t fallback);
double attr_float(const sdk::NodeView& node, std::string_view name, double fallback);
bool attr_bool(const sdk::NodeView& node, std::string_view name, bool fallback);
std::string attr_string(const sdk::NodeView& node, std::string_view name, std::string_view fallback);
std::vector<int64_t> attr_ints(const sdk::NodeView& node, std::string_view name);

// Placement checks; each returns the reason the node cannot run here, or nullopt.
std::optional<std::string> check_arity(const sdk::NodeView& node, size_t min_inputs, size_t max_inputs,
                                       size_t outputs);
std::optional<std::string> check_dtype(const sdk::NodeView& node, size_t input,
                                       std::initializer_list<int32_t> allowed);
std::optional<std::string> check_rank(const sdk::NodeView& node, size_t input, int64_t max_rank);
// A tensor seen as [outer, n, inner] around one axis: the elements of one vector along it lie
// `inner` apart. With `to_end`, the axis and every later one are the vector (n), inner is 1.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisView view_around(std::span<const int64_t> dims, int64_t axis, bool to_end = false);

// A dtype whose elements can be moved as bytes.
bool movable_dtype(int32_t dtype);

// What a step sees during one run.
struct RunContext {
  const loom_tensor* tensors;       // one per partition value, tensor_stride bytes apart (abi.h)
  const void* const* constants;     // per value: the compile-time data of CONSTANT values, else null
  std::byte* scratch;               // 64-byte aligned, at least the step's scratch_bytes()
  dnnl_stream_t stream;
  const dnnl::memory* memories;     // this step's memory objects, in memory_descs order
  size_t tensor_stride = sizeof(loom_tensor);

  const loom_tensor& tensor(int32_t value) const {
    return *reinterpret_cast<const loom_tensor*>(reinterpret_cast<const char*>(tensors) + static_cast<size_t>(value) * tensor_stride);
  }
  void* data(int32_t value) const {
    void* p = tensor(value).data;
    return p ? p : const_cast<void*>(constants[value]);
  }
  template <class T> T* as(int32_t value) const { return static_cast<T*>(data(value)); }
};

// `bytes` rounded up to a whole number of cache lines: where a step's scratch holds several
// buffers, each starts at such an offset.
inline size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

class Step {
 public:
  virtual ~Step() = default;
  // May be called from several threads at once, each with its own context.
  virtual void run(const RunContext& ctx) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  // The oneDNN memory objects the step binds on each run; the plan creates one set per
  // concurrent run so that run() never allocates them.
  std::vector<dnnl::memory::desc> memory_descs;
};

// An output with no elements needs no work (oneDNN rejects some zero-sized shapes).
class NoStep final : public Step {
 public:
  void run(const RunContext&) const override {}
};

// A node whose output is empty still checks its i64 input `input` ([batch] values each in
// lo..hi), as the reference does: the values are named as the full step names them.
class BatchValuesCheckStep final : public Step {
 public:
  BatchValuesCheckStep(const NodeInfo& info, size_t input, int64_t batch, int64_t lo, int64_t hi, std::string what)
      : info_(info), input_(input), batch_(batch), lo_(lo), hi_(hi), what_(std::move(what)) {}
  void run(const RunContext& ctx) const override {
    const int64_t* v = ctx.as<const int64_t>(info_.inputs[input_]);
    for (int64_t b = 0; b < batch_; ++b)
      if (v[b] < lo_ || v[b] > hi_)
        info_.fail(what_ + "[" + std::to_string(b) + "] = " + std::to_string(v[b]) + " is outside " + std::to_string(lo_) + ".." +
                   std::to_string(hi_));
  }

 private:
  NodeInfo info_;
  size_t input_;
  int64_t batch_, lo_, hi_;
  std::string what_;
};

class NodeKernel {
 public:
  explicit NodeKernel(NodeInfo info) : info_(std::move(info)) {}
  virtual ~NodeKernel() = default;
  virtual std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const = 0;
  const NodeInfo& info() const { return info_; }

 protected:
  std::span<const int64_t> in_dims(const sdk::ShapeSet& shapes, size_t input) const {
    return shapes.dims(static_cast<size_t>(info_.inputs[input]));
  }
  std::span<const int64_t> out_dims(const sdk::ShapeSet& shapes, size_t output) const {
    return shapes.dims(static_cast<size_t>(info_.outputs[output]));
  }
  bool has_input(size_t i) const { return i < info_.inputs.size() && info_.inputs[i] >= 0; }
  // The host's shape for an output must be the one this op computes: a mismatch would let
  // the kernel write outside the tensor the host planned.
  void expect_output(const sdk::ShapeSet& shapes, size_t output, std::span<const int64_t> dims) const;

  NodeInfo info_;
};

struct OpEntry {
  std::string_view name;
  std::optional<std::string> (*check)(const sdk::NodeView& node);
  std::unique_ptr<NodeKernel> (*compile)(const sdk::NodeView& node, NodeInfo info);
  // Compiled after every other node of the partition, so that it finds the constant copies they
  // made in the host's cache (gather reads a tied embedding table from the LM head's panels).
  bool compile_last = false;
  // Where the answer depends on how the backend is set up, the check used in place of `check`
  // (attention: with precision=bf16 on AMX it keeps heads that the f32 check would have the
  // session decompose).
  std::optional<std::string> (*check_setup)(const sdk::NodeView& node, const LinearSetup& setup) = nullptr;
};

std::vector<OpEntry> elementwise_ops();
std::vector<OpEntry> cast_ops();
std::vector<OpEntry> matmul_ops();
std::vector<OpEntry> conv_ops();
std::vector<OpEntry> norm_ops();
std::vector<OpEntry> indexing_ops();
std::vector<OpEntry> shape_ops();
std::vector<OpEntry> attention_ops();
std::vector<OpEntry> mask_ops();
std::vector<OpEntry> vector_norm_ops();
std::vector<OpEntry> reduce_ops();
std::vector<OpEntry> layout_ops();

// ---------------------------------------------------------------- oneDNN helpers

// The process-wide CPU engine.
const dnnl::engine& cpu_engine();
dnnl::memory::desc plain_md(std::span<const int64_t> dims, dnnl::memory::data_type dt);
dnnl::memory::desc strided_md(std::span<const int64_t> dims, std::span<const int64_t> strides,
                              dnnl::memory::data_type dt);
// An attribute with scratchpad_mode::user: the plan carves each run's scratchpad from the
// run's scratch, so one primitive can run on several threads at once.
dnnl::primitive_attr user_scratchpad_attr();
// A matmul of m plain rows (f32, or bf16 when `bf16`) by a [k, n] weight in `weights`' layout
// into m x n f32 rows, with an [1, n] f32 bias where `bias`.
dnnl::matmul::primitive_desc blocked_pd(int64_t m, int64_t n, int64_t k, bool bf16, const dnnl::memory::desc& weights,
                                        bool bias, const dnnl::primitive_attr& attr);

struct ExecArg {
  int arg;      // DNNL_ARG_*
  void* data;
};
// Binds args[i] to ctx.memories[i] and executes; `args` follow the step's memory_descs.
void execute(const dnnl::primitive& prim, const RunContext& ctx, std::initializer_list<ExecArg> args,
             const NodeInfo& node);
// The same for a step of several primitives: args[i] binds ctx.memories[first + i].
void execute(const dnnl::primitive& prim, const RunContext& ctx, size_t first, std::initializer_list<ExecArg> args,
             const NodeInfo& node);

// ---------------------------------------------------------------- broadcasting loops

// Two operands broadcast against an output (NumPy rules), with unit dims dropped and
// contiguous dims merged, so the common cases become one flat loop.
struct Broadcast {
  enum Mode { kSame, kScalarA, kScalarB, kGeneral };
  Mode mode = kSame;
  int64_t n = 0;  // output elements
  int rank = 0;   // kGeneral: collapsed rank
  int64_t dims[kMaxLoopRank] = {};
  int64_t stride_a[kMaxLoopRank] = {};
  int64_t stride_b[kMaxLoopRank] = {};

  // nullopt when a or b does not broadcast to `out`, or the collapsed rank is too high.
  static std::optional<Broadcast> make(std::span<const int64_t> out, std::span<const int64_t> a,
                                       std::span<const int64_t> b);

  // The output as runs that apply() takes in any range (to split them over threads): the
  // inner dim's runs in kGeneral, single elements otherwise.
  int64_t runs() const { return mode == kGeneral && n > 0 ? n / dims[rank - 1] : n; }

  template <class T, class Op>
  void apply(const T* a, const T* b, T* o, Op op) const {
    apply(a, b, o, op, 0, runs());
  }

  // The output's runs [first, last) only.
  template <class T, class Op>
  void apply(const T* a, const T* b, T* o, Op op, int64_t first, int64_t last) const {
    switch (mode) {
      case kSame:
        for (int64_t i = first; i < last; ++i) o[i] = op(a[i], b[i]);
        return;
      case kScalarA: {
        const T av = a[0];
        for (int64_t i = first; i < last; ++i) o[i] = op(av, b[i]);
        return;
      }
      case kScalarB: {
        const T bv = b[0];
        for (int64_t i = first; i < last; ++i) o[i] = op(a[i], bv);
        return;
      }
      case kGeneral:
        break;
    }
    if (first >= last) return;
    // Odometer over the outer dims, started at run `first`; the inner dim as a strided run.
    const int last_dim = rank - 1;
    const int64_t len = dims[last_dim], ia = stride_a[last_dim], ib = stride_b[last_dim];
    int64_t idx[kMaxLoopRank] = {};
    int64_t oa = 0, ob = 0;
    for (int64_t d = last_dim - 1, rest = first; d >= 0; --d) {
      idx[d] = rest % dims[d];
      rest /= dims[d];
      oa += idx[d] * stride_a[d];
      ob += idx[d] * stride_b[d];
    }
    o += first * len;
    for (int64_t run = first; run < last; ++run) {
      const T* pa = a + oa;
      const T* pb = b + ob;
      // Contiguous and broadcast runs as loops of their own, which the compiler vectorises.
      if (ia == 1 && ib == 1)
        for (int64_t i = 0; i < len; ++i) o[i] = op(pa[i], pb[i]);
      else if (ia == 1 && ib == 0)
        for (int64_t i = 0; i < len; ++i) o[i] = op(pa[i], pb[0]);
      else if (ia == 0 && ib == 1)
        for (int64_t i = 0; i < len; ++i) o[i] = op(pa[0], pb[i]);
      else
        for (int64_t i = 0; i < len; ++i) o[i] = op(pa[i * ia], pb[i * ib]);
      o += len;
      for (int d = last_dim - 1; d >= 0; --d) {
        oa += stride_a[d];
        ob += stride_b[d];
        if (++idx[d] < dims[d]) break;
        oa -= stride_a[d] * dims[d];
        ob -= stride_b[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
};

// Numpy broadcast of two shapes; nullopt when they do not broadcast.
std::optional<Dims> broadcast_dims(std::span<const int64_t> a, std::span<const int64_t> b);

}  // namespace loom::onednn
