// The GPT-2 model plugin: expands a Hugging Face GPT-2 checkpoint (config.json, the safetensors
// weights, vocab.json + merges.txt or tokenizer.json) into a Loom graph for GPT2Model or
// GPT2LMHeadModel, with transformers' modeling_gpt2.py semantics (docs/models.md): the decoder
// of plugins/common/gpt_decoder.hpp (pre-LN blocks, Conv1D weights read as they are, tanh GELU,
// ln_f) and lm_head tied to wte.
//
// Two graphs come from one checkpoint (gpt_decoder.hpp): the default one (`loom run`) over whole
// sequences, and task "text-generation", driven step by step through KV caches.
#include "config.hpp"
#include "gpt_decoder.hpp"
#include "graph_writer.hpp"
#include "tokenizer_section.hpp"
#include "weights.hpp"

#include <loom/plugin_sdk.hpp>

#include <sstream>

namespace loom::models {
namespace {

using sdk::Error;

struct Gpt2Config {
  std::string architecture;
  bool lm_head = false;
  bool tied = true;  // tie_word_embeddings: lm_head is wte
  DecoderConfig decoder;
  std::optional<int64_t> bos;
  std::vector<int64_t> eos;  // Hugging Face allows one id or a list
};

Gpt2Config read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  Gpt2Config g;
  g.architecture = c.architecture("GPT2LMHeadModel");
  if (g.architecture == "GPT2LMHeadModel") g.lm_head = true;
  else if (g.architecture != "GPT2Model")
    c.fail("architectures", "'" + g.architecture + "' is not supported (GPT2Model, GPT2LMHeadModel)");
  g.decoder = read_decoder_config(c, {.vocab = 50257, .hidden = 768, .layers = 12, .heads = 12, .act = "gelu_new"});  // GPT2Config's
  g.tied = c.flag("tie_word_embeddings", true);
  g.bos = bos_token_id(c, g.decoder.vocab);
  g.eos = eos_token_ids(c, g.decoder.vocab);
  return g;
}

std::string s(int64_t v) { return std::to_string(v); }

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const Gpt2Config& c, bool generation)
      : r_(r), c_(c), generation_(generation), w_(r, "transformer."),
        g_("gpt2", "Expanded by the gpt2 model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture +
                       (generation ? ", text-generation through KV caches)" : ")")),
        decoder_(g_, w_, c.decoder, generation) {}

  std::string run() {
    const DecoderConfig& d = c_.decoder;
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(d.hidden));
    g_.metadata("num_hidden_layers", s(d.layers));
    const std::string final_norm = decoder_.write();
    if (c_.lm_head) {
      // Tied: lm_head is wte, whatever copy of it the file stores (transformers ties the head to
      // the input embeddings after loading, so a stored lm_head.weight is not read).
      std::string head = "wte";
      if (c_.tied) {
      } else if (auto w = w_.head("lm_head.weight", {d.vocab, d.hidden}, "lm_head, vocab_size " + s(d.vocab))) {
        g_.weight("lm_head.weight", *w);
        head = "lm_head.weight";
      } else {
        // Untied and not stored, transformers would draw it at random: refused.
        throw Error(w_.where() + ": tensor 'lm_head.weight' is missing, and config.json's tie_word_embeddings is false (it is not wte)",
                    LOOM_STATUS_INVALID_ARGUMENT);
      }
      g_.node("linear", {final_norm, head}, {"logits"});
      g_.output("logits");
    }
    if (!generation_) g_.output("last_hidden_state");
    else if (!c_.lm_head) g_.output(final_norm);
    g_.processing(processing());
    return g_.str();
  }

 private:
  std::string processing() {
    TokenizerSetup t;
    t.kind = "byte_level_bpe";
    t.special_tokens = {{"bos", "<|endoftext|>"}, {"eos", "<|endoftext|>"}, {"unk", "<|endoftext|>"}};
    t.frame_with_add_bos_token = true;
    t.max_positions = c_.decoder.positions;
    t.vocab_size = c_.decoder.vocab;
    if (!generation_) t.attention_mask = "attention_mask";
    t.refuse_type_ids = !generation_;
    std::ostringstream y;
    y << "  version: 1\n" << tokenizer_section(r_.checkpoint_dir, t);
    if (generation_ && c_.lm_head) {
      y << generation_section(r_.checkpoint_dir, r_.config_json, decoder_.caches(), c_.bos, c_.eos, c_.decoder.vocab, c_.decoder.positions);
      y << "  tasks:\n    - {task: text-generation, output: logits}\n";
    } else {
      y << "  tasks:\n    - {task: feature-extraction, output: last_hidden_state}\n";
    }
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const Gpt2Config& c_;
  bool generation_;
  Weights w_;
  GraphWriter g_;
  DecoderGraph decoder_;
};

class Gpt2Plugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"gpt2"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const Gpt2Config config = read_config(request);
    const bool generation = request.task == "text-generation";
    if (!generation && !request.task.empty() && request.task != "feature-extraction")
      throw Error("task '" + request.task + "' is not supported by gpt2 (text-generation, feature-extraction)", LOOM_STATUS_UNSUPPORTED);
    if (generation && !config.lm_head)
      throw Error(request.checkpoint_dir + "/config.json: architectures: " + config.architecture +
                      " has no language-model head; text-generation needs GPT2LMHeadModel",
                  LOOM_STATUS_UNSUPPORTED);
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config, generation).run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::Gpt2Plugin, "gpt2", "0.1.0",
                  "GPT-2 checkpoints in Hugging Face layout: GPT2Model and GPT2LMHeadModel, with KV-cache generation")
