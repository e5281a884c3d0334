// gather (embedding lookups and friends), gather_rows (one row per batch entry) and positions
// (position ids): plain loops, since
// oneDNN has no gather. Every index is checked before it is used.
#include "gemm.hpp"
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"
#include "weights.hpp"

#include <cstring>

namespace loom::onednn {
namespace {

template <class I>
class GatherStep final : public Step {
 public:
  // `panels`: the table's f32 panels (find_f32_panels), read instead of its data where set; outer is 1.
  GatherStep(const NodeInfo& info, int64_t outer, int64_t axis_size, int64_t num_indices, size_t row_bytes,
             F32Panels panels)
      : info_(info), outer_(outer), axis_size_(axis_size), num_indices_(num_indices), row_bytes_(row_bytes),
        panels_(panels) {}

  void run(const RunContext& ctx) const override {
    const auto* data = ctx.as<const std::byte>(info_.inputs[0]);
    const I* indices = ctx.as<const I>(info_.inputs[1]);
    auto* out = ctx.as<std::byte>(info_.outputs[0]);
    for (int64_t j = 0; j < num_indices_; ++j) {
      int64_t v = static_cast<int64_t>(indices[j]);
      if (v < -axis_size_ || v >= axis_size_)
        info_.fail("index " + std::to_string(v) + " (at position " + std::to_string(j) +
                   " of the indices) is out of range for a dim of size " + std::to_string(axis_size_));
    }
    if (panels_.data) {
      // One cache line per element, each its own wait on memory: the rows are split over the
      // threads, each core with its own misses in flight (BERT-base's 128 rows: 1.40 -> 0.72 ms
      // at 2 threads; asking for the next row's lines ahead measured no faster), and each thread
      // reads 8 rows side by side, 8 misses in flight where one row had one (BERT-base's 128
      // rows at 1 thread on an AMX Xeon: 1.46-1.69 -> 0.97-1.16 ms; lines asked for 16 elements
      // ahead as well: no faster). A group short of 8 rows repeats its last row.
      const int64_t k = static_cast<int64_t>(row_bytes_ / sizeof(float)), width = panels_.width;
      split_rows(num_indices_, num_indices_ * k, resolved_threads(info_.threads), [&](int64_t j0, int64_t j1) {
        constexpr int64_t kRows = 8;
        for (int64_t j = j0; j < j1; j += kRows) {
          const int64_t m = std::min(kRows, j1 - j);
          const float* src[kRows];
          float* dst[kRows];
          for (int64_t r = 0; r < kRows; ++r) {
            int64_t v = static_cast<int64_t>(indices[j + std::min(r, m - 1)]);
            if (v < 0) v += axis_size_;
            src[r] = panels_.row_start(v);
            dst[r] = reinterpret_cast<float*>(out) + (j + std::min(r, m - 1)) * k;
          }
          for (int64_t i = 0; i < k; ++i)
            for (int64_t r = 0; r < kRows; ++r) dst[r][i] = src[r][i * width];
        }
      });
      return;
    }
    for (int64_t o = 0; o < outer_; ++o) {
      const std::byte* src = data + static_cast<size_t>(o * axis_size_) * row_bytes_;
      for (int64_t j = 0; j < num_indices_; ++j) {
        int64_t v = static_cast<int64_t>(indices[j]);
        if (v < 0) v += axis_size_;
        std::memcpy(out, src + static_cast<size_t>(v) * row_bytes_, row_bytes_);
        out += row_bytes_;
      }
    }
  }

 private:
  NodeInfo info_;
  int64_t outer_, axis_size_, num_indices_;
  size_t row_bytes_;
  F32Panels panels_;
};

// gather_rows: out[b] = data[b, indices[b]], each index checked (negative ones count from the end).
template <class I>
class GatherRowsStep final : public Step {
 public:
  GatherRowsStep(const NodeInfo& info, int64_t batch, int64_t rows, size_t row_bytes)
      : info_(info), batch_(batch), rows_(rows), row_bytes_(row_bytes) {}

  void run(const RunContext& ctx) const override {
    const auto* data = ctx.as<const std::byte>(info_.inputs[0]);
    const I* indices = ctx.as<const I>(info_.inputs[1]);
    auto* out = ctx.as<std::byte>(info_.outputs[0]);
    for (int64_t b = 0; b < batch_; ++b) {
      int64_t v = static_cast<int64_t>(indices[b]);
      if (v < -rows_ || v >= rows_)
        info_.fail("index " + std::to_string(v) + " of batch entry " + std::to_string(b) + " is out of range for " +
                   std::to_string(rows_) + " rows");
      if (v < 0) v += rows_;
      std::memcpy(out + static_cast<size_t>(b) * row_bytes_, data + static_cast<size_t>(b * rows_ + v) * row_bytes_, row_bytes_);
    }
  }

 private:
  NodeInfo info_;
  int64_t batch_, rows_;
  size_t row_bytes_;
};

class GatherRowsKernel final : public NodeKernel {
 public:
  using NodeKernel::NodeKernel;

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto data = in_dims(shapes, 0), idx = in_dims(shapes, 1);
    if (data.size() < 2 || idx.size() != 1 || idx[0] != data[0])
      info_.fail("indices " + dims_str(idx) + " must hold one index per batch entry of data " + dims_str(data));
    Dims out(data.begin(), data.end());
    out.erase(out.begin() + 1);
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    if (data[1] == 0) info_.fail("data " + dims_str(data) + " has no rows to pick");
    const size_t row_bytes = static_cast<size_t>(count(data.subspan(2))) * sdk::dtype_size(info_.input_dtypes[0]);
    if (info_.input_dtypes[1] == LOOM_DTYPE_I64) return std::make_unique<GatherRowsStep<int64_t>>(info_, data[0], data[1], row_bytes);
    return std::make_unique<GatherRowsStep<int32_t>>(info_, data[0], data[1], row_bytes);
  }
};

std::optional<std::string> check_gather_rows(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 2, 1)) return r;
  if (!movable_dtype(node.input(0).dtype()))
    return "dtype " + dtype_name(node.input(0).dtype()) + " of input '" + std::string(node.input(0).name()) + "' is not supported";
  return check_dtype(node, 1, {LOOM_DTYPE_I64, LOOM_DTYPE_I32});
}

std::unique_ptr<NodeKernel> compile_gather_rows(const sdk::NodeView&, NodeInfo info) {
  return std::make_unique<GatherRowsKernel>(std::move(info));
}

class GatherKernel final : public NodeKernel {
 public:
  GatherKernel(NodeInfo info, int64_t axis, F32Panels panels)
      : NodeKernel(std::move(info)), axis_(axis), panels_(panels) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto data = in_dims(shapes, 0), idx = in_dims(shapes, 1);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(data.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(data.size()));
    const size_t a = static_cast<size_t>(*axis);
    Dims out(data.begin(), data.begin() + static_cast<ptrdiff_t>(a));
    out.insert(out.end(), idx.begin(), idx.end());
    out.insert(out.end(), data.begin() + static_cast<ptrdiff_t>(a) + 1, data.end());
    expect_output(shapes, 0, out);
    const size_t row_bytes = static_cast<size_t>(count(data.subspan(a + 1))) * sdk::dtype_size(info_.input_dtypes[0]);
    const int64_t outer = count(data.first(a)), n = data[a], num = count(idx);
    if (info_.input_dtypes[1] == LOOM_DTYPE_I64)
      return std::make_unique<GatherStep<int64_t>>(info_, outer, n, num, row_bytes, panels_);
    return std::make_unique<GatherStep<int32_t>>(info_, outer, n, num, row_bytes, panels_);
  }

 private:
  int64_t axis_;
  F32Panels panels_;  // the table's f32 panels, owned by the engine's cache; or none
};

std::optional<std::string> check_gather(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 2, 1)) return r;
  if (!movable_dtype(node.input(0).dtype()))
    return "dtype " + dtype_name(node.input(0).dtype()) + " of input '" + std::string(node.input(0).name()) +
           "' is not supported";
  if (auto r = check_dtype(node, 1, {LOOM_DTYPE_I64, LOOM_DTYPE_I32})) return r;
  if (node.output(0).dtype() != node.input(0).dtype()) return "output dtype differs from the data's";
  if (!normalize_axis(attr_int(node, "axis", 0), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", 0)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

// A tied embedding table (GPT-2's wte, BERT's word embeddings) is also the LM head's weight. Where
// that linear layer packed it (compiled first: compile_last), its rows are read from the panels,
// so that the table is resident once: gathering from the mapped file instead faults in the page
// cache's folios around each row (up to 2 MiB each), 53 of GPT-2's 147 MiB after a 128-token
// prompt (docs/performance.md, "the peak RSS").
std::unique_ptr<NodeKernel> compile_gather(const sdk::NodeView& node, NodeInfo info) {
  const int64_t axis = attr_int(node, "axis", 0);
  const sdk::ValueView table = node.input(0);
  F32Panels panels;
  // Only where this session's linear layers use f32 panels or blocked f32 weights: a bf16 or
  // oneDNN-GEMM session would otherwise hold another session's copy alive for its own life.
  if (!info.linear.bf16 && table.rank() == 2 && normalize_axis(axis, 2) == 0 && table.is_constant()) {
    const auto dims = table.dims();
    if (info.linear.gemm == Gemm::packed) panels = find_f32_panels(info, table, dims[0], dims[1]);
    if (info.linear.gemm == Gemm::blocked) panels = find_blocked_f32_panels(info, table, dims[0], dims[1]);
  }
  return std::make_unique<GatherKernel>(std::move(info), axis, panels);
}

// ---------------------------------------------------------------- positions

// Row b of the output counts from offset[b] with per_row, from the one offset otherwise.
class PositionsStep final : public Step {
 public:
  PositionsStep(const NodeInfo& info, int64_t rows, int64_t n, bool per_row)
      : info_(info), rows_(rows), n_(n), per_row_(per_row) {}
  void run(const RunContext& ctx) const override {
    const int64_t* offset = info_.inputs.size() > 1 && info_.inputs[1] >= 0 ? ctx.as<const int64_t>(info_.inputs[1]) : nullptr;
    int64_t* out = ctx.as<int64_t>(info_.outputs[0]);
    for (int64_t r = 0; r < rows_; ++r) {
      const int64_t start = offset ? offset[per_row_ ? r : 0] : 0;
      for (int64_t i = 0; i < n_; ++i) out[r * n_ + i] = start + i;
    }
  }

 private:
  NodeInfo info_;
  int64_t rows_, n_;
  bool per_row_;
};

class PositionsKernel final : public NodeKernel {
 public:
  PositionsKernel(NodeInfo info, int64_t axis, bool per_row) : NodeKernel(std::move(info)), axis_(axis), per_row_(per_row) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto like = in_dims(shapes, 0);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(like.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(like.size()));
    const int64_t n = like[static_cast<size_t>(*axis)];
    if (per_row_) {
      if (!has_input(1) || *axis == 0 || count(in_dims(shapes, 1)) != like[0])
        info_.fail("per_row needs an offset of shape [" + std::to_string(like[0]) + "] and a non-batch axis");
      const int64_t out[] = {like[0], n};
      expect_output(shapes, 0, out);
      return std::make_unique<PositionsStep>(info_, like[0], n, true);
    }
    if (has_input(1) && count(in_dims(shapes, 1)) != 1)
      info_.fail("offset has shape " + dims_str(in_dims(shapes, 1)) + ", expected one element");
    const int64_t out[] = {n};
    expect_output(shapes, 0, out);
    return std::make_unique<PositionsStep>(info_, 1, n, false);
  }

 private:
  int64_t axis_;
  bool per_row_;
};

std::optional<std::string> check_positions(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 2, 1)) return r;
  if (auto r = check_dtype(node, 1, {LOOM_DTYPE_I64})) return r;
  if (node.output(0).dtype() != LOOM_DTYPE_I64) return "output dtype must be i64";
  if (!normalize_axis(attr_int(node, "axis", 1), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", 1)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_positions(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<PositionsKernel>(std::move(info), attr_int(node, "axis", 1), attr_bool(node, "per_row", false));
}

}  // namespace

std::vector<OpEntry> indexing_ops() {
  return {{"gather", check_gather, compile_gather, /*compile_last=*/true},
          {"gather_rows", check_gather_rows, compile_gather_rows},
          {"positions", check_positions, compile_positions}};
}

}  // namespace loom::onednn
