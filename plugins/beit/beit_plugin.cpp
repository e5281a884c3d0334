// The BEiT model plugin: expands a Hugging Face BEiT checkpoint (config.json, the safetensors
// weights, preprocessor_config.json) into a Loom graph for BeitModel,
// BeitForImageClassification or BeitForMaskedImageModeling, with the semantics of transformers'
// modeling_beit.py (ARCHITECTURES.md 5): the patch embedding (masked patches replaced by the mask
// token before the CLS token goes in front), optional absolute positions, pre-LN layers whose
// attention adds a relative position bias (per layer, shared, or both summed; the index computed
// here, any stored one ignored as transformers ignores it), q and v biases without a k bias,
// layer scale lambda_1 / lambda_2, and mean pooling with its LayerNorm or the CLS token.
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
using Ints = std::vector<int64_t>;

enum class Head { Base, ImageClassification, MaskedImageModeling };

struct BeitConfig {
  Head head = Head::Base;
  std::string architecture;
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, channels = 0, vocab = 0;
  int64_t image_h = 0, image_w = 0, patch_h = 0, patch_w = 0;  // image_size, patch_size: an int or [height, width]
  double eps = 1e-12, layer_scale = 0.1;
  std::string act;
  bool mask_token = false, absolute = false, relative = false, shared_relative = false, mean_pooling = true;
  std::vector<std::string> labels;
  std::string problem_type;
  int64_t grid_h() const { return image_h / patch_h; }  // BeitPatchEmbeddings' patch_shape
  int64_t grid_w() const { return image_w / patch_w; }
  int64_t tokens() const { return grid_h() * grid_w() + 1; }
};

BeitConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  BeitConfig b;
  b.architecture = c.architecture("BeitModel");
  if (b.architecture == "BeitModel") b.head = Head::Base;
  else if (b.architecture == "BeitForImageClassification") b.head = Head::ImageClassification;
  else if (b.architecture == "BeitForMaskedImageModeling") b.head = Head::MaskedImageModeling;
  else c.fail("architectures", "'" + b.architecture + "' is not supported (BeitModel, BeitForImageClassification, BeitForMaskedImageModeling)");
  b.hidden = c.integer("hidden_size", 1, 1 << 16, 768);
  b.layers = c.integer("num_hidden_layers", 0, 1024, 12);
  b.heads = c.integer("num_attention_heads", 1, 1024, 12);
  if (b.hidden % b.heads != 0)
    c.fail("num_attention_heads", std::to_string(b.heads) + " does not divide hidden_size " + std::to_string(b.hidden));
  b.intermediate = c.integer("intermediate_size", 1, 1 << 18, 3072);
  b.eps = c.number("layer_norm_eps", 1e-12, true);
  read_size_pair(c, "image_size", 224, b.image_h, b.image_w);
  read_size_pair(c, "patch_size", 16, b.patch_h, b.patch_w);
  // The stride-patch_size convolution drops the pixels past the last whole patch, as in
  // transformers (patch_shape = image_size // patch_size, per side).
  if (b.image_h < b.patch_h || b.image_w < b.patch_w)
    c.fail("patch_size", size_text(b.patch_h, b.patch_w) + " is larger than image_size " + size_text(b.image_h, b.image_w));
  // The grid's tokens and, below, the relative index's T² entries are bounded.
  if (b.grid_h() * b.grid_w() > (1 << 20))
    c.fail("image_size", size_text(b.image_h, b.image_w) + " over patch_size " + size_text(b.patch_h, b.patch_w) +
                             " gives more than 2^20 patches");
  b.channels = c.integer("num_channels", 1, 64, 3);
  b.vocab = c.integer("vocab_size", 1, 1 << 24, 8192);
  check_not_pruned(c);
  b.act = read_activation(c, "hidden_act", "gelu");
  b.mask_token = c.flag("use_mask_token", false);
  b.absolute = c.flag("use_absolute_position_embeddings", false);
  b.relative = c.flag("use_relative_position_bias", false);
  b.shared_relative = c.flag("use_shared_relative_position_bias", false);
  b.mean_pooling = c.flag("use_mean_pooling", true);
  b.layer_scale = c.number("layer_scale_init_value", 0.1);
  if (b.head == Head::ImageClassification) {
    b.labels = read_labels(c);
    b.problem_type = read_problem_type(c);
  }
  // transformers computes the bias's window as image_size // patch_size with an int patch_size.
  if ((b.relative || b.shared_relative) && b.patch_h != b.patch_w)
    c.fail("patch_size", size_text(b.patch_h, b.patch_w) +
                             " with a relative position bias: transformers works out its window as the image size // patch_size, "
                             "an int");
  // The relative index holds tokens^2 entries, a constant written into the graph's text: at most
  // 2049 tokens (a 64x32 grid, beit-large-patch16-512's is 32x32) keep it about 25 MB, inside the
  // graph reader's 64 MiB (4097 tokens made 117 MB, refused after the plugin had written it).
  if ((b.relative || b.shared_relative) && b.tokens() > 2049)
    c.fail("image_size", size_text(b.image_h, b.image_w) + " over patch_size " + size_text(b.patch_h, b.patch_w) +
                             " gives a relative position bias over " + std::to_string(b.tokens()) +
                             " tokens, more than Loom's 2049");
  return b;
}

std::string s(int64_t v) { return std::to_string(v); }

// F.interpolate(mode="bilinear", align_corners=False) along one dim, from `in` to `out` samples,
// as a matrix [out, in]: output o reads source (o + 0.5)·in/out − 0.5 (clamped at 0) from its two
// neighbours, with PyTorch's float weights.
std::vector<double> bilinear_matrix(int64_t in, int64_t out) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    const float src = std::max(0.0f, scale * (static_cast<float>(o) + 0.5f) - 0.5f);
    const auto i0 = static_cast<int64_t>(src);
    const int64_t i1 = std::min(i0 + 1, in - 1);
    const float l1 = src - static_cast<float>(i0), l0 = 1.0f - l1;
    m[static_cast<size_t>(o * in + i0)] += l0;
    m[static_cast<size_t>(o * in + i1)] += l1;
  }
  return m;
}

// BEiT's relative position index [T, T] (T = gh·gw + 1) for a gh x gw grid, row-major: patch i
// and j at (r, c) give (r_i − r_j + gh − 1)(2gw − 1) + (c_i − c_j + gw − 1); the CLS query row is
// M, the CLS key column M + 1 and [0, 0] M + 2, with M = (2gh − 1)(2gw − 1).
std::vector<double> relative_index(int64_t gh, int64_t gw) {
  const int64_t T = gh * gw + 1, M = (2 * gh - 1) * (2 * gw - 1);
  std::vector<double> index(static_cast<size_t>(T * T));
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) {
      int64_t v;
      if (i == 0 && j == 0) v = M + 2;
      else if (i == 0) v = M;
      else if (j == 0) v = M + 1;
      else {
        const int64_t ri = (i - 1) / gw, ci = (i - 1) % gw, rj = (j - 1) / gw, cj = (j - 1) % gw;
        v = (ri - rj + gh - 1) * (2 * gw - 1) + (ci - cj + gw - 1);
      }
      index[static_cast<size_t>(i * T + j)] = static_cast<double>(v);
    }
  return index;
}

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const BeitConfig& c)
      : r_(r), c_(c), w_(r, "beit."),
        g_("beit", "Expanded by the beit model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture + ")") {}

  std::string run() {
    const int64_t H = c_.hidden, PH = c_.patch_h, PW = c_.patch_w, N = c_.grid_h() * c_.grid_w(), T = c_.tokens();
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(H));
    g_.metadata("num_hidden_layers", s(c_.layers));
    g_.input("pixel_values", "f32", {"batch", s(c_.channels), s(c_.image_h), s(c_.image_w)});
    const std::string why = "config.json: hidden_size " + s(H);
    weight("patch.weight", "embeddings.patch_embeddings.projection.weight", {H, c_.channels, PH, PW},
           why + ", num_channels " + s(c_.channels) + ", patch_size " + size_text(PH, PW));
    weight("patch.bias", "embeddings.patch_embeddings.projection.bias", {H}, why);
    weight("cls_token", "embeddings.cls_token", {1, 1, H}, why);
    patch_embedding(g_, "pixel_values", "patch.weight", "patch.bias", PH, PW, "patches", "patches");
    std::string patches = "patches";
    // Without the mask token (use_mask_token false, transformers' default) the head runs on every
    // patch as it is, and there is no bool_masked_pos to give (transformers fails on one).
    if (c_.head == Head::MaskedImageModeling && c_.mask_token) {
      // Masked patches become the mask token: e·(1 − w) + mask·w, w = bool_masked_pos [B, N, 1].
      g_.input("bool_masked_pos", "u8", {"batch", s(N)}, "0");
      g_.values(0, 1);
      weight("mask_token", "embeddings.mask_token", {1, 1, H}, why + ", use_mask_token true");
      g_.constant("one", "f32", {}, {1.0});
      g_.node("cast", {"bool_masked_pos"}, {"masked.f"}, Attrs().set("to", "f32"));
      g_.node("reshape", {"masked.f"}, {"masked.w"}, Attrs().set("shape", Ints{0, 0, 1}));
      g_.node("sub", {"one", "masked.w"}, {"masked.keep"});
      g_.node("mul", {"patches", "masked.keep"}, {"masked.kept"});
      g_.node("mul", {"mask_token", "masked.w"}, {"masked.tokens"});
      g_.node("add", {"masked.kept", "masked.tokens"}, {"patches.masked"});
      patches = "patches.masked";
    }
    const std::string first = c_.layers == 0 ? "hidden.last" : "hidden.0";
    prepend_token(g_, "cls_token", H, "pixel_values", patches, "cls", c_.absolute ? "tokens" : first);
    if (c_.absolute) {
      weight("position_embeddings", "embeddings.position_embeddings", {1, T, H},
             why + ", use_absolute_position_embeddings, " + s(N) + " patches plus CLS");
      g_.node("add", {"tokens", "position_embeddings"}, {first});
    }
    if (c_.relative || c_.shared_relative) {
      const int64_t gh = c_.grid_h(), gw = c_.grid_w(), oh = 2 * gh - 1, ow = 2 * gw - 1;
      g_.constant("relative_index", "i64", {T * T}, relative_index(gh, gw));
      if (gh != gw) {
        // The resampling of a rectangular grid's table (relative_bias): rows ow -> oh, columns oh -> ow.
        g_.constant("relative_rows", "f32", {oh, ow}, bilinear_matrix(ow, oh));
        g_.constant("relative_cols", "f32", {ow, oh}, bilinear_matrix(oh, ow));
      }
    }
    if (c_.shared_relative) relative_bias("shared", "encoder.relative_position_bias.relative_position_bias_table", "shared.bias");

    std::string h = "hidden.0";
    for (int64_t i = 0; i < c_.layers; ++i) h = layer(i, h, i + 1 == c_.layers ? "hidden.last" : "");
    outputs();
    g_.processing(processing());
    return g_.str();
  }

 private:
  void weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
    g_.weight(value, w_.require_base(tensor, shape, why));
  }
  void layer_norm(const std::string& x, const std::string& params, const std::string& out) {
    g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", c_.eps));
  }
  void linear(const std::string& x, const std::string& params, const std::string& out, bool bias, const std::string& act = "none") {
    Attrs a;
    if (act != "none") a.set("activation", act);
    g_.node("linear", {x, params + ".weight", bias ? params + ".bias" : ""}, {out}, a);
  }

  // bias[1, heads, T, T] = table[index[i, j], h] of the table `tensor` [(2gh−1)(2gw−1) + 3, heads].
  // transformers' BeitRelativePositionBias first passes the table's grid rows through a bilinear
  // resize to (2gh−1, 2gw−1), having read them as a (2gw−1) x (2gh−1) grid: an identity for a
  // square grid (left out), a resampling for a rectangular one, done here as it does it.
  void relative_bias(const std::string& p, const std::string& tensor, const std::string& out) {
    const int64_t gh = c_.grid_h(), gw = c_.grid_w(), T = c_.tokens(), oh = 2 * gh - 1, ow = 2 * gw - 1, M = oh * ow;
    weight(p + ".table", tensor, {M + 3, c_.heads},
           "the relative position bias of a " + s(gh) + "x" + s(gw) + " patch grid, num_attention_heads " + s(c_.heads));
    std::string table = p + ".table";
    if (gh != gw) {
      g_.node("slice", {table}, {p + ".grid"}, Attrs().set("axis", 0).set("start", int64_t{0}).set("end", M));
      g_.node("slice", {table}, {p + ".cls"}, Attrs().set("axis", 0).set("start", M));
      g_.node("reshape", {p + ".grid"}, {p + ".grid.wh"}, Attrs().set("shape", Ints{ow, oh, c_.heads}));
      g_.node("transpose", {p + ".grid.wh"}, {p + ".grid.image"}, Attrs().set("perm", Ints{2, 0, 1}));
      g_.node("matmul", {"relative_rows", p + ".grid.image"}, {p + ".grid.rows"});
      g_.node("matmul", {p + ".grid.rows", "relative_cols"}, {p + ".grid.resized"}, Attrs().set("transpose_b", true));
      g_.node("transpose", {p + ".grid.resized"}, {p + ".grid.hw"}, Attrs().set("perm", Ints{1, 2, 0}));
      g_.node("reshape", {p + ".grid.hw"}, {p + ".grid.rows.resized"}, Attrs().set("shape", Ints{M, c_.heads}));
      g_.node("concat", {p + ".grid.rows.resized", p + ".cls"}, {p + ".table.resized"}, Attrs().set("axis", 0));
      table = p + ".table.resized";
    }
    g_.node("gather", {table, "relative_index"}, {p + ".gathered"});
    g_.node("reshape", {p + ".gathered"}, {p + ".pairs"}, Attrs().set("shape", Ints{T, T, c_.heads}));
    g_.node("transpose", {p + ".pairs"}, {p + ".heads"}, Attrs().set("perm", Ints{2, 0, 1}));
    g_.node("reshape", {p + ".heads"}, {out}, Attrs().set("shape", Ints{1, c_.heads, T, T}));
  }

  // One BeitLayer; returns its output's name.
  std::string layer(int64_t i, const std::string& x, const std::string& out) {
    const int64_t H = c_.hidden, I = c_.intermediate, heads = c_.heads, d = H / heads;
    const std::string p = "layer." + s(i) + ".", t = "encoder.layer." + s(i) + ".";
    const std::string why = "config.json: hidden_size " + s(H) + ", num_hidden_layers " + s(c_.layers);
    for (const char* n : {"query", "key", "value"}) {
      weight(p + n + ".weight", t + "attention.attention." + n + ".weight", {H, H}, why);
      if (std::string(n) != "key") weight(p + n + ".bias", t + "attention.attention." + n + ".bias", {H}, why);
    }
    weight(p + "attn_out.weight", t + "attention.output.dense.weight", {H, H}, why);
    weight(p + "attn_out.bias", t + "attention.output.dense.bias", {H}, why);
    for (const char* n : {"layernorm_before", "layernorm_after"}) {
      weight(p + n + ".weight", t + n + ".weight", {H}, why);
      weight(p + n + ".bias", t + n + ".bias", {H}, why);
    }
    weight(p + "ffn_in.weight", t + "intermediate.dense.weight", {I, H}, why + ", intermediate_size " + s(I));
    weight(p + "ffn_in.bias", t + "intermediate.dense.bias", {I}, why + ", intermediate_size " + s(I));
    weight(p + "ffn_out.weight", t + "output.dense.weight", {H, I}, why + ", intermediate_size " + s(I));
    weight(p + "ffn_out.bias", t + "output.dense.bias", {H}, why);
    const bool scaled = c_.layer_scale > 0;
    if (scaled) {
      weight(p + "lambda_1", t + "lambda_1", {H}, why + ", layer_scale_init_value > 0");
      weight(p + "lambda_2", t + "lambda_2", {H}, why + ", layer_scale_init_value > 0");
    }

    // The additive bias on the scores: the layer's own table, the shared one, or their sum.
    std::string bias;
    if (c_.relative) relative_bias(p + "relative", t + "attention.attention.relative_position_bias.relative_position_bias_table", p + "relative.bias");
    if (c_.relative && c_.shared_relative) {
      g_.node("add", {p + "relative.bias", "shared.bias"}, {p + "bias"});
      bias = p + "bias";
    } else if (c_.relative) {
      bias = p + "relative.bias";
    } else if (c_.shared_relative) {
      bias = "shared.bias";
    }

    layer_norm(x, p + "layernorm_before", p + "normed");
    for (const char* n : {"query", "key", "value"}) {
      linear(p + "normed", p + n, p + n, std::string(n) != "key");
      g_.node("reshape", {p + n}, {p + n + ".heads"}, Attrs().set("shape", Ints{0, 0, heads, d}));
      g_.node("transpose", {p + n + ".heads"}, {p + n + ".t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
    }
    g_.node("attention", {p + "query.t", p + "key.t", p + "value.t", bias}, {p + "context.heads"},
            Attrs().set("scale", 1.0 / std::sqrt(static_cast<double>(d))));
    g_.node("transpose", {p + "context.heads"}, {p + "context.t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
    g_.node("reshape", {p + "context.t"}, {p + "context"}, Attrs().set("shape", Ints{0, 0, H}));
    linear(p + "context", p + "attn_out", p + "attn", true);
    if (scaled) g_.node("mul", {p + "attn", p + "lambda_1"}, {p + "attn.scaled"});
    g_.node("add", {scaled ? p + "attn.scaled" : p + "attn", x}, {p + "h"});
    layer_norm(p + "h", p + "layernorm_after", p + "h.normed");
    linear(p + "h.normed", p + "ffn_in", p + "ffn", true, c_.act);
    linear(p + "ffn", p + "ffn_out", p + "ffn.out", true);
    if (scaled) g_.node("mul", {p + "ffn.out", p + "lambda_2"}, {p + "ffn.scaled"});
    const std::string y = out.empty() ? p + "out" : out;
    g_.node("add", {scaled ? p + "ffn.scaled" : p + "ffn.out", p + "h"}, {y});
    return y;
  }

  void outputs() {
    const int64_t H = c_.hidden;
    const std::string why = "config.json: hidden_size " + s(H);
    // BeitModel's final norm is an Identity under mean pooling.
    if (c_.mean_pooling) {
      g_.node("reshape", {"hidden.last"}, {"last_hidden_state"}, Attrs().set("shape", Ints{0, 0, H}));
    } else {
      weight("layernorm.weight", "layernorm.weight", {H}, why + ", use_mean_pooling false");
      weight("layernorm.bias", "layernorm.bias", {H}, why + ", use_mean_pooling false");
      layer_norm("hidden.last", "layernorm", "last_hidden_state");
    }
    g_.output("last_hidden_state");
    if (c_.head == Head::MaskedImageModeling) {
      // The top-level LayerNorm, then lm_head over the patch tokens.
      const int64_t V = c_.vocab;
      g_.weight("mim.ln.weight", w_.require_head("layernorm.weight", {H}, "the masked-image-modeling head, " + why));
      g_.weight("mim.ln.bias", w_.require_head("layernorm.bias", {H}, "the masked-image-modeling head, " + why));
      g_.weight("lm_head.weight", w_.require_head("lm_head.weight", {V, H}, "the masked-image-modeling head, vocab_size " + s(V)));
      g_.weight("lm_head.bias", w_.require_head("lm_head.bias", {V}, "the masked-image-modeling head, vocab_size " + s(V)));
      layer_norm("last_hidden_state", "mim.ln", "mim.normed");
      g_.node("slice", {"mim.normed"}, {"mim.patches"}, Attrs().set("axis", 1).set("start", 1));
      g_.node("linear", {"mim.patches", "lm_head.weight", "lm_head.bias"}, {"logits"});
      g_.output("logits");
      return;
    }
    // BeitPooler: LayerNorm of the mean of the patch tokens, or the CLS token.
    if (c_.mean_pooling) {
      weight("pooler.weight", "pooler.layernorm.weight", {H}, "the pooler, " + why + ", use_mean_pooling");
      weight("pooler.bias", "pooler.layernorm.bias", {H}, "the pooler, " + why + ", use_mean_pooling");
      g_.node("slice", {"last_hidden_state"}, {"pool.patches"}, Attrs().set("axis", 1).set("start", 1));
      g_.node("reduce_mean", {"pool.patches"}, {"pool.mean"}, Attrs().set("axes", Ints{1}));
      layer_norm("pool.mean", "pooler", "pooler_output");
    } else {
      g_.node("slice", {"last_hidden_state"}, {"pool.cls"}, Attrs().set("axis", 1).set("start", 0).set("end", 1));
      g_.node("reshape", {"pool.cls"}, {"pooler_output"}, Attrs().set("shape", Ints{0, H}));
    }
    if (c_.head == Head::ImageClassification) {
      const int64_t L = static_cast<int64_t>(c_.labels.size());
      g_.weight("classifier.weight", w_.require_head("classifier.weight", {L, H}, "the classifier, num_labels " + s(L) + ", " + why));
      g_.weight("classifier.bias", w_.require_head("classifier.bias", {L}, "the classifier, num_labels " + s(L)));
      g_.node("linear", {"pooler_output", "classifier.weight", "classifier.bias"}, {"logits"});
      g_.output("logits");
    } else {
      g_.output("pooler_output");
    }
  }

  std::string processing() {
    const std::string image = image_section(r_.checkpoint_dir, "BeitImageProcessor");
    if (image.empty()) return "";
    std::ostringstream y;
    y << "  version: 1\n" << image << "  tasks:\n";
    if (c_.head == Head::ImageClassification) y << classification_task("image-classification", "logits", c_.labels, c_.problem_type);
    if (c_.head == Head::MaskedImageModeling) y << "    - {task: masked-image-modeling, output: logits}\n";
    else y << "    - {task: image-feature-extraction, output: last_hidden_state}\n";
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const BeitConfig& c_;
  Weights w_;
  GraphWriter g_;
};

std::vector<std::string> tasks_of(Head head) {
  switch (head) {
    case Head::Base: return {"image-feature-extraction"};
    case Head::ImageClassification: return {"image-classification", "image-feature-extraction"};
    case Head::MaskedImageModeling: return {"masked-image-modeling"};
  }
  return {};
}

class BeitPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"beit"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const BeitConfig config = read_config(request);
    check_task(request.task, tasks_of(config.head), config.architecture);
    sdk::ModelResult result;
    result.graph_yaml = Expander(request, config).run();
    return result;
  }
};

}  // namespace
}  // namespace loom::models

LOOM_MODEL_PLUGIN(loom::models::BeitPlugin, "beit", "0.1.0",
                  "BEiT checkpoints in Hugging Face layout: BeitModel, BeitForImageClassification and BeitForMaskedImageModeling")
