// The text tasks' post-processing (loom/tasks.hpp).
#include <loom/error.hpp>
#include <loom/tasks.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace loom {

namespace {

// Softmax of n floats in double precision (the scores printed are probabilities).
std::vector<double> softmax(const float* x, int64_t n) {
  std::vector<double> p(static_cast<size_t>(n));
  const double top = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[static_cast<size_t>(i)] = std::exp(static_cast<double>(x[i]) - top);
  for (double& v : p) v /= sum;
  return p;
}

// Indices of the k largest values, largest first (ties: the lower index first).
std::vector<int64_t> best(const std::vector<double>& v, int64_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t n = std::min(idx.size(), static_cast<size_t>(k <= 0 ? static_cast<int64_t>(idx.size()) : k));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n), idx.end(), [&](int64_t a, int64_t b) {
    return v[static_cast<size_t>(a)] > v[static_cast<size_t>(b)] || (v[static_cast<size_t>(a)] == v[static_cast<size_t>(b)] && a < b);
  });
  idx.resize(n);
  return idx;
}

void expect_f32(const Tensor& t, size_t rank, const char* what) {
  if (t.dtype() != DType::f32 || t.shape().size() != rank)
    throw Error(std::string(what) + ": expected f32 of rank " + std::to_string(rank) + ", got " + std::string(dtype_name(t.dtype())) +
                " " + shape_str(t.shape()));
}

}  // namespace

std::vector<std::vector<LabelScore>> classify(const Tensor& logits, const TaskSpec& task, int64_t top_k) {
  expect_f32(logits, 2, ("task " + task.task + ": output '" + task.output + "'").c_str());
  const int64_t rows = logits.shape()[0], classes = logits.shape()[1];
  if (!task.id2label.empty() && static_cast<int64_t>(task.id2label.size()) != classes)
    throw Error("task " + task.task + ": output '" + task.output + "' has " + std::to_string(classes) + " classes, id2label names " +
                std::to_string(task.id2label.size()));
  std::vector<std::vector<LabelScore>> out;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits.data_as<float>() + r * classes;
    std::vector<double> s;
    switch (task.function) {
      case ScoreFunction::Softmax: s = softmax(x, classes); break;
      case ScoreFunction::Sigmoid:
        for (int64_t c = 0; c < classes; ++c) s.push_back(1.0 / (1.0 + std::exp(-static_cast<double>(x[c]))));
        break;
      case ScoreFunction::None: s.assign(x, x + classes); break;
    }
    std::vector<LabelScore> row;
    for (int64_t c : best(s, top_k))
      row.push_back({task.id2label.empty() ? "LABEL_" + std::to_string(c) : task.id2label[static_cast<size_t>(c)], s[static_cast<size_t>(c)]});
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<std::vector<std::vector<MaskPrediction>>> fill_mask(const Tensor& logits, const Encoding& encoding,
                                                                const Tokenizer& tokenizer, int64_t top_k) {
  expect_f32(logits, 3, "fill-mask: the logits");
  const auto mask = tokenizer.spec().special_tokens.find("mask");
  if (mask == tokenizer.spec().special_tokens.end()) throw Error("fill-mask: the tokenizer has no mask token");
  const int64_t mask_id = mask->second.id;
  const int64_t rows = logits.shape()[0], seq = logits.shape()[1], vocab = logits.shape()[2];
  if (static_cast<int64_t>(encoding.size()) != rows) throw Error("fill-mask: the encoding has " + std::to_string(encoding.size()) +
                                                                 " rows, the logits " + std::to_string(rows));
  std::vector<std::vector<std::vector<MaskPrediction>>> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const auto& ids = encoding.input_ids[static_cast<size_t>(r)];
    std::vector<int64_t> positions;
    for (size_t i = 0; i < ids.size() && static_cast<int64_t>(i) < seq; ++i)
      if (ids[i] == mask_id) positions.push_back(static_cast<int64_t>(i));
    if (positions.empty())
      throw Error("fill-mask: text " + std::to_string(r) + " has no " + mask->second.token + " token to fill");
    // The row without its padding: transformers' pipeline tokenizes each text alone.
    // `unpadded[i]`: where the padded row's token i lies in it.
    std::vector<int64_t> row, unpadded(ids.size(), -1);
    const auto& keep = encoding.attention_mask[static_cast<size_t>(r)];
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!keep.empty() && !keep[i]) continue;
      unpadded[i] = static_cast<int64_t>(row.size());
      row.push_back(ids[i]);
    }
    const bool single = positions.size() == 1;
    for (int64_t pos : positions) {
      const std::vector<double> p = softmax(logits.data_as<float>() + (r * seq + pos) * vocab, vocab);
      std::vector<MaskPrediction> preds;
      for (int64_t id : best(p, top_k)) {
        MaskPrediction m;
        m.score = p[static_cast<size_t>(id)];
        m.token = id;
        const int64_t one[] = {id};
        m.token_str = tokenizer.decode(one);
        std::vector<int64_t> filled = row;
        const int64_t at = unpadded[static_cast<size_t>(pos)];
        if (at >= 0) filled[static_cast<size_t>(at)] = id;
        DecodeOptions d;
        d.skip_special_tokens = single;
        m.sequence = tokenizer.decode(filled, d);
        preds.push_back(std::move(m));
      }
      out[static_cast<size_t>(r)].push_back(std::move(preds));
    }
  }
  return out;
}

Tensor pool(const Tensor& h, const Encoding& encoding, Pooling pooling, bool normalize) {
  expect_f32(h, 3, "pool: last_hidden_state");
  const int64_t rows = h.shape()[0], seq = h.shape()[1], hidden = h.shape()[2];
  if (static_cast<int64_t>(encoding.size()) != rows)
    throw Error("pool: the encoding has " + std::to_string(encoding.size()) + " rows, last_hidden_state " + std::to_string(rows));
  Tensor out(DType::f32, {rows, hidden});
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out.data_as<float>() + r * hidden;
    const float* x = h.data_as<float>() + r * seq * hidden;
    if (pooling == Pooling::Cls) {
      std::copy(x, x + hidden, o);
    } else {
      // Mean over the kept tokens (sentence-transformers: sum(h * mask) / max(sum(mask), 1e-9)).
      std::vector<double> sum(static_cast<size_t>(hidden), 0.0);
      double count = 0;
      const auto& mask = encoding.attention_mask[static_cast<size_t>(r)];
      for (int64_t t = 0; t < seq; ++t) {
        const double m = mask.empty() ? 1.0 : (static_cast<size_t>(t) < mask.size() ? static_cast<double>(mask[static_cast<size_t>(t)]) : 0.0);
        if (m == 0) continue;
        count += m;
        for (int64_t c = 0; c < hidden; ++c) sum[static_cast<size_t>(c)] += m * x[t * hidden + c];
      }
      for (int64_t c = 0; c < hidden; ++c) o[c] = static_cast<float>(sum[static_cast<size_t>(c)] / std::max(count, 1e-9));
    }
    if (normalize) {
      double norm = 0;
      for (int64_t c = 0; c < hidden; ++c) norm += static_cast<double>(o[c]) * o[c];
      // torch.nn.functional.normalize's eps.
      const double scale = 1.0 / std::max(std::sqrt(norm), 1e-12);
      for (int64_t c = 0; c < hidden; ++c) o[c] = static_cast<float>(o[c] * scale);
    }
  }
  return out;
}

}  // namespace loom
