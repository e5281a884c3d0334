#include "tokenizer_section.hpp"

#include "added_tokens.hpp"
#include "graph_writer.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <map>
#include <sstream>

namespace loom::models {

using sdk::Error;
using nlohmann::json;

namespace {

// Whether the checkpoint has the tokenizer file `name`; one that is there but no regular file (a
// folder, a FIFO) is an error naming it, not a model without a tokenizer.
bool exists(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const auto status = std::filesystem::status(std::filesystem::path(dir) / name, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw Error(dir + "/" + name + ": not a regular file", LOOM_STATUS_INVALID_ARGUMENT);
  return std::filesystem::is_regular_file(status);
}

// Which file the vocabulary comes from: the per-kind files, else tokenizer.json; "" when none.
struct VocabSource {
  std::string vocab, merges, tokenizer_json;
  bool empty() const { return vocab.empty() && tokenizer_json.empty(); }
};

VocabSource find_files(const std::string& dir, const std::string& kind) {
  VocabSource s;
  if (kind == "wordpiece" && exists(dir, "vocab.txt")) s.vocab = "vocab.txt";
  else if ((kind == "byte_level_bpe" || kind == "clip_bpe") && exists(dir, "vocab.json") && exists(dir, "merges.txt")) {
    s.vocab = "vocab.json";
    s.merges = "merges.txt";
  } else if (exists(dir, "tokenizer.json")) {
    s.tokenizer_json = "tokenizer.json";
  }
  return s;
}

// The ids of `tokens`: an added token's, else the source's vocabulary's, from one read of its
// file; nullopt for a token in neither.
std::vector<std::optional<int64_t>> lookup(const std::string& dir, const VocabSource& s, const JsonFile& tokenizer_json,
                                           const CheckpointAddedTokens& added, const std::vector<std::string>& tokens) {
  std::vector<std::optional<int64_t>> ids(tokens.size());
  std::vector<bool> added_id(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (const AddedEntry* e = added.find(tokens[i])) {
      ids[i] = e->id;
      added_id[i] = true;
    }
  if (!s.vocab.empty() && s.vocab == "vocab.txt") {
    // Lines as transformers' load_vocab reads them (Python's universal newlines: "\n", "\r\n" or
    // "\r"), a token on several lines taking the last one's id, as the tokenizer does.
    const std::string text = read_checkpoint_file(dir + "/vocab.txt");
    int64_t id = 0;
    for (size_t start = 0; start < text.size(); ++id) {
      size_t end = text.find_first_of("\r\n", start);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + start, end - start);
      for (size_t i = 0; i < tokens.size(); ++i)
        if (!added_id[i] && line == tokens[i]) ids[i] = id;
      start = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
    }
    return ids;
  }
  // tokenizer.json is parsed already; vocab.json is read here.
  const std::optional<JsonFile> vocab_json =
      s.vocab.empty() ? std::nullopt : std::optional<JsonFile>(JsonFile(dir + "/" + s.vocab, read_checkpoint_file(dir + "/" + s.vocab)));
  const JsonFile& j = vocab_json ? *vocab_json : tokenizer_json;
  const std::string& file = j.file();
  const json* vocab = &j.json();
  if (!s.tokenizer_json.empty()) {
    if (!j.has("model") || !j.json()["model"].is_object() || !j.json()["model"].contains("vocab") ||
        !j.json()["model"]["vocab"].is_object())
      throw Error(file + ": model.vocab: expected an object of token ids", LOOM_STATUS_INVALID_ARGUMENT);
    vocab = &j.json()["model"]["vocab"];
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (ids[i]) continue;
    auto it = vocab->find(tokens[i]);
    if (it == vocab->end()) continue;
    if (!it->is_number_integer())
      throw Error(file + ": the id of " + quoted(tokens[i]) + " is not an integer", LOOM_STATUS_INVALID_ARGUMENT);
    ids[i] = it->get<int64_t>();
  }
  return ids;
}

// The texts of special_tokens_map.json's and tokenizer_config.json's additional_special_tokens.
std::vector<std::string> additional_special_tokens(const JsonFile& file) {
  std::vector<std::string> out;
  if (!file.has("additional_special_tokens")) return out;
  const json& list = file.json()["additional_special_tokens"];
  if (!list.is_array()) file.fail("additional_special_tokens", "expected a list of tokens");
  for (const json& t : list) {
    if (t.is_string()) out.push_back(t.get<std::string>());
    else if (t.is_object() && t.contains("content") && t["content"].is_string()) out.push_back(t["content"].get<std::string>());
    else file.fail("additional_special_tokens", "expected token strings or objects with a \"content\" string");
  }
  return out;
}

void write_added(std::ostringstream& y, const AddedEntry& e) {
  y << "      - {token: " << quoted(e.content) << ", id: " << e.id << ", special: " << (e.special ? "true" : "false")
    << ", normalized: " << (e.normalized ? "true" : "false");
  if (e.single_word) y << ", single_word: true";
  if (e.lstrip) y << ", lstrip: true";
  if (e.rstrip) y << ", rstrip: true";
  y << "}\n";
}

// tokenizer_config.json's tokenizer_class, where it names one, must tokenize as this kind does:
// a class that splits words otherwise (BertJapaneseTokenizer's MeCab, a SentencePiece model)
// would give other ids from the same vocabulary, so it is refused rather than approximated.
std::string check_class(const JsonFile& config, const std::string& kind) {
  if (!config.has("tokenizer_class")) return "";
  const std::string name = config.string("tokenizer_class");
  static const std::map<std::string, std::vector<std::string>> kClasses = {
      {"wordpiece", {"Bert", "DistilBert", "Electra", "MobileBert", "SqueezeBert", "LayoutLM", "Lxmert", "RetriBert", "Realm"}},
      {"byte_level_bpe", {"GPT2"}},
      {"clip_bpe", {"CLIP"}}};
  std::string known;
  for (const std::string& family : kClasses.at(kind)) {
    if (name == family + "Tokenizer" || name == family + "TokenizerFast") return name;
    known += (known.empty() ? "" : ", ") + family + "Tokenizer";
  }
  if (name == "PreTrainedTokenizerFast") return name;  // tokenizer.json as it is
  config.fail("tokenizer_class", "'" + name + "' is not supported (" + known + ", their Fast forms, PreTrainedTokenizerFast)");
}

// Which of token_type_ids and attention_mask the encoding feeds the model, as transformers'
// tokenizers return them: those tokenizer_config.json's model_input_names lists, else the class's
// own (DistilBert's and RetriBert's leave the type ids out: a pair's second segment then reads
// type 0, the graph input's default). An input left out takes the graph's default. A list that
// names type ids for a model whose graph has none is refused where transformers would feed them
// to the model (GPT2Model adds their embeddings; `refuse_type_ids`) and ignored elsewhere (its
// generation passes ids and mask only). Only an explicit list is refused so: the base class
// PreTrainedTokenizerFast also lists type ids, and a GPT-2 checkpoint with that class keeps its
// plugin's inputs (docs/models.md). split_special_tokens, which reads special tokens' text as
// plain text, is refused.
void apply_model_input_names(const JsonFile& config, const std::string& tokenizer_class, TokenizerSetup& setup) {
  if (config.has("split_special_tokens") && config.boolean("split_special_tokens"))
    config.fail("split_special_tokens", "true is not supported (special tokens in a text are read as those tokens)");
  std::vector<std::string> names;
  if (config.has("model_input_names")) {
    const json& list = config.json()["model_input_names"];
    const char* expected = "expected a non-empty list of input names";
    if (!list.is_array() || list.empty() || list.size() > 64) config.fail("model_input_names", expected);
    for (const json& n : list) {
      if (!n.is_string()) config.fail("model_input_names", expected);
      names.push_back(n.get<std::string>());
    }
    if (names.front() != "input_ids")
      config.fail("model_input_names", "starts with " + models::quoted(names.front()) +
                                           ", not \"input_ids\" (transformers pads the first name's values)");
  } else if (tokenizer_class.starts_with("DistilBert") || tokenizer_class.starts_with("RetriBert")) {
    names = {"input_ids", "attention_mask"};
  } else {
    return;  // the model's own class: the inputs its plugin named
  }
  auto listed = [&](const char* name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  if (!listed("attention_mask")) setup.attention_mask.clear();
  if (!listed("token_type_ids")) setup.token_type_ids.clear();
  else if (setup.token_type_ids.empty() && setup.refuse_type_ids)
    config.fail("model_input_names", "lists \"token_type_ids\", whose embeddings transformers would add to this model's "
                                     "input; its graph takes none");
}

// A boolean of a tokenizer.json part, or `fallback` where it has none (the core reads the file
// again and refuses a value of another type by name).
bool file_flag(const json& part, const char* key, bool fallback) {
  auto it = part.find(key);
  return it != part.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The normalizer's and pre-tokenizer's options that the spec states.
struct TextOptions {
  bool lowercase = false;
  std::optional<bool> strip_accents;  // unset: strip when lower-casing
  bool chinese = true;
  bool prefix_space = false;
};

// tokenizer_config.json's values, with the class defaults where it has none.
TextOptions config_options(const JsonFile& config, const TokenizerSetup& setup) {
  TextOptions o;
  o.lowercase = config.boolean("do_lower_case", setup.lowercase);
  if (config.has("strip_accents")) o.strip_accents = config.boolean("strip_accents");
  o.chinese = config.boolean("tokenize_chinese_chars", true);
  o.prefix_space = config.boolean("add_prefix_space", setup.add_prefix_space);
  return o;
}

// PreTrainedTokenizerFast takes a tokenizer.json as it is: the options are its BertNormalizer's
// and ByteLevel pre-tokenizer's (with the tokenizers library's defaults), the others' elsewhere.
TextOptions file_options(const JsonFile& tokenizer_json, TextOptions o) {
  const json& root = tokenizer_json.json();
  if (auto n = root.find("normalizer"); n != root.end() && n->is_object() && n->value("type", json()) == "BertNormalizer") {
    o.lowercase = file_flag(*n, "lowercase", true);
    o.chinese = file_flag(*n, "handle_chinese_chars", true);
    auto s = n->find("strip_accents");
    o.strip_accents = s != n->end() && s->is_boolean() ? std::optional<bool>(s->get<bool>()) : std::nullopt;
  } else if (n == root.end() || n->is_null()) {
    o.lowercase = o.chinese = false;  // no normalizer: the text as it is
    o.strip_accents.reset();
  }
  if (auto p = root.find("pre_tokenizer"); p != root.end() && p->is_object() && p->value("type", json()) == "ByteLevel")
    o.prefix_space = file_flag(*p, "add_prefix_space", true);
  return o;
}

// How special tokens frame a text and a pair: items are roles, "$A" or "$B".
struct Frame {
  std::vector<std::string> single, pair;
  std::vector<int64_t> pair_types;
};

// The class's own frame (what the slow class builds, and the fast one converted from it).
std::optional<Frame> class_frame(const TokenizerSetup& setup, const JsonFile& config) {
  if (setup.frame_with_add_bos_token && config.boolean("add_bos_token", false))
    return Frame{{"bos", "$A"}, {"bos", "$A", "$B"}, {0, 0, 1}};
  if (setup.frame_with_cls_sep) return Frame{{"cls", "$A", "sep"}, {"cls", "$A", "sep", "$B", "sep"}, {0, 0, 0, 1, 1}};
  if (setup.frame_with_bos_eos) return Frame{{"bos", "$A", "eos"}, {"bos", "$A", "eos", "eos", "$B", "eos"}, {0, 0, 0, 0, 0, 0}};
  return std::nullopt;
}

// tokenizer.json's post_processor, which the fast tokenizers apply, as a frame of the section's
// roles (`roles`: role -> token text and id); nullopt where it adds no special tokens (null,
// ByteLevel). A processor Loom does not read, or a token that is no role's, is an error naming
// the key.
std::optional<Frame> file_frame(const JsonFile& file, const std::vector<std::pair<std::string, std::pair<std::string, int64_t>>>& roles) {
  const std::string key = "post_processor";
  // The role holding `text` (as `id`), the framing roles first: CLIP's eos and pad share a text.
  auto role_of = [&](const std::string& where, const std::string& text, int64_t id) {
    for (const char* preferred : {"cls", "sep", "bos", "eos", "", ""})
      for (const auto& [role, token] : roles)
        if ((!*preferred || role == preferred) && token.first == text) {
          if (token.second != id)
            file.fail(where, quoted(text) + " has id " + std::to_string(id) + " there, but " + std::to_string(token.second) + " in the vocabulary");
          return role;
        }
    std::string known;
    for (const auto& [role, token] : roles) known += (known.empty() ? "" : ", ") + role + " " + quoted(token.first);
    file.fail(where, quoted(text) + " is none of the special tokens (" + known + ")");
  };
  // [text, id] of BertProcessing's and RobertaProcessing's cls and sep.
  auto pair_token = [&](const nlohmann::json& p, const std::string& where, const char* name) {
    const auto it = p.find(name);
    if (it == p.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string() || !(*it)[1].is_number_integer())
      file.fail(where + "." + name, "expected [token, id]");
    return role_of(where + "." + name, (*it)[0].get<std::string>(), (*it)[1].get<int64_t>());
  };
  std::optional<Frame> frame;
  auto framed = [&](Frame f, const std::string& where) {
    if (frame) file.fail(where, "a second processor that adds special tokens (Loom reads one)");
    frame = std::move(f);
  };
  // A TemplateProcessing's items; `types` gets each item's type_id.
  auto items = [&](const nlohmann::json& p, const std::string& where, const char* name, std::vector<int64_t>& types) {
    const auto list = p.find(name);
    if (list == p.end() || !list->is_array()) file.fail(where + "." + name, "expected a list of template items");
    const auto specials = p.find("special_tokens");
    std::vector<std::string> out;
    for (size_t i = 0; i < list->size(); ++i) {
      const nlohmann::json& item = (*list)[i];
      const std::string at = where + "." + name + "[" + std::to_string(i) + "]";
      const bool special = item.is_object() && item.contains("SpecialToken");
      const nlohmann::json* body = item.is_object() && item.size() == 1 ? &item.begin().value() : nullptr;
      if (!body || !body->is_object() || !(special || item.contains("Sequence")) || !body->contains("id") || !(*body)["id"].is_string())
        file.fail(at, "expected {\"SpecialToken\": {id, type_id}} or {\"Sequence\": {id, type_id}}");
      const std::string id = (*body)["id"].get<std::string>();
      const auto type = body->find("type_id");
      types.push_back(type != body->end() && type->is_number_integer() ? type->get<int64_t>() : 0);
      if (!special) {
        if (id != "A" && id != "B") file.fail(at, "a sequence is A or B, got " + quoted(id));
        out.push_back("$" + id);
        continue;
      }
      const nlohmann::json* entry = specials != p.end() && specials->is_object() && specials->contains(id) ? &(*specials)[id] : nullptr;
      if (!entry || !entry->is_object() || !entry->contains("ids") || !(*entry)["ids"].is_array() || (*entry)["ids"].size() != 1 ||
          !(*entry)["ids"][0].is_number_integer())
        file.fail(at, quoted(id) + " needs one id in special_tokens (Loom reads special tokens of one token)");
      const auto tokens = entry->find("tokens");
      const std::string text = tokens != entry->end() && tokens->is_array() && tokens->size() == 1 && (*tokens)[0].is_string()
                                   ? (*tokens)[0].get<std::string>()
                                   : id;
      out.push_back(role_of(at, text, (*entry)["ids"][0].get<int64_t>()));
    }
    return out;
  };
  std::function<void(const nlohmann::json&, const std::string&)> read = [&](const nlohmann::json& p, const std::string& where) {
    if (p.is_null()) return;
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) file.fail(where, "expected an object with a \"type\"");
    const std::string type = p["type"].get<std::string>();
    if (type == "ByteLevel") return;  // offsets only
    if (type == "Sequence") {
      const auto list = p.find("processors");
      if (list == p.end() || !list->is_array()) file.fail(where + ".processors", "expected a list of processors");
      for (size_t i = 0; i < list->size(); ++i) read((*list)[i], where + ".processors[" + std::to_string(i) + "]");
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      const std::string cls = pair_token(p, where, "cls"), sep = pair_token(p, where, "sep");
      if (type == "BertProcessing") framed(Frame{{cls, "$A", sep}, {cls, "$A", sep, "$B", sep}, {0, 0, 0, 1, 1}}, where);
      else framed(Frame{{cls, "$A", sep}, {cls, "$A", sep, sep, "$B", sep}, {0, 0, 0, 0, 0, 0}}, where);
    } else if (type == "TemplateProcessing") {
      Frame f;
      std::vector<int64_t> single_types;
      f.single = items(p, where, "single", single_types);
      for (int64_t t : single_types)
        if (t != 0) file.fail(where + ".single", "a single text's token types must be 0 (Loom gives one text type 0)");
      f.pair = items(p, where, "pair", f.pair_types);
      framed(std::move(f), where);
    } else {
      file.fail(where + ".type", quoted(type) + " is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, "
                                               "Sequence, or null)");
    }
  };
  if (file.has(key)) read(file.json()[key], key);
  return frame;
}

}  // namespace

std::string tokenizer_section(const std::string& dir, TokenizerSetup setup) {
  const VocabSource source = find_files(dir, setup.kind);
  if (source.empty()) return "";
  const JsonFile config = JsonFile::read_optional(dir, "tokenizer_config.json");
  const std::string tokenizer_class = check_class(config, setup.kind);
  apply_model_input_names(config, tokenizer_class, setup);
  const JsonFile specials = JsonFile::read_optional(dir, "special_tokens_map.json");

  // Special tokens: the class defaults, then special_tokens_map.json, then tokenizer_config.json.
  for (auto& [role, text] : setup.special_tokens) {
    const std::string key = role + "_token";
    if (auto t = specials.token(key)) text = *t;
    if (auto t = config.token(key)) text = *t;
  }
  // tokenizer.json parsed once: for its options, its added tokens and, where it is the source,
  // its vocabulary.
  const JsonFile tokenizer_json = JsonFile::read_optional(dir, "tokenizer.json");
  // From a tokenizer.json, the Fast classes of BERT's and GPT-2's families apply the values above
  // over the file's options (replace_file_options); PreTrainedTokenizerFast keeps the file's.
  const bool from_json = !source.tokenizer_json.empty() && setup.kind != "clip_bpe";
  const bool file_as_is = from_json && tokenizer_class == "PreTrainedTokenizerFast";
  const TextOptions options = file_as_is ? file_options(tokenizer_json, config_options(config, setup)) : config_options(config, setup);
  // model_max_length is often int(1e30) ("no limit"): the position table is the real limit.
  int64_t max_length = setup.max_positions;
  if (config.has("model_max_length") && config.json()["model_max_length"].is_number()) {
    const double m = config.json()["model_max_length"].get<double>();
    if (m >= 1 && m < static_cast<double>(max_length)) max_length = static_cast<int64_t>(m);
  }

  std::ostringstream y;
  y << "  tokenizer:\n"
    << "    kind: " << setup.kind << "\n";
  if (!source.tokenizer_json.empty()) y << "    files: {tokenizer: " << quoted(source.tokenizer_json) << "}\n";
  else if (source.merges.empty()) y << "    files: {vocab: " << quoted(source.vocab) << "}\n";
  else y << "    files: {vocab: " << quoted(source.vocab) << ", merges: " << quoted(source.merges) << "}\n";
  y << "    vocab_size: " << setup.vocab_size << "\n";
  if (setup.kind == "wordpiece") {
    y << "    lowercase: " << (options.lowercase ? "true" : "false") << "\n";
    if (options.strip_accents) y << "    strip_accents: " << (*options.strip_accents ? "true" : "false") << "\n";
    y << "    tokenize_chinese_chars: " << (options.chinese ? "true" : "false") << "\n";
  } else if (setup.kind == "clip_bpe") {
    y << "    lowercase: true\n";  // CLIP's normalizer always lower-cases
  } else {
    y << "    add_prefix_space: " << (options.prefix_space ? "true" : "false") << "\n";
  }
  if (from_json && !file_as_is) y << "    replace_file_options: true\n";
  if (config.has("clean_up_tokenization_spaces"))
    y << "    clean_up_tokenization_spaces: " << (config.boolean("clean_up_tokenization_spaces") ? "true" : "false") << "\n";
  y << "    special_tokens:\n";
  const std::string vocab_file = dir + "/" + (source.vocab.empty() ? source.tokenizer_json : source.vocab);
  std::vector<std::string> texts;
  for (const auto& [role, text] : setup.special_tokens) texts.push_back(text);
  std::vector<std::string> special_texts = texts, additional;
  for (const JsonFile* f : {&specials, &config})
    for (std::string& t : additional_special_tokens(*f)) additional.push_back(std::move(t));
  special_texts.insert(special_texts.end(), additional.begin(), additional.end());
  CheckpointAddedTokens added = read_added_tokens(dir, config, tokenizer_json, special_texts);
  // transformers adds every additional special token that no file lists among the added tokens
  // (its id the vocabulary's, where the vocabulary holds it), so that a text's "[unused1]" is
  // that one token and is not split; one outside the vocabulary would need an id the model
  // lacks, and is left to the vocabulary (where it is no token).
  // One lookup, one read of the vocabulary file, for the roles' tokens and those.
  std::vector<std::string> wanted = texts;
  for (const std::string& t : additional)
    if (!added.find(t) && std::find(wanted.begin() + static_cast<std::ptrdiff_t>(texts.size()), wanted.end(), t) == wanted.end())
      wanted.push_back(t);
  std::vector<std::optional<int64_t>> ids = lookup(dir, source, tokenizer_json, added, wanted);
  for (size_t i = texts.size(); i < wanted.size(); ++i) {
    if (!ids[i] || *ids[i] < 0 || *ids[i] >= setup.vocab_size) continue;
    AddedEntry e;
    e.content = wanted[i];
    e.id = *ids[i];
    e.special = true;
    e.normalized = false;
    e.where = "additional_special_tokens";
    added.all.push_back(std::move(e));
  }
  ids.resize(texts.size());
  size_t next = 0;
  for (const auto& [role, text] : setup.special_tokens) {
    const std::optional<int64_t>& id = ids[next++];
    if (!id) throw Error(vocab_file + ": the " + role + " token " + quoted(text) + " is not in the vocabulary", LOOM_STATUS_INVALID_ARGUMENT);
    if (*id < 0 || *id >= setup.vocab_size)
      throw Error(vocab_file + ": the " + role + " token " + quoted(text) + " has id " + std::to_string(*id) +
                      ", outside config.json's vocab_size " + std::to_string(setup.vocab_size),
                  LOOM_STATUS_INVALID_ARGUMENT);
    y << "      " << role << ": {token: " << quoted(text) << ", id: " << *id << "}\n";
  }
  // The added tokens, less those the core reads from tokenizer.json itself.
  bool listed = false;
  for (size_t i = 0; i < added.all.size(); ++i) {
    const AddedEntry& e = added.all[i];
    if (!source.tokenizer_json.empty() && i < added.in_tokenizer_json.size() && e.same_as(added.in_tokenizer_json[i])) continue;
    if (e.id >= setup.vocab_size)
      throw Error(e.where + ": " + quoted(e.content) + " has id " + std::to_string(e.id) + ", outside config.json's vocab_size " +
                      std::to_string(setup.vocab_size),
                  LOOM_STATUS_INVALID_ARGUMENT);
    if (!listed) y << "    added_tokens:\n";
    listed = true;
    write_added(y, e);
  }
  // The fast tokenizers, which transformers loads where there is a tokenizer.json, frame as its
  // post_processor says; the class's frame otherwise.
  std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> roles;
  next = 0;
  for (const auto& [role, text] : setup.special_tokens) roles.push_back({role, {text, *ids[next++]}});
  const std::optional<Frame> frame = tokenizer_json.exists() ? file_frame(tokenizer_json, roles) : class_frame(setup, config);
  if (frame) {
    y << "    post_processor:\n      single: " << flow_list(frame->single) << "\n";
    if (!frame->pair.empty()) y << "      pair: " << flow_list(frame->pair) << "\n      pair_type_ids: " << int_list(frame->pair_types) << "\n";
  }
  y << "    max_length: " << max_length << "\n";
  if (setup.pad_to_longest && setup.special_tokens.count("pad")) y << "    padding: longest\n";
  if (setup.truncate) y << "    truncation: longest_first\n";
  // Which end pads and truncation take from (transformers' default: the right).
  for (const char* key : {"padding_side", "truncation_side"}) {
    if (!config.has(key)) continue;
    const std::string side = config.string(key);
    if (side != "left" && side != "right") config.fail(key, "expected \"left\" or \"right\", got " + quoted(side));
    y << "    " << key << ": " << side << "\n";
  }
  y << "    inputs: {input_ids: " << quoted(setup.input_ids);
  if (!setup.token_type_ids.empty()) y << ", token_type_ids: " << quoted(setup.token_type_ids);
  if (!setup.attention_mask.empty()) y << ", attention_mask: " << quoted(setup.attention_mask);
  y << "}\n";
  return y.str();
}

}  // namespace loom::models
