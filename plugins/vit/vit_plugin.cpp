// The ViT model plugin: expands a Hugging Face ViT checkpoint (config.json, the safetensors
// weights, preprocessor_config.json) into a Loom graph for ViTModel or ViTForImageClassification,
// with the semantics of transformers' modeling_vit.py (ARCHITECTURES.md 3): a patch-embedding
// convolution whose tokens follow the grid row by row, the CLS token in front, learned position
// embeddings, pre-LN layers with unmasked attention, the final LayerNorm, then the classifier on
// the CLS token (ViTForImageClassification, no pooler) or the tanh pooler (ViTModel).
#include "config.hpp"
#include "graph_writer.hpp"
#include "image_section.hpp"
#include "task_section.hpp"
#include "vision_blocks.hpp"
#include "weights.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace loom::models {
namespace {

using sdk::Error;

enum class Head { Base, ImageClassification };

struct VitConfig {
  Head head = Head::Base;
  std::string architecture;
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, height = 0, width = 0, channels = 0;
  int64_t patch_h = 0, patch_w = 0;  // patch_size: an int, or [height, width]
  int64_t pooler_size = 0;  // pooler_output_size (hidden_size when absent)
  double eps = 1e-12;
  bool qkv_bias = true;
  std::string act, pooler_act;
  std::vector<std::string> labels;
  std::string problem_type;
};

VitConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  VitConfig v;
  v.architecture = c.architecture("ViTModel");
  if (v.architecture == "ViTModel") v.head = Head::Base;
  else if (v.architecture == "ViTForImageClassification") v.head = Head::ImageClassification;
  else c.fail("architectures", "'" + v.architecture + "' is not supported (ViTModel, ViTForImageClassification)");
  v.hidden = c.integer("hidden_size", 1, 1 << 16, 768);
  v.layers = c.integer("num_hidden_layers", 0, 1024, 12);
  v.heads = c.integer("num_attention_heads", 1, 1024, 12);
  if (v.hidden % v.heads != 0)
    c.fail("num_attention_heads", std::to_string(v.heads) + " does not divide hidden_size " + std::to_string(v.hidden));
  v.intermediate = c.integer("intermediate_size", 1, 1 << 18, 3072);
  v.eps = c.number("layer_norm_eps", 1e-12, true);
  read_size_pair(c, "image_size", 224, v.height, v.width);
  read_size_pair(c, "patch_size", 16, v.patch_h, v.patch_w);
  // The convolution of stride patch_size drops the pixels past the last whole patch, as
  // transformers' does (num_patches = (height // patch_h) * (width // patch_w)).
  if (v.height < v.patch_h || v.width < v.patch_w)
    c.fail("patch_size", size_text(v.patch_h, v.patch_w) + " is larger than image_size " + std::to_string(v.height) + "x" +
                             std::to_string(v.width));
  v.channels = c.integer("num_channels", 1, 64, 3);
  v.qkv_bias = c.flag("qkv_bias", true);
  check_not_pruned(c);
  v.act = read_activation(c, "hidden_act", "gelu");
  // ViTPooler (ViTModel's only): Linear(hidden_size, pooler_output_size) then ACT2FN[pooler_act].
  if (v.head == Head::Base) {
    v.pooler_size = c.integer("pooler_output_size", 1, 1 << 16, v.hidden);
    v.pooler_act = read_activation(c, "pooler_act", "tanh");
  }
  if (v.head == Head::ImageClassification) {
    v.labels = read_labels(c);
    v.problem_type = read_problem_type(c);
  }
  return v;
}

std::string s(int64_t v) { return std::to_string(v); }
using Ints = std::vector<int64_t>;

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const VitConfig& c)
      : r_(r), c_(c), w_(r, "vit."),
        g_("vit", "Expanded by the vit model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture + ")") {}

  std::string run() {
    const int64_t H = c_.hidden, PH = c_.patch_h, PW = c_.patch_w, N = (c_.height / PH) * (c_.width / PW);
    const std::string patch = size_text(PH, PW);
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(H));
    g_.metadata("num_hidden_layers", s(c_.layers));
    g_.input("pixel_values", "f32", {"batch", s(c_.channels), s(c_.height), s(c_.width)});

    const std::string why = "config.json: hidden_size " + s(H);
    weight("patch.weight", "embeddings.patch_embeddings.projection.weight", {H, c_.channels, PH, PW},
           why + ", num_channels " + s(c_.channels) + ", patch_size " + patch);
    weight("patch.bias", "embeddings.patch_embeddings.projection.bias", {H}, why);
    weight("cls_token", "embeddings.cls_token", {1, 1, H}, why);
    weight("position_embeddings", "embeddings.position_embeddings", {1, N + 1, H},
           why + ", " + s(N) + " patches of image_size " + s(c_.height) + "x" + s(c_.width) + " and patch_size " + patch + ", plus CLS");

    patch_embedding(g_, "pixel_values", "patch.weight", "patch.bias", PH, PW, "patches", "patches");
    prepend_token(g_, "cls_token", H, "pixel_values", "patches", "cls", "tokens");
    g_.node("add", {"tokens", "position_embeddings"}, {c_.layers == 0 ? "hidden.last" : "hidden.0"});

    std::string h = "hidden.0";
    for (int64_t i = 0; i < c_.layers; ++i) h = layer(i, h, i + 1 == c_.layers ? "hidden.last" : "");
    weight("layernorm.weight", "layernorm.weight", {H}, why);
    weight("layernorm.bias", "layernorm.bias", {H}, why);
    g_.node("layer_norm", {"hidden.last", "layernorm.weight", "layernorm.bias"}, {"last_hidden_state"}, Attrs().set("epsilon", c_.eps));
    if (c_.head == Head::ImageClassification) {
      cls_state();
      const int64_t L = static_cast<int64_t>(c_.labels.size());
      g_.weight("classifier.weight", w_.require_head("classifier.weight", {L, H}, "the classifier, num_labels " + s(L) + ", hidden_size " + s(H)));
      g_.weight("classifier.bias", w_.require_head("classifier.bias", {L}, "the classifier, num_labels " + s(L)));
      g_.node("linear", {"cls.state", "classifier.weight", "classifier.bias"}, {"logits"});
      g_.output("logits");
    }
    g_.output("last_hidden_state");
    // ViTModel's pooler (add_pooling_layer=True): tanh(dense(CLS)); a checkpoint saved without it
    // offers no pooler_output rather than the random one transformers would make.
    if (c_.head == Head::Base) {
      const int64_t O = c_.pooler_size;
      const std::string pwhy = "the pooler, pooler_output_size " + s(O) + ", hidden_size " + s(H);
      auto pw = w_.base("pooler.dense.weight", {O, H}, pwhy);
      auto pb = w_.base("pooler.dense.bias", {O}, pwhy);
      if (pw && pb) {
        cls_state();
        g_.weight("pooler.weight", *pw);
        g_.weight("pooler.bias", *pb);
        Attrs a;
        if (c_.pooler_act != "none") a.set("activation", c_.pooler_act);
        g_.node("linear", {"cls.state", "pooler.weight", "pooler.bias"}, {"pooler_output"}, a);
        g_.output("pooler_output");
      }
    }
    g_.processing(processing());
    return g_.str();
  }

 private:
  void weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
    g_.weight(value, w_.require_base(tensor, shape, why));
  }

  // The CLS token of the final LayerNorm's output, [batch, hidden] ("cls.state").
  void cls_state() {
    g_.node("slice", {"last_hidden_state"}, {"cls.out"}, Attrs().set("axis", 1).set("start", 0).set("end", 1));
    g_.node("reshape", {"cls.out"}, {"cls.state"}, Attrs().set("shape", Ints{0, c_.hidden}));
  }

  void linear(const std::string& x, const std::string& params, const std::string& out, bool bias, const std::string& act = "none") {
    Attrs a;
    if (act != "none") a.set("activation", act);
    g_.node("linear", {x, params + ".weight", bias ? params + ".bias" : ""}, {out}, a);
  }

  void layer_norm(const std::string& x, const std::string& params, const std::string& out) {
    g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", c_.eps));
  }

  // One pre-LN encoder layer (ViTLayer); returns its output's name.
  std::string layer(int64_t i, const std::string& x, const std::string& out) {
    const int64_t H = c_.hidden, I = c_.intermediate, heads = c_.heads, d = H / heads;
    const std::string p = "layer." + s(i) + ".", t = "encoder.layer." + s(i) + ".";
    const std::string why = "config.json: hidden_size " + s(H) + ", num_hidden_layers " + s(c_.layers);
    const std::string why_i = why + ", intermediate_size " + s(I);
    for (const char* n : {"query", "key", "value"}) {
      weight(p + n + ".weight", t + "attention.attention." + n + ".weight", {H, H}, why);
      if (c_.qkv_bias) weight(p + n + ".bias", t + "attention.attention." + n + ".bias", {H}, why + ", qkv_bias true");
    }
    weight(p + "attn_out.weight", t + "attention.output.dense.weight", {H, H}, why);
    weight(p + "attn_out.bias", t + "attention.output.dense.bias", {H}, why);
    weight(p + "ln_before.weight", t + "layernorm_before.weight", {H}, why);
    weight(p + "ln_before.bias", t + "layernorm_before.bias", {H}, why);
    weight(p + "ln_after.weight", t + "layernorm_after.weight", {H}, why);
    weight(p + "ln_after.bias", t + "layernorm_after.bias", {H}, why);
    weight(p + "ffn_in.weight", t + "intermediate.dense.weight", {I, H}, why_i);
    weight(p + "ffn_in.bias", t + "intermediate.dense.bias", {I}, why_i);
    weight(p + "ffn_out.weight", t + "output.dense.weight", {H, I}, why_i);
    weight(p + "ffn_out.bias", t + "output.dense.bias", {H}, why_i);

    layer_norm(x, p + "ln_before", p + "normed");
    for (const char* n : {"query", "key", "value"}) {
      linear(p + "normed", p + n, p + n, c_.qkv_bias);
      g_.node("reshape", {p + n}, {p + n + ".heads"}, Attrs().set("shape", Ints{0, 0, heads, d}));
      g_.node("transpose", {p + n + ".heads"}, {p + n + ".t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
    }
    g_.node("attention", {p + "query.t", p + "key.t", p + "value.t"}, {p + "context.heads"},
            Attrs().set("scale", 1.0 / std::sqrt(static_cast<double>(d))));
    g_.node("transpose", {p + "context.heads"}, {p + "context.t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
    g_.node("reshape", {p + "context.t"}, {p + "context"}, Attrs().set("shape", Ints{0, 0, H}));
    linear(p + "context", p + "attn_out", p + "attn", true);
    g_.node("add", {p + "attn", x}, {p + "h"});
    layer_norm(p + "h", p + "ln_after", p + "h.normed");
    linear(p + "h.normed", p + "ffn_in", p + "ffn", true, c_.act);
    linear(p + "ffn", p + "ffn_out", p + "ffn.out", true);
    const std::string y = out.empty() ? p + "out" : out;
    g_.node("add", {p + "ffn.out", p + "h"}, {y});
    return y;
  }

  std::string processing() {
    const std::string image = image_section(r_.checkpoint_dir, "ViTImageProcessor");
    if (image.empty()) return "";
    std::ostringstream y;
    y << "  version: 1\n" << image << "  tasks:\n";
    if (c_.head == Head::ImageClassification) y << classification_task("image-classification", "logits", c_.labels, c_.problem_type);
    y << "    - {task: image-feature-extraction, output: last_hidden_state}\n";
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const VitConfig& c_;
  Weights w_;
  GraphWriter g_;
};

class VitPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"vit"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const VitConfig config = read_config(request);
    std::vector<std::string> tasks;
    if (config.head == Head::ImageClassification) tasks.push_back("image-classification");
    tasks.push_back("image-feature-extraction");
    check_task(request.task, tasks, config.architecture);
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config).run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::VitPlugin, "vit", "0.1.0",
                  "ViT checkpoints in Hugging Face layout: ViTModel and ViTForImageClassification")
