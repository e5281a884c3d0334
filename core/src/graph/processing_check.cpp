// Checks a processing section on its own (ranges, required companions of each do_* flag,
// special-token ids inside the vocabulary) and against its graph: every name it binds is a graph
// input, output or state of the right kind, dtype and rank.
#include "graph/processing.hpp"
#include "graph/yaml_scalar.hpp"

#include <loom/error.hpp>

#include <cmath>
#include <map>
#include <set>

namespace loom {

namespace {

const std::set<std::string>& special_roles() {
  static const std::set<std::string> roles = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  return roles;
}

class Checker {
 public:
  Checker(const Graph& g, const yaml::Positions& positions) : g_(g), positions_(positions) {}

  void run(const Processing& p) {
    if (p.version != 1) fail("processing.version", "unsupported processing version " + std::to_string(p.version) + " (expected 1)");
    if (p.tokenizer) tokenizer(*p.tokenizer);
    if (p.image) image(*p.image);
    if (p.generation) generation(*p.generation, p);
    std::set<std::string> tasks;
    for (size_t i = 0; i < p.tasks.size(); ++i) task(p.tasks[i], "processing.tasks[" + std::to_string(i) + "]", p, tasks);
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    auto it = positions_.find(key);
    yaml::fail(yaml::Where{key, it != positions_.end() ? it->second : SourceLoc{g_.path.string()}}, what);
  }

  // `name`, bound at `key`, must be a graph input of `dtype` (any when unset) and `rank`.
  void input(const std::string& key, const std::string& name, std::optional<DType> dtype, size_t rank, const char* role) const {
    const GraphInput* found = nullptr;
    std::string all;
    for (const auto& in : g_.inputs) {
      if (in.name == name) found = &in;
      all += (all.empty() ? "" : ", ") + in.name;
    }
    if (!found) fail(key, "'" + name + "' is not a graph input (graph inputs: " + (all.empty() ? "none" : all) + ")");
    const TensorInfo& t = found->info;
    if ((dtype && t.dtype != *dtype) || t.shape.size() != rank)
      fail(key, "graph input '" + name + "' is " + std::string(dtype_name(t.dtype)) + " " + sym_shape_str(t.shape) + "; " + role +
                    " needs " + (dtype ? std::string(dtype_name(*dtype)) + " of rank " : "rank ") + std::to_string(rank));
  }

  void output(const std::string& key, const std::string& name) const {
    std::string all;
    for (const auto& o : g_.outputs) {
      if (o.name == name) return;
      all += (all.empty() ? "" : ", ") + o.name;
    }
    fail(key, "'" + name + "' is not a graph output (graph outputs: " + (all.empty() ? "none" : all) + ")");
  }

  // Each graph input feeds one role: two roles naming one input is a mistake.
  void distinct(const std::vector<std::pair<std::string, std::string>>& bindings) const {
    std::map<std::string, std::string> seen;
    for (const auto& [key, name] : bindings) {
      if (name.empty()) continue;
      auto [it, fresh] = seen.emplace(name, key);
      if (!fresh) fail(key, "graph input '" + name + "' is already bound by " + it->second);
    }
  }

  void at_least(const std::string& key, int64_t v, int64_t min) const {
    if (v < min) fail(key, "expected at least " + std::to_string(min) + ", found " + std::to_string(v));
  }

  void token_id(const std::string& key, int64_t id, const TokenizerSpec* t) const {
    if (id < 0) fail(key, "a token id may not be negative, found " + std::to_string(id));
    if (t && id >= t->vocab_size)
      fail(key, "token id " + std::to_string(id) + " is outside the vocabulary (tokenizer.vocab_size " + std::to_string(t->vocab_size) + ")");
  }

  void tokenizer(const TokenizerSpec& t) const {
    const std::string k = "processing.tokenizer";
    const TokenizerFiles& f = t.files;
    const bool bpe = t.kind != TokenizerKind::WordPiece;
    if (!f.tokenizer.empty() && (!f.vocab.empty() || !f.merges.empty()))
      fail(k + ".files", "give either `tokenizer` (tokenizer.json) or the vocabulary files, not both");
    if (f.tokenizer.empty() && f.vocab.empty())
      fail(k + ".files", bpe ? "a BPE tokenizer needs `vocab` (vocab.json) and `merges` (merges.txt), or `tokenizer` (tokenizer.json)"
                             : "a wordpiece tokenizer needs `vocab` (vocab.txt) or `tokenizer` (tokenizer.json)");
    if (bpe && !f.vocab.empty() && f.merges.empty()) fail(k + ".files", "a BPE tokenizer needs `merges` (merges.txt) beside `vocab`");
    if (!bpe && !f.merges.empty()) fail(k + ".files.merges", "`merges` applies to BPE tokenizers only");
    if (t.kind != TokenizerKind::WordPiece && !t.tokenize_chinese_chars)
      fail(k + ".tokenize_chinese_chars", "applies to `kind: wordpiece` only");
    if (t.kind != TokenizerKind::ByteLevelBpe && t.add_prefix_space) fail(k + ".add_prefix_space", "applies to `kind: byte_level_bpe` only");
    if (t.kind == TokenizerKind::ClipBpe && t.strip_accents.value_or(false)) fail(k + ".strip_accents", "CLIP's tokenizer never strips accents");
    if (t.replace_file_options && t.kind == TokenizerKind::ClipBpe)
      fail(k + ".replace_file_options", "applies to `kind: wordpiece` and `kind: byte_level_bpe` only");
    if (t.replace_file_options && f.tokenizer.empty())
      fail(k + ".replace_file_options", "replaces a tokenizer.json's options, and `files` names none");
    at_least(k + ".vocab_size", t.vocab_size, 1);
    for (const auto& [role, s] : t.special_tokens) {
      const std::string sk = k + ".special_tokens." + role;
      if (!special_roles().count(role)) fail(sk, "unknown special-token role (allowed: bos, eos, unk, sep, pad, cls, mask)");
      if (s.token.empty()) fail(sk + ".token", "a special token's text may not be empty");
      token_id(sk + ".id", s.id, &t);
    }
    std::map<std::string, size_t> tokens;
    std::map<int64_t, size_t> ids;
    for (size_t i = 0; i < t.added_tokens.size(); ++i) {
      const AddedTokenSpec& a = t.added_tokens[i];
      const std::string ak = k + ".added_tokens[" + std::to_string(i) + "]";
      if (a.token.empty()) fail(ak + ".token", "an added token's text may not be empty");
      token_id(ak + ".id", a.id, &t);
      if (auto [it, fresh] = tokens.emplace(a.token, i); !fresh)
        fail(ak + ".token", "the same text is listed twice (also added_tokens[" + std::to_string(it->second) + "])");
      if (auto [it, fresh] = ids.emplace(a.id, i); !fresh)
        fail(ak + ".id", "id " + std::to_string(a.id) + " is listed twice (also added_tokens[" + std::to_string(it->second) + "])");
    }
    if (t.post_processor) post_processor(*t.post_processor, t);
    at_least(k + ".max_length", t.max_length, 1);
    if (t.padding != Padding::None && !t.special_tokens.count("pad"))
      fail(k + ".padding", "padding needs a `pad` entry in special_tokens");
    input(k + ".inputs.input_ids", t.input_ids, DType::i64, 2, "tokenizer.inputs.input_ids");
    if (!t.token_type_ids.empty()) input(k + ".inputs.token_type_ids", t.token_type_ids, DType::i64, 2, "tokenizer.inputs.token_type_ids");
    if (!t.attention_mask.empty()) input(k + ".inputs.attention_mask", t.attention_mask, std::nullopt, 2, "tokenizer.inputs.attention_mask");
    distinct({{k + ".inputs.input_ids", t.input_ids},
              {k + ".inputs.token_type_ids", t.token_type_ids},
              {k + ".inputs.attention_mask", t.attention_mask}});
  }

  // A template holds $A once (and $B once for a pair) and otherwise defined special tokens.
  void sequence_template(const std::string& key, const std::vector<std::string>& items, bool pair, const TokenizerSpec& t) const {
    int a = 0, b = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string& item = items[i];
      if (item == "$A") ++a;
      else if (item == "$B") ++b;
      else if (!t.special_tokens.count(item))
        fail(key + "[" + std::to_string(i) + "]", "'" + item + "' is neither $A, $B nor a role of special_tokens");
    }
    if (a != 1 || b != (pair ? 1 : 0))
      fail(key, pair ? "a pair template holds $A and $B once each" : "a single-sequence template holds $A once and no $B");
  }

  void post_processor(const TokenizerTemplate& p, const TokenizerSpec& t) const {
    const std::string k = "processing.tokenizer.post_processor";
    sequence_template(k + ".single", p.single, false, t);
    if (!p.pair.empty()) sequence_template(k + ".pair", p.pair, true, t);
    if (!p.pair_type_ids.empty() && p.pair_type_ids.size() != p.pair.size())
      fail(k + ".pair_type_ids", "one token type per item of `pair`: expected " + std::to_string(p.pair.size()) + ", found " +
                                     std::to_string(p.pair_type_ids.size()));
    for (size_t i = 0; i < p.pair_type_ids.size(); ++i)
      at_least(k + ".pair_type_ids[" + std::to_string(i) + "]", p.pair_type_ids[i], 0);
  }

  void size(const std::string& key, const ImageSize& s, bool square_only) const {
    if (s.shortest_edge != 0) {
      if (square_only) fail(key, "expected `height` and `width` (a crop has no shortest-edge form)");
      at_least(key + ".shortest_edge", s.shortest_edge, 1);
      return;
    }
    at_least(key + ".height", s.height, 1);
    at_least(key + ".width", s.width, 1);
  }

  void finite(const std::string& key, double v, bool positive) const {
    if (!std::isfinite(v) || (positive && !(v > 0)))
      fail(key, std::string("expected a finite") + (positive ? " positive" : "") + " number, found " + yaml::format_float(v));
  }

  void image(const ImageProcessorSpec& p) const {
    const std::string k = "processing.image";
    if (p.do_resize && (!p.size || !p.resample)) fail(k, "do_resize needs `size` and `resample`");
    if (p.size) size(k + ".size", *p.size, false);
    if (p.do_center_crop && !p.crop_size) fail(k, "do_center_crop needs `crop_size`");
    if (p.crop_size) size(k + ".crop_size", *p.crop_size, true);
    if (p.do_rescale && !p.rescale_factor) fail(k, "do_rescale needs `rescale_factor`");
    if (p.rescale_factor) finite(k + ".rescale_factor", *p.rescale_factor, true);
    if (p.do_normalize && (p.image_mean.empty() || p.image_std.empty())) fail(k, "do_normalize needs `image_mean` and `image_std`");
    for (const auto& [name, values] : {std::pair{"image_mean", &p.image_mean}, std::pair{"image_std", &p.image_std}}) {
      const std::string vk = k + "." + name;
      if (!values->empty() && values->size() != 3)
        fail(vk, "one value per colour channel: expected 3, found " + std::to_string(values->size()));
      for (size_t i = 0; i < values->size(); ++i) finite(vk + "[" + std::to_string(i) + "]", (*values)[i], values == &p.image_std);
    }
    if (!p.clusters.empty() && !p.clusters_file.empty()) fail(k, "give `clusters` or `clusters_file`, not both");
    if (p.do_color_quantize && p.clusters.empty() && p.clusters_file.empty()) fail(k, "do_color_quantize needs `clusters` or `clusters_file`");
    for (size_t i = 0; i < p.clusters.size(); ++i)
      for (size_t c = 0; c < 3; ++c) finite(k + ".clusters[" + std::to_string(i) + "][" + std::to_string(c) + "]", p.clusters[i][c], false);

    // The graph input takes what the last step makes: pixels [batch, 3, H, W] or cluster ids [batch, H*W].
    if (p.do_color_quantize) input(k + ".input", p.input, DType::i64, 2, "a colour-quantized image");
    else input(k + ".input", p.input, DType::f32, 4, "an image");
    // The processed size, where the spec fixes it (a shortest-edge resize without a crop does not).
    int64_t out_h = 0, out_w = 0;
    if (p.do_center_crop) {
      out_h = p.crop_size->height, out_w = p.crop_size->width;
    } else if (p.do_resize && !p.size->shortest_edge) {
      out_h = p.size->height, out_w = p.size->width;
    }
    const SymShape* shape = nullptr;
    for (const auto& in : g_.inputs)
      if (in.name == p.input) shape = &in.info.shape;
    auto expect_dim = [&](size_t axis, int64_t want, const std::string& why) {
      const Dim& d = (*shape)[axis];
      if (d.is_known() && d.value() != want)
        fail(k + ".input", "graph input '" + p.input + "' is " + sym_shape_str(*shape) + " but " + why + " gives " + std::to_string(want) +
                               " at axis " + std::to_string(axis));
    };
    if (!p.do_color_quantize) expect_dim(1, 3, "an RGB image");
    if (out_h && p.do_color_quantize) expect_dim(1, out_h * out_w, "the processed image's height * width");
    if (out_h && !p.do_color_quantize) {
      expect_dim(2, out_h, "the processed image's height");
      expect_dim(3, out_w, "the processed image's width");
    }
  }

  void generation(const GenerationSpec& gen, const Processing& p) const {
    const std::string k = "processing.generation";
    input(k + ".input_ids", gen.input_ids, DType::i64, 2, "generation.input_ids");
    input(k + ".past_length", gen.past_length, DType::i64, 1, "generation.past_length");
    if (!gen.position_ids.empty()) input(k + ".position_ids", gen.position_ids, DType::i64, 2, "generation.position_ids");
    if (!gen.attention_mask.empty()) input(k + ".attention_mask", gen.attention_mask, std::nullopt, 2, "generation.attention_mask");
    distinct({{k + ".input_ids", gen.input_ids},
              {k + ".past_length", gen.past_length},
              {k + ".position_ids", gen.position_ids},
              {k + ".attention_mask", gen.attention_mask}});
    if (gen.caches.empty()) fail(k + ".caches", "a decoder needs at least one cache state");
    std::set<std::string> caches;
    for (size_t i = 0; i < gen.caches.size(); ++i) {
      const std::string ck = k + ".caches[" + std::to_string(i) + "]";
      bool found = false;
      for (const auto& s : g_.states) found = found || s.name == gen.caches[i];
      if (!found) fail(ck, "'" + gen.caches[i] + "' is not a state of the graph");
      if (!caches.insert(gen.caches[i]).second) fail(ck, "state '" + gen.caches[i] + "' is listed twice");
    }
    output(k + ".logits", gen.logits);
    const TokenizerSpec* t = p.tokenizer ? &*p.tokenizer : nullptr;
    if (gen.bos_token_id) token_id(k + ".bos_token_id", *gen.bos_token_id, t);
    if (gen.pad_token_id) token_id(k + ".pad_token_id", *gen.pad_token_id, t);
    // Written as one id or as a list; the key path says which.
    const std::string ek = k + ".eos_token_id";
    for (size_t i = 0; i < gen.eos_token_ids.size(); ++i) {
      const std::string item = ek + "[" + std::to_string(i) + "]";
      token_id(positions_.count(item) || gen.eos_token_ids.size() > 1 ? item : ek, gen.eos_token_ids[i], t);
    }
    at_least(k + ".max_length", gen.max_length, 1);
    if (gen.temperature) finite(k + ".temperature", *gen.temperature, true);
    if (gen.top_k) at_least(k + ".top_k", *gen.top_k, 0);
    if (gen.top_p && !(*gen.top_p >= 0 && *gen.top_p <= 1))
      fail(k + ".top_p", "expected a number in [0, 1], found " + yaml::format_float(*gen.top_p));
    if (gen.max_new_tokens) at_least(k + ".max_new_tokens", *gen.max_new_tokens, 1);
    if (gen.max_total_length) at_least(k + ".max_total_length", *gen.max_total_length, 1);
    if (gen.repetition_penalty) finite(k + ".repetition_penalty", *gen.repetition_penalty, true);
    if (gen.no_repeat_ngram_size) at_least(k + ".no_repeat_ngram_size", *gen.no_repeat_ngram_size, 0);
    if (gen.min_length) at_least(k + ".min_length", *gen.min_length, 0);
    if (gen.min_new_tokens) at_least(k + ".min_new_tokens", *gen.min_new_tokens, 0);
    if (gen.num_beams) at_least(k + ".num_beams", *gen.num_beams, 1);
    if (gen.num_return_sequences) at_least(k + ".num_return_sequences", *gen.num_return_sequences, 1);
    if (gen.length_penalty) finite(k + ".length_penalty", *gen.length_penalty, false);
    auto ids = [&](const std::string& key, const std::vector<int64_t>& list) {
      for (size_t i = 0; i < list.size(); ++i) token_id(key + "[" + std::to_string(i) + "]", list[i], t);
    };
    for (size_t i = 0; i < gen.sequence_bias.size(); ++i) {
      const std::string bk = k + ".sequence_bias[" + std::to_string(i) + "]";
      if (gen.sequence_bias[i].ids.empty()) fail(bk + ".ids", "expected at least one token id");
      ids(bk + ".ids", gen.sequence_bias[i].ids);
      finite(bk + ".bias", gen.sequence_bias[i].bias, false);
    }
    for (size_t i = 0; i < gen.bad_words_ids.size(); ++i) {
      const std::string bk = k + ".bad_words_ids[" + std::to_string(i) + "]";
      if (gen.bad_words_ids[i].empty()) fail(bk, "expected at least one token id");
      ids(bk, gen.bad_words_ids[i]);
    }
    if (gen.forced_bos_token_id) token_id(k + ".forced_bos_token_id", *gen.forced_bos_token_id, t);
    const std::string fk = k + ".forced_eos_token_id";
    for (size_t i = 0; i < gen.forced_eos_token_ids.size(); ++i) {
      const std::string item = fk + "[" + std::to_string(i) + "]";
      token_id(positions_.count(item) || gen.forced_eos_token_ids.size() > 1 ? item : fk, gen.forced_eos_token_ids[i], t);
    }
    if (const auto& d = gen.exponential_decay_length_penalty) {
      at_least(k + ".exponential_decay_length_penalty.start", d->start, 0);
      finite(k + ".exponential_decay_length_penalty.factor", d->factor, false);
    }
    ids(k + ".suppress_tokens", gen.suppress_tokens);
    ids(k + ".begin_suppress_tokens", gen.begin_suppress_tokens);
    // Each in [0, 1] where open_low and open_high say whether the ends are excluded.
    auto within = [&](const char* key, const std::optional<double>& v, bool open_low, bool open_high) {
      if (!v) return;
      const bool ok = (open_low ? *v > 0 : *v >= 0) && (open_high ? *v < 1 : *v <= 1);
      if (!ok)
        fail(k + "." + key, std::string("expected a number in ") + (open_low ? "(" : "[") + "0, 1" + (open_high ? ")" : "]") +
                                ", found " + yaml::format_float(*v));
    };
    within("min_p", gen.min_p, false, false);
    within("typical_p", gen.typical_p, true, false);
    within("epsilon_cutoff", gen.epsilon_cutoff, false, true);
    within("eta_cutoff", gen.eta_cutoff, false, true);
  }

  void task(const TaskSpec& t, const std::string& k, const Processing& p, std::set<std::string>& seen) const {
    bool ok = !t.task.empty();
    for (char c : t.task) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!ok) fail(k + ".task", "'" + t.task + "' is not a task name (lower-case letters, digits and '-', as Hugging Face's pipelines)");
    if (!seen.insert(t.task).second) fail(k + ".task", "task '" + t.task + "' is listed twice");
    output(k + ".output", t.output);
    if (t.top_k) {
      at_least(k + ".top_k", *t.top_k, 1);
      if (!t.id2label.empty() && *t.top_k > static_cast<int64_t>(t.id2label.size()))
        fail(k + ".top_k", "top_k " + std::to_string(*t.top_k) + " exceeds the " + std::to_string(t.id2label.size()) + " labels of id2label");
    }
    if (t.task == "text-generation" && !p.generation) fail(k + ".task", "text-generation needs a `generation` section");
    if (t.task == "fill-mask" && !(p.tokenizer && p.tokenizer->special_tokens.count("mask")))
      fail(k + ".task", "fill-mask needs a tokenizer with a `mask` special token");
  }

  const Graph& g_;
  const yaml::Positions& positions_;
};

}  // namespace

void check_processing(const Graph& g, const yaml::Positions& positions) {
  if (g.processing) Checker(g, positions).run(*g.processing);
}

}  // namespace loom
