// How `loom inspect` shows a graph's processing section: a summary for people, every field as
// JSON for programs.
#include "commands.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace loom::cli {

namespace {

std::string str(std::string_view s) { return std::string(s); }

std::string size_text(const ImageSize& s) {
  if (s.shortest_edge) return "shortest edge " + std::to_string(s.shortest_edge);
  return std::to_string(s.height) + "x" + std::to_string(s.width);
}

nlohmann::json size_json(const ImageSize& s) {
  if (s.shortest_edge) return {{"shortest_edge", s.shortest_edge}};
  return {{"height", s.height}, {"width", s.width}};
}

std::string numbers_text(const std::vector<double>& v) {
  std::string out;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, "%.6g", x);
    out += (out.empty() ? "" : ", ") + std::string(buf);
  }
  return "[" + out + "]";
}

std::string names_text(const std::vector<std::string>& v, size_t most) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < most; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > most) out += ", ... (" + std::to_string(v.size()) + ")";
  return out;
}

nlohmann::json tokenizer_json(const TokenizerSpec& t) {
  nlohmann::json j{{"kind", str(enum_name(t.kind))},
                   {"files", nlohmann::json::object()},
                   {"vocab_size", t.vocab_size},
                   {"lowercase", t.lowercase},
                   {"strip_accents", t.strip_accents ? nlohmann::json(*t.strip_accents) : nlohmann::json()},
                   {"max_length", t.max_length},
                   {"padding", str(enum_name(t.padding))},
                   {"padding_side", str(enum_name(t.padding_side))},
                   {"truncation", str(enum_name(t.truncation))},
                   {"truncation_side", str(enum_name(t.truncation_side))},
                   {"special_tokens", nlohmann::json::object()},
                   {"inputs", {{"input_ids", t.input_ids}}}};
  if (!t.files.vocab.empty()) j["files"]["vocab"] = t.files.vocab;
  if (!t.files.merges.empty()) j["files"]["merges"] = t.files.merges;
  if (!t.files.tokenizer.empty()) j["files"]["tokenizer"] = t.files.tokenizer;
  if (t.kind == TokenizerKind::WordPiece) j["tokenize_chinese_chars"] = t.tokenize_chinese_chars;
  if (t.kind == TokenizerKind::ByteLevelBpe) j["add_prefix_space"] = t.add_prefix_space;
  if (!t.files.tokenizer.empty()) j["replace_file_options"] = t.replace_file_options;
  if (t.clean_up_tokenization_spaces) j["clean_up_tokenization_spaces"] = *t.clean_up_tokenization_spaces;
  for (const auto& [role, s] : t.special_tokens) j["special_tokens"][role] = {{"token", s.token}, {"id", s.id}};
  if (!t.added_tokens.empty()) {
    j["added_tokens"] = nlohmann::json::array();
    for (const AddedTokenSpec& a : t.added_tokens)
      j["added_tokens"].push_back({{"token", a.token},
                                   {"id", a.id},
                                   {"special", a.special},
                                   {"normalized", a.normalized.value_or(!a.special)},
                                   {"single_word", a.single_word},
                                   {"lstrip", a.lstrip},
                                   {"rstrip", a.rstrip}});
  }
  if (t.post_processor)
    j["post_processor"] = {{"single", t.post_processor->single}, {"pair", t.post_processor->pair}, {"pair_type_ids", t.post_processor->pair_type_ids}};
  if (!t.token_type_ids.empty()) j["inputs"]["token_type_ids"] = t.token_type_ids;
  if (!t.attention_mask.empty()) j["inputs"]["attention_mask"] = t.attention_mask;
  return j;
}

nlohmann::json image_json(const ImageProcessorSpec& p) {
  nlohmann::json j{{"input", p.input},
                   {"do_convert_rgb", p.do_convert_rgb},
                   {"do_resize", p.do_resize},
                   {"do_center_crop", p.do_center_crop},
                   {"do_rescale", p.do_rescale},
                   {"do_normalize", p.do_normalize},
                   {"image_mean", p.image_mean},
                   {"image_std", p.image_std},
                   {"do_color_quantize", p.do_color_quantize},
                   {"clusters", p.clusters.size()}};
  if (p.size) j["size"] = size_json(*p.size);
  if (p.resample) j["resample"] = str(enum_name(*p.resample));
  if (p.crop_size) j["crop_size"] = size_json(*p.crop_size);
  if (p.rescale_factor) j["rescale_factor"] = *p.rescale_factor;
  if (!p.clusters_file.empty()) j["clusters_file"] = p.clusters_file;
  return j;
}

nlohmann::json generation_json(const GenerationSpec& g) {
  nlohmann::json j{{"input_ids", g.input_ids}, {"past_length", g.past_length}, {"caches", g.caches},
                   {"logits", g.logits},       {"eos_token_id", g.eos_token_ids}, {"max_length", g.max_length}};
  if (!g.position_ids.empty()) j["position_ids"] = g.position_ids;
  if (!g.attention_mask.empty()) j["attention_mask"] = g.attention_mask;
  if (g.bos_token_id) j["bos_token_id"] = *g.bos_token_id;
  if (g.pad_token_id) j["pad_token_id"] = *g.pad_token_id;
  // The decoding defaults it gives (generation_config.json's), under the spec's keys.
  auto put = [&j](const char* key, const auto& value) {
    if (value) j[key] = *value;
  };
  put("do_sample", g.do_sample);
  put("temperature", g.temperature);
  put("top_k", g.top_k);
  put("top_p", g.top_p);
  put("max_new_tokens", g.max_new_tokens);
  put("max_total_length", g.max_total_length);
  put("repetition_penalty", g.repetition_penalty);
  put("no_repeat_ngram_size", g.no_repeat_ngram_size);
  put("min_length", g.min_length);
  put("min_new_tokens", g.min_new_tokens);
  put("num_beams", g.num_beams);
  put("num_return_sequences", g.num_return_sequences);
  put("min_p", g.min_p);
  put("typical_p", g.typical_p);
  put("epsilon_cutoff", g.epsilon_cutoff);
  put("eta_cutoff", g.eta_cutoff);
  if (!g.sequence_bias.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : g.sequence_bias) list.push_back({{"ids", b.ids}, {"bias", b.bias}});
    j["sequence_bias"] = list;
  }
  if (!g.bad_words_ids.empty()) j["bad_words_ids"] = g.bad_words_ids;
  put("forced_bos_token_id", g.forced_bos_token_id);
  if (!g.forced_eos_token_ids.empty()) j["forced_eos_token_id"] = g.forced_eos_token_ids;
  if (const auto& d = g.exponential_decay_length_penalty) j["exponential_decay_length_penalty"] = {{"start", d->start}, {"factor", d->factor}};
  if (!g.suppress_tokens.empty()) j["suppress_tokens"] = g.suppress_tokens;
  if (!g.begin_suppress_tokens.empty()) j["begin_suppress_tokens"] = g.begin_suppress_tokens;
  return j;
}

}  // namespace

nlohmann::json processing_json(const Processing& p) {
  nlohmann::json j{{"version", p.version}, {"tasks", nlohmann::json::array()}};
  if (p.tokenizer) j["tokenizer"] = tokenizer_json(*p.tokenizer);
  if (p.image) j["image"] = image_json(*p.image);
  if (p.generation) j["generation"] = generation_json(*p.generation);
  for (const auto& t : p.tasks) {
    nlohmann::json task{{"task", t.task}, {"output", t.output}, {"function", str(enum_name(t.function))}, {"id2label", t.id2label}};
    if (t.top_k) task["top_k"] = *t.top_k;
    j["tasks"].push_back(task);
  }
  return j;
}

void print_processing(std::ostream& os, const Processing& p) {
  os << "processing (version " << p.version << "):\n";
  if (const auto& t = p.tokenizer) {
    os << "  tokenizer: " << enum_name(t->kind) << ", vocab_size " << t->vocab_size << ", files";
    for (const auto& f : {t->files.vocab, t->files.merges, t->files.tokenizer})
      if (!f.empty()) os << " " << f;
    // Only WordPiece strips accents (by default when lower-casing); the BPE kinds never do.
    const bool strips = t->kind == TokenizerKind::WordPiece && t->strip_accents.value_or(t->lowercase);
    os << (t->lowercase ? ", lowercase" : "") << (strips ? ", strip accents" : "")
       << ", max_length " << t->max_length << ", padding " << enum_name(t->padding) << " (" << enum_name(t->padding_side)
       << "), truncation " << enum_name(t->truncation) << " (" << enum_name(t->truncation_side) << ")\n";
    if (!t->special_tokens.empty()) {
      os << "    special tokens:";
      for (const auto& [role, s] : t->special_tokens) os << " " << role << " " << s.token << "=" << s.id;
      os << "\n";
    }
    if (!t->added_tokens.empty()) {
      std::vector<std::string> added;
      for (const AddedTokenSpec& a : t->added_tokens) added.push_back(a.token + "=" + std::to_string(a.id));
      os << "    added tokens: " << names_text(added, 8) << "\n";
    }
    if (t->replace_file_options) os << "    its options replace tokenizer.json's\n";
    if (t->clean_up_tokenization_spaces) os << "    decode cleans up spaces: " << (*t->clean_up_tokenization_spaces ? "yes" : "no") << "\n";
    if (t->post_processor) os << "    single: " << names_text(t->post_processor->single, 8) << "\n";
    os << "    feeds: input_ids -> " << t->input_ids;
    if (!t->token_type_ids.empty()) os << ", token_type_ids -> " << t->token_type_ids;
    if (!t->attention_mask.empty()) os << ", attention_mask -> " << t->attention_mask;
    os << "\n";
  }
  if (const auto& im = p.image) {
    os << "  image -> " << im->input << ":";
    if (im->do_convert_rgb) os << " convert to RGB;";
    if (im->do_resize && im->size) os << " resize " << size_text(*im->size) << " " << enum_name(im->resample.value_or(Resample::Bilinear)) << ";";
    if (im->do_center_crop && im->crop_size) os << " centre crop " << size_text(*im->crop_size) << ";";
    if (im->do_rescale && im->rescale_factor) os << " rescale " << numbers_text({*im->rescale_factor}) << ";";
    if (im->do_normalize) os << " normalize mean " << numbers_text(im->image_mean) << " std " << numbers_text(im->image_std) << ";";
    if (im->do_color_quantize)
      os << " colour quantize (" << (im->clusters_file.empty() ? std::to_string(im->clusters.size()) + " clusters" : im->clusters_file) << ");";
    os << "\n";
  }
  if (const auto& g = p.generation) {
    os << "  generation: input_ids " << g->input_ids << ", past_length " << g->past_length;
    if (!g->position_ids.empty()) os << ", position_ids " << g->position_ids;
    if (!g->attention_mask.empty()) os << ", attention_mask " << g->attention_mask;
    os << ", logits " << g->logits << ", max_length " << g->max_length << "\n";
    os << "    caches: " << names_text(g->caches, 4) << "\n";
    os << "    ids:";
    if (g->bos_token_id) os << " bos " << *g->bos_token_id;
    for (int64_t id : g->eos_token_ids) os << " eos " << id;
    if (g->pad_token_id) os << " pad " << *g->pad_token_id;
    os << "\n";
    // The decoding defaults, where the model gives any.
    std::ostringstream d;
    d.precision(6);
    if (g->do_sample) d << (*g->do_sample ? " sample" : " greedy");
    if (g->temperature) d << " temperature " << *g->temperature;
    if (g->top_k) d << " top_k " << *g->top_k;
    if (g->top_p) d << " top_p " << *g->top_p;
    if (g->max_new_tokens) d << " max_new_tokens " << *g->max_new_tokens;
    if (g->max_total_length) d << " max_total_length " << *g->max_total_length;
    if (g->repetition_penalty) d << " repetition_penalty " << *g->repetition_penalty;
    if (g->no_repeat_ngram_size) d << " no_repeat_ngram_size " << *g->no_repeat_ngram_size;
    if (g->min_length) d << " min_length " << *g->min_length;
    if (g->min_new_tokens) d << " min_new_tokens " << *g->min_new_tokens;
    if (g->num_beams) d << " num_beams " << *g->num_beams;
    if (g->num_return_sequences) d << " num_return_sequences " << *g->num_return_sequences;
    if (g->min_p) d << " min_p " << *g->min_p;
    if (g->typical_p) d << " typical_p " << *g->typical_p;
    if (g->epsilon_cutoff) d << " epsilon_cutoff " << *g->epsilon_cutoff;
    if (g->eta_cutoff) d << " eta_cutoff " << *g->eta_cutoff;
    auto ids = [&d](const char* what, const std::vector<int64_t>& list) {
      if (list.empty()) return;
      d << " " << what << " [";
      for (size_t i = 0; i < list.size(); ++i) d << (i ? " " : "") << list[i];
      d << "]";
    };
    for (const auto& b : g->sequence_bias) {
      ids("sequence_bias", b.ids);
      d << " " << b.bias;
    }
    for (const auto& w : g->bad_words_ids) ids("bad_words", w);
    if (g->forced_bos_token_id) d << " forced_bos " << *g->forced_bos_token_id;
    ids("forced_eos", g->forced_eos_token_ids);
    if (const auto& e = g->exponential_decay_length_penalty) d << " eos_decay from " << e->start << " by " << e->factor;
    ids("suppress", g->suppress_tokens);
    ids("begin_suppress", g->begin_suppress_tokens);
    if (!d.str().empty()) os << "    decoding:" << d.str() << "\n";
  }
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    const TaskSpec& t = p.tasks[i];
    os << "  task " << t.task << (i == 0 ? " (default)" : "") << ": output " << t.output << ", " << enum_name(t.function);
    if (!t.id2label.empty()) os << ", " << t.id2label.size() << " labels (" << names_text(t.id2label, 6) << ")";
    if (t.top_k) os << ", top_k " << *t.top_k;
    os << "\n";
  }
}

}  // namespace loom::cli
