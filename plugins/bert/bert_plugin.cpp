// The BERT model plugin: expands a Hugging Face BERT checkpoint (config.json, the safetensors
// weights, vocab.txt or tokenizer.json) into a Loom graph, for the head that config.json's
// `architectures[0]` names: BertModel, BertForPreTraining, BertForMaskedLM,
// BertForNextSentencePrediction or BertForSequenceClassification. The semantics are those of
// transformers' modeling_bert.py (docs/models.md): post-LN layers, an embedding LayerNorm, the
// additive padding mask (1 - mask) * finfo(float32).min, the tanh pooler over the first token,
// the MLM transform and its decoder tied to the word embeddings.
#include "config.hpp"
#include "graph_writer.hpp"
#include "task_section.hpp"
#include "tokenizer_section.hpp"
#include "weights.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace loom::models {
namespace {

using sdk::Error;

enum class Head { Base, PreTraining, MaskedLM, NextSentence, SequenceClassification };

struct BertConfig {
  Head head = Head::Base;
  std::string architecture;
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, positions = 0, types = 0;
  double eps = 1e-12;
  bool tied = true;                 // tie_word_embeddings: the MLM decoder is the word embeddings
  std::string act;                  // the linear op's activation
  std::vector<std::string> labels;  // SequenceClassification
  std::string problem_type;         // "", single_label_classification, multi_label_classification, regression
};

Head head_of(const JsonFile& c, std::string& name) {
  name = c.architecture("BertModel");
  if (name == "BertModel") return Head::Base;
  if (name == "BertForPreTraining") return Head::PreTraining;
  if (name == "BertForMaskedLM") return Head::MaskedLM;
  if (name == "BertForNextSentencePrediction") return Head::NextSentence;
  if (name == "BertForSequenceClassification") return Head::SequenceClassification;
  c.fail("architectures", "'" + name +
                              "' is not supported (BertModel, BertForPreTraining, BertForMaskedLM, "
                              "BertForNextSentencePrediction, BertForSequenceClassification)");
}

BertConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  BertConfig b;
  b.head = head_of(c, b.architecture);
  constexpr int64_t kMax = int64_t{1} << 24;
  b.vocab = c.integer("vocab_size", 1, kMax, 30522);
  b.hidden = c.integer("hidden_size", 1, 1 << 16, 768);
  b.layers = c.integer("num_hidden_layers", 0, 1024, 12);
  b.heads = c.integer("num_attention_heads", 1, 1024, 12);
  if (b.hidden % b.heads != 0)
    c.fail("num_attention_heads", std::to_string(b.heads) + " does not divide hidden_size " + std::to_string(b.hidden));
  b.intermediate = c.integer("intermediate_size", 1, 1 << 18, 3072);
  b.positions = c.integer("max_position_embeddings", 1, 1 << 20, 512);
  b.types = c.integer("type_vocab_size", 1, 1 << 16, 2);
  b.eps = c.number("layer_norm_eps", 1e-12, true);
  check_not_pruned(c);
  b.act = read_activation(c, "hidden_act", "gelu");
  // null is no position embeddings at all in transformers (it adds them only for "absolute").
  if (c.json().contains("position_embedding_type") && c.json()["position_embedding_type"].is_null())
    c.fail("position_embedding_type", "null (no position embeddings) is not supported (absolute)");
  const std::string pos_type = c.string("position_embedding_type", "absolute");
  if (pos_type != "absolute") c.fail("position_embedding_type", "'" + pos_type + "' is not supported (absolute)");
  if (c.flag("is_decoder", false)) c.fail("is_decoder", "decoder BERT is not supported");
  // transformers refuses cross-attention in an encoder (BertLayer: "should be used as a decoder
  // model if cross attention is added").
  if (c.flag("add_cross_attention", false)) c.fail("add_cross_attention", "cross-attention is not supported (and needs is_decoder)");
  b.tied = c.flag("tie_word_embeddings", true);
  if (b.head == Head::SequenceClassification) {
    b.labels = read_labels(c);
    b.problem_type = read_problem_type(c);
  }
  return b;
}

std::string s(int64_t v) { return std::to_string(v); }

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const BertConfig& c)
      : r_(r), c_(c), w_(r, "bert."),
        g_("bert", "Expanded by the bert model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture + ")") {}

  std::string run() {
    const int64_t H = c_.hidden;
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(H));
    g_.metadata("num_hidden_layers", s(c_.layers));
    g_.bound("seq", c_.positions);
    // Ids index the embedding tables: a run refuses one past a table's rows, naming the input.
    g_.input("input_ids", "i64", {"batch", "seq"});
    g_.values(0, c_.vocab - 1);
    // Hugging Face's defaults: every token attended, token type 0, positions 0, 1, 2, ...
    g_.input("attention_mask", "i64", {"batch", "seq"}, "1");
    g_.input("token_type_ids", "i64", {"batch", "seq"}, "0");
    g_.values(0, c_.types - 1);
    g_.input("position_ids", "i64", {"batch", "seq"}, "{range: 1}");
    g_.values(0, c_.positions - 1);

    // Embeddings: (word + token type) + position, then LayerNorm.
    const std::string emb = "config.json: vocab_size " + s(c_.vocab) + ", hidden_size " + s(H);
    weight("word_embeddings", "embeddings.word_embeddings.weight", {c_.vocab, H}, emb);
    weight("position_embeddings", "embeddings.position_embeddings.weight", {c_.positions, H},
           "config.json: max_position_embeddings " + s(c_.positions) + ", hidden_size " + s(H));
    weight("token_type_embeddings", "embeddings.token_type_embeddings.weight", {c_.types, H},
           "config.json: type_vocab_size " + s(c_.types) + ", hidden_size " + s(H));
    weight("embeddings.ln.weight", "embeddings.LayerNorm.weight", {H}, "hidden_size " + s(H));
    weight("embeddings.ln.bias", "embeddings.LayerNorm.bias", {H}, "hidden_size " + s(H));
    g_.node("gather", {"word_embeddings", "input_ids"}, {"embeddings.words"});
    g_.node("gather", {"token_type_embeddings", "token_type_ids"}, {"embeddings.types"});
    g_.node("gather", {"position_embeddings", "position_ids"}, {"embeddings.positions"});
    g_.node("add", {"embeddings.words", "embeddings.types"}, {"embeddings.words_types"});
    g_.node("add", {"embeddings.words_types", "embeddings.positions"}, {"embeddings.sum"});
    layer_norm("embeddings.sum", "embeddings.ln", c_.layers == 0 ? "last_hidden_state" : "hidden.0");

    // The additive padding mask [batch, 1, 1, seq]: 0 where attended, finfo(float32).min where not.
    g_.constant("one", "f32", {}, {1.0});
    g_.constant("mask_min", "f32", {}, {static_cast<double>(std::numeric_limits<float>::lowest())});
    g_.node("cast", {"attention_mask"}, {"mask.f"}, Attrs().set("to", "f32"));
    g_.node("sub", {"one", "mask.f"}, {"mask.inverted"});
    g_.node("mul", {"mask.inverted", "mask_min"}, {"mask.additive"});
    g_.node("reshape", {"mask.additive"}, {"mask"}, Attrs().set("shape", std::vector<int64_t>{0, 1, 1, -1}));

    std::string h = "hidden.0";
    for (int64_t i = 0; i < c_.layers; ++i) h = layer(i, h, i + 1 == c_.layers ? "last_hidden_state" : "");

    // A BertModel saved without its pooler (add_pooling_layer=False) offers no pooler_output rather
    // than the random one transformers would make; the heads that read it need it.
    const bool pooled = c_.head != Head::MaskedLM &&
                        (c_.head != Head::Base || w_.base("pooler.dense.weight", {c_.hidden, c_.hidden}, "the pooler of BertModel"));
    if (pooled) pooler();
    outputs(pooled);
    g_.processing(processing());
    return g_.str();
  }

 private:
  void weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
    g_.weight(value, w_.require_base(tensor, shape, why));
  }
  void head_weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
    g_.weight(value, w_.require_head(tensor, shape, why));
  }

  void layer_norm(const std::string& x, const std::string& params, const std::string& out) {
    g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", c_.eps));
  }

  void linear(const std::string& x, const std::string& params, const std::string& out, const std::string& act = "none") {
    Attrs a;
    if (act != "none") a.set("activation", act);
    g_.node("linear", {x, params + ".weight", params + ".bias"}, {out}, a);
  }

  // One post-LN encoder layer; returns its output's name (`out`, or one of its own).
  std::string layer(int64_t i, const std::string& x, const std::string& out) {
    const int64_t H = c_.hidden, I = c_.intermediate, heads = c_.heads, d = H / heads;
    const std::string p = "layer." + s(i) + ".", t = "encoder.layer." + s(i) + ".";
    const std::string why = "config.json: hidden_size " + s(H) + ", num_hidden_layers " + s(c_.layers);
    const std::string why_i = why + ", intermediate_size " + s(I);
    for (const char* n : {"query", "key", "value"}) {
      weight(p + n + ".weight", t + "attention.self." + n + ".weight", {H, H}, why);
      weight(p + n + ".bias", t + "attention.self." + n + ".bias", {H}, why);
    }
    weight(p + "attn_out.weight", t + "attention.output.dense.weight", {H, H}, why);
    weight(p + "attn_out.bias", t + "attention.output.dense.bias", {H}, why);
    weight(p + "ln1.weight", t + "attention.output.LayerNorm.weight", {H}, why);
    weight(p + "ln1.bias", t + "attention.output.LayerNorm.bias", {H}, why);
    weight(p + "ffn_in.weight", t + "intermediate.dense.weight", {I, H}, why_i);
    weight(p + "ffn_in.bias", t + "intermediate.dense.bias", {I}, why_i);
    weight(p + "ffn_out.weight", t + "output.dense.weight", {H, I}, why_i);
    weight(p + "ffn_out.bias", t + "output.dense.bias", {H}, why_i);
    weight(p + "ln2.weight", t + "output.LayerNorm.weight", {H}, why);
    weight(p + "ln2.bias", t + "output.LayerNorm.bias", {H}, why);

    for (const char* n : {"query", "key", "value"}) {
      linear(x, p + n, p + n);
      g_.node("reshape", {p + n}, {p + n + ".heads"}, Attrs().set("shape", std::vector<int64_t>{0, 0, heads, d}));
      g_.node("transpose", {p + n + ".heads"}, {p + n + ".t"}, Attrs().set("perm", std::vector<int64_t>{0, 2, 1, 3}));
    }
    g_.node("attention", {p + "query.t", p + "key.t", p + "value.t", "mask"}, {p + "context.heads"},
            Attrs().set("scale", 1.0 / std::sqrt(static_cast<double>(d))));
    g_.node("transpose", {p + "context.heads"}, {p + "context.t"}, Attrs().set("perm", std::vector<int64_t>{0, 2, 1, 3}));
    g_.node("reshape", {p + "context.t"}, {p + "context"}, Attrs().set("shape", std::vector<int64_t>{0, 0, H}));
    linear(p + "context", p + "attn_out", p + "attn");
    g_.node("add", {p + "attn", x}, {p + "attn.residual"});
    layer_norm(p + "attn.residual", p + "ln1", p + "h");
    linear(p + "h", p + "ffn_in", p + "ffn", c_.act);
    linear(p + "ffn", p + "ffn_out", p + "ffn.out");
    g_.node("add", {p + "ffn.out", p + "h"}, {p + "ffn.residual"});
    const std::string y = out.empty() ? p + "out" : out;
    layer_norm(p + "ffn.residual", p + "ln2", y);
    return y;
  }

  void pooler() {
    const int64_t H = c_.hidden;
    weight("pooler.weight", "pooler.dense.weight", {H, H}, "the pooler of " + c_.architecture + ", hidden_size " + s(H));
    weight("pooler.bias", "pooler.dense.bias", {H}, "the pooler of " + c_.architecture);
    g_.node("slice", {"last_hidden_state"}, {"first.token"}, Attrs().set("axis", 1).set("start", 0).set("end", 1));
    g_.node("reshape", {"first.token"}, {"first"}, Attrs().set("shape", std::vector<int64_t>{0, H}));
    linear("first", "pooler", "pooler_output", "tanh");
  }

  // BertOnlyMLMHead / BertPreTrainingHeads' predictions: transform, then the decoder tied to
  // the word embeddings, with cls.predictions.bias.
  void mlm_head(const std::string& out) {
    const int64_t H = c_.hidden, V = c_.vocab;
    const std::string why = "the masked-LM head, hidden_size " + s(H);
    head_weight("mlm.dense.weight", "cls.predictions.transform.dense.weight", {H, H}, why);
    head_weight("mlm.dense.bias", "cls.predictions.transform.dense.bias", {H}, why);
    head_weight("mlm.ln.weight", "cls.predictions.transform.LayerNorm.weight", {H}, why);
    head_weight("mlm.ln.bias", "cls.predictions.transform.LayerNorm.bias", {H}, why);
    const std::string vwhy = "the masked-LM head, vocab_size " + s(V);
    // Tied: the decoder is the word embeddings, whatever copy of them the file stores
    // (transformers ties it to the input embeddings after loading).
    auto decoder = c_.tied ? std::nullopt : w_.head("cls.predictions.decoder.weight", {V, H}, vwhy);
    auto bias = w_.head("cls.predictions.bias", {V}, vwhy);
    if (!bias) bias = w_.head("cls.predictions.decoder.bias", {V}, vwhy);
    if (!bias) throw Error(w_.where() + ": tensor 'cls.predictions.bias' is missing (" + vwhy + ")", LOOM_STATUS_INVALID_ARGUMENT);
    // Untied and not stored, transformers would draw it at random: refused.
    if (!decoder && !c_.tied)
      throw Error(w_.where() + ": tensor 'cls.predictions.decoder.weight' is missing, and config.json's tie_word_embeddings " +
                      "is false (it is not the word embeddings)",
                  LOOM_STATUS_INVALID_ARGUMENT);
    const std::string decoder_weight = decoder ? "mlm.decoder.weight" : "word_embeddings";
    if (decoder) g_.weight("mlm.decoder.weight", *decoder);
    g_.weight("mlm.decoder.bias", *bias);
    linear("last_hidden_state", "mlm.dense", "mlm.transformed", c_.act);
    layer_norm("mlm.transformed", "mlm.ln", "mlm.normed");
    g_.node("linear", {"mlm.normed", decoder_weight, "mlm.decoder.bias"}, {out});
  }

  void nsp_head(const std::string& out) {
    const int64_t H = c_.hidden;
    head_weight("nsp.weight", "cls.seq_relationship.weight", {2, H}, "the next-sentence head, hidden_size " + s(H));
    head_weight("nsp.bias", "cls.seq_relationship.bias", {2}, "the next-sentence head");
    linear("pooler_output", "nsp", out);
  }

  void outputs(bool pooled) {
    const int64_t H = c_.hidden, L = static_cast<int64_t>(c_.labels.size());
    switch (c_.head) {
      case Head::Base:
        break;
      case Head::PreTraining:
        mlm_head("prediction_logits");
        nsp_head("seq_relationship_logits");
        g_.output("prediction_logits");
        g_.output("seq_relationship_logits");
        break;
      case Head::MaskedLM:
        mlm_head("logits");
        g_.output("logits");
        break;
      case Head::NextSentence:
        nsp_head("logits");
        g_.output("logits");
        break;
      case Head::SequenceClassification:
        head_weight("classifier.weight", "classifier.weight", {L, H}, "the classifier, num_labels " + s(L) + ", hidden_size " + s(H));
        head_weight("classifier.bias", "classifier.bias", {L}, "the classifier, num_labels " + s(L));
        linear("pooler_output", "classifier", "logits");
        g_.output("logits");
        break;
    }
    g_.output("last_hidden_state");
    if (pooled) g_.output("pooler_output");
  }

  std::string processing() {
    TokenizerSetup t;
    t.kind = "wordpiece";
    t.special_tokens = {{"unk", "[UNK]"}, {"sep", "[SEP]"}, {"pad", "[PAD]"}, {"cls", "[CLS]"}, {"mask", "[MASK]"}};
    t.lowercase = true;  // BertTokenizer's default do_lower_case
    t.frame_with_cls_sep = true;
    t.pad_to_longest = true;
    t.max_positions = c_.positions;
    t.vocab_size = c_.vocab;
    t.token_type_ids = "token_type_ids";
    t.attention_mask = "attention_mask";
    // Every task of a head reads text: a checkpoint without tokenizer files offers none, and
    // runs on ids alone.
    const std::string tokenizer = tokenizer_section(r_.checkpoint_dir, t);
    if (tokenizer.empty()) return "";
    std::ostringstream y;
    y << "  version: 1\n" << tokenizer << "  tasks:\n";
    switch (c_.head) {
      case Head::Base:
        y << "    - {task: feature-extraction, output: last_hidden_state}\n";
        break;
      case Head::PreTraining:
        y << "    - {task: fill-mask, output: prediction_logits, function: softmax}\n"
          << "    - {task: next-sentence-prediction, output: seq_relationship_logits, function: softmax,"
          << " id2label: {0: IsNext, 1: NotNext}}\n";
        break;
      case Head::MaskedLM:
        y << "    - {task: fill-mask, output: logits, function: softmax}\n";
        break;
      case Head::NextSentence:
        y << "    - {task: next-sentence-prediction, output: logits, function: softmax, id2label: {0: IsNext, 1: NotNext}}\n";
        break;
      case Head::SequenceClassification: {
        y << classification_task("text-classification", "logits", c_.labels, c_.problem_type);
        y << "    - {task: feature-extraction, output: last_hidden_state}\n";
        break;
      }
    }
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const BertConfig& c_;
  Weights w_;
  GraphWriter g_;
};

// The tasks each head's graph offers (its processing section's order).
std::vector<std::string> tasks_of(Head head) {
  switch (head) {
    case Head::Base: return {"feature-extraction"};
    case Head::PreTraining: return {"fill-mask", "next-sentence-prediction"};
    case Head::MaskedLM: return {"fill-mask"};
    case Head::NextSentence: return {"next-sentence-prediction"};
    case Head::SequenceClassification: return {"text-classification", "feature-extraction"};
  }
  return {};
}

class BertPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"bert"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const BertConfig config = read_config(request);
    // One graph serves every task of its head; a task it lacks is refused here, by name.
    const auto tasks = tasks_of(config.head);
    check_task(request.task, tasks, config.architecture);
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config).run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::BertPlugin, "bert", "0.1.0",
                  "BERT checkpoints in Hugging Face layout: BertModel and its pre-training, masked-LM, next-sentence and classification heads")
