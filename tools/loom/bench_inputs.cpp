#include "bench.hpp"
#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/processing.hpp>

#include <new>

namespace loom::cli::bench {

namespace {

bool integer(DType t) { return t == DType::i64 || t == DType::i32; }

}  // namespace

const GraphInput* token_input(const Graph& g) {
  std::string name;
  if (g.processing && g.processing->tokenizer) name = g.processing->tokenizer->input_ids;
  if (g.processing && g.processing->generation && name.empty()) name = g.processing->generation->input_ids;
  for (const auto& in : g.inputs)
    if (in.name == name) return &in;
  for (const auto& in : g.inputs)
    if (in.name == "input_ids" && integer(in.info.dtype)) return &in;
  for (const auto& in : g.inputs)
    if (integer(in.info.dtype) && in.info.shape.size() == 2) return &in;
  return nullptr;
}

const GraphInput* image_input(const Graph& g) {
  std::string name = "pixel_values";
  if (g.processing && g.processing->image && !g.processing->image->input.empty()) name = g.processing->image->input;
  for (const auto& in : g.inputs)
    if (in.name == name && in.info.dtype == DType::f32 && in.info.shape.size() == 4) return &in;
  return nullptr;
}

int64_t vocabulary(const Graph& g, const std::string& input) {
  if (g.processing && g.processing->tokenizer && g.processing->tokenizer->vocab_size > 0 &&
      g.processing->tokenizer->input_ids == input)
    return g.processing->tokenizer->vocab_size;
  for (const Node& n : g.nodes) {
    if (n.op != "gather" || n.inputs.size() < 2 || n.inputs[1] != input) continue;
    for (const Initializer& init : g.initializers)
      if (init.name == n.inputs[0] && init.shape && !init.shape->empty()) return (*init.shape)[0];
  }
  return 0;
}

void fill_ids(Tensor& t, std::mt19937& rng, int64_t vocab) {
  auto* p = t.data_as<int64_t>();
  if (vocab <= 0) {
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = 1;
    return;
  }
  std::uniform_int_distribution<int64_t> u(0, vocab - 1);
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
}

Tensor generated_input(const GraphInput& in, const std::map<std::string, int64_t>& dims, std::mt19937& rng, int64_t vocab) {
  Shape shape;
  for (const Dim& d : in.info.shape) {
    Dim b = d.bind(dims);
    shape.push_back(b.is_known() ? b.value() : 1);
  }
  Tensor t;
  try {
    t = Tensor(in.info.dtype, shape);
  } catch (const std::bad_alloc&) {
    throw Error("input '" + printable(in.name) + "' generated from --dim as " + std::string(dtype_name(in.info.dtype)) + " " +
                shape_str(shape) + ": cannot allocate " + std::to_string(shape_numel(shape) * dtype_size(in.info.dtype)) + " bytes");
  } catch (const Error& e) {
    throw Error("input '" + printable(in.name) + "' generated from --dim: " + e.what());
  }
  if (in.info.dtype == DType::f32) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = u(rng);
  } else if (in.info.dtype == DType::i64) {
    auto* p = t.data_as<int64_t>();
    if (vocab > 0) {
      fill_ids(t, rng, vocab);
    } else if (in.default_value && in.default_value->kind == InputDefault::Kind::Range &&
               in.default_value->axis < static_cast<int64_t>(shape.size())) {
      // Each element's index along the axis (position ids), as the default would give.
      int64_t inner = 1;
      for (size_t k = static_cast<size_t>(in.default_value->axis) + 1; k < shape.size(); ++k) inner *= shape[k];
      const int64_t n = shape[static_cast<size_t>(in.default_value->axis)];
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = (i / inner) % n;
    } else {
      const int64_t v = in.default_value ? static_cast<int64_t>(in.default_value->fill) : 1;
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = v;  // a full attention mask, a valid type id
    }
  }
  return t;
}

}  // namespace loom::cli::bench
