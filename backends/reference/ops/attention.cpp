// attention, straight from its definition in docs/ops.md (scores, the keys each query sees, a
// softmax and a weighted sum, all in f64), and cache_write.
#include "kernel.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace loom::reference {

bool key_visible(int64_t i, int64_t j, int64_t tq, int64_t length, bool causal) {
  if (j >= length) return false;
  return !causal || j <= length - tq + i;
}

std::vector<int64_t> valid_lengths(const Node& node, const View& input, int64_t batch, int64_t tk) {
  if (!input.present) return std::vector<int64_t>(static_cast<size_t>(batch), tk);
  if (input.dims != Dims{batch}) node.fail("valid_length has shape " + dims_str(input.dims) + ", expected [" + std::to_string(batch) + "]");
  std::vector<int64_t> lengths = read_int(input);
  for (int64_t l : lengths)
    if (l < 0 || l > tk) node.fail("valid_length " + std::to_string(l) + " is outside 0.." + std::to_string(tk));
  return lengths;
}

namespace {

void attention(const Node& node, const Io& io) {
  const View &q = io.in[0], &k = io.in[1], &v = io.in[2];
  if (q.dims.size() != 4 || k.dims.size() != 4 || v.dims.size() != 4) node.fail("q, k and v must be 4-D");
  // Layout bshd: [batch, positions, heads, head_dim]; the dims below are those of bhsd.
  const bool bshd = node.attr_string("layout") == "bshd";
  const int pos = bshd ? 1 : 2, heads = bshd ? 2 : 1;
  const int64_t b = q.dims[0], h = q.dims[heads], tq = q.dims[pos], d = q.dims[3], tk = k.dims[pos], dv = v.dims[3];
  if (k.dims[0] != b || k.dims[heads] != h || k.dims[3] != d || v.dims[0] != b || v.dims[heads] != h || v.dims[pos] != tk)
    node.fail("q " + dims_str(q.dims) + ", k " + dims_str(k.dims) + " and v " + dims_str(v.dims) + " do not agree");
  node.expect_dims(io.out[0], bshd ? Dims{b, tq, h, dv} : Dims{b, h, tq, dv});
  // The offset of row t of head bh (batch bh / h) in a tensor of `t_count` positions and rows of `width`.
  auto at = [&](int64_t bh, int64_t t, int64_t t_count, int64_t width) {
    return bshd ? ((bh / h * t_count + t) * h + bh % h) * width : (bh * t_count + t) * width;
  };
  const Dims scores_dims{b, h, tq, tk};
  const bool has_mask = io.in.size() > 3 && io.in[3].present;
  const auto mask_map = has_mask ? broadcast_map(io.in[3].dims, scores_dims) : std::vector<int64_t>{};
  const auto mask = has_mask ? read_real(io.in[3]) : std::vector<double>{};
  const View absent;
  const auto lengths = valid_lengths(node, io.in.size() > 4 ? io.in[4] : absent, b, tk);
  const bool causal = node.attr_bool("causal");
  const double scale = node.attr_float("scale") > 0 ? node.attr_float("scale") : 1.0 / std::sqrt(static_cast<double>(d));

  const auto qs = read_real(q), ks = read_real(k), vs = read_real(v);
  std::vector<double> out(static_cast<size_t>(b * h * tq * dv));
  std::vector<double> s(static_cast<size_t>(tk));
  for (int64_t bh = 0; bh < b * h; ++bh)
    for (int64_t i = 0; i < tq; ++i) {
      const int64_t row = bh * tq + i;  // index of this query's scores row in [B, H, Tq, *]
      const int64_t qi = at(bh, i, tq, d), oi = at(bh, i, tq, dv);
      // Keys past the valid length are not read at all (docs/ops.md: a KV cache's unwritten tail
      // may hold anything, NaN included, and 0 times it would still be NaN).
      const int64_t valid = lengths[bh / h];
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < valid; ++j) {
        double dot = 0;
        for (int64_t p = 0; p < d; ++p) dot += qs[qi + p] * ks[at(bh, j, tk, d) + p];
        s[j] = scale * dot + (has_mask ? mask[mask_map[row * tk + j]] : 0.0);
        if (!key_visible(i, j, tq, lengths[bh / h], causal)) s[j] = -std::numeric_limits<double>::infinity();
        max = std::max(max, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < valid; ++j) sum += std::exp(s[j] - max);  // a row that sees no key: NaN
      for (int64_t c = 0; c < dv; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < valid; ++j) acc += std::exp(s[j] - max) / sum * vs[at(bh, j, tk, dv) + c];
        out[oi + c] = valid ? acc : std::numeric_limits<double>::quiet_NaN();
      }
    }
  write_real(io.out[0], out);
}

std::optional<std::string> check_attention(const Node& node) {
  if (node.attr_float("scale") < 0) return "scale must not be negative";
  if (node.attr_string("layout") != "bhsd" && node.attr_string("layout") != "bshd")
    return "layout '" + node.attr_string("layout") + "' is not bhsd or bshd";
  return std::nullopt;
}

// Reads cache and update in full before writing, so `out` may be `cache` itself.
void cache_write(const Node& node, const Io& io) {
  const View &cache = io.in[0], &update = io.in[1];
  const int64_t axis = node.axis(node.attr_int("axis"), cache.dims.size(), "axis");
  if (axis == 0) node.fail("axis must not be the batch axis 0");
  if (update.dims.size() != cache.dims.size()) node.fail("update and cache differ in rank");
  for (size_t d = 0; d < cache.dims.size(); ++d)
    if (static_cast<int64_t>(d) != axis && update.dims[d] != cache.dims[d])
      node.fail("update " + dims_str(update.dims) + " does not match cache " + dims_str(cache.dims) + " outside the axis");
  node.expect_dims(io.out[0], cache.dims);
  const int64_t batch = cache.dims[0], length = cache.dims[axis], t = update.dims[axis];
  if (io.in[2].dims != Dims{batch}) node.fail("offset has shape " + dims_str(io.in[2].dims) + ", expected [" + std::to_string(batch) + "]");
  const auto offset = read_int(io.in[2]);
  for (int64_t o : offset)
    if (o < 0 || o > length - t)
      node.fail("offset " + std::to_string(o) + " with " + std::to_string(t) + " new positions does not fit " + std::to_string(length));
  auto out = read_raw(cache);
  const auto src = read_raw(update);
  const size_t size = sdk::dtype_size(cache.dtype);
  int64_t inner = 1;
  for (size_t d = axis + 1; d < cache.dims.size(); ++d) inner *= cache.dims[d];
  const int64_t per_row = update.numel() / (batch ? batch : 1), mid = t * inner != 0 ? per_row / (t * inner) : 0;  // dims 1..axis-1
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t m = 0; m < mid; ++m)
      for (int64_t p = 0; p < t; ++p) {
        const int64_t to = ((r * mid + m) * length + offset[r] + p) * inner, from = ((r * mid + m) * t + p) * inner;
        std::memcpy(out.data() + to * size, src.data() + from * size, inner * size);
      }
  write_raw(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> attention_ops() {
  return {{"attention", attention, check_attention}, {"cache_write", cache_write}};
}

}  // namespace loom::reference
