// Data movement: reshape, transpose, slice, concat, for every dtype (elements move as bytes).
// transpose moves whole rows where it keeps the last axis (attention's heads), else runs on
// oneDNN's reorder over strided descriptors; the others are row copies.
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace loom::onednn {
namespace {

using dt = dnnl::memory::data_type;

// Copies the whole input when the host did not place the output on top of it.
class CopyStep final : public Step {
 public:
  CopyStep(const NodeInfo& info, size_t bytes) : x_(info.inputs[0]), y_(info.outputs[0]), bytes_(bytes) {}
  void run(const RunContext& ctx) const override {
    const void* x = ctx.data(x_);
    void* y = ctx.data(y_);
    if (x != y && bytes_) std::memmove(y, x, bytes_);
  }

 private:
  int32_t x_, y_;
  size_t bytes_;
};

size_t elem_bytes(const NodeInfo& info) { return sdk::dtype_size(info.input_dtypes[0]); }

std::optional<std::string> check_movable(const sdk::NodeView& node) {
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (!node.has_input(i)) return "input " + std::to_string(i) + " is absent";
    if (!movable_dtype(node.input(i).dtype()))
      return "dtype " + dtype_name(node.input(i).dtype()) + " of input '" + std::string(node.input(i).name()) +
             "' is not supported";
    if (node.input(i).dtype() != node.input(0).dtype()) return "inputs have different dtypes";
  }
  if (node.output(0).dtype() != node.input(0).dtype()) return "output dtype differs from the input's";
  return std::nullopt;
}

// ---------------------------------------------------------------- reshape

class ReshapeKernel final : public NodeKernel {
 public:
  ReshapeKernel(NodeInfo info, std::vector<int64_t> shape) : NodeKernel(std::move(info)), shape_(std::move(shape)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    auto out = sdk::reshape_dims(x, shape_);
    if (!out) info_.fail("shape " + dims_str(shape_) + " cannot hold the input " + dims_str(x));
    expect_output(shapes, 0, *out);
    return std::make_unique<CopyStep>(info_, static_cast<size_t>(count(x)) * elem_bytes(info_));
  }

 private:
  std::vector<int64_t> shape_;
};

std::optional<std::string> check_reshape(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  if (auto r = check_movable(node)) return r;
  auto shape = attr_ints(node, "shape");
  if (std::count(shape.begin(), shape.end(), -1) > 1) return "shape has more than one -1";
  for (int64_t d : shape)
    if (d < -1) return "shape has a negative dim " + std::to_string(d);
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_reshape(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<ReshapeKernel>(std::move(info), attr_ints(node, "shape"));
}

// ---------------------------------------------------------------- transpose

// A copy's size as split_rows' work: 4-byte words.
int64_t words(size_t bytes) { return static_cast<int64_t>(bytes / 4); }

class ReorderStep final : public Step {
 public:
  ReorderStep(const NodeInfo& info, const dnnl::memory::desc& src, const dnnl::memory::desc& dst) : info_(info) {
    dnnl::reorder::primitive_desc pd(cpu_engine(), src, cpu_engine(), dst, user_scratchpad_attr());
    prim_ = dnnl::reorder(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {src, dst, pd.scratchpad_desc()};
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    execute(prim_, ctx,
            {{DNNL_ARG_FROM, ctx.data(info_.inputs[0])}, {DNNL_ARG_TO, ctx.data(info_.outputs[0])},
             {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
            info_);
  }

 private:
  NodeInfo info_;
  dnnl::reorder prim_;
  size_t scratch_ = 0;
};

// A transpose that keeps the last axis last moves rows of `row_bytes`: one copy each, its source
// found by an odometer over the output's other axes. oneDNN's reorder over the same strided
// descriptors took 8-10 us for one of CLIP's [1, 8, 77, 64] heads, the copies about 2.
class RowTransposeStep final : public Step {
 public:
  // `out`: the output's dims but the last; `src_strides`: in bytes, per axis of `out`.
  RowTransposeStep(const NodeInfo& info, Dims out, Dims src_strides, size_t row_bytes, int threads)
      : x_(info.inputs[0]), y_(info.outputs[0]), out_(std::move(out)), src_strides_(std::move(src_strides)),
        row_bytes_(row_bytes), threads_(threads) {
    rows_ = 1;
    for (int64_t d : out_) rows_ *= d;
  }
  void run(const RunContext& ctx) const override {
    const auto* x = static_cast<const std::byte*>(ctx.data(x_));
    auto* y = static_cast<std::byte*>(ctx.data(y_));
    // Threads only where the copy is large enough to pay for waking them: split_rows' bound, in
    // 4-byte words, is 128 KB (attention's heads of BERT-base at 128 tokens, 384 KB: 2.2-2.4 ->
    // 1.3 ms over a run's 48 at 2 threads; CLIP ViT-B/32's 50 rows, 150 KB: 0.73-0.88 -> 0.55 ms).
    split_rows(rows_, words(static_cast<size_t>(rows_) * row_bytes_), threads_,
               [&](int64_t begin, int64_t end) { copy_rows(x, y, begin, end); });
  }

 private:
  void copy_rows(const std::byte* x, std::byte* y, int64_t begin, int64_t end) const {
    if (begin >= end) return;
    const size_t axes = out_.size();
    std::array<int64_t, kMaxDnnlRank> index{};
    int64_t src = 0;
    for (size_t a = axes, rest = static_cast<size_t>(begin); a-- > 0;) {
      index[a] = static_cast<int64_t>(rest % static_cast<size_t>(out_[a]));
      rest /= static_cast<size_t>(out_[a]);
      src += index[a] * src_strides_[a];
    }
    for (int64_t row = begin; row < end; ++row) {
      std::memcpy(y + static_cast<size_t>(row) * row_bytes_, x + src, row_bytes_);
      for (size_t a = axes; a-- > 0;) {  // the next output row's source
        src += src_strides_[a];
        if (++index[a] < out_[a] || a == 0) break;
        src -= src_strides_[a] * out_[a];
        index[a] = 0;
      }
    }
  }

  int32_t x_, y_;
  Dims out_, src_strides_;
  size_t row_bytes_;
  int threads_;
  int64_t rows_ = 0;
};

class TransposeKernel final : public NodeKernel {
 public:
  TransposeKernel(NodeInfo info, std::vector<int64_t> perm) : NodeKernel(std::move(info)), perm_(std::move(perm)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    const size_t r = x.size();
    Dims in_strides(r, 1), out(r), src_strides(r);
    for (size_t i = r; i-- > 1;) in_strides[i - 1] = in_strides[i] * x[i];
    for (size_t i = 0; i < r; ++i) {
      out[i] = x[static_cast<size_t>(perm_[i])];
      src_strides[i] = in_strides[static_cast<size_t>(perm_[i])];
    }
    expect_output(shapes, 0, out);
    const size_t esize = elem_bytes(info_);
    const int64_t n = count(x);
    // Dims of size 1 do not move data: when the others keep their order, it is a plain copy.
    Dims moved;
    for (size_t i = 0; i < r; ++i)
      if (out[i] != 1) moved.push_back(perm_[i]);
    if (n == 0 || std::is_sorted(moved.begin(), moved.end()))
      return std::make_unique<CopyStep>(info_, static_cast<size_t>(n) * esize);
    // The last axis stays: rows of at least 64 bytes move whole.
    if (perm_.back() == static_cast<int64_t>(r) - 1 && x[r - 1] * static_cast<int64_t>(esize) >= 64) {
      Dims outer(out.begin(), out.end() - 1), strides(src_strides.begin(), src_strides.end() - 1);
      for (auto& st : strides) st *= static_cast<int64_t>(esize);
      return std::make_unique<RowTransposeStep>(info_, std::move(outer), std::move(strides), static_cast<size_t>(x[r - 1]) * esize,
                                                resolved_threads(info_.threads));
    }
    // Elements move as opaque bytes: 4-byte words where the size allows, else single bytes,
    // with a trailing dim for the words of one element.
    const dt type = esize % 4 == 0 ? dt::s32 : dt::u8;
    const int64_t words = static_cast<int64_t>(type == dt::s32 ? esize / 4 : esize);
    for (auto& s : src_strides) s *= words;
    Dims dst_strides(r + 1, 1);
    out.push_back(words);
    src_strides.push_back(1);
    for (size_t i = r + 1; i-- > 1;) dst_strides[i - 1] = dst_strides[i] * out[i];
    return std::make_unique<ReorderStep>(info_, strided_md(out, src_strides, type), strided_md(out, dst_strides, type));
  }

 private:
  std::vector<int64_t> perm_;
};

std::optional<std::string> check_transpose(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  if (auto r = check_movable(node)) return r;
  if (auto r = check_rank(node, 0, kMaxDnnlRank - 1)) return r;
  auto perm = attr_ints(node, "perm");
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = static_cast<int64_t>(perm.size()) == node.input(0).rank();
  for (size_t i = 0; ok && i < sorted.size(); ++i) ok = sorted[i] == static_cast<int64_t>(i);
  if (!ok) return "perm " + dims_str(perm) + " is not a permutation of the " + std::to_string(node.input(0).rank()) + " dims";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_transpose(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<TransposeKernel>(std::move(info), attr_ints(node, "perm"));
}

// ---------------------------------------------------------------- slice

class SliceStep final : public Step {
 public:
  SliceStep(const NodeInfo& info, int64_t outer, int64_t len, int64_t start, int64_t num, int64_t step, size_t row, int threads)
      : x_(info.inputs[0]), y_(info.outputs[0]), outer_(outer), len_(len), start_(start), num_(num), step_(step),
        row_(row), threads_(threads) {}
  void run(const RunContext& ctx) const override {
    const auto* x = ctx.as<const std::byte>(x_);
    auto* y = ctx.as<std::byte>(y_);
    // Over the threads from 128 KB, as a transpose's rows: GPT-2's q, k and v cut from its fused
    // projection (384 KB each at 128 tokens) took longer on one thread at 2 threads than at 1.
    split_rows(outer_, words(static_cast<size_t>(outer_ * num_) * row_), threads_,
               [&](int64_t begin, int64_t end) { copy(x, y, begin, end); });
  }

 private:
  void copy(const std::byte* x, std::byte* y, int64_t begin, int64_t end) const {
    y += static_cast<size_t>(begin * num_) * row_;
    for (int64_t o = begin; o < end; ++o) {
      const std::byte* src = x + static_cast<size_t>(o * len_ + start_) * row_;
      if (step_ == 1) {
        std::memcpy(y, src, static_cast<size_t>(num_) * row_);
        y += static_cast<size_t>(num_) * row_;
        continue;
      }
      for (int64_t k = 0; k < num_; ++k, y += row_) std::memcpy(y, src + static_cast<size_t>(k * step_) * row_, row_);
    }
  }

  int32_t x_, y_;
  int64_t outer_, len_, start_, num_, step_;
  size_t row_;
  int threads_;
};

class SliceKernel final : public NodeKernel {
 public:
  SliceKernel(NodeInfo info, int64_t axis, int64_t start, int64_t end, int64_t step)
      : NodeKernel(std::move(info)), axis_(axis), start_(start), end_(end), step_(step) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(x.size()));
    const size_t a = static_cast<size_t>(*axis);
    const int64_t len = x[a];
    const auto [start, num] = sdk::slice_range(len, start_, end_, step_);
    Dims out(x.begin(), x.end());
    out[a] = num;
    expect_output(shapes, 0, out);
    const size_t row = static_cast<size_t>(count(x.subspan(a + 1))) * elem_bytes(info_);
    if (count(out) == 0) return std::make_unique<NoStep>();
    return std::make_unique<SliceStep>(info_, count(x.first(a)), len, start, num, step_, row, resolved_threads(info_.threads));
  }

 private:
  int64_t axis_, start_, end_, step_;
};

std::optional<std::string> check_slice(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  if (auto r = check_movable(node)) return r;
  if (!node.find_attr("axis")) return "attribute 'axis' is missing";
  if (!normalize_axis(attr_int(node, "axis", 0), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", 0)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  if (attr_int(node, "step", 1) < 1) return "step " + std::to_string(attr_int(node, "step", 1)) + " is not >= 1";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_slice(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<SliceKernel>(std::move(info), attr_int(node, "axis", 0), attr_int(node, "start", 0),
                                       attr_int(node, "end", INT64_MAX), attr_int(node, "step", 1));
}

// ---------------------------------------------------------------- concat

class ConcatStep final : public Step {
 public:
  ConcatStep(const NodeInfo& info, int64_t outer, std::vector<size_t> rows)
      : inputs_(info.inputs), y_(info.outputs[0]), outer_(outer), rows_(std::move(rows)) {}
  void run(const RunContext& ctx) const override {
    auto* y = ctx.as<std::byte>(y_);
    for (int64_t o = 0; o < outer_; ++o)
      for (size_t i = 0; i < inputs_.size(); ++i) {
        if (!rows_[i]) continue;
        std::memcpy(y, ctx.as<const std::byte>(inputs_[i]) + static_cast<size_t>(o) * rows_[i], rows_[i]);
        y += rows_[i];
      }
  }

 private:
  std::vector<int32_t> inputs_;
  int32_t y_;
  int64_t outer_;
  std::vector<size_t> rows_;  // bytes of one input per outer index
};

class ConcatKernel final : public NodeKernel {
 public:
  ConcatKernel(NodeInfo info, int64_t axis) : NodeKernel(std::move(info)), axis_(axis) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto first = in_dims(shapes, 0);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(first.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(first.size()));
    const size_t a = static_cast<size_t>(*axis);
    Dims out(first.begin(), first.end());
    out[a] = 0;
    std::vector<size_t> rows;
    for (size_t i = 0; i < info_.inputs.size(); ++i) {
      auto d = in_dims(shapes, i);
      bool ok = d.size() == first.size();
      for (size_t k = 0; ok && k < d.size(); ++k) ok = k == a || d[k] == first[k];
      if (!ok) info_.fail("input " + std::to_string(i) + " " + dims_str(d) + " does not match input 0 " + dims_str(first) +
                          " outside axis " + std::to_string(a));
      out[a] += d[a];
      rows.push_back(static_cast<size_t>(count(d.subspan(a))) * elem_bytes(info_));
    }
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    return std::make_unique<ConcatStep>(info_, count(first.first(a)), std::move(rows));
  }

 private:
  int64_t axis_;
};

std::optional<std::string> check_concat(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, SIZE_MAX, 1)) return r;
  if (auto r = check_movable(node)) return r;
  for (size_t i = 1; i < node.num_inputs(); ++i)
    if (node.input(i).rank() != node.input(0).rank()) return "inputs have different ranks";
  if (!node.find_attr("axis")) return "attribute 'axis' is missing";
  if (!normalize_axis(attr_int(node, "axis", 0), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", 0)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_concat(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<ConcatKernel>(std::move(info), attr_int(node, "axis", 0));
}

}  // namespace

std::vector<OpEntry> shape_ops() {
  return {{"reshape", check_reshape, compile_reshape},
          {"transpose", check_transpose, compile_transpose},
          {"slice", check_slice, compile_slice},
          {"concat", check_concat, compile_concat}};
}

}  // namespace loom::onednn
