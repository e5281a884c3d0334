// The CLIP model plugin: expands a Hugging Face CLIP checkpoint (config.json, the safetensors
// weights, the tokenizer files, preprocessor_config.json) into a Loom graph, with the semantics of
// transformers' modeling_clip.py (ARCHITECTURES.md 7): CLIPModel (model_type clip),
// CLIPTextModel(WithProjection) (clip_text_model) and CLIPVisionModel(WithProjection)
// (clip_vision_model). Text: token and position embeddings, pre-LN layers under a causal mask
// plus the padding mask, the final LayerNorm, pooling at the first eos token (at the largest id
// for old configs whose eos_token_id is 2). Vision: a patch convolution without bias, the class
// embedding in front, pre_layrnorm, the layers, post_layernorm on the class token. CLIPModel
// projects both, L2-normalises them and scales their similarities by exp(logit_scale).
//
// CLIPModel's graph depends on the task: zero-shot-image-classification (the default) runs both
// towers, feature-extraction only the text tower and image-feature-extraction only the vision
// tower, so that an embedding needs only its own inputs.
#include "config.hpp"
#include "graph_writer.hpp"
#include "image_section.hpp"
#include "masks.hpp"
#include "task_section.hpp"
#include "tokenizer_section.hpp"
#include "vision_blocks.hpp"
#include "weights.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace loom::models {
namespace {

using sdk::Error;
using Ints = std::vector<int64_t>;

enum class Kind { Model, Text, TextProjection, Vision, VisionProjection };

struct Tower {
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0;
  double eps = 1e-5;
  std::string act;
};
struct TextTower : Tower {
  int64_t vocab = 0, positions = 0, eos = 0;
};
struct VisionTower : Tower {
  int64_t image = 0, patch = 0, channels = 0;
};

struct ClipConfig {
  Kind kind = Kind::Model;
  std::string architecture;
  TextTower text;
  VisionTower vision;
  int64_t projection = 0;
  bool has_text() const { return kind == Kind::Model || kind == Kind::Text || kind == Kind::TextProjection; }
  bool has_vision() const { return kind == Kind::Model || kind == Kind::Vision || kind == Kind::VisionProjection; }
};

void read_tower(const JsonFile& c, Tower& t, int64_t hidden, int64_t layers, int64_t heads, int64_t intermediate) {
  t.hidden = c.integer("hidden_size", 1, 1 << 16, hidden);
  t.layers = c.integer("num_hidden_layers", 0, 1024, layers);
  t.heads = c.integer("num_attention_heads", 1, 1024, heads);
  if (t.hidden % t.heads != 0)
    c.fail("num_attention_heads", std::to_string(t.heads) + " does not divide hidden_size " + std::to_string(t.hidden));
  t.intermediate = c.integer("intermediate_size", 1, 1 << 18, intermediate);
  t.eps = c.number("layer_norm_eps", 1e-5, true);
  check_not_pruned(c);
  t.act = read_activation(c, "hidden_act", "quick_gelu");
}

// CLIPTextConfig's and CLIPVisionConfig's defaults.
TextTower read_text(const JsonFile& c) {
  TextTower t;
  read_tower(c, t, 512, 12, 8, 2048);
  t.vocab = c.integer("vocab_size", 1, int64_t{1} << 24, 49408);
  t.positions = c.integer("max_position_embeddings", 1, 1 << 20, 77);
  t.eos = c.integer("eos_token_id", 0, int64_t{1} << 24, 49407);
  return t;
}

VisionTower read_vision(const JsonFile& c) {
  VisionTower v;
  read_tower(c, v, 768, 12, 12, 3072);
  v.image = c.integer("image_size", 1, 1 << 16, 224);
  v.patch = c.integer("patch_size", 1, 1 << 16, 32);
  // The stride-patch_size convolution drops the pixels past the last whole patch, as in
  // transformers (num_patches = (image_size // patch_size)^2).
  if (v.image < v.patch) c.fail("patch_size", std::to_string(v.patch) + " is larger than image_size " + std::to_string(v.image));
  v.channels = c.integer("num_channels", 1, 64, 3);
  return v;
}

ClipConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  const std::string type = c.string("model_type", "clip");
  ClipConfig k;
  const char* fallback = type == "clip_text_model" ? "CLIPTextModel" : type == "clip_vision_model" ? "CLIPVisionModel" : "CLIPModel";
  k.architecture = c.architecture(fallback);
  if (k.architecture == "CLIPModel") k.kind = Kind::Model;
  else if (k.architecture == "CLIPTextModel") k.kind = Kind::Text;
  else if (k.architecture == "CLIPTextModelWithProjection") k.kind = Kind::TextProjection;
  else if (k.architecture == "CLIPVisionModel") k.kind = Kind::Vision;
  else if (k.architecture == "CLIPVisionModelWithProjection") k.kind = Kind::VisionProjection;
  else
    c.fail("architectures", "'" + k.architecture +
                                "' is not supported (CLIPModel, CLIPTextModel, CLIPTextModelWithProjection, CLIPVisionModel, "
                                "CLIPVisionModelWithProjection)");
  // A CLIPConfig holds both towers (old files under *_config_dict, which win); a tower's own
  // config holds its keys at the top.
  const bool joint = type == "clip";
  if (k.has_text()) k.text = read_text(joint ? c.section("text_config", "text_config_dict") : c);
  if (k.has_vision()) k.vision = read_vision(joint ? c.section("vision_config", "vision_config_dict") : c);
  k.projection = c.integer("projection_dim", 1, 1 << 16, 512);
  return k;
}

std::string s(int64_t v) { return std::to_string(v); }

class Expander {
 public:
  // `text` / `vision`: which towers this graph runs.
  Expander(const sdk::ModelRequest& r, const ClipConfig& c, bool text, bool vision)
      : r_(r), c_(c), text_(text), vision_(vision), w_(r, ""),
        g_("clip", "Expanded by the clip model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture +
                       (r.task.empty() ? "" : ", task " + r.task) + ")") {}

  std::string run() {
    g_.metadata("architecture", c_.architecture);
    const bool joint = text_ && vision_;
    if (text_) {
      g_.bound("seq", c_.text.positions);
      g_.input("input_ids", "i64", {"batch", "seq"});
      g_.values(0, c_.text.vocab - 1);
      g_.input("attention_mask", "i64", {"batch", "seq"}, "1");
    }
    if (vision_) {
      const std::string v = s(c_.vision.image);
      g_.input("pixel_values", "f32", {joint ? "image_batch" : "batch", s(c_.vision.channels), v, v});
    }
    const bool projected = c_.kind == Kind::Model || c_.kind == Kind::TextProjection || c_.kind == Kind::VisionProjection;
    if (text_) {
      text_tower();
      if (projected) project("text.pooled", "text_projection.weight", c_.text.hidden, "text.projected");
    }
    if (vision_) {
      vision_tower();
      if (projected) project("vision.pooled", "visual_projection.weight", c_.vision.hidden, "vision.projected");
    }
    outputs();
    g_.processing(processing());
    return g_.str();
  }

 private:
  void weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
    g_.weight(value, w_.require_base(tensor, shape, why));
  }

  void layer_norm(const std::string& x, const std::string& params, const std::string& out, double eps) {
    g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", eps));
  }

  void linear(const std::string& x, const std::string& params, const std::string& out, const std::string& act = "none") {
    Attrs a;
    if (act != "none") a.set("activation", act);
    g_.node("linear", {x, params + ".weight", params + ".bias"}, {out}, a);
  }

  // CLIPEncoder's layers under `tensor_prefix` ("text_model."), values under `p` ("text.");
  // `mask`: an additive mask (text), or none (vision). Returns the output.
  std::string encoder(const Tower& t, const std::string& tensor_prefix, const std::string& p, std::string x, const std::string& mask) {
    const int64_t H = t.hidden, I = t.intermediate, d = H / t.heads;
    for (int64_t i = 0; i < t.layers; ++i) {
      const std::string q = p + "layer." + s(i) + ".", tp = tensor_prefix + "encoder.layers." + s(i) + ".";
      const std::string why = tensor_prefix + " hidden_size " + s(H) + ", num_hidden_layers " + s(t.layers);
      for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        weight(q + n + ".weight", tp + "self_attn." + n + ".weight", {H, H}, why);
        weight(q + n + ".bias", tp + "self_attn." + n + ".bias", {H}, why);
      }
      for (const char* n : {"layer_norm1", "layer_norm2"}) {
        weight(q + n + ".weight", tp + n + ".weight", {H}, why);
        weight(q + n + ".bias", tp + n + ".bias", {H}, why);
      }
      weight(q + "fc1.weight", tp + "mlp.fc1.weight", {I, H}, why + ", intermediate_size " + s(I));
      weight(q + "fc1.bias", tp + "mlp.fc1.bias", {I}, why + ", intermediate_size " + s(I));
      weight(q + "fc2.weight", tp + "mlp.fc2.weight", {H, I}, why + ", intermediate_size " + s(I));
      weight(q + "fc2.bias", tp + "mlp.fc2.bias", {H}, why);

      layer_norm(x, q + "layer_norm1", q + "normed", t.eps);
      for (const char* n : {"q_proj", "k_proj", "v_proj"}) {
        linear(q + "normed", q + n, q + n);
        g_.node("reshape", {q + n}, {q + n + ".heads"}, Attrs().set("shape", Ints{0, 0, t.heads, d}));
        g_.node("transpose", {q + n + ".heads"}, {q + n + ".t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
      }
      Attrs a;
      a.set("scale", 1.0 / std::sqrt(static_cast<double>(d)));
      g_.node("attention", {q + "q_proj.t", q + "k_proj.t", q + "v_proj.t", mask}, {q + "context.heads"}, a);
      g_.node("transpose", {q + "context.heads"}, {q + "context.t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
      g_.node("reshape", {q + "context.t"}, {q + "context"}, Attrs().set("shape", Ints{0, 0, H}));
      linear(q + "context", q + "out_proj", q + "attn");
      g_.node("add", {q + "attn", x}, {q + "h"});
      layer_norm(q + "h", q + "layer_norm2", q + "h.normed", t.eps);
      linear(q + "h.normed", q + "fc1", q + "ffn", t.act);
      linear(q + "ffn", q + "fc2", q + "ffn.out");
      x = q + "out";
      g_.node("add", {q + "ffn.out", q + "h"}, {x});
    }
    return x;
  }

  void text_tower() {
    const TextTower& t = c_.text;
    const int64_t H = t.hidden;
    const std::string why = "text hidden_size " + s(H);
    weight("text.token_embedding", "text_model.embeddings.token_embedding.weight", {t.vocab, H}, why + ", vocab_size " + s(t.vocab));
    weight("text.position_embedding", "text_model.embeddings.position_embedding.weight", {t.positions, H},
           why + ", max_position_embeddings " + s(t.positions));
    g_.node("gather", {"text.token_embedding", "input_ids"}, {"text.tokens"});
    g_.node("positions", {"input_ids"}, {"text.position_ids"}, Attrs().set("axis", 1));
    g_.node("gather", {"text.position_embedding", "text.position_ids"}, {"text.positions"});
    g_.node("add", {"text.tokens", "text.positions"}, {"text.h0"});
    // Hugging Face's causal and padding masks added (masks.hpp): under left padding a query whose
    // every earlier key is padding averages those and the later real keys, as transformers does.
    const std::string mask = causal_padding_mask(g_, "text.", "input_ids", "attention_mask");
    const std::string h = encoder(t, "text_model.", "text.", "text.h0", mask);
    weight("text.final.weight", "text_model.final_layer_norm.weight", {H}, why);
    weight("text.final.bias", "text_model.final_layer_norm.bias", {H}, why);
    layer_norm(h, "text.final", text_last(), t.eps);

    // Where each row is pooled: configs with the old eos_token_id 2 take the largest id (the
    // eos of those vocabularies); the others the first eos, argmax(input_ids == eos), which is
    // row 0 where a row has none. The indicator is relu(1 - (id - eos)^2), exact on integers.
    if (t.eos == 2) {
      g_.node("argmax", {"input_ids"}, {"text.eos_at"}, Attrs().set("axis", -1));
    } else {
      g_.constant("eos", "i64", {}, {static_cast<double>(t.eos)});
      g_.constant("one", "f32", {}, {1.0});
      g_.node("sub", {"input_ids", "eos"}, {"text.eos.diff"});
      g_.node("mul", {"text.eos.diff", "text.eos.diff"}, {"text.eos.sq"});
      g_.node("cast", {"text.eos.sq"}, {"text.eos.sq.f"}, Attrs().set("to", "f32"));
      g_.node("sub", {"one", "text.eos.sq.f"}, {"text.eos.near"});
      g_.node("relu", {"text.eos.near"}, {"text.eos.is"});
      g_.node("argmax", {"text.eos.is"}, {"text.eos_at"}, Attrs().set("axis", -1));
    }
    g_.node("gather_rows", {text_last(), "text.eos_at"}, {"text.pooled"});
  }

  void vision_tower() {
    const VisionTower& v = c_.vision;
    const int64_t H = v.hidden, P = v.patch, N = (v.image / P) * (v.image / P);
    const std::string why = "vision hidden_size " + s(H);
    weight("vision.patch.weight", "vision_model.embeddings.patch_embedding.weight", {H, v.channels, P, P},
           why + ", num_channels " + s(v.channels) + ", patch_size " + s(P));
    weight("vision.class_embedding", "vision_model.embeddings.class_embedding", {H}, why);
    weight("vision.position_embedding", "vision_model.embeddings.position_embedding.weight", {N + 1, H},
           why + ", " + s(N) + " patches of image_size " + s(v.image) + " and patch_size " + s(P) + ", plus the class token");
    patch_embedding(g_, "pixel_values", "vision.patch.weight", "", P, "vision.patches", "vision.patches");
    prepend_token(g_, "vision.class_embedding", H, "pixel_values", "vision.patches", "vision.class", "vision.tokens");
    g_.node("add", {"vision.tokens", "vision.position_embedding"}, {"vision.embedded"});
    weight("vision.pre.weight", "vision_model.pre_layrnorm.weight", {H}, why);
    weight("vision.pre.bias", "vision_model.pre_layrnorm.bias", {H}, why);
    layer_norm("vision.embedded", "vision.pre", "vision.h0", v.eps);
    const std::string h = encoder(v, "vision_model.", "vision.", "vision.h0", "");
    // last_hidden_state is the encoder's output; only the class token is post-normed.
    g_.node("slice", {h}, {"vision.class.out"}, Attrs().set("axis", 1).set("start", 0).set("end", 1));
    g_.node("reshape", {"vision.class.out"}, {"vision.class.state"}, Attrs().set("shape", Ints{0, H}));
    weight("vision.post.weight", "vision_model.post_layernorm.weight", {H}, why);
    weight("vision.post.bias", "vision_model.post_layernorm.bias", {H}, why);
    layer_norm("vision.class.state", "vision.post", "vision.pooled", v.eps);
    vision_last_ = h;
  }

  void project(const std::string& x, const std::string& tensor, int64_t hidden, const std::string& out) {
    weight(tensor, tensor, {c_.projection, hidden}, "config.json: projection_dim " + s(c_.projection) + ", hidden_size " + s(hidden));
    g_.node("linear", {x, tensor}, {out});
  }

  std::string text_last() const { return c_.kind == Kind::Model ? "text.last_hidden_state" : "last_hidden_state"; }

  void outputs() {
    switch (c_.kind) {
      case Kind::Model:
        // CLIPModel's embeddings are L2-normalised; its logits scale their cosine similarities.
        if (text_) {
          g_.node("l2_normalize", {"text.projected"}, {"text_embeds"});
          g_.output("text_embeds");
        }
        if (vision_) {
          g_.node("l2_normalize", {"vision.projected"}, {"image_embeds"});
          g_.output("image_embeds");
        }
        if (text_ && vision_) {
          weight("logit_scale", "logit_scale", {}, "CLIPModel's logit scale");
          g_.node("exp", {"logit_scale"}, {"scale"});
          g_.node("matmul", {"text_embeds", "image_embeds"}, {"similarity"}, Attrs().set("transpose_b", true));
          g_.node("mul", {"similarity", "scale"}, {"logits_per_text"});
          g_.node("transpose", {"logits_per_text"}, {"logits_per_image"}, Attrs().set("perm", Ints{1, 0}));
          g_.output("logits_per_image");
          g_.output("logits_per_text");
        }
        break;
      case Kind::Text:
        g_.node("reshape", {"text.pooled"}, {"pooler_output"}, Attrs().set("shape", Ints{0, c_.text.hidden}));
        g_.output("last_hidden_state");
        g_.output("pooler_output");
        break;
      case Kind::TextProjection:
        g_.node("reshape", {"text.projected"}, {"text_embeds"}, Attrs().set("shape", Ints{0, c_.projection}));
        g_.output("text_embeds");
        g_.output("last_hidden_state");
        break;
      case Kind::Vision:
        g_.node("reshape", {vision_last_}, {"last_hidden_state"}, Attrs().set("shape", Ints{0, 0, c_.vision.hidden}));
        g_.node("reshape", {"vision.pooled"}, {"pooler_output"}, Attrs().set("shape", Ints{0, c_.vision.hidden}));
        g_.output("last_hidden_state");
        g_.output("pooler_output");
        break;
      case Kind::VisionProjection:
        g_.node("reshape", {vision_last_}, {"last_hidden_state"}, Attrs().set("shape", Ints{0, 0, c_.vision.hidden}));
        g_.node("reshape", {"vision.projected"}, {"image_embeds"}, Attrs().set("shape", Ints{0, c_.projection}));
        g_.output("image_embeds");
        g_.output("last_hidden_state");
        break;
    }
  }

  std::string processing() {
    std::string tokenizer;
    if (text_) {
      TokenizerSetup t;  // CLIPTokenizer's defaults, then tokenizer_config.json's
      t.kind = "clip_bpe";
      t.special_tokens = {{"bos", "<|startoftext|>"}, {"eos", "<|endoftext|>"}, {"unk", "<|endoftext|>"}, {"pad", "<|endoftext|>"}};
      t.lowercase = true;
      t.frame_with_bos_eos = true;
      t.pad_to_longest = true;
      t.truncate = true;
      t.max_positions = c_.text.positions;
      t.vocab_size = c_.text.vocab;
      t.attention_mask = "attention_mask";
      tokenizer = tokenizer_section(r_.checkpoint_dir, t);
    }
    std::string image;
    if (vision_) {
      image = image_section(r_.checkpoint_dir, "CLIPImageProcessor");
    }
    // A task needs every reader of its graph's inputs; a reader the files give is kept without
    // one (CLIPModel's image processor where the tokenizer files are missing: preprocess, embed).
    if (tokenizer.empty() && image.empty()) return "";
    std::ostringstream y;
    y << "  version: 1\n" << tokenizer << image;
    if ((text_ && tokenizer.empty()) || (vision_ && image.empty())) return y.str();
    y << "  tasks:\n";
    if (text_ && vision_) y << "    - {task: zero-shot-image-classification, output: logits_per_image, function: softmax}\n";
    else if (text_) y << "    - {task: feature-extraction, output: " << (c_.kind == Kind::Text ? "pooler_output" : "text_embeds") << "}\n";
    else y << "    - {task: image-feature-extraction, output: " << (c_.kind == Kind::Vision ? "pooler_output" : "image_embeds") << "}\n";
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const ClipConfig& c_;
  bool text_, vision_;
  Weights w_;
  GraphWriter g_;
  std::string vision_last_;
};

std::vector<std::string> tasks_of(Kind kind) {
  switch (kind) {
    case Kind::Model: return {"zero-shot-image-classification", "feature-extraction", "image-feature-extraction"};
    case Kind::Text:
    case Kind::TextProjection: return {"feature-extraction"};
    case Kind::Vision:
    case Kind::VisionProjection: return {"image-feature-extraction"};
  }
  return {};
}

class ClipPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"clip", "clip_text_model", "clip_vision_model"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const ClipConfig config = read_config(request);
    const auto tasks = tasks_of(config.kind);
    check_task(request.task, tasks, config.architecture);
    bool text = config.has_text(), vision = config.has_vision();
    if (config.kind == Kind::Model && request.task == "feature-extraction") vision = false;
    if (config.kind == Kind::Model && request.task == "image-feature-extraction") text = false;
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config, text, vision).run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::ClipPlugin, "clip", "0.1.0",
                  "CLIP checkpoints in Hugging Face layout: CLIPModel, CLIPTextModel(WithProjection) and CLIPVisionModel(WithProjection)")
