// Writes a processing section in the layout of the rest of the writer: block-style mappings, one
// entry per line, short lists in flow style. Everything the IR holds is written, defaults too,
// so that the file says what the engine will do without the reader's defaults in mind.
#include "graph/processing.hpp"
#include "graph/yaml_scalar.hpp"

namespace loom::yaml {

namespace {

void put(YAML::Emitter& out, const std::string& s) { put_string(out, s); }

void put(YAML::Emitter& out, const char* key, const std::string& s) {
  out << YAML::Key << key << YAML::Value;
  put(out, s);
}

void put(YAML::Emitter& out, const char* key, int64_t v) { out << YAML::Key << key << YAML::Value << std::to_string(v); }
void put_bool(YAML::Emitter& out, const char* key, bool v) { out << YAML::Key << key << YAML::Value << (v ? "true" : "false"); }
void put_float(YAML::Emitter& out, const char* key, double v) { out << YAML::Key << key << YAML::Value << format_float(v); }

template <class E>
void put_enum(YAML::Emitter& out, const char* key, E v) {
  out << YAML::Key << key << YAML::Value << std::string(enum_name(v));
}

void put_list(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : items) put(out, s);
  out << YAML::EndSeq;
}

void put_list(YAML::Emitter& out, const char* key, const std::vector<int64_t>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (int64_t v : items) out << std::to_string(v);
  out << YAML::EndSeq;
}

void put_list(YAML::Emitter& out, const char* key, const std::vector<double>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (double v : items) out << format_float(v);
  out << YAML::EndSeq;
}

void put_size(YAML::Emitter& out, const char* key, const ImageSize& s) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (s.shortest_edge) {
    put(out, "shortest_edge", s.shortest_edge);
  } else {
    put(out, "height", s.height);
    put(out, "width", s.width);
  }
  out << YAML::EndMap;
}

void put_tokenizer(YAML::Emitter& out, const TokenizerSpec& t) {
  out << YAML::Key << "tokenizer" << YAML::Value << YAML::BeginMap;
  put_enum(out, "kind", t.kind);
  out << YAML::Key << "files" << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (!t.files.vocab.empty()) put(out, "vocab", t.files.vocab);
  if (!t.files.merges.empty()) put(out, "merges", t.files.merges);
  if (!t.files.tokenizer.empty()) put(out, "tokenizer", t.files.tokenizer);
  out << YAML::EndMap;
  put(out, "vocab_size", t.vocab_size);
  put_bool(out, "lowercase", t.lowercase);
  if (t.strip_accents) put_bool(out, "strip_accents", *t.strip_accents);
  // These two belong to one kind each; the reader refuses them elsewhere.
  if (t.kind == TokenizerKind::WordPiece) put_bool(out, "tokenize_chinese_chars", t.tokenize_chinese_chars);
  if (t.kind == TokenizerKind::ByteLevelBpe) put_bool(out, "add_prefix_space", t.add_prefix_space);
  if (t.replace_file_options) put_bool(out, "replace_file_options", true);
  if (t.clean_up_tokenization_spaces) put_bool(out, "clean_up_tokenization_spaces", *t.clean_up_tokenization_spaces);
  if (!t.special_tokens.empty()) {
    out << YAML::Key << "special_tokens" << YAML::Value << YAML::BeginMap;
    for (const auto& [role, s] : t.special_tokens) {
      out << YAML::Key << role << YAML::Value << YAML::Flow << YAML::BeginMap;
      put(out, "token", s.token);
      put(out, "id", s.id);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  if (!t.added_tokens.empty()) {
    out << YAML::Key << "added_tokens" << YAML::Value << YAML::BeginSeq;
    for (const AddedTokenSpec& a : t.added_tokens) {
      out << YAML::Flow << YAML::BeginMap;
      put(out, "token", a.token);
      put(out, "id", a.id);
      put_bool(out, "special", a.special);
      if (a.single_word) put_bool(out, "single_word", true);
      if (a.lstrip) put_bool(out, "lstrip", true);
      if (a.rstrip) put_bool(out, "rstrip", true);
      if (a.normalized) put_bool(out, "normalized", *a.normalized);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (t.post_processor) {
    out << YAML::Key << "post_processor" << YAML::Value << YAML::BeginMap;
    put_list(out, "single", t.post_processor->single);
    if (!t.post_processor->pair.empty()) put_list(out, "pair", t.post_processor->pair);
    if (!t.post_processor->pair_type_ids.empty()) put_list(out, "pair_type_ids", t.post_processor->pair_type_ids);
    out << YAML::EndMap;
  }
  put(out, "max_length", t.max_length);
  put_enum(out, "padding", t.padding);
  put_enum(out, "padding_side", t.padding_side);
  put_enum(out, "truncation", t.truncation);
  put_enum(out, "truncation_side", t.truncation_side);
  out << YAML::Key << "inputs" << YAML::Value << YAML::Flow << YAML::BeginMap;
  put(out, "input_ids", t.input_ids);
  if (!t.token_type_ids.empty()) put(out, "token_type_ids", t.token_type_ids);
  if (!t.attention_mask.empty()) put(out, "attention_mask", t.attention_mask);
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void put_image(YAML::Emitter& out, const ImageProcessorSpec& p) {
  out << YAML::Key << "image" << YAML::Value << YAML::BeginMap;
  put(out, "input", p.input);
  put_bool(out, "do_convert_rgb", p.do_convert_rgb);
  put_bool(out, "do_resize", p.do_resize);
  if (p.size) put_size(out, "size", *p.size);
  if (p.resample) put_enum(out, "resample", *p.resample);
  put_bool(out, "do_center_crop", p.do_center_crop);
  if (p.crop_size) put_size(out, "crop_size", *p.crop_size);
  put_bool(out, "do_rescale", p.do_rescale);
  if (p.rescale_factor) put_float(out, "rescale_factor", *p.rescale_factor);
  put_bool(out, "do_normalize", p.do_normalize);
  if (!p.image_mean.empty()) put_list(out, "image_mean", p.image_mean);
  if (!p.image_std.empty()) put_list(out, "image_std", p.image_std);
  put_bool(out, "do_color_quantize", p.do_color_quantize);
  if (!p.clusters.empty()) {
    out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq;
    for (const auto& rgb : p.clusters) {
      out << YAML::Flow << YAML::BeginSeq;
      for (double v : rgb) out << format_float(v);
      out << YAML::EndSeq;
    }
    out << YAML::EndSeq;
  }
  if (!p.clusters_file.empty()) put(out, "clusters_file", p.clusters_file);
  out << YAML::EndMap;
}

void put_generation(YAML::Emitter& out, const GenerationSpec& g) {
  out << YAML::Key << "generation" << YAML::Value << YAML::BeginMap;
  put(out, "input_ids", g.input_ids);
  put(out, "past_length", g.past_length);
  if (!g.position_ids.empty()) put(out, "position_ids", g.position_ids);
  if (!g.attention_mask.empty()) put(out, "attention_mask", g.attention_mask);
  put_list(out, "caches", g.caches);
  put(out, "logits", g.logits);
  if (g.bos_token_id) put(out, "bos_token_id", *g.bos_token_id);
  if (g.eos_token_ids.size() == 1) put(out, "eos_token_id", g.eos_token_ids[0]);
  if (g.eos_token_ids.size() > 1) put_list(out, "eos_token_id", g.eos_token_ids);
  if (g.pad_token_id) put(out, "pad_token_id", *g.pad_token_id);
  put(out, "max_length", g.max_length);
  if (g.do_sample) put_bool(out, "do_sample", *g.do_sample);
  if (g.temperature) put_float(out, "temperature", *g.temperature);
  if (g.top_k) put(out, "top_k", *g.top_k);
  if (g.top_p) put_float(out, "top_p", *g.top_p);
  if (g.max_new_tokens) put(out, "max_new_tokens", *g.max_new_tokens);
  if (g.max_total_length) put(out, "max_total_length", *g.max_total_length);
  if (g.repetition_penalty) put_float(out, "repetition_penalty", *g.repetition_penalty);
  if (g.no_repeat_ngram_size) put(out, "no_repeat_ngram_size", *g.no_repeat_ngram_size);
  if (g.min_length) put(out, "min_length", *g.min_length);
  if (g.min_new_tokens) put(out, "min_new_tokens", *g.min_new_tokens);
  if (g.num_beams) put(out, "num_beams", *g.num_beams);
  if (g.num_return_sequences) put(out, "num_return_sequences", *g.num_return_sequences);
  if (g.length_penalty) put_float(out, "length_penalty", *g.length_penalty);
  if (g.early_stopping) {
    using E = GenerationSpec::EarlyStopping;
    out << YAML::Key << "early_stopping" << YAML::Value
        << (*g.early_stopping == E::Never ? "never" : *g.early_stopping == E::AtOnce ? "true" : "false");
  }
  if (!g.sequence_bias.empty()) {
    out << YAML::Key << "sequence_bias" << YAML::Value << YAML::BeginSeq;
    for (const auto& b : g.sequence_bias) {
      out << YAML::Flow << YAML::BeginMap;
      put_list(out, "ids", b.ids);
      put_float(out, "bias", b.bias);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!g.bad_words_ids.empty()) {
    out << YAML::Key << "bad_words_ids" << YAML::Value << YAML::BeginSeq;
    for (const auto& ids : g.bad_words_ids) {
      out << YAML::Flow << YAML::BeginSeq;
      for (int64_t v : ids) out << std::to_string(v);
      out << YAML::EndSeq;
    }
    out << YAML::EndSeq;
  }
  if (g.forced_bos_token_id) put(out, "forced_bos_token_id", *g.forced_bos_token_id);
  if (g.forced_eos_token_ids.size() == 1) put(out, "forced_eos_token_id", g.forced_eos_token_ids[0]);
  if (g.forced_eos_token_ids.size() > 1) put_list(out, "forced_eos_token_id", g.forced_eos_token_ids);
  if (const auto& d = g.exponential_decay_length_penalty) {
    out << YAML::Key << "exponential_decay_length_penalty" << YAML::Value << YAML::Flow << YAML::BeginMap;
    put(out, "start", d->start);
    put_float(out, "factor", d->factor);
    out << YAML::EndMap;
  }
  if (!g.suppress_tokens.empty()) put_list(out, "suppress_tokens", g.suppress_tokens);
  if (!g.begin_suppress_tokens.empty()) put_list(out, "begin_suppress_tokens", g.begin_suppress_tokens);
  if (g.min_p) put_float(out, "min_p", *g.min_p);
  if (g.typical_p) put_float(out, "typical_p", *g.typical_p);
  if (g.epsilon_cutoff) put_float(out, "epsilon_cutoff", *g.epsilon_cutoff);
  if (g.eta_cutoff) put_float(out, "eta_cutoff", *g.eta_cutoff);
  out << YAML::EndMap;
}

void put_task(YAML::Emitter& out, const TaskSpec& t) {
  out << YAML::BeginMap;
  put(out, "task", t.task);
  put(out, "output", t.output);
  put_enum(out, "function", t.function);
  if (!t.id2label.empty()) {
    out << YAML::Key << "id2label" << YAML::Value << YAML::BeginMap;
    for (size_t i = 0; i < t.id2label.size(); ++i) {
      out << YAML::Key << std::to_string(i) << YAML::Value;
      put(out, t.id2label[i]);
    }
    out << YAML::EndMap;
  }
  if (t.top_k) put(out, "top_k", *t.top_k);
  out << YAML::EndMap;
}

}  // namespace

void write_processing(YAML::Emitter& out, const Processing& p) {
  out << YAML::Key << "processing" << YAML::Value << YAML::BeginMap;
  put(out, "version", p.version);
  if (p.tokenizer) put_tokenizer(out, *p.tokenizer);
  if (p.image) put_image(out, *p.image);
  if (p.generation) put_generation(out, *p.generation);
  if (!p.tasks.empty()) {
    out << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : p.tasks) put_task(out, t);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

}  // namespace loom::yaml
