// The ImageGPT model plugin: expands a Hugging Face ImageGPT checkpoint (config.json, the
// safetensors weights, preprocessor_config.json with its colour clusters) into a Loom graph for
// ImageGPTModel, ImageGPTForCausalImageModeling or ImageGPTForImageClassification, with the
// semantics of transformers' modeling_imagegpt.py (ARCHITECTURES.md 6): GPT-2's decoder
// (plugins/common/gpt_decoder.hpp) with ImageGPT's LayerNorm (no centring, no bias) and
// quick-GELU, an untied lm_head of vocab_size − 1 rows (no logits for the SOS token), and the
// classifier over the mean of every position.
//
// Two graphs come from one checkpoint: the default one over whole sequences, and task
// "image-generation" (ImageGPTForCausalImageModeling), one pixel per decode step through KV
// caches, starting from the SOS token (vocab_size − 1) as transformers' examples do.
#include "config.hpp"
#include "gpt_decoder.hpp"
#include "graph_writer.hpp"
#include "image_section.hpp"
#include "task_section.hpp"
#include "weights.hpp"

#include <loom/plugin_sdk.hpp>

#include <sstream>

namespace loom::models {
namespace {

using sdk::Error;
using Ints = std::vector<int64_t>;

enum class Head { Base, CausalImageModeling, ImageClassification };

struct ImageGptConfig {
  Head head = Head::Base;
  std::string architecture;
  DecoderConfig decoder;
  std::vector<std::string> labels;
  std::string problem_type;
};

ImageGptConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  ImageGptConfig g;
  g.architecture = c.architecture("ImageGPTModel");
  if (g.architecture == "ImageGPTModel") g.head = Head::Base;
  else if (g.architecture == "ImageGPTForCausalImageModeling") g.head = Head::CausalImageModeling;
  else if (g.architecture == "ImageGPTForImageClassification") g.head = Head::ImageClassification;
  else
    c.fail("architectures", "'" + g.architecture + "' is not supported (ImageGPTModel, ImageGPTForCausalImageModeling, ImageGPTForImageClassification)");
  g.decoder = read_decoder_config(c, {.vocab = 513, .hidden = 512, .layers = 24, .heads = 8, .act = "quick_gelu"});  // ImageGPTConfig's
  g.decoder.rms_norm = true;
  if (g.decoder.vocab < 2) c.fail("vocab_size", "expected at least 2 (the colour clusters and the SOS token)");
  // ImageGPTConfig's default is false; tied, transformers would make lm_head the vocab_size rows
  // of wte, SOS included, where the checkpoint's head has one row fewer.
  if (g.head == Head::CausalImageModeling && c.flag("tie_word_embeddings", false))
    c.fail("tie_word_embeddings", "true is not supported (ImageGPT's lm_head has vocab_size − 1 rows of its own)");
  if (g.head == Head::ImageClassification) {
    g.labels = read_labels(c);
    g.problem_type = read_problem_type(c);
  }
  return g;
}

std::string s(int64_t v) { return std::to_string(v); }

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const ImageGptConfig& c, bool generation)
      : r_(r), c_(c), generation_(generation), w_(r, "transformer."),
        g_("imagegpt", "Expanded by the imagegpt model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture +
                           (generation ? ", image-generation through KV caches)" : ")")),
        decoder_(g_, w_, c.decoder, generation) {}

  std::string run() {
    const DecoderConfig& d = c_.decoder;
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(d.hidden));
    g_.metadata("num_hidden_layers", s(d.layers));
    const std::string final_norm = decoder_.write();
    if (c_.head == Head::CausalImageModeling) {
      // Untied, one row per colour cluster: the SOS token is never predicted.
      g_.weight("lm_head.weight", w_.require_head("lm_head.weight", {d.vocab - 1, d.hidden},
                                                   "lm_head, vocab_size − 1 = " + s(d.vocab - 1) + " rows, n_embd " + s(d.hidden)));
      g_.node("linear", {final_norm, "lm_head.weight"}, {"logits"});
      g_.output("logits");
    }
    if (c_.head == Head::ImageClassification) {
      const int64_t L = static_cast<int64_t>(c_.labels.size());
      g_.weight("score.weight", w_.require_head("score.weight", {L, d.hidden}, "the classifier, num_labels " + s(L) + ", n_embd " + s(d.hidden)));
      g_.node("reduce_mean", {final_norm}, {"pooled"}, Attrs().set("axes", Ints{1}));
      g_.node("linear", {"pooled", "score.weight"}, {"logits"});
      g_.output("logits");
    }
    if (!generation_) g_.output("last_hidden_state");
    g_.processing(processing());
    return g_.str();
  }

 private:
  std::string processing() {
    std::ostringstream y;
    const std::string image = image_section(r_.checkpoint_dir, "ImageGPTImageProcessor", "input_ids", c_.decoder.vocab - 1);
    if (generation_) {
      // Generation needs no image: it starts from SOS alone (or a primed image's ids).
      y << "  version: 1\n" << image
        << generation_section(r_.checkpoint_dir, r_.config_json, decoder_.caches(), c_.decoder.vocab - 1, {}, c_.decoder.vocab,
                              c_.decoder.positions + 1, /*sos=*/true)
        << "  tasks:\n    - {task: image-generation, output: logits}\n";
      return y.str();
    }
    if (image.empty()) return "";
    y << "  version: 1\n" << image << "  tasks:\n";
    if (c_.head == Head::ImageClassification) y << classification_task("image-classification", "logits", c_.labels, c_.problem_type);
    y << "    - {task: image-feature-extraction, output: last_hidden_state}\n";
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const ImageGptConfig& c_;
  bool generation_;
  Weights w_;
  GraphWriter g_;
  DecoderGraph decoder_;
};

std::vector<std::string> tasks_of(Head head) {
  switch (head) {
    case Head::Base: return {"image-feature-extraction"};
    case Head::CausalImageModeling: return {"image-generation", "image-feature-extraction"};
    case Head::ImageClassification: return {"image-classification", "image-feature-extraction"};
  }
  return {};
}

class ImageGptPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"imagegpt"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const ImageGptConfig config = read_config(request);
    check_task(request.task, tasks_of(config.head), config.architecture);
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config, request.task == "image-generation").run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::ImageGptPlugin, "imagegpt", "0.1.0",
                  "ImageGPT checkpoints in Hugging Face layout: ImageGPTModel, ImageGPTForCausalImageModeling (with KV-cache image "
                  "generation) and ImageGPTForImageClassification")
