// "toymlp": a model plugin built outside the Loom tree, against an installed Loom only. It
// translates a checkpoint of a small made-up architecture (config.json + model.safetensors)
// into a graph in the YAML format v1; it computes nothing.
//
// The architecture, as make_checkpoint.py defines it in PyTorch:
//   h = act(embed(features))                       embed: Linear(input_size, hidden_size)
//   h = h + act(layers[i](h))  for each layer      layers[i]: Linear(hidden_size, hidden_size)
//   last_hidden_state = LayerNorm(h)               norm
//   logits = classifier(last_hidden_state)         classifier: Linear(hidden_size, num_labels)
//   probs = softmax(logits)
// Tasks: "feature-extraction" (the default) returns last_hidden_state; "tabular-classification"
// returns logits and probs. The graph's processing section names the task, the output it reads
// and, for classification, the softmax over the logits and config.json's id2label.
#include <loom/plugin_sdk.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using loom::sdk::Error;
using nlohmann::json;

struct Config {
  int64_t input_size = 0, hidden_size = 0, num_hidden_layers = 0, num_labels = 0;
  std::string activation;  // the linear op's name for hidden_act
  double layer_norm_eps = 1e-5;
  std::vector<std::string> labels;  // id2label, by class id
};

// HF's hidden_act names -> the `activation` attribute of the linear op (docs/ops.md).
const std::map<std::string, std::string>& activations() {
  static const std::map<std::string, std::string> table = {
      {"relu", "relu"}, {"gelu", "gelu"}, {"gelu_new", "gelu_tanh"}, {"gelu_pytorch_tanh", "gelu_tanh"}, {"tanh", "tanh"}};
  return table;
}

Config read_config(const loom::sdk::ModelRequest& r) {
  const std::string file = r.checkpoint_dir + "/config.json";
  json j;
  try {
    j = json::parse(r.config_json);
  } catch (const json::exception& e) {
    throw Error(file + ": not valid JSON: " + e.what(), LOOM_STATUS_INVALID_ARGUMENT);
  }
  if (!j.is_object()) throw Error(file + ": expected a JSON object", LOOM_STATUS_INVALID_ARGUMENT);
  if (j.value("model_type", "") != "toymlp")
    throw Error(file + ": model_type '" + j.value("model_type", "") + "' is not toymlp", LOOM_STATUS_UNSUPPORTED);

  auto count = [&](const char* key, int64_t min, std::optional<int64_t> fallback = std::nullopt) {
    if (!j.contains(key)) {
      if (fallback) return *fallback;
      throw Error(file + ": " + key + ": missing", LOOM_STATUS_INVALID_ARGUMENT);
    }
    const json& v = j[key];
    // A bound far above any toy model keeps shape arithmetic clear of overflow.
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > (int64_t{1} << 20))
      throw Error(file + ": " + key + ": expected an integer from " + std::to_string(min) + " to 1048576, got " + v.dump(),
                  LOOM_STATUS_INVALID_ARGUMENT);
    return v.get<int64_t>();
  };
  Config c;
  c.input_size = count("input_size", 1);
  c.hidden_size = count("hidden_size", 1);
  c.num_hidden_layers = count("num_hidden_layers", 0);
  // HF's default: as many as id2label names, else 2.
  const bool has_labels = j.contains("id2label") && j["id2label"].is_object();
  c.num_labels = count("num_labels", 1, has_labels ? static_cast<int64_t>(j["id2label"].size()) : 2);
  const json act = j.value("hidden_act", json("gelu"));
  if (!act.is_string() || !activations().count(act.get<std::string>())) {
    std::string known;
    for (const auto& [name, op] : activations()) known += (known.empty() ? "" : ", ") + name;
    throw Error(file + ": hidden_act " + act.dump() + " is not supported by toymlp (supported: " + known + ")",
                LOOM_STATUS_UNSUPPORTED);
  }
  c.activation = activations().at(act.get<std::string>());
  // HF's id2label: {"0": "label", ...}, one entry per class; without it, LABEL_0, LABEL_1, ...
  if (j.contains("id2label")) {
    const json& m = j["id2label"];
    if (!m.is_object() || static_cast<int64_t>(m.size()) != c.num_labels)
      throw Error(file + ": id2label: expected an object with one label per class (num_labels " + std::to_string(c.num_labels) + ")",
                  LOOM_STATUS_INVALID_ARGUMENT);
    for (int64_t i = 0; i < c.num_labels; ++i) {
      const std::string id = std::to_string(i);
      if (!m.contains(id) || !m[id].is_string())
        throw Error(file + ": id2label: no string label for class \"" + id + "\"", LOOM_STATUS_INVALID_ARGUMENT);
      c.labels.push_back(m[id].get<std::string>());
    }
  } else {
    for (int64_t i = 0; i < c.num_labels; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
  }
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number() || !(j["layer_norm_eps"].get<double>() > 0))
      throw Error(file + ": layer_norm_eps: expected a positive number", LOOM_STATUS_INVALID_ARGUMENT);
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  return c;
}

// Checks that the checkpoint holds every tensor the config implies, as F32, F16 or BF16 (the
// graph declares f32, and Loom widens the others when it loads them) of the right shape, so that
// a mismatch names the tensor and the config key rather than failing later in a node. Returns the
// header: name -> {dtype, shape, data_offsets}, and "file" (the shard) in a sharded checkpoint.
json check_weights(const loom::sdk::ModelRequest& r, const Config& c) {
  const std::string file = r.checkpoint_dir + "/" + r.weights_file;
  json header;
  try {
    header = json::parse(r.weights_header);
  } catch (const json::exception& e) {
    throw Error(file + ": header is not valid JSON: " + e.what(), LOOM_STATUS_INVALID_ARGUMENT);
  }
  auto expect = [&](const std::string& name, std::vector<int64_t> shape, const std::string& why) {
    if (!header.contains(name)) throw Error(file + ": tensor '" + name + "' is missing (" + why + ")", LOOM_STATUS_INVALID_ARGUMENT);
    const json& t = header[name];
    const std::string dtype = t.value("dtype", "?");
    if (dtype != "F32" && dtype != "F16" && dtype != "BF16")
      throw Error(file + ": tensor '" + name + "' is " + dtype + "; toymlp reads F32, F16 or BF16 weights",
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (!t.contains("shape") || t["shape"] != json(shape))
      throw Error(file + ": tensor '" + name + "' has shape " + t.value("shape", json()).dump() + ", expected " +
                      json(shape).dump() + " (" + why + ")",
                  LOOM_STATUS_INVALID_ARGUMENT);
  };
  const std::string sizes = "config.json: input_size " + std::to_string(c.input_size) + ", hidden_size " +
                            std::to_string(c.hidden_size);
  expect("embed.weight", {c.hidden_size, c.input_size}, sizes);
  expect("embed.bias", {c.hidden_size}, sizes);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string why = "config.json: num_hidden_layers " + std::to_string(c.num_hidden_layers) + ", hidden_size " +
                            std::to_string(c.hidden_size);
    expect("layers." + std::to_string(i) + ".weight", {c.hidden_size, c.hidden_size}, why);
    expect("layers." + std::to_string(i) + ".bias", {c.hidden_size}, why);
  }
  expect("norm.weight", {c.hidden_size}, sizes);
  expect("norm.bias", {c.hidden_size}, sizes);
  const std::string labels = "config.json: num_labels " + std::to_string(c.num_labels);
  expect("classifier.weight", {c.num_labels, c.hidden_size}, labels);
  expect("classifier.bias", {c.num_labels}, labels);
  return header;
}

// A YAML double-quoted scalar: JSON's string syntax is valid YAML.
std::string quoted(const std::string& s) { return json(s).dump(); }

// A float that reads back as a float attribute (it keeps a fraction or an exponent).
std::string float_literal(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string emit_graph(const loom::sdk::ModelRequest& r, const Config& c, const json& header, bool classify) {
  const std::string H = std::to_string(c.hidden_size), I = std::to_string(c.input_size), L = std::to_string(c.num_labels);
  const std::string act = c.activation;
  // In a sharded checkpoint the header names each tensor's shard, and the weights file is the
  // index: a top-level initializer names its shard, and the block's initializers, whose tensor
  // names vary with the layer, read through the index (`weights:`), which Loom resolves per tensor.
  auto file_of = [&](const std::string& name) {
    const json& e = header[name];
    return e.contains("file") && e["file"].is_string() ? ", file: " + quoted(e["file"].get<std::string>()) : std::string();
  };
  std::ostringstream y;
  y << "# Expanded by the toymlp model plugin from " << quoted(r.checkpoint_dir + "/config.json") << "\n"
    << "loom: 1\n"
    << "name: toymlp\n"
    << "metadata: {architecture: toymlp, hidden_size: \"" << H << "\", num_hidden_layers: \"" << c.num_hidden_layers
    << "\", task: " << quoted(classify ? "tabular-classification" : "feature-extraction") << "}\n"
    << "weights: " << quoted(r.weights_file) << "\n"
    << "inputs:\n"
    << "  - {name: features, dtype: f32, shape: [batch, " << I << "]}\n"
    << "outputs: " << (classify ? "[logits, probs]" : "[last_hidden_state]") << "\n"
    << "initializers:\n"
    << "  - {name: embed.weight, dtype: f32, shape: [" << H << ", " << I << "]" << file_of("embed.weight") << "}\n"
    << "  - {name: embed.bias, dtype: f32, shape: [" << H << "]" << file_of("embed.bias") << "}\n"
    << "  - {name: norm.weight, dtype: f32, shape: [" << H << "]" << file_of("norm.weight") << "}\n"
    << "  - {name: norm.bias, dtype: f32, shape: [" << H << "]" << file_of("norm.bias") << "}\n";
  if (classify)
    y << "  - {name: classifier.weight, dtype: f32, shape: [" << L << ", " << H << "]" << file_of("classifier.weight") << "}\n"
      << "  - {name: classifier.bias, dtype: f32, shape: [" << L << "]" << file_of("classifier.bias") << "}\n";
  y << "blocks:\n"
    << "  layer:\n"
    << "    inputs: [x]\n"
    << "    outputs: [y]\n"
    << "    initializers:\n"
    << "      - {name: dense.weight, tensor: \"layers.${i}.weight\", dtype: f32, shape: [" << H << ", " << H << "]}\n"
    << "      - {name: dense.bias, tensor: \"layers.${i}.bias\", dtype: f32, shape: [" << H << "]}\n"
    << "    nodes:\n"
    << "      - {op: linear, inputs: [x, dense.weight, dense.bias], outputs: [a], attrs: {activation: " << act << "}}\n"
    << "      - {op: add, inputs: [a, x], outputs: [y]}\n"
    << "nodes:\n"
    << "  - {op: linear, inputs: [features, embed.weight, embed.bias], outputs: [h0], attrs: {activation: " << act << "}}\n";
  std::string last = "h0";
  if (c.num_hidden_layers > 0) {
    y << "  - {use: layer, repeat: " << c.num_hidden_layers << ", inputs: {x: h0}, outputs: {y: h}, chain: {y: x}}\n";
    last = "h";
  }
  y << "  - {op: layer_norm, inputs: [" << last << ", norm.weight, norm.bias], outputs: [last_hidden_state], attrs: {epsilon: "
    << float_literal(c.layer_norm_eps) << "}}\n";
  if (classify)
    y << "  - {op: linear, inputs: [last_hidden_state, classifier.weight, classifier.bias], outputs: [logits]}\n"
      << "  - {op: softmax, inputs: [logits], outputs: [probs]}\n";
  // No tokenizer or image processor: the input is a feature vector.
  y << "processing:\n"
    << "  version: 1\n"
    << "  tasks:\n";
  if (classify) {
    y << "    - task: tabular-classification\n"
      << "      output: logits\n"
      << "      function: softmax\n"
      << "      top_k: 1\n"
      << "      id2label:\n";
    for (size_t i = 0; i < c.labels.size(); ++i) y << "        " << i << ": " << quoted(c.labels[i]) << "\n";
  } else {
    y << "    - {task: feature-extraction, output: last_hidden_state, function: none}\n";
  }
  return y.str();
}

class ToyMlp : public loom::sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"toymlp"}; }

  loom::sdk::ModelResult expand(const loom::sdk::ModelRequest& request) override {
    const bool classify = request.task == "tabular-classification";
    if (!classify && !request.task.empty() && request.task != "feature-extraction")
      throw Error("task '" + request.task + "' is not supported by toymlp (feature-extraction, tabular-classification)",
                  LOOM_STATUS_UNSUPPORTED);
    const Config config = read_config(request);
    const json header = check_weights(request, config);
    loom::sdk::ModelResult result;
    result.graph_yaml = emit_graph(request, config, header, classify);
    return result;
  }
};

}  // namespace

LOOM_MODEL_PLUGIN(ToyMlp, "toymlp", "0.1.0", "a small made-up MLP architecture, built outside the Loom tree")
