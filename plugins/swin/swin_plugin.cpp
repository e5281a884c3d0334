// The Swin model plugin: expands a Hugging Face Swin checkpoint (config.json, the safetensors
// weights, preprocessor_config.json) into a Loom graph for SwinModel or SwinForImageClassification,
// with the semantics of transformers' modeling_swin.py (ARCHITECTURES.md 4): the image padded to
// a multiple of the patch, a patch-embedding convolution and its LayerNorm, stages of pre-LN
// blocks that attend within windows (every second block over windows shifted by half a window,
// under the -100 mask between regions), patch merging between stages, the final LayerNorm, the
// mean over tokens (pooler_output) and the classifier on it.
//
// Every size follows from config.json's image_size, so the graph takes pixel values of that size
// only (transformers takes any size; Loom's graph fixes the windows, pads and masks it writes).
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

std::string s(int64_t v) { return std::to_string(v); }

enum class Head { Base, ImageClassification };

// The stored windows, pads and masks are sized by the patch grid: a grid beyond this many tokens
// (1024 x 1024; swin-large at 384 pixels has 96 x 96) is refused rather than expanded.
constexpr int64_t kMaxGridTokens = int64_t(1) << 20;

// One stage at the configured image size, as transformers' forward sees it.
struct Stage {
  int64_t dim = 0, heads = 0, depth = 0, intermediate = 0;
  int64_t height = 0, width = 0;        // its token map
  int64_t shift = 0;                    // of its odd blocks: window_size // 2, or 0 (clamped)
  int64_t padded_h = 0, padded_w = 0;   // the map padded to a multiple of the window
};

struct SwinConfig {
  Head head = Head::Base;
  std::string architecture;
  int64_t height = 0, width = 0, patch_h = 0, patch_w = 0, channels = 0, embed = 0, window = 0;  // patch_size: an int or [h, w]
  int64_t grid_h = 0, grid_w = 0;  // the patch grid of the image padded to a multiple of the patch
  double eps = 1e-5;
  bool qkv_bias = true;
  std::string act;
  std::vector<Stage> stages;
  std::vector<std::string> labels;
  std::string problem_type;
};

// depths / num_heads: a list of integers in [min, max], one per stage.
Ints read_list(const JsonFile& c, const std::string& key, int64_t min, int64_t max, const Ints& fallback) {
  if (!c.has(key)) return fallback;
  const nlohmann::json& j = c.json()[key];
  if (!j.is_array() || j.empty() || j.size() > 16) c.fail(key, "expected a list of 1 to 16 integers (one per stage), got " + j.dump());
  Ints out;
  for (const auto& e : j) {
    if (!e.is_number_integer() || (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(max)) ||
        e.get<int64_t>() < min || e.get<int64_t>() > max)
      c.fail(key, "expected integers from " + s(min) + " to " + s(max) + ", got " + j.dump());
    out.push_back(e.get<int64_t>());
  }
  return out;
}

// The stages as transformers' forward runs them: SwinEncoder halves the map after each stage,
// rounding up ((h + 1) // 2, as SwinPatchMerging pads odd sizes); SwinLayer's
// set_shift_and_window_size drops the shift where the map's smaller side is at most the window.
// A side below the window would take a window of that side, which transformers' attention cannot
// run: its relative position bias stays sized by config.window_size.
void plan_stages(const JsonFile& c, SwinConfig& v, const Ints& depths, const Ints& heads, double mlp_ratio) {
  int64_t h = v.grid_h, w = v.grid_w;
  for (size_t i = 0; i < depths.size(); ++i) {
    Stage st;
    st.dim = v.embed << i;
    if (st.dim > (int64_t(1) << 24)) c.fail("embed_dim", s(v.embed) + " doubled over " + s(depths.size()) + " stages is too wide");
    st.heads = heads[i];
    if (st.dim % st.heads != 0)
      c.fail("num_heads", s(st.heads) + " (stage " + s(i) + ") does not divide the stage's width " + s(st.dim) + " (embed_dim " +
                              s(v.embed) + " * 2^" + s(i) + ")");
    st.depth = depths[i];
    const double inter = std::floor(mlp_ratio * static_cast<double>(st.dim));  // int(mlp_ratio * dim)
    if (inter < 1 || inter > double(int64_t(1) << 26))
      c.fail("mlp_ratio", "gives no intermediate size from 1 to 2^26 for stage " + s(i) + "'s width " + s(st.dim));
    st.intermediate = static_cast<int64_t>(inter);
    st.height = h;
    st.width = w;
    if (std::min(h, w) < v.window)
      c.fail("window_size", s(v.window) + " is larger than stage " + s(i) + "'s " + s(h) + "x" + s(w) + " map (image_size " + s(v.height) +
                                "x" + s(v.width) + ", patch_size " + size_text(v.patch_h, v.patch_w) +
                                "); transformers sizes the relative position bias by window_size and cannot run it");
    st.shift = std::min(h, w) <= v.window ? 0 : v.window / 2;
    st.padded_h = h + (v.window - h % v.window) % v.window;
    st.padded_w = w + (v.window - w % v.window) % v.window;
    v.stages.push_back(st);
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
}

SwinConfig read_config(const sdk::ModelRequest& r) {
  const JsonFile c(r.checkpoint_dir + "/config.json", r.config_json);
  SwinConfig v;
  v.architecture = c.architecture("SwinModel");
  if (v.architecture == "SwinModel") v.head = Head::Base;
  else if (v.architecture == "SwinForImageClassification") v.head = Head::ImageClassification;
  else c.fail("architectures", "'" + v.architecture + "' is not supported (SwinModel, SwinForImageClassification)");
  read_size_pair(c, "image_size", 224, v.height, v.width);  // an int or [height, width]
  read_size_pair(c, "patch_size", 4, v.patch_h, v.patch_w);  // SwinPatchEmbeddings takes an int or a pair
  v.channels = c.integer("num_channels", 1, 64, 3);
  v.embed = c.integer("embed_dim", 1, 1 << 16, 96);
  const Ints depths = read_list(c, "depths", 0, 1024, {2, 2, 6, 2});
  const Ints heads = read_list(c, "num_heads", 1, 1024, {3, 6, 12, 24});
  if (heads.size() != depths.size())
    c.fail("num_heads", "has " + s(heads.size()) + " entries, depths has " + s(depths.size()) + " (one per stage)");
  v.window = c.integer("window_size", 1, 1 << 16, 7);
  const double mlp_ratio = c.number("mlp_ratio", 4.0, true);
  v.qkv_bias = c.flag("qkv_bias", true);
  v.eps = c.number("layer_norm_eps", 1e-5, true);
  if (c.flag("use_absolute_embeddings", false))
    c.fail("use_absolute_embeddings", "true is not supported (transformers adds a table of num_patches + 1 rows to num_patches tokens)");
  check_not_pruned(c);
  v.act = read_activation(c, "hidden_act", "gelu");
  // SwinPatchEmbeddings.maybe_pad: the image is padded on the right and bottom to whole patches.
  v.grid_h = (v.height + v.patch_h - 1) / v.patch_h;
  v.grid_w = (v.width + v.patch_w - 1) / v.patch_w;
  if (v.grid_h * v.grid_w > kMaxGridTokens)
    c.fail("image_size", s(v.height) + "x" + s(v.width) + " with patch_size " + size_text(v.patch_h, v.patch_w) + " gives a " + s(v.grid_h) + "x" + s(v.grid_w) +
                             " patch grid, more than Loom's limit of " + s(kMaxGridTokens) + " tokens");
  plan_stages(c, v, depths, heads, mlp_ratio);
  if (v.head == Head::ImageClassification) {
    v.labels = read_labels(c);
    v.problem_type = read_problem_type(c);
  }
  return v;
}

class Expander {
 public:
  Expander(const sdk::ModelRequest& r, const SwinConfig& c)
      : r_(r), c_(c), w_(r, "swin."),
        g_("swin", "Expanded by the swin model plugin from " + r.checkpoint_dir + "/config.json (" + c.architecture + ")") {}

  std::string run() {
    const int64_t C = c_.embed, PH = c_.patch_h, PW = c_.patch_w, last = c_.stages.back().dim;
    g_.metadata("architecture", c_.architecture);
    g_.metadata("hidden_size", s(last));
    g_.metadata("num_layers", s(static_cast<int64_t>(c_.stages.size())));
    g_.input("pixel_values", "f32", {"batch", s(c_.channels), s(c_.height), s(c_.width)});

    const std::string why = "config.json: embed_dim " + s(C);
    weight("patch.weight", "embeddings.patch_embeddings.projection.weight", {C, c_.channels, PH, PW},
           why + ", num_channels " + s(c_.channels) + ", patch_size " + size_text(c_.patch_h, c_.patch_w));
    weight("patch.bias", "embeddings.patch_embeddings.projection.bias", {C}, why);
    weight("patch.norm.weight", "embeddings.norm.weight", {C}, why);
    weight("patch.norm.bias", "embeddings.norm.bias", {C}, why);

    std::string pixels = "pixel_values";
    const int64_t pad_h = c_.grid_h * PH - c_.height, pad_w = c_.grid_w * PW - c_.width;
    if (pad_h > 0 || pad_w > 0) {
      g_.node("pad", {pixels}, {"pixels.padded"}, Attrs().set("before", Ints{0, 0, 0, 0}).set("after", Ints{0, 0, pad_h, pad_w}));
      pixels = "pixels.padded";
    }
    patch_embedding(g_, pixels, "patch.weight", "patch.bias", PH, PW, "patches", "patches");
    // SwinEmbeddings.norm is nn.LayerNorm(embed_dim): torch's default eps, not layer_norm_eps.
    g_.node("layer_norm", {"patches", "patch.norm.weight", "patch.norm.bias"}, {"embeddings"}, Attrs().set("epsilon", 1e-5));

    std::string h = "embeddings";
    for (size_t i = 0; i < c_.stages.size(); ++i) {
      h = stage(static_cast<int64_t>(i), h);
      if (i + 1 < c_.stages.size()) h = merge(static_cast<int64_t>(i), h);
    }
    weight("layernorm.weight", "layernorm.weight", {last}, "the final LayerNorm, width " + s(last));
    weight("layernorm.bias", "layernorm.bias", {last}, "the final LayerNorm, width " + s(last));
    g_.node("layer_norm", {h, "layernorm.weight", "layernorm.bias"}, {"last_hidden_state"}, Attrs().set("epsilon", c_.eps));
    // SwinModel's pooler: AdaptiveAvgPool1d(1) over the tokens.
    g_.node("reduce_mean", {"last_hidden_state"}, {"pooler_output"}, Attrs().set("axes", Ints{1}));
    if (c_.head == Head::ImageClassification) {
      const int64_t L = static_cast<int64_t>(c_.labels.size());
      g_.weight("classifier.weight", w_.require_head("classifier.weight", {L, last}, "the classifier, num_labels " + s(L) + ", width " + s(last)));
      g_.weight("classifier.bias", w_.require_head("classifier.bias", {L}, "the classifier, num_labels " + s(L)));
      g_.node("linear", {"pooler_output", "classifier.weight", "classifier.bias"}, {"logits"});
      g_.output("logits");
    }
    g_.output("last_hidden_state");
    g_.output("pooler_output");
    g_.processing(processing());
    return g_.str();
  }

 private:
  void weight(const std::string& value, const std::string& tensor, const Ints& shape, const std::string& why) {
    g_.weight(value, w_.require_base(tensor, shape, why));
  }

  void linear(const std::string& x, const std::string& params, const std::string& out, bool bias, const std::string& act = "none") {
    Attrs a;
    if (act != "none") a.set("activation", act);
    g_.node("linear", {x, params + ".weight", bias ? params + ".bias" : ""}, {out}, a);
  }

  void layer_norm(const std::string& x, const std::string& params, const std::string& out, double eps) {
    g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", eps));
  }

  int64_t tokens() const { return c_.window * c_.window; }

  // SwinSelfAttention's relative_position_index, once for the graph, computed from the in-window
  // coordinates as transformers computes its buffer: (r_i - r_j + ws - 1) * (2ws - 1) +
  // (c_i - c_j + ws - 1) for tokens i, j (row r = k // ws, column c = k % ws). Small windows fold
  // into a constant when the graph is compiled.
  const std::string& relative_index() {
    if (!relative_index_.empty()) return relative_index_;
    const int64_t ws = c_.window, T = tokens();
    std::vector<double> rows, cols;
    for (int64_t k = 0; k < T; ++k) {
      rows.push_back(static_cast<double>(k / ws));
      cols.push_back(static_cast<double>(k % ws));
    }
    const std::string p = "relative_position.";
    g_.constant(p + "rows", "i64", {T}, rows);
    g_.constant(p + "cols", "i64", {T}, cols);
    g_.constant(p + "offset", "i64", {}, {static_cast<double>(ws - 1)});
    g_.constant(p + "stride", "i64", {}, {static_cast<double>(2 * ws - 1)});
    for (const char* axis : {"rows", "cols"}) {
      const std::string a = p + axis;
      g_.node("reshape", {a}, {a + ".i"}, Attrs().set("shape", Ints{T, 1}));
      g_.node("reshape", {a}, {a + ".j"}, Attrs().set("shape", Ints{1, T}));
      g_.node("sub", {a + ".i", a + ".j"}, {a + ".diff"});
      g_.node("add", {a + ".diff", p + "offset"}, {a + ".shifted"});
    }
    g_.node("mul", {p + "rows.shifted", p + "stride"}, {p + "rows.scaled"});
    g_.node("add", {p + "rows.scaled", p + "cols.shifted"}, {p + "index"});
    relative_index_ = p + "index";
    return relative_index_;
  }

  // SwinLayer.get_attn_mask for the stage's shifted blocks, [nW, 1, T, T]: each token of the
  // padded map gets a region id by transformers' slices (height ranges outer, width inner:
  // [0, H - ws), [H - ws, H - shift), [H - shift, H)), the ids are partitioned into windows
  // like the map, and a pair of tokens of different regions gets -100 (not -inf), the same 0.
  // The plugin writes the ids; the graph turns their differences into the mask by a gather from
  // a table of 17 entries, so that the constant stays the size of the map.
  std::string shift_mask(int64_t i) {
    const Stage& st = c_.stages[static_cast<size_t>(i)];
    const int64_t ws = c_.window, T = tokens(), Hp = st.padded_h, Wp = st.padded_w, shift = st.shift;
    const int64_t nh = Hp / ws, nw = Wp / ws, windows = nh * nw;
    auto region = [&](int64_t x, int64_t n) { return x < n - ws ? 0 : x < n - shift ? 1 : 2; };
    std::vector<double> ids(static_cast<size_t>(windows * T));
    for (int64_t y = 0; y < Hp; ++y)
      for (int64_t x = 0; x < Wp; ++x) {
        const int64_t window = (y / ws) * nw + x / ws, token = (y % ws) * ws + x % ws;
        ids[static_cast<size_t>(window * T + token)] = static_cast<double>(region(y, Hp) * 3 + region(x, Wp));
      }
    const std::string p = "layers." + s(i) + ".shift_mask.";
    g_.constant(p + "regions", "i64", {windows, T}, ids);
    // d = id_j - id_i lies in [-8, 8]; entry d + 8 of the table is 0 for d == 0, else -100.
    std::vector<double> table(17, -100.0);
    table[8] = 0.0;
    g_.constant(p + "table", "f32", {17}, table);
    g_.constant(p + "offset", "i64", {}, {8.0});
    g_.node("reshape", {p + "regions"}, {p + "keys"}, Attrs().set("shape", Ints{windows, 1, T}));
    g_.node("reshape", {p + "regions"}, {p + "queries"}, Attrs().set("shape", Ints{windows, T, 1}));
    g_.node("sub", {p + "keys", p + "queries"}, {p + "diff"});
    g_.node("add", {p + "diff", p + "offset"}, {p + "code"});
    g_.node("gather", {p + "table", p + "code"}, {p + "values"});
    g_.node("reshape", {p + "values"}, {p + "mask"}, Attrs().set("shape", Ints{windows, 1, T, T}));
    return p + "mask";
  }

  std::string stage(int64_t i, std::string x) {
    const Stage& st = c_.stages[static_cast<size_t>(i)];
    std::string mask;
    if (st.shift > 0 && st.depth > 1) mask = shift_mask(i);
    for (int64_t b = 0; b < st.depth; ++b) x = block(i, b, x, b % 2 == 1 ? mask : "");
    return x;
  }

  // One SwinLayer on [B, H·W, C]; `mask` is the stage's shift mask for a shifted block, "" for
  // the others. Returns its output's name.
  std::string block(int64_t i, int64_t b, const std::string& x, const std::string& mask) {
    const Stage& st = c_.stages[static_cast<size_t>(i)];
    const int64_t C = st.dim, heads = st.heads, d = C / heads, I = st.intermediate, ws = c_.window, T = tokens();
    const int64_t H = st.height, W = st.width, Hp = st.padded_h, Wp = st.padded_w, nh = Hp / ws, nw = Wp / ws, windows = nh * nw;
    const bool shifted = !mask.empty();
    const std::string p = "layers." + s(i) + ".blocks." + s(b) + ".", t = "encoder.layers." + s(i) + ".blocks." + s(b) + ".";
    const std::string why = "config.json: stage " + s(i) + " of width " + s(C) + " (embed_dim " + s(c_.embed) + ")";
    const std::string why_h = why + ", num_heads " + s(heads) + ", window_size " + s(ws);
    const std::string why_i = why + ", mlp_ratio: intermediate size " + s(I);
    weight(p + "ln_before.weight", t + "layernorm_before.weight", {C}, why);
    weight(p + "ln_before.bias", t + "layernorm_before.bias", {C}, why);
    weight(p + "bias_table", t + "attention.self.relative_position_bias_table", {(2 * ws - 1) * (2 * ws - 1), heads}, why_h);
    // transformers loads the saved buffer over the one it computes, so a stored index is used as
    // stored (an entry outside the table is a run-time error of the gather); a file without it
    // gets transformers' own.
    std::string index;
    if (auto stored = w_.base_index(t + "attention.self.relative_position_index", {T, T}, "config.json: window_size " + s(ws))) {
      g_.weight(p + "relative_index", *stored);
      index = p + "relative_index";
    } else {
      index = relative_index();
    }
    for (const char* n : {"query", "key", "value"}) {
      weight(p + n + ".weight", t + "attention.self." + n + ".weight", {C, C}, why);
      if (c_.qkv_bias) weight(p + n + ".bias", t + "attention.self." + n + ".bias", {C}, why + ", qkv_bias true");
    }
    weight(p + "attn_out.weight", t + "attention.output.dense.weight", {C, C}, why);
    weight(p + "attn_out.bias", t + "attention.output.dense.bias", {C}, why);
    weight(p + "ln_after.weight", t + "layernorm_after.weight", {C}, why);
    weight(p + "ln_after.bias", t + "layernorm_after.bias", {C}, why);
    weight(p + "ffn_in.weight", t + "intermediate.dense.weight", {I, C}, why_i);
    weight(p + "ffn_in.bias", t + "intermediate.dense.bias", {I}, why_i);
    weight(p + "ffn_out.weight", t + "output.dense.weight", {C, I}, why_i);
    weight(p + "ffn_out.bias", t + "output.dense.bias", {C}, why_i);

    // The map: normed, padded on the right and bottom to whole windows (padded tokens take part
    // in attention, as in transformers), rolled up and left by the shift.
    layer_norm(x, p + "ln_before", p + "normed", c_.eps);
    g_.node("reshape", {p + "normed"}, {p + "map"}, Attrs().set("shape", Ints{0, H, W, C}));
    std::string map = p + "map";
    if (Hp != H || Wp != W) {
      g_.node("pad", {map}, {p + "map.padded"}, Attrs().set("before", Ints{0, 0, 0, 0}).set("after", Ints{0, Hp - H, Wp - W, 0}));
      map = p + "map.padded";
    }
    if (shifted) {
      g_.node("roll", {map}, {p + "map.rolled"}, Attrs().set("shifts", Ints{-st.shift, -st.shift}).set("axes", Ints{1, 2}));
      map = p + "map.rolled";
    }
    // window_partition: [B, nh, ws, nw, ws, C] -> [B, nh, nw, ws, ws, C] -> [B, nW, T, C], the
    // windows row by row, each one's tokens row by row.
    g_.node("reshape", {map}, {p + "grid"}, Attrs().set("shape", Ints{0, nh, ws, nw, ws, C}));
    g_.node("transpose", {p + "grid"}, {p + "grid.t"}, Attrs().set("perm", Ints{0, 1, 3, 2, 4, 5}));
    g_.node("reshape", {p + "grid.t"}, {p + "windows"}, Attrs().set("shape", Ints{0, windows, T, C}));

    // Heads: [B, nW, heads, T, d]. Unshifted blocks attend as B·nW rows of `heads` heads under the
    // bias [1, heads, T, T]; shifted ones as B rows of nW·heads heads, so that the per-window mask
    // [1, nW·heads, T, T] broadcasts over the batch (the same memory either way).
    const Ints layout = shifted ? Ints{0, windows * heads, T, d} : Ints{-1, heads, T, d};
    for (const char* n : {"query", "key", "value"}) {
      linear(p + "windows", p + n, p + n, c_.qkv_bias);
      g_.node("reshape", {p + n}, {p + n + ".split"}, Attrs().set("shape", Ints{0, windows, T, heads, d}));
      g_.node("transpose", {p + n + ".split"}, {p + n + ".t"}, Attrs().set("perm", Ints{0, 1, 3, 2, 4}));
      g_.node("reshape", {p + n + ".t"}, {p + n + ".heads"}, Attrs().set("shape", layout));
    }
    // The relative position bias: table[index] -> [T, T, heads] -> [heads, T, T], plus the mask.
    g_.node("gather", {p + "bias_table", index}, {p + "bias.rows"});
    g_.node("transpose", {p + "bias.rows"}, {p + "bias"}, Attrs().set("perm", Ints{2, 0, 1}));
    if (shifted) {
      g_.node("add", {p + "bias", mask}, {p + "bias.masked"});
      g_.node("reshape", {p + "bias.masked"}, {p + "scores_bias"}, Attrs().set("shape", Ints{1, windows * heads, T, T}));
    } else {
      g_.node("reshape", {p + "bias"}, {p + "scores_bias"}, Attrs().set("shape", Ints{1, heads, T, T}));
    }
    g_.node("attention", {p + "query.heads", p + "key.heads", p + "value.heads", p + "scores_bias"}, {p + "context.heads"},
            Attrs().set("scale", 1.0 / std::sqrt(static_cast<double>(d))));
    g_.node("reshape", {p + "context.heads"}, {p + "context.split"}, Attrs().set("shape", Ints{-1, windows, heads, T, d}));
    g_.node("transpose", {p + "context.split"}, {p + "context.t"}, Attrs().set("perm", Ints{0, 1, 3, 2, 4}));
    g_.node("reshape", {p + "context.t"}, {p + "context"}, Attrs().set("shape", Ints{0, windows, T, C}));
    linear(p + "context", p + "attn_out", p + "attn", true);

    // window_reverse, the roll back, the crop to the map, the tokens again.
    g_.node("reshape", {p + "attn"}, {p + "attn.grid"}, Attrs().set("shape", Ints{0, nh, nw, ws, ws, C}));
    g_.node("transpose", {p + "attn.grid"}, {p + "attn.grid.t"}, Attrs().set("perm", Ints{0, 1, 3, 2, 4, 5}));
    g_.node("reshape", {p + "attn.grid.t"}, {p + "attn.map"}, Attrs().set("shape", Ints{0, Hp, Wp, C}));
    std::string out = p + "attn.map";
    if (shifted) {
      g_.node("roll", {out}, {p + "attn.unrolled"}, Attrs().set("shifts", Ints{st.shift, st.shift}).set("axes", Ints{1, 2}));
      out = p + "attn.unrolled";
    }
    if (Hp != H) {
      g_.node("slice", {out}, {p + "attn.rows"}, Attrs().set("axis", 1).set("start", 0).set("end", H));
      out = p + "attn.rows";
    }
    if (Wp != W) {
      g_.node("slice", {out}, {p + "attn.cropped"}, Attrs().set("axis", 2).set("start", 0).set("end", W));
      out = p + "attn.cropped";
    }
    g_.node("reshape", {out}, {p + "attn.tokens"}, Attrs().set("shape", Ints{0, H * W, C}));
    g_.node("add", {x, p + "attn.tokens"}, {p + "h"});
    layer_norm(p + "h", p + "ln_after", p + "h.normed", c_.eps);
    linear(p + "h.normed", p + "ffn_in", p + "ffn", true, c_.act);
    linear(p + "ffn", p + "ffn_out", p + "ffn.out", true);
    g_.node("add", {p + "h", p + "ffn.out"}, {p + "out"});
    return p + "out";
  }

  // SwinPatchMerging after stage i: the map padded to even sides, the channels of the tokens at
  // (row, column) offsets (0,0), (1,0), (0,1), (1,1) of each 2x2 cell concatenated in that order,
  // LayerNorm(4C) with torch's default eps, and the reduction to 2C without bias.
  std::string merge(int64_t i, const std::string& x) {
    const Stage& st = c_.stages[static_cast<size_t>(i)];
    const int64_t C = st.dim, H = st.height, W = st.width;
    const std::string p = "layers." + s(i) + ".merge.", t = "encoder.layers." + s(i) + ".downsample.";
    const std::string why = "config.json: patch merging after stage " + s(i) + " of width " + s(C);
    weight(p + "norm.weight", t + "norm.weight", {4 * C}, why);
    weight(p + "norm.bias", t + "norm.bias", {4 * C}, why);
    weight(p + "reduction.weight", t + "reduction.weight", {2 * C, 4 * C}, why);
    g_.node("reshape", {x}, {p + "map"}, Attrs().set("shape", Ints{0, H, W, C}));
    std::string map = p + "map";
    if (H % 2 == 1 || W % 2 == 1) {
      g_.node("pad", {map}, {p + "map.padded"}, Attrs().set("before", Ints{0, 0, 0, 0}).set("after", Ints{0, H % 2, W % 2, 0}));
      map = p + "map.padded";
    }
    std::vector<std::string> parts;
    for (const auto& [row, col] : {std::pair{0, 0}, std::pair{1, 0}, std::pair{0, 1}, std::pair{1, 1}}) {
      const std::string rows = p + "rows" + s(row), part = p + "part" + s(row) + s(col);
      if (col == 0) g_.node("slice", {map}, {rows}, Attrs().set("axis", 1).set("start", row).set("step", 2));
      g_.node("slice", {rows}, {part}, Attrs().set("axis", 2).set("start", col).set("step", 2));
      parts.push_back(part);
    }
    g_.node("concat", parts, {p + "cells"}, Attrs().set("axis", 3));
    g_.node("reshape", {p + "cells"}, {p + "tokens"}, Attrs().set("shape", Ints{0, ((H + 1) / 2) * ((W + 1) / 2), 4 * C}));
    layer_norm(p + "tokens", p + "norm", p + "normed", 1e-5);
    linear(p + "normed", p + "reduction", p + "out", false);
    return p + "out";
  }

  std::string processing() {
    // AutoImageProcessor maps swin to ViTImageProcessor: its defaults under the file's settings.
    const std::string image = image_section(r_.checkpoint_dir, "ViTImageProcessor");
    if (image.empty()) return "";
    std::ostringstream y;
    y << "  version: 1\n" << image << "  tasks:\n";
    if (c_.head == Head::ImageClassification) y << classification_task("image-classification", "logits", c_.labels, c_.problem_type);
    y << "    - {task: image-feature-extraction, output: last_hidden_state}\n";
    return y.str();
  }

  const sdk::ModelRequest& r_;
  const SwinConfig& c_;
  Weights w_;
  GraphWriter g_;
  std::string relative_index_;
};

class SwinPlugin : public sdk::ModelPlugin {
 public:
  std::vector<std::string> architectures() const override { return {"swin"}; }
  sdk::ModelResult expand(const sdk::ModelRequest& request) override {
    const SwinConfig config = read_config(request);
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

LOOM_MODEL_PLUGIN(loom::models::SwinPlugin, "swin", "0.1.0",
                  "Swin checkpoints in Hugging Face layout: SwinModel and SwinForImageClassification")
