// `loom preprocess`: texts -> the graph's tokenizer inputs as int64 .npy files (and JSON), so
// that `loom run --input NAME=DIR/NAME.npy` takes them, one step of a pipeline at a time.
#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/io.hpp>
#include <loom/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <system_error>

namespace loom::cli {

namespace {

namespace fs = std::filesystem;

// The library names texts by their index ("text 1"); the command line by the option.
std::string option_names(std::string message) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"pair text ", "--text-pair #"}, {"text ", "--text #"}})
    if (message.rfind(from, 0) == 0) {
      const size_t end = message.find(':');
      if (end == std::string::npos) return message;
      const std::string index = message.substr(from.size(), end - from.size());
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) return message;
      return to + std::to_string(std::stoull(index) + 1) + message.substr(end);
    }
  return message;
}

}  // namespace

int cmd_preprocess(const PluginOptions& p, const PreprocessArgs& a) {
  if (a.texts.empty()) throw UsageError("preprocess: give the text to encode with --text TEXT (repeat the option for each text)");
  if (!a.pairs.empty() && a.pairs.size() != a.texts.size())
    throw UsageError("preprocess: " + std::to_string(a.pairs.size()) + " --text-pair for " + std::to_string(a.texts.size()) +
                     " --text: give one --text-pair per --text, in the same order, or none");
  Engine engine = make_engine(p);
  const Graph g = engine.load_graph(a.model);
  if (!g.processing || !g.processing->tokenizer)
    throw Error(printable(a.model) + ": the graph has no tokenizer (its processing section has no `tokenizer`), so there is nothing to preprocess text with");
  const Tokenizer tokenizer = Tokenizer::from_graph(g);
  std::map<std::string, Tensor> tensors;
  try {
    tensors = tokenizer.tensors(tokenizer.encode(a.texts, a.pairs));
  } catch (const Error& e) {
    throw Error(printable(a.model) + ": " + option_names(e.what()));
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
    const int64_t* v = t.data_as<int64_t>();
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (int64_t r = 0; r < t.shape()[0]; ++r) rows.push_back(std::vector<int64_t>(v + r * t.shape()[1], v + (r + 1) * t.shape()[1]));
    j[in.name] = std::move(rows);
    if (!a.json) std::cout << printable(in.name) << ": " << dtype_name(t.dtype()) << " " << shape_str(t.shape()) << "  -> " << file.string() << "\n";
  }
  if (a.json) std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  else std::cout << "wrote " << tensors.size() << " file(s) to " << a.output_dir << "\n";
  return 0;
}

}  // namespace loom::cli
