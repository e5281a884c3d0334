// `loom preprocess`: texts -> the graph's tokenizer inputs as int64 .npy files, images -> its
// image input (pixel values f32, or ImageGPT's cluster ids i64), and JSON of the same, so that
// `loom run --input NAME=DIR/NAME.npy` takes them, one step of a pipeline at a time.
#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/image.hpp>
#include <loom/io.hpp>
#include <loom/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <system_error>

namespace loom::cli {

namespace {

namespace fs = std::filesystem;

// The array nested by the tensor's shape, integers for i64, numbers for f32.
nlohmann::ordered_json nested(const Tensor& t, size_t axis = 0, int64_t offset = 0) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  int64_t stride = 1;
  for (size_t d = axis + 1; d < t.shape().size(); ++d) stride *= t.shape()[d];
  for (int64_t i = 0; i < t.shape()[axis]; ++i) {
    const int64_t at = offset + i * stride;
    if (axis + 1 < t.shape().size()) a.push_back(nested(t, axis + 1, at));
    else if (t.dtype() == DType::i64) a.push_back(t.data_as<int64_t>()[at]);
    else a.push_back(static_cast<double>(t.data_as<float>()[at]));
  }
  return a;
}

}  // namespace

int cmd_preprocess(const PluginOptions& p, const PreprocessArgs& a) {
  if (a.texts.empty() && a.images.empty())
    throw UsageError("preprocess: give the text to encode with --text TEXT, or the image to process with --image FILE (repeat either option "
                     "for each row of the batch)");
  if (!a.pairs.empty() && a.pairs.size() != a.texts.size())
    throw UsageError("preprocess: " + std::to_string(a.pairs.size()) + " --text-pair for " + std::to_string(a.texts.size()) +
                     " --text: give one --text-pair per --text, in the same order, or none");
  Engine engine = make_engine(p);
  const Graph g = engine.load_graph(a.model);
  if (!a.texts.empty() && (!g.processing || !g.processing->tokenizer))
    throw Error(printable(a.model) + ": the graph has no tokenizer (its processing section has no `tokenizer`), so there is nothing to preprocess text with");
  if (!a.images.empty() && (!g.processing || !g.processing->image))
    throw Error(printable(a.model) +
                ": the graph has no image processor (its processing section has no `image`), so there is nothing to preprocess images with");
  std::map<std::string, Tensor> tensors;
  if (!a.texts.empty()) {
    const Tokenizer tokenizer = Tokenizer::from_graph(g);
    try {
      tensors = tokenizer.tensors(tokenizer.encode(a.texts, a.pairs));
    } catch (const Error& e) {
      throw Error(printable(a.model) + ": " + option_names(e.what()));
    }
  }
  if (!a.images.empty()) {
    const ImageProcessor processor = ImageProcessor::from_graph(g);
    std::vector<Image> images;
    for (const std::string& file : a.images) images.push_back(read_image(file));  // errors name the file
    try {
      for (auto& [name, t] : processor.tensors(images)) tensors.insert_or_assign(name, std::move(t));
    } catch (const Error& e) {
      throw Error(printable(a.model) + ": " + option_names(e.what()));
    }
  }

  std::error_code ec;
  fs::create_directories(a.output_dir, ec);
  if (!ec && !fs::is_directory(a.output_dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw Error("--output-dir " + a.output_dir + ": cannot create the folder: " + ec.message());

  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  // In the order of the graph's inputs, as `loom run` lists them.
  for (const GraphInput& in : g.inputs) {
    auto it = tensors.find(in.name);
    if (it == tensors.end()) continue;
    const Tensor& t = it->second;
    const fs::path file = fs::path(a.output_dir) / file_name_for(in.name, ".npy");
    write_npy(file, t);
    j[in.name] = nested(t);
    if (!a.json) std::cout << printable(in.name) << ": " << dtype_name(t.dtype()) << " " << shape_str(t.shape()) << "  -> " << file.string() << "\n";
  }
  if (a.json) std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  else std::cout << "wrote " << tensors.size() << " file(s) to " << a.output_dir << "\n";
  return 0;
}

}  // namespace loom::cli
