#include "task_common.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace loom::cli {

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

const TaskSpec* find_task(const Graph& g, const std::string& task) {
  if (!g.processing) return nullptr;
  for (const TaskSpec& t : g.processing->tasks)
    if (t.task == task) return &t;
  return nullptr;
}

Graph graph_for(const Engine& engine, const std::string& model, const std::string& task) {
  Graph g = engine.load_graph(model);
  if (find_task(g, task)) return g;
  try {
    Graph for_task = engine.load_graph(model, task);
    if (find_task(for_task, task)) return for_task;
  } catch (const Error&) {
    // A YAML graph, or a plugin without that task: the default graph it is.
  }
  return g;
}

const TaskSpec& task_of(const Graph& g, const std::string& model, const std::string& task) {
  if (const TaskSpec* t = find_task(g, task)) return *t;
  std::string have;
  if (g.processing)
    for (const TaskSpec& t : g.processing->tasks) have += (have.empty() ? "" : ", ") + t.task;
  throw Error(printable(model) + ": the model does not offer " + task + " (" + (have.empty() ? "it lists no tasks: they come with its processing files, preprocessor_config.json for images, the tokenizer's files for text" : "it offers: " + have) + ")");
}

}  // namespace loom::cli

namespace loom::cli {

Tensor unit_rows(const Tensor& v) {
  Tensor out = v;
  const int64_t rows = v.shape()[0], dim = v.shape()[1];
  float* x = out.data_as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < dim; ++c) sum += static_cast<double>(x[r * dim + c]) * x[r * dim + c];
    const double norm = std::sqrt(sum);
    if (norm > 0)
      for (int64_t c = 0; c < dim; ++c) x[r * dim + c] = static_cast<float>(x[r * dim + c] / norm);
  }
  return out;
}

void print_embeddings(const Tensor& v, bool json, const std::string& pooling, bool normalized) {
  const int64_t dim = v.shape()[1];
  Json rows = Json::array();
  for (int64_t r = 0; r < v.shape()[0]; ++r) {
    const float* x = v.data_as<float>() + r * dim;
    rows.push_back(std::vector<float>(x, x + dim));
    if (!json) {
      std::cout << "[" << r << "] dim " << dim << ":";
      for (int64_t c = 0; c < std::min<int64_t>(dim, 6); ++c) std::cout << " " << fixed(x[c]);
      std::cout << (dim > 6 ? " ..." : "") << "\n";
    }
  }
  if (json) std::cout << dump({{"pooling", pooling}, {"normalized", normalized}, {"dim", dim}, {"embeddings", rows}}) << "\n";
}

void refuse_pooling(const TaskArgs& a, const std::string& output) {
  if (a.pooling_given)
    throw UsageError("embed: --pooling " + a.pooling + ": " + printable(a.model) + " gives its own vectors (" + printable(output) +
                     "), which are not pooled from its hidden states");
}

Encoding encode_texts(const Tokenizer& tok, const std::string& model, const std::vector<std::string>& texts,
                      const std::vector<std::string>& pairs, const std::string& text_option) {
  try {
    return tok.encode(texts, pairs);
  } catch (const Error& e) {
    throw Error(printable(model) + ": " + option_names(e.what(), text_option));
  }
}

TensorMap text_inputs(const Tokenizer& tok, const Encoding& e, const Graph& g, const Session& s, const std::string& model) {
  TensorMap tensors = tok.tensors(e);
  for (const GraphInput& in : g.inputs) {
    auto it = tensors.find(in.name);
    if (it == tensors.end() || in.info.shape.size() != 2 || it->second.shape().size() != 2) continue;
    const Dim& d = in.info.shape[1];
    if (!d.is_symbolic() || d.symbols().size() != 1 || d.factor() != 1) continue;
    const std::string& symbol = d.symbols()[0];
    int64_t bound = INT64_MAX;
    for (const SymbolBound& b : g.symbols)
      if (b.name == symbol) bound = std::min(bound, b.max);
    for (const SymbolLimit& l : s.symbol_limits())
      if (l.symbol == symbol) bound = std::min(bound, l.max);
    const int64_t length = it->second.shape()[1];
    if (length > bound)
      throw Error(printable(model) + ": " + (e.size() > 1 ? "the longest text" : "the text") + " is " +
                  std::to_string(length) + " tokens long (special tokens included), but the model holds at most " +
                  std::to_string(bound) + " positions");
  }
  return tensors;
}

}  // namespace loom::cli
