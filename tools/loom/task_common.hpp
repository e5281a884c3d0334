// What the task commands (task_cmds.cpp, image_task_cmds.cpp) share: finding the graph a task
// runs on, its processing entry, JSON and number printing.
#pragma once

#include "commands.hpp"

#include <loom/engine.hpp>
#include <loom/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace loom::cli {

using Json = nlohmann::ordered_json;

// One line of JSON; invalid UTF-8 in labels or texts is replaced, not an exception.
std::string dump(const Json& j);
// "0.8123"
std::string fixed(double v, int digits = 4);

// The graph `task` runs on: the model's default graph when it offers the task, else the graph
// the plugin expands for it (CLIP's text or vision tower alone), else the default graph.
Graph graph_for(const Engine& engine, const std::string& model, const std::string& task);
// The graph's processing entry for `task`; an Error naming the tasks it has otherwise.
const TaskSpec& task_of(const Graph& g, const std::string& model, const std::string& task);
// The entry for `task` when the graph has one, else null.
const TaskSpec* find_task(const Graph& g, const std::string& task);
// `texts` (and `pairs`) encoded, an error in one named by its option and number ("--text #2")
// after the model.
Encoding encode_texts(const Tokenizer& tok, const std::string& model, const std::vector<std::string>& texts,
                      const std::vector<std::string>& pairs = {}, const std::string& text_option = "--text");
// The tokenizer's tensors of an encoding, the longest text checked against the positions the
// model holds first: an Error naming the model and the text's length in tokens, where the run
// would name its input's bound.
TensorMap text_inputs(const Tokenizer& tok, const Encoding& e, const Graph& g, const Session& s, const std::string& model);

}  // namespace loom::cli

namespace loom::cli {

// --pooling given for a model that gives its own vectors (`output`: CLIP's text_embeds or
// image_embeds), where nothing is pooled: a usage error rather than an option ignored.
void refuse_pooling(const TaskArgs& a, const std::string& output);
// Rows of a f32 [batch, dim] tensor scaled to unit length (a zero row stays zero).
Tensor unit_rows(const Tensor& v);
// Embeddings [batch, dim] as `loom embed` prints them: a summary per row, or with --json one
// object with the pooling, whether rows are unit length, the dim and every vector.
void print_embeddings(const Tensor& v, bool json, const std::string& pooling, bool normalized);

}  // namespace loom::cli
