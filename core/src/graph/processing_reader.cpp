// Reads the `processing:` section of a YAML graph into the Processing IR. It checks the
// structure only (allowed and required keys, kinds of YAML nodes, numbers, enum spellings) and
// records where each entry was written; check_processing judges the values once the graph's
// blocks are expanded and its states known.
#include "graph/processing.hpp"
#include "graph/yaml_scalar.hpp"

#include <loom/error.hpp>

#include <initializer_list>
#include <set>

namespace loom::yaml {

namespace {

using Keys = std::initializer_list<std::string_view>;

std::string what_is(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a sequence";
  return "nothing (null)";
}

// One optional entry of a mapping: its node and where it was written.
struct Field {
  YAML::Node node;
  Where where;
  explicit operator bool() const { return node.IsDefined(); }
};

class SectionReader {
 public:
  explicit SectionReader(Positions& positions) : positions_(positions) {}

  Processing processing(const YAML::Node& n, const Where& w);

 private:
  static SourceLoc loc_of(const YAML::Node& n, const Where& parent) {
    YAML::Mark m = n.IsDefined() ? n.Mark() : YAML::Mark::null_mark();
    if (m.is_null() || m.line < 0) return parent.loc;
    return SourceLoc{parent.loc.file, m.line + 1, m.column + 1};
  }
  // The Where of `n`, recorded for check_processing.
  Where place(const YAML::Node& n, std::string key, const Where& parent) {
    Where w{std::move(key), loc_of(n, parent)};
    positions_[w.key] = w.loc;
    return w;
  }
  Field get(const YAML::Node& map, const Where& w, const char* key) {
    YAML::Node n = map[key];
    if (!n.IsDefined()) return Field{n, w};
    return Field{n, place(n, w.key + "." + key, w)};
  }
  Field require(const YAML::Node& map, const Where& w, const char* key) {
    Field f = get(map, w, key);
    if (!f) fail(w, std::string("missing key '") + key + "'");
    return f;
  }
  static std::string item(const Where& w, size_t i) { return w.key + "[" + std::to_string(i) + "]"; }

  void mapping(const YAML::Node& n, const Where& w, Keys allowed);
  void sequence(const YAML::Node& n, const Where& w) {
    if (!n.IsSequence()) fail(w, "expected a sequence, found " + what_is(n));
  }
  PlainKind kind(const YAML::Node& n, const Where& w) const;
  std::string text(const YAML::Node& n, const Where& w) const;
  std::string name(const YAML::Node& n, const Where& w) const;
  int64_t integer(const YAML::Node& n, const Where& w) const;
  double number(const YAML::Node& n, const Where& w) const;
  bool boolean(const YAML::Node& n, const Where& w) const;
  template <class E>
  E choice(const YAML::Node& n, const Where& w) const;
  std::vector<std::string> names(const YAML::Node& n, const Where& w);
  std::vector<int64_t> integers(const YAML::Node& n, const Where& w);
  std::vector<double> numbers(const YAML::Node& n, const Where& w);
  std::vector<int64_t> integer_or_list(const YAML::Node& n, const Where& w);

  TokenizerSpec tokenizer(const YAML::Node& n, const Where& w);
  TokenizerTemplate post_processor(const YAML::Node& n, const Where& w);
  ImageSize image_size(const YAML::Node& n, const Where& w);
  ImageProcessorSpec image(const YAML::Node& n, const Where& w);
  GenerationSpec generation(const YAML::Node& n, const Where& w);
  TaskSpec task(const YAML::Node& n, const Where& w);

  Positions& positions_;
};

void SectionReader::mapping(const YAML::Node& n, const Where& w, Keys allowed) {
  if (!n.IsMap()) fail(w, "expected a mapping, found " + what_is(n));
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    Where kw{w.key, loc_of(it->first, w)};
    if (!it->first.IsScalar()) fail(kw, "keys must be strings, found " + what_is(it->first));
    const std::string& k = it->first.Scalar();
    kw.key = w.key + "." + k;
    if (!seen.insert(k).second) fail(kw, "duplicate key");
    bool known = false;
    std::string list;
    for (auto a : allowed) {
      known = known || a == k;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!known) fail(kw, "unknown key (allowed: " + list + ")");
  }
}

// Plain scalars have a type; quoted and `!!str` ones are strings (as everywhere in the format).
PlainKind SectionReader::kind(const YAML::Node& n, const Where& w) const {
  const std::string& tag = n.Tag();
  if (tag == "?") return plain_kind(n.Scalar());
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return PlainKind::String;
  fail(w, "YAML tags (" + tag + ") are not supported");
}

std::string SectionReader::text(const YAML::Node& n, const Where& w) const {
  if (!n.IsScalar()) fail(w, "expected a string, found " + what_is(n));
  kind(n, w);
  return n.Scalar();
}

std::string SectionReader::name(const YAML::Node& n, const Where& w) const {
  std::string s = text(n, w);
  if (s.empty()) fail(w, "a name may not be empty");
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) fail(w, "a name may not hold control characters");
  return s;
}

int64_t SectionReader::integer(const YAML::Node& n, const Where& w) const {
  if (!n.IsScalar() || kind(n, w) != PlainKind::Int) fail(w, "expected an integer, found " + what_is(n));
  auto v = parse_int(n.Scalar());
  if (!v) fail(w, "integer " + n.Scalar() + " is out of range");
  return *v;
}

double SectionReader::number(const YAML::Node& n, const Where& w) const {
  if (n.IsScalar() && kind(n, w) == PlainKind::Int) return static_cast<double>(integer(n, w));
  if (!n.IsScalar() || kind(n, w) != PlainKind::Float) fail(w, "expected a number, found " + what_is(n));
  auto v = parse_float(n.Scalar());
  if (!v) fail(w, "number " + n.Scalar() + " is out of range");
  return *v;
}

bool SectionReader::boolean(const YAML::Node& n, const Where& w) const {
  if (!n.IsScalar() || kind(n, w) != PlainKind::Bool) fail(w, "expected true or false, found " + what_is(n));
  return parse_bool(n.Scalar());
}

template <class E>
E SectionReader::choice(const YAML::Node& n, const Where& w) const {
  const std::string s = text(n, w);
  std::string list;
  for (const auto& [value, spelling] : enum_entries<E>()) {
    if (s == spelling) return value;
    list += (list.empty() ? "" : ", ") + std::string(spelling);
  }
  fail(w, "unknown value '" + s + "' (expected one of: " + list + ")");
}

std::vector<std::string> SectionReader::names(const YAML::Node& n, const Where& w) {
  sequence(n, w);
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(name(n[i], place(n[i], item(w, i), w)));
  return out;
}

std::vector<int64_t> SectionReader::integers(const YAML::Node& n, const Where& w) {
  sequence(n, w);
  std::vector<int64_t> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(integer(n[i], place(n[i], item(w, i), w)));
  return out;
}

std::vector<double> SectionReader::numbers(const YAML::Node& n, const Where& w) {
  sequence(n, w);
  std::vector<double> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(number(n[i], place(n[i], item(w, i), w)));
  return out;
}

// Hugging Face writes eos_token_id as one id or a list of ids.
std::vector<int64_t> SectionReader::integer_or_list(const YAML::Node& n, const Where& w) {
  if (n.IsSequence()) return integers(n, w);
  return {integer(n, w)};
}

TokenizerTemplate SectionReader::post_processor(const YAML::Node& n, const Where& w) {
  mapping(n, w, {"single", "pair", "pair_type_ids"});
  TokenizerTemplate t;
  Field single = require(n, w, "single");
  t.single = names(single.node, single.where);
  if (Field f = get(n, w, "pair")) t.pair = names(f.node, f.where);
  if (Field f = get(n, w, "pair_type_ids")) t.pair_type_ids = integers(f.node, f.where);
  return t;
}

TokenizerSpec SectionReader::tokenizer(const YAML::Node& n, const Where& w) {
  mapping(n, w,
          {"kind", "files", "vocab_size", "lowercase", "strip_accents", "tokenize_chinese_chars", "add_prefix_space",
           "replace_file_options", "clean_up_tokenization_spaces", "special_tokens", "added_tokens", "post_processor", "max_length",
           "padding", "padding_side", "truncation", "truncation_side", "inputs"});
  TokenizerSpec t;
  Field kind = require(n, w, "kind");
  t.kind = choice<TokenizerKind>(kind.node, kind.where);
  Field files = require(n, w, "files");
  mapping(files.node, files.where, {"vocab", "merges", "tokenizer"});
  if (Field f = get(files.node, files.where, "vocab")) t.files.vocab = name(f.node, f.where);
  if (Field f = get(files.node, files.where, "merges")) t.files.merges = name(f.node, f.where);
  if (Field f = get(files.node, files.where, "tokenizer")) t.files.tokenizer = name(f.node, f.where);
  Field vocab_size = require(n, w, "vocab_size");
  t.vocab_size = integer(vocab_size.node, vocab_size.where);
  if (Field f = get(n, w, "lowercase")) t.lowercase = boolean(f.node, f.where);
  if (Field f = get(n, w, "strip_accents")) t.strip_accents = boolean(f.node, f.where);
  if (Field f = get(n, w, "tokenize_chinese_chars")) {
    if (t.kind != TokenizerKind::WordPiece) fail(f.where, "applies to `kind: wordpiece` only");
    t.tokenize_chinese_chars = boolean(f.node, f.where);
  }
  if (Field f = get(n, w, "add_prefix_space")) {
    if (t.kind != TokenizerKind::ByteLevelBpe) fail(f.where, "applies to `kind: byte_level_bpe` only");
    t.add_prefix_space = boolean(f.node, f.where);
  }
  if (Field f = get(n, w, "replace_file_options")) {
    if (t.kind == TokenizerKind::ClipBpe) fail(f.where, "applies to `kind: wordpiece` and `kind: byte_level_bpe` only");
    t.replace_file_options = boolean(f.node, f.where);
  }
  if (Field f = get(n, w, "clean_up_tokenization_spaces")) t.clean_up_tokenization_spaces = boolean(f.node, f.where);
  if (Field specials = get(n, w, "special_tokens")) {
    mapping(specials.node, specials.where, {"bos", "eos", "unk", "sep", "pad", "cls", "mask"});
    for (auto it = specials.node.begin(); it != specials.node.end(); ++it) {
      const std::string role = it->first.Scalar();
      Where sw = place(it->second, specials.where.key + "." + role, specials.where);
      mapping(it->second, sw, {"token", "id"});
      SpecialToken& s = t.special_tokens[role];
      Field token = require(it->second, sw, "token");
      s.token = text(token.node, token.where);
      Field id = require(it->second, sw, "id");
      s.id = integer(id.node, id.where);
    }
  }
  if (Field f = get(n, w, "added_tokens")) {
    sequence(f.node, f.where);
    for (size_t i = 0; i < f.node.size(); ++i) {
      const YAML::Node& e = f.node[i];
      Where ew = place(e, item(f.where, i), f.where);
      mapping(e, ew, {"token", "id", "special", "single_word", "lstrip", "rstrip", "normalized"});
      AddedTokenSpec& a = t.added_tokens.emplace_back();
      Field token = require(e, ew, "token");
      a.token = text(token.node, token.where);
      Field id = require(e, ew, "id");
      a.id = integer(id.node, id.where);
      if (Field b = get(e, ew, "special")) a.special = boolean(b.node, b.where);
      if (Field b = get(e, ew, "single_word")) a.single_word = boolean(b.node, b.where);
      if (Field b = get(e, ew, "lstrip")) a.lstrip = boolean(b.node, b.where);
      if (Field b = get(e, ew, "rstrip")) a.rstrip = boolean(b.node, b.where);
      if (Field b = get(e, ew, "normalized")) a.normalized = boolean(b.node, b.where);
    }
  }
  if (Field f = get(n, w, "post_processor")) t.post_processor = post_processor(f.node, f.where);
  Field max_length = require(n, w, "max_length");
  t.max_length = integer(max_length.node, max_length.where);
  if (Field f = get(n, w, "padding")) t.padding = choice<Padding>(f.node, f.where);
  if (Field f = get(n, w, "padding_side")) t.padding_side = choice<Side>(f.node, f.where);
  if (Field f = get(n, w, "truncation")) t.truncation = choice<Truncation>(f.node, f.where);
  if (Field f = get(n, w, "truncation_side")) t.truncation_side = choice<Side>(f.node, f.where);
  Field inputs = require(n, w, "inputs");
  mapping(inputs.node, inputs.where, {"input_ids", "token_type_ids", "attention_mask"});
  Field ids = require(inputs.node, inputs.where, "input_ids");
  t.input_ids = name(ids.node, ids.where);
  if (Field f = get(inputs.node, inputs.where, "token_type_ids")) t.token_type_ids = name(f.node, f.where);
  if (Field f = get(inputs.node, inputs.where, "attention_mask")) t.attention_mask = name(f.node, f.where);
  return t;
}

ImageSize SectionReader::image_size(const YAML::Node& n, const Where& w) {
  mapping(n, w, {"height", "width", "shortest_edge"});
  ImageSize s;
  if (Field f = get(n, w, "shortest_edge")) {
    if (n["height"] || n["width"]) fail(w, "give `shortest_edge` or `height` and `width`, not both");
    s.shortest_edge = integer(f.node, f.where);
    return s;
  }
  Field h = require(n, w, "height");
  s.height = integer(h.node, h.where);
  Field wd = require(n, w, "width");
  s.width = integer(wd.node, wd.where);
  return s;
}

ImageProcessorSpec SectionReader::image(const YAML::Node& n, const Where& w) {
  mapping(n, w,
          {"input", "do_convert_rgb", "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale",
           "rescale_factor", "do_normalize", "image_mean", "image_std", "do_color_quantize", "clusters", "clusters_file"});
  ImageProcessorSpec p;
  Field input = require(n, w, "input");
  p.input = name(input.node, input.where);
  if (Field f = get(n, w, "do_convert_rgb")) p.do_convert_rgb = boolean(f.node, f.where);
  if (Field f = get(n, w, "do_resize")) p.do_resize = boolean(f.node, f.where);
  if (Field f = get(n, w, "size")) p.size = image_size(f.node, f.where);
  if (Field f = get(n, w, "resample")) p.resample = choice<Resample>(f.node, f.where);
  if (Field f = get(n, w, "do_center_crop")) p.do_center_crop = boolean(f.node, f.where);
  if (Field f = get(n, w, "crop_size")) p.crop_size = image_size(f.node, f.where);
  if (Field f = get(n, w, "do_rescale")) p.do_rescale = boolean(f.node, f.where);
  if (Field f = get(n, w, "rescale_factor")) p.rescale_factor = number(f.node, f.where);
  if (Field f = get(n, w, "do_normalize")) p.do_normalize = boolean(f.node, f.where);
  if (Field f = get(n, w, "image_mean")) p.image_mean = numbers(f.node, f.where);
  if (Field f = get(n, w, "image_std")) p.image_std = numbers(f.node, f.where);
  if (Field f = get(n, w, "do_color_quantize")) p.do_color_quantize = boolean(f.node, f.where);
  if (Field f = get(n, w, "clusters")) {
    sequence(f.node, f.where);
    for (size_t i = 0; i < f.node.size(); ++i) {
      Where cw = place(f.node[i], item(f.where, i), f.where);
      std::vector<double> rgb = numbers(f.node[i], cw);
      if (rgb.size() != 3) fail(cw, "a colour cluster is 3 numbers (red, green, blue), found " + std::to_string(rgb.size()));
      p.clusters.push_back({rgb[0], rgb[1], rgb[2]});
    }
  }
  if (Field f = get(n, w, "clusters_file")) p.clusters_file = name(f.node, f.where);
  return p;
}

GenerationSpec SectionReader::generation(const YAML::Node& n, const Where& w) {
  mapping(n, w,
          {"input_ids", "past_length", "position_ids", "attention_mask", "caches", "logits", "bos_token_id", "eos_token_id",
           "pad_token_id", "max_length", "do_sample", "temperature", "top_k", "top_p", "max_new_tokens", "max_total_length",
           "repetition_penalty", "no_repeat_ngram_size", "min_length", "min_new_tokens", "num_beams", "num_return_sequences",
           "length_penalty", "early_stopping", "sequence_bias",
           "bad_words_ids", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty", "suppress_tokens",
           "begin_suppress_tokens", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff"});
  GenerationSpec g;
  Field ids = require(n, w, "input_ids");
  g.input_ids = name(ids.node, ids.where);
  Field past = require(n, w, "past_length");
  g.past_length = name(past.node, past.where);
  if (Field f = get(n, w, "position_ids")) g.position_ids = name(f.node, f.where);
  if (Field f = get(n, w, "attention_mask")) g.attention_mask = name(f.node, f.where);
  Field caches = require(n, w, "caches");
  g.caches = names(caches.node, caches.where);
  Field logits = require(n, w, "logits");
  g.logits = name(logits.node, logits.where);
  if (Field f = get(n, w, "bos_token_id")) g.bos_token_id = integer(f.node, f.where);
  if (Field f = get(n, w, "eos_token_id")) g.eos_token_ids = integer_or_list(f.node, f.where);
  if (Field f = get(n, w, "pad_token_id")) g.pad_token_id = integer(f.node, f.where);
  Field max_length = require(n, w, "max_length");
  g.max_length = integer(max_length.node, max_length.where);
  if (Field f = get(n, w, "do_sample")) g.do_sample = boolean(f.node, f.where);
  if (Field f = get(n, w, "temperature")) g.temperature = number(f.node, f.where);
  if (Field f = get(n, w, "top_k")) g.top_k = integer(f.node, f.where);
  if (Field f = get(n, w, "top_p")) g.top_p = number(f.node, f.where);
  if (Field f = get(n, w, "max_new_tokens")) g.max_new_tokens = integer(f.node, f.where);
  if (Field f = get(n, w, "max_total_length")) g.max_total_length = integer(f.node, f.where);
  if (Field f = get(n, w, "repetition_penalty")) g.repetition_penalty = number(f.node, f.where);
  if (Field f = get(n, w, "no_repeat_ngram_size")) g.no_repeat_ngram_size = integer(f.node, f.where);
  if (Field f = get(n, w, "min_length")) g.min_length = integer(f.node, f.where);
  if (Field f = get(n, w, "min_new_tokens")) g.min_new_tokens = integer(f.node, f.where);
  if (Field f = get(n, w, "num_beams")) g.num_beams = integer(f.node, f.where);
  if (Field f = get(n, w, "num_return_sequences")) g.num_return_sequences = integer(f.node, f.where);
  if (Field f = get(n, w, "length_penalty")) g.length_penalty = number(f.node, f.where);
  if (Field f = get(n, w, "early_stopping")) {
    using E = GenerationSpec::EarlyStopping;
    if (f.node.IsScalar() && f.node.Tag() == "?" && f.node.Scalar() == "never") g.early_stopping = E::Never;
    else if (f.node.IsScalar() && kind(f.node, f.where) == PlainKind::Bool) g.early_stopping = boolean(f.node, f.where) ? E::AtOnce : E::Heuristic;
    else fail(f.where, "expected true, false or never, found " + what_is(f.node));
  }
  if (Field f = get(n, w, "sequence_bias")) {
    sequence(f.node, f.where);
    for (size_t i = 0; i < f.node.size(); ++i) {
      const Where bw = place(f.node[i], item(f.where, i), f.where);
      mapping(f.node[i], bw, {"ids", "bias"});
      Field ids = require(f.node[i], bw, "ids");
      Field bias = require(f.node[i], bw, "bias");
      g.sequence_bias.push_back({integers(ids.node, ids.where), number(bias.node, bias.where)});
    }
  }
  if (Field f = get(n, w, "bad_words_ids")) {
    sequence(f.node, f.where);
    for (size_t i = 0; i < f.node.size(); ++i) g.bad_words_ids.push_back(integers(f.node[i], place(f.node[i], item(f.where, i), f.where)));
  }
  if (Field f = get(n, w, "forced_bos_token_id")) g.forced_bos_token_id = integer(f.node, f.where);
  if (Field f = get(n, w, "forced_eos_token_id")) g.forced_eos_token_ids = integer_or_list(f.node, f.where);
  if (Field f = get(n, w, "exponential_decay_length_penalty")) {
    mapping(f.node, f.where, {"start", "factor"});
    Field start = require(f.node, f.where, "start");
    Field factor = require(f.node, f.where, "factor");
    g.exponential_decay_length_penalty = GenerationSpec::LengthDecay{integer(start.node, start.where), number(factor.node, factor.where)};
  }
  if (Field f = get(n, w, "suppress_tokens")) g.suppress_tokens = integers(f.node, f.where);
  if (Field f = get(n, w, "begin_suppress_tokens")) g.begin_suppress_tokens = integers(f.node, f.where);
  if (Field f = get(n, w, "min_p")) g.min_p = number(f.node, f.where);
  if (Field f = get(n, w, "typical_p")) g.typical_p = number(f.node, f.where);
  if (Field f = get(n, w, "epsilon_cutoff")) g.epsilon_cutoff = number(f.node, f.where);
  if (Field f = get(n, w, "eta_cutoff")) g.eta_cutoff = number(f.node, f.where);
  return g;
}

TaskSpec SectionReader::task(const YAML::Node& n, const Where& w) {
  mapping(n, w, {"task", "output", "function", "id2label", "top_k"});
  TaskSpec t;
  Field name_field = require(n, w, "task");
  t.task = name(name_field.node, name_field.where);
  Field output = require(n, w, "output");
  t.output = name(output.node, output.where);
  if (Field f = get(n, w, "function")) t.function = choice<ScoreFunction>(f.node, f.where);
  if (Field labels = get(n, w, "id2label")) {
    if (!labels.node.IsMap()) fail(labels.where, "expected a mapping of class ids to labels, found " + what_is(labels.node));
    // Hugging Face's id2label is a mapping; here its ids must be exactly 0 .. N-1.
    std::map<int64_t, std::string> by_id;
    for (auto it = labels.node.begin(); it != labels.node.end(); ++it) {
      Where kw{labels.where.key, loc_of(it->first, labels.where)};
      const int64_t id = integer(it->first, kw);
      kw = place(it->first, labels.where.key + "." + std::to_string(id), labels.where);
      if (id < 0) fail(kw, "a class id may not be negative");
      if (by_id.count(id)) fail(kw, "class id " + std::to_string(id) + " is listed twice");
      by_id[id] = text(it->second, kw);
    }
    for (const auto& [id, label] : by_id) {
      if (id != static_cast<int64_t>(t.id2label.size()))
        fail(Where{labels.where.key + "." + std::to_string(id), positions_[labels.where.key + "." + std::to_string(id)]},
             "class ids must run from 0 to " + std::to_string(by_id.size() - 1) + " without gaps; " +
                 std::to_string(t.id2label.size()) + " is missing");
      t.id2label.push_back(label);
    }
  }
  if (Field f = get(n, w, "top_k")) t.top_k = integer(f.node, f.where);
  return t;
}

Processing SectionReader::processing(const YAML::Node& n, const Where& w) {
  positions_[w.key] = w.loc;
  mapping(n, w, {"version", "tokenizer", "image", "generation", "tasks"});
  // The version first, so that a section of another version is reported as such.
  Field version = require(n, w, "version");
  if (!version.node.IsScalar() || version.node.Scalar() != "1")
    fail(version.where, "unsupported processing version " + what_is(version.node) + " (this reader reads `version: 1`)");
  Processing p;
  p.version = 1;
  if (Field f = get(n, w, "tokenizer")) p.tokenizer = tokenizer(f.node, f.where);
  if (Field f = get(n, w, "image")) p.image = image(f.node, f.where);
  if (Field f = get(n, w, "generation")) p.generation = generation(f.node, f.where);
  if (Field tasks = get(n, w, "tasks")) {
    sequence(tasks.node, tasks.where);
    for (size_t i = 0; i < tasks.node.size(); ++i)
      p.tasks.push_back(task(tasks.node[i], place(tasks.node[i], item(tasks.where, i), tasks.where)));
  }
  return p;
}

}  // namespace

Processing read_processing(const YAML::Node& n, const Where& w, Positions& positions) {
  return SectionReader(positions).processing(n, w);
}

}  // namespace loom::yaml
