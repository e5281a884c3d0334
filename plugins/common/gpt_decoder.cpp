#include "gpt_decoder.hpp"

#include "masks.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

namespace loom::models {

namespace {
std::string s(int64_t v) { return std::to_string(v); }
constexpr int64_t kDefaultMaxLength = 20;  // GenerationConfig().max_length
using Ints = std::vector<int64_t>;
}  // namespace

DecoderConfig read_decoder_config(const JsonFile& c, const DecoderDefaults& defaults) {
  DecoderConfig g;
  // GPT2Config's attribute_map: hidden_size = n_embd, max_position_embeddings = n_positions, ...;
  // PretrainedConfig sets the mapped names after the class's own, so they win where both are given.
  auto alias = [&](const char* own, const char* mapped) {
    const std::string k = c.first_of({mapped, own});
    return k.empty() ? std::string(own) : k;
  };
  g.vocab = c.integer("vocab_size", 1, int64_t{1} << 24, defaults.vocab);
  g.hidden = c.integer(alias("n_embd", "hidden_size"), 1, 1 << 16, defaults.hidden);
  g.layers = c.integer(alias("n_layer", "num_hidden_layers"), 0, 1024, defaults.layers);
  const std::string heads_key = alias("n_head", "num_attention_heads");
  g.heads = c.integer(heads_key, 1, 1024, defaults.heads);
  if (g.hidden % g.heads != 0)
    c.fail(heads_key, std::to_string(g.heads) + " does not divide n_embd " + std::to_string(g.hidden));
  g.inner = c.has("n_inner") ? c.integer("n_inner", 1, 1 << 18) : 4 * g.hidden;
  g.positions = c.integer(alias("n_positions", "max_position_embeddings"), 1, 1 << 20, 1024);
  g.eps = c.number("layer_norm_epsilon", 1e-5, true);
  check_not_pruned(c);
  g.act = read_activation(c, "activation_function", defaults.act);
  g.scale_attn = c.flag("scale_attn_weights", true);
  g.scale_by_layer = c.flag("scale_attn_by_inverse_layer_idx", false);
  return g;
}

void DecoderGraph::weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why) {
  g_.weight(value, w_.require_base(tensor, shape, why));
}

// GPT-2's LayerNorm, or ImageGPT's (x / sqrt(mean(x²) + eps) · γ: no centring, no bias).
void DecoderGraph::norm(const std::string& x, const std::string& params, const std::string& out) {
  if (c_.rms_norm) g_.node("rms_norm", {x, params + ".weight"}, {out}, Attrs().set("epsilon", c_.eps));
  else g_.node("layer_norm", {x, params + ".weight", params + ".bias"}, {out}, Attrs().set("epsilon", c_.eps));
}

std::string DecoderGraph::write() {
  const int64_t H = c_.hidden;
  g_.bound("seq", c_.positions);
  weight("wte", "wte.weight", {c_.vocab, H}, "config.json: vocab_size " + s(c_.vocab) + ", n_embd " + s(H));
  weight("wpe", "wpe.weight", {c_.positions, H}, "config.json: n_positions " + s(c_.positions) + ", n_embd " + s(H));
  weight("ln_f.weight", "ln_f.weight", {H}, "n_embd " + s(H));
  if (!c_.rms_norm) weight("ln_f.bias", "ln_f.bias", {H}, "n_embd " + s(H));

  if (generation_) {
    g_.input("input_ids", "i64", {"1", "seq"});
    g_.values(0, c_.vocab - 1);
    g_.input("past_length", "i64", {"1"});
    g_.values(0, c_.positions - 1);
    g_.constant("one", "i64", {1}, {1});
    // Positions continue where the cache ends; a query sees keys up to its own position.
    g_.node("positions", {"input_ids", "past_length"}, {"position_ids"}, Attrs().set("axis", 1).set("per_row", true));
    g_.node("slice", {"position_ids"}, {"last_position"}, Attrs().set("axis", 1).set("start", -1));
    g_.node("reshape", {"last_position"}, {"last_position.flat"}, Attrs().set("shape", Ints{-1}));
    g_.node("add", {"last_position.flat", "one"}, {"valid_length"});
  } else {
    // Ids index the embedding tables: a run refuses one past a table's rows, naming the input.
    g_.input("input_ids", "i64", {"batch", "seq"});
    g_.values(0, c_.vocab - 1);
    // Hugging Face's defaults: every token attended, positions 0, 1, 2, ... (not padding-aware).
    g_.input("attention_mask", "i64", {"batch", "seq"}, "1");
    g_.input("position_ids", "i64", {"batch", "seq"}, "{range: 1}");
    g_.values(0, c_.positions - 1);
    masks();
  }
  g_.node("gather", {"wte", "input_ids"}, {"embeddings.tokens"});
  g_.node("gather", {"wpe", "position_ids"}, {"embeddings.positions"});
  g_.node("add", {"embeddings.tokens", "embeddings.positions"}, {"hidden.0"});
  std::string h = "hidden.0";
  for (int64_t i = 0; i < c_.layers; ++i) h = block(i, h);
  if (generation_) {
    // Only the last position scores the next token.
    g_.node("slice", {h}, {"hidden.last"}, Attrs().set("axis", 1).set("start", -1));
    h = "hidden.last";
  }
  const std::string final_norm = generation_ ? "hidden.final" : "last_hidden_state";
  norm(h, "ln_f", final_norm);
  return final_norm;
}

// Hugging Face's mask for a whole sequence (masks.hpp).
void DecoderGraph::masks() { causal_padding_mask(g_, "", "input_ids", "attention_mask"); }

void DecoderGraph::linear(const std::string& x, const std::string& params, const std::string& out, const std::string& act) {
  Attrs a;
  a.set("weight_transposed", true);
  if (act != "none") a.set("activation", act);
  g_.node("linear", {x, params + ".weight", params + ".bias"}, {out}, a);
}

void DecoderGraph::heads(const std::string& x, const std::string& out) {
  const int64_t d = c_.hidden / c_.heads;
  g_.node("reshape", {x}, {x + ".heads"}, Attrs().set("shape", Ints{0, 0, c_.heads, d}));
  g_.node("transpose", {x + ".heads"}, {out}, Attrs().set("perm", Ints{0, 2, 1, 3}));
}

std::string DecoderGraph::block(int64_t i, const std::string& x) {
  const int64_t H = c_.hidden, I = c_.inner, d = H / c_.heads;
  const std::string p = "h." + s(i) + ".";
  const std::string why = "config.json: n_embd " + s(H) + ", n_layer " + s(c_.layers);
  const std::string why_i = why + ", n_inner " + s(I);
  weight(p + "ln_1.weight", p + "ln_1.weight", {H}, why);
  if (!c_.rms_norm) weight(p + "ln_1.bias", p + "ln_1.bias", {H}, why);
  weight(p + "c_attn.weight", p + "attn.c_attn.weight", {H, 3 * H}, why + " (Conv1D: [in, out])");
  weight(p + "c_attn.bias", p + "attn.c_attn.bias", {3 * H}, why);
  weight(p + "attn_proj.weight", p + "attn.c_proj.weight", {H, H}, why);
  weight(p + "attn_proj.bias", p + "attn.c_proj.bias", {H}, why);
  weight(p + "ln_2.weight", p + "ln_2.weight", {H}, why);
  if (!c_.rms_norm) weight(p + "ln_2.bias", p + "ln_2.bias", {H}, why);
  weight(p + "c_fc.weight", p + "mlp.c_fc.weight", {H, I}, why_i + " (Conv1D: [in, out])");
  weight(p + "c_fc.bias", p + "mlp.c_fc.bias", {I}, why_i);
  weight(p + "mlp_proj.weight", p + "mlp.c_proj.weight", {I, H}, why_i + " (Conv1D: [in, out])");
  weight(p + "mlp_proj.bias", p + "mlp.c_proj.bias", {H}, why_i);

  norm(x, p + "ln_1", p + "a");
  linear(p + "a", p + "c_attn", p + "qkv");
  // c_attn's output columns: [0, H) queries, [H, 2H) keys, [2H, 3H) values.
  const char* parts[] = {"q", "k", "v"};
  for (int64_t j = 0; j < 3; ++j) {
    g_.node("slice", {p + "qkv"}, {p + parts[j]}, Attrs().set("axis", 2).set("start", j * H).set("end", (j + 1) * H));
    heads(p + parts[j], p + parts[j] + ".t");
  }
  double scale = c_.scale_attn ? 1.0 / std::sqrt(static_cast<double>(d)) : 1.0;
  if (c_.scale_by_layer) scale /= static_cast<double>(i + 1);
  if (generation_) {
    const Ints cache{1, c_.heads, c_.positions, d};
    g_.state(p + "key_cache", "f32", cache, p + "keys");
    g_.state(p + "value_cache", "f32", cache, p + "values");
    caches_.push_back(p + "key_cache");
    caches_.push_back(p + "value_cache");
    g_.node("cache_write", {p + "key_cache", p + "k.t", "past_length"}, {p + "keys"}, Attrs().set("axis", 2));
    g_.node("cache_write", {p + "value_cache", p + "v.t", "past_length"}, {p + "values"}, Attrs().set("axis", 2));
    g_.node("attention", {p + "q.t", p + "keys", p + "values", "", "valid_length"}, {p + "context.heads"},
            Attrs().set("causal", true).set("scale", scale));
  } else {
    g_.node("attention", {p + "q.t", p + "k.t", p + "v.t", "mask"}, {p + "context.heads"}, Attrs().set("scale", scale));
  }
  g_.node("transpose", {p + "context.heads"}, {p + "context.t"}, Attrs().set("perm", Ints{0, 2, 1, 3}));
  g_.node("reshape", {p + "context.t"}, {p + "context"}, Attrs().set("shape", Ints{0, 0, H}));
  linear(p + "context", p + "attn_proj", p + "attn");
  g_.node("add", {x, p + "attn"}, {p + "h"});
  norm(p + "h", p + "ln_2", p + "b");
  linear(p + "b", p + "c_fc", p + "mlp", c_.act);
  linear(p + "mlp", p + "mlp_proj", p + "mlp.out");
  g_.node("add", {p + "h", p + "mlp.out"}, {p + "out"});
  return p + "out";
}

std::optional<int64_t> bos_token_id(const JsonFile& file, int64_t vocab) {
  if (!file.has("bos_token_id")) return std::nullopt;
  const int64_t id = file.integer("bos_token_id", 0, std::numeric_limits<int64_t>::max());
  return id < vocab ? std::optional<int64_t>(id) : std::nullopt;
}

std::vector<int64_t> eos_token_ids(const JsonFile& file, int64_t vocab) {
  std::vector<int64_t> ids;
  if (!file.has("eos_token_id")) return ids;
  for (int64_t id : file.integers("eos_token_id", 0, std::numeric_limits<int64_t>::max()))
    if (id < vocab) ids.push_back(id);
  return ids;
}

namespace {

// The lists of token ids under `key`: a list of lists (`nested`) or one list of ids (as the only
// entry), each id a whole number >= 0.
std::vector<std::vector<int64_t>> id_lists(const JsonFile& gen, const char* key, bool nested, bool negative_ok = false) {
  const nlohmann::json& v = gen.json()[key];
  const char* expected = nested ? "expected a list of lists of token ids" : "expected a list of token ids";
  if (!v.is_array()) gen.fail(key, expected);
  std::vector<std::vector<int64_t>> out;
  for (const nlohmann::json& list : nested ? v : nlohmann::json::array({v})) {
    if (!list.is_array() || (nested && list.empty())) gen.fail(key, std::string(expected) + ", got " + v.dump().substr(0, 200));
    std::vector<int64_t>& ids = out.emplace_back();
    for (const nlohmann::json& id : list) {
      if (!id.is_number_integer() || (id.is_number_unsigned() && id.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ||
          (!negative_ok && id.get<int64_t>() < 0))
        gen.fail(key, std::string(expected) + (negative_ok ? " (whole numbers)" : " (whole numbers >= 0)") + ", got " +
                          id.dump().substr(0, 200));
      ids.push_back(id.get<int64_t>());
    }
  }
  return out;
}

void check_vocab(const JsonFile& gen, const char* key, const std::vector<int64_t>& ids, int64_t vocab) {
  for (int64_t id : ids)
    if (id >= vocab) gen.fail(key, "token id " + std::to_string(id) + " is outside the vocabulary (vocab_size " + std::to_string(vocab) + ")");
}

// transformers' sequence_bias as generation_config.json holds it: [[[ids], bias], ...], a later
// entry for the same ids replacing an earlier one.
std::string sequence_bias(const JsonFile& gen, int64_t vocab) {
  const nlohmann::json& v = gen.json()["sequence_bias"];
  const std::string expected = "expected a non-empty list of [[token ids], bias] pairs";
  if (!v.is_array() || v.empty()) gen.fail("sequence_bias", expected);
  // As transformers validates the list form: ids > 0 and a float bias (-10.0, not -10).
  std::vector<std::pair<std::vector<int64_t>, double>> biases;
  std::map<std::vector<int64_t>, size_t> at;
  for (const nlohmann::json& pair : v) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_array() || pair[0].empty() || !pair[1].is_number_float() ||
        !std::isfinite(pair[1].get<double>()))
      gen.fail("sequence_bias", expected + " (a float bias), got " + pair.dump().substr(0, 200));
    std::vector<int64_t> ids;
    for (const nlohmann::json& id : pair[0]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 1)
        gen.fail("sequence_bias", expected + " (token ids > 0), got " + pair.dump().substr(0, 200));
      ids.push_back(id.get<int64_t>());
    }
    check_vocab(gen, "sequence_bias", ids, vocab);
    // A later pair for the same ids replaces the bias, in the first one's place (a dict's update).
    if (auto it = at.find(ids); it != at.end()) {
      biases[it->second].second = pair[1].get<double>();
    } else {
      at.emplace(ids, biases.size());
      biases.emplace_back(std::move(ids), pair[1].get<double>());
    }
  }
  std::string y = "    sequence_bias:\n";
  for (const auto& [ids, bias] : biases) y += "      - {ids: " + int_list(ids) + ", bias: " + float_literal(bias) + "}\n";
  return y;
}

// bad_words_ids less the entries that are one eos token, which transformers drops (min_length
// keeps eos out instead).
std::string bad_words(const JsonFile& gen, int64_t vocab, const std::vector<int64_t>& eos) {
  std::string y;
  const std::vector<std::vector<int64_t>> lists = id_lists(gen, "bad_words_ids", true);
  if (lists.empty()) gen.fail("bad_words_ids", "expected a non-empty list of lists of token ids, as transformers requires");
  for (const std::vector<int64_t>& ids : lists) {
    check_vocab(gen, "bad_words_ids", ids, vocab);
    if (ids.size() == 1 && std::find(eos.begin(), eos.end(), ids[0]) != eos.end()) continue;
    y += (y.empty() ? "    bad_words_ids:\n" : "") + std::string("      - ") + int_list(ids) + "\n";
  }
  if (y.empty())  // NoBadWordsLogitsProcessor: an empty sequence_bias is a ValueError
    gen.fail("bad_words_ids", "holds only single eos ids, which transformers drops, leaving none (it refuses that)");
  return y;
}

}  // namespace

std::string generation_section(const std::string& checkpoint_dir, const std::string& config_json, const std::vector<std::string>& caches,
                               std::optional<int64_t> bos, std::vector<int64_t> eos, int64_t vocab, int64_t max_length,
                               bool sos) {
  // Without generation_config.json, transformers takes the generation settings of config.json
  // (GenerationConfig.from_model_config).
  const JsonFile file = JsonFile::read_optional(checkpoint_dir, "generation_config.json");
  const std::optional<JsonFile> model_config =
      file.exists() ? std::nullopt : std::optional<JsonFile>(JsonFile(checkpoint_dir + "/config.json", config_json));
  const JsonFile& gen = model_config ? *model_config : file;
  // The caller's bos and eos are config.json's (ImageGPT's bos is its SOS token, kept whatever
  // the files say). With generation_config.json, transformers reads that file alone: an id it
  // leaves out is none (generate() then stops at no eos), not config.json's.
  if (file.exists()) {
    if (!sos) bos = bos_token_id(file, vocab);
    eos = eos_token_ids(file, vocab);
  }
  std::ostringstream y;
  y << "  generation:\n    input_ids: input_ids\n    past_length: past_length\n    caches: [";
  for (size_t i = 0; i < caches.size(); ++i) y << (i ? ", " : "") << quoted(caches[i]);
  y << "]\n    logits: logits\n";
  if (bos) y << "    bos_token_id: " << *bos << "\n";
  if (!eos.empty()) y << "    eos_token_id: " << int_list(eos) << "\n";
  y << "    max_length: " << max_length << "\n";
  // Each setting is checked where generation_config.json gives it. config.json's are read as
  // transformers reads them there, only where generation uses them: one it would refuse is left
  // out rather than refusing a checkpoint that loads for its other tasks.
  auto take = [&](const char* key, const auto& write) {
    if (!gen.has(key)) return;
    if (file.exists()) return write();
    try {
      write();
    } catch (const sdk::Error&) {
    }
  };
  const int64_t most = std::numeric_limits<int64_t>::max();
  // The sampling settings are used only when sampling: where generation_config.json samples, a
  // value transformers refuses is an error; where it does not, generate() ignores the value (with
  // a warning), and it is left out. Values that filter nothing (top_p above 1, typical_p of 1 or
  // more, cutoffs outside (0, 1)) are left out, as transformers leaves their filters out.
  bool samples = false;
  take("do_sample", [&] {
    samples = gen.boolean("do_sample");
    y << "    do_sample: " << (samples ? "true" : "false") << "\n";
  });
  auto sampling = [&](const char* key, const auto& write) {
    take(key, [&] {
      try {
        write();
      } catch (const sdk::Error&) {
        if (samples) throw;
      }
    });
  };
  // (Each value is read before its line is begun.)
  sampling("temperature", [&] {
    const double t = gen.number("temperature", std::nullopt, true);
    // transformers' TemperatureLogitsWarper takes a float only (2.0, not 2).
    if (t != 1.0 && !gen.json()["temperature"].is_number_float())
      gen.fail("temperature", "expected a float (" + float_literal(t) + "), as transformers requires, got " + gen.json()["temperature"].dump());
    y << "    temperature: " << float_literal(t) << "\n";
  });
  sampling("top_k", [&] {
    const int64_t k = gen.integer("top_k", 0, most);
    y << "    top_k: " << std::min(k, vocab) << "\n";
  });
  sampling("top_p", [&] {
    const double p = gen.number("top_p");
    if (!(p >= 0)) gen.fail("top_p", "expected a number >= 0, got " + float_literal(p));
    if (p < 1) y << "    top_p: " << float_literal(p) << "\n";
  });
  sampling("min_p", [&] {
    const double p = gen.number("min_p");
    if (!(p >= 0 && p <= 1)) gen.fail("min_p", "expected a number in [0, 1], got " + float_literal(p));
    if (p > 0) y << "    min_p: " << float_literal(p) << "\n";
  });
  sampling("typical_p", [&] {
    const double p = gen.number("typical_p", std::nullopt, true);
    if (p < 1) y << "    typical_p: " << float_literal(p) << "\n";
  });
  for (const char* key : {"epsilon_cutoff", "eta_cutoff"})
    sampling(key, [&] {
      const double e = gen.number(key);
      if (e > 0 && e < 1) y << "    " << key << ": " << float_literal(e) << "\n";
    });
  // More new tokens than the positions hold is no error in transformers (generation stops at
  // an eos before, or fails past the positions); Loom stops at the positions.
  take("max_new_tokens", [&] {
    const int64_t n = gen.integer("max_new_tokens", 1, most);
    y << "    max_new_tokens: " << std::min(n, max_length) << "\n";
  });
  // transformers' max_length counts the prompt too, but its default value, 20, means 20 new
  // tokens (generate() adds the prompt's length to it), as without it.
  take("max_length", [&] {
    const int64_t total = gen.integer("max_length", 1, most);
    if (total != kDefaultMaxLength) y << "    max_total_length: " << std::min(total, max_length) << "\n";
  });
  // The logits processors; values that change nothing are left out.
  take("repetition_penalty", [&] {
    const double penalty = gen.number("repetition_penalty", std::nullopt, true);
    if (penalty != 1.0 && !gen.json()["repetition_penalty"].is_number_float())
      gen.fail("repetition_penalty", "expected a float (" + float_literal(penalty) + "), as transformers requires, got " +
                                         gen.json()["repetition_penalty"].dump());
    if (penalty != 1.0) y << "    repetition_penalty: " << float_literal(penalty) << "\n";
  });
  take("num_beams", [&] {
    const int64_t beams = gen.integer("num_beams", 1, most);
    if (beams > 1) y << "    num_beams: " << beams << "\n";
  });
  take("num_return_sequences", [&] {
    const int64_t n = gen.integer("num_return_sequences", 1, most);
    if (n > 1) y << "    num_return_sequences: " << n << "\n";
  });
  take("length_penalty", [&] {
    const double penalty = gen.number("length_penalty");
    if (!std::isfinite(penalty)) gen.fail("length_penalty", "expected a finite number");
    if (penalty != 1.0) y << "    length_penalty: " << float_literal(penalty) << "\n";
  });
  take("early_stopping", [&] {
    const nlohmann::json& v = gen.json()["early_stopping"];
    if (v.is_string() && v.get<std::string>() == "never") y << "    early_stopping: never\n";
    else if (!v.is_boolean()) gen.fail("early_stopping", "expected true, false or \"never\", got " + v.dump().substr(0, 200));
    else if (v.get<bool>()) y << "    early_stopping: true\n";
  });
  // min_new_tokens counts even at 0: where it is given, transformers reads no min_length.
  for (const char* key : {"no_repeat_ngram_size", "min_length", "min_new_tokens"})
    take(key, [&] {
      const int64_t n = gen.integer(key, 0, most);
      if (n > 0 || std::string_view(key) == "min_new_tokens") y << "    " << key << ": " << std::min(n, max_length) << "\n";
    });
  // Decoding modes other than greedy, sampling and beam search (group beam search, contrastive
  // search, constrained beam search) and stop strings are refused rather than run as another.
  take("num_beam_groups", [&] {
    if (gen.integer("num_beam_groups", 1, most) > 1) gen.fail("num_beam_groups", "group beam search is not supported");
  });
  take("penalty_alpha", [&] {
    const double alpha = gen.number("penalty_alpha");
    const int64_t k = gen.has("top_k") && gen.json()["top_k"].is_number_integer() ? gen.json()["top_k"].get<int64_t>() : 50;
    if (alpha > 0 && k > 1) gen.fail("penalty_alpha", "contrastive search (penalty_alpha > 0 with top_k > 1) is not supported");
  });
  for (const char* key : {"constraints", "force_words_ids", "stop_strings"})
    take(key, [&] {
      const nlohmann::json& v = gen.json()[key];
      if (!(v.is_array() && v.empty()) && !(v.is_string() && v.get<std::string>().empty()))
        gen.fail(key, std::string(std::string_view(key) == "stop_strings" ? "stop strings are" : "constrained beam search is") +
                          " not supported");
    });
  take("sequence_bias", [&] { y << sequence_bias(gen, vocab); });
  take("bad_words_ids", [&] { y << bad_words(gen, vocab, eos); });
  take("forced_bos_token_id", [&] {
    const int64_t id = gen.integer("forced_bos_token_id", 0, vocab - 1);
    y << "    forced_bos_token_id: " << id << "\n";
  });
  take("forced_eos_token_id", [&] {
    const std::vector<int64_t> ids = gen.integers("forced_eos_token_id", 0, vocab - 1);
    y << "    forced_eos_token_id: " << int_list(ids) << "\n";
  });
  take("exponential_decay_length_penalty", [&] {
    const nlohmann::json& d = gen.json()["exponential_decay_length_penalty"];
    if (!d.is_array() || d.size() != 2 || !d[0].is_number_integer() || d[0].get<int64_t>() < 0 || !d[1].is_number() ||
        !std::isfinite(d[1].get<double>()))
      gen.fail("exponential_decay_length_penalty",
               "expected [start, factor]: a whole number >= 0 and a finite number, got " + d.dump().substr(0, 200));
    y << "    exponential_decay_length_penalty: {start: " << d[0].get<int64_t>() << ", factor: " << float_literal(d[1].get<double>())
      << "}\n";
  });
  // transformers ignores the ids of these two lists that the scores do not have (isin over the
  // vocabulary's ids): past the vocabulary, and negative ones.
  for (const char* key : {"suppress_tokens", "begin_suppress_tokens"})
    take(key, [&] {
      const std::vector<int64_t> listed = id_lists(gen, key, false, /*negative_ok=*/true).front();
      std::vector<int64_t> ids;
      for (int64_t id : listed)
        if (id >= 0 && id < vocab) ids.push_back(id);
      if (!ids.empty()) y << "    " << key << ": " << int_list(ids) << "\n";
    });
  return y.str();
}

}  // namespace loom::models
