// "echo": a model plugin for the tests of what the engine offers model plugins (the weights_file
// and weights_header of loom_model_request). Its graph carries the request in its metadata
// (weights_file, weights_header, checkpoint_dir) and reads the checkpoint tensors that the task
// names: "read:a,b" reads tensors a and b, "read-all" every tensor of the header, anything else
// none. Each initializer names the file the header gives the tensor ("file" of a sharded
// checkpoint), else the weights file, and declares f32 when the task ends in "+f32".
#include <loom/plugin_sdk.hpp>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

std::string quoted(const std::string& s) { return json(s).dump(); }

class Echo : public loom::sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"echo"}; }

  loom::sdk::ModelResult expand(const loom::sdk::ModelRequest& r) override {
    json header;
    try {
      header = json::parse(r.weights_header);
    } catch (const json::exception& e) {
      throw loom::sdk::Error(std::string("weights_header is not JSON: ") + e.what(), LOOM_STATUS_INVALID_ARGUMENT);
    }
    std::string task = r.task;
    const bool as_f32 = task.size() > 4 && task.compare(task.size() - 4, 4, "+f32") == 0;
    if (as_f32) task.resize(task.size() - 4);
    std::vector<std::string> read;
    if (task == "read-all") {
      for (const auto& [name, entry] : header.items())
        if (name != "__metadata__") read.push_back(name);
    } else if (task.rfind("read:", 0) == 0) {
      std::istringstream names(task.substr(5));
      for (std::string name; std::getline(names, name, ',');) read.push_back(name);
    }
    std::ostringstream y;
    y << "loom: 1\nname: echo\n"
      << "metadata: {weights_file: " << quoted(r.weights_file) << ", weights_header: " << quoted(r.weights_header)
      << ", checkpoint_dir: " << quoted(r.checkpoint_dir) << "}\n"
      << "inputs:\n  - {name: x, dtype: f32, shape: [1]}\n"
      << "outputs: [y]\n";
    if (!read.empty()) y << "initializers:\n";
    for (const auto& name : read) {
      if (!header.contains(name)) throw loom::sdk::Error("no tensor '" + name + "' in the header", LOOM_STATUS_INVALID_ARGUMENT);
      const json& e = header[name];
      const std::string file = e.contains("file") ? e["file"].get<std::string>() : r.weights_file;
      y << "  - {name: " << quoted("w." + name) << ", tensor: " << quoted(name) << ", file: " << quoted(file)
        << (as_f32 ? ", dtype: f32" : "") << "}\n";
    }
    y << "nodes:\n  - {op: relu, inputs: [x], outputs: [y]}\n";
    loom::sdk::ModelResult result;
    result.graph_yaml = y.str();
    return result;
  }
};

}  // namespace

LOOM_MODEL_PLUGIN(Echo, "echo", "0.1", "echoes the model request, for the weight-loading tests")
