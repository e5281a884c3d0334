#include "tokenizer/model_files.hpp"
#include "tokenizer/json_text.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <set>

namespace loom::tok {

namespace {

using json = nlohmann::json;

// Typed members of one JSON object of tokenizer.json, each error naming the file and the path.
class Fields {
 public:
  Fields(const json& object, std::string where) : j_(object), where_(std::move(where)) {
    if (!j_.is_object()) throw Error(where_ + ": expected an object, found " + json_kind(j_));
  }
  const std::string& where() const { return where_; }
  std::string at(const char* key) const { return where_ + "." + key; }

  // The member, or null when absent or null.
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) throw Error(at(key) + ": expected true or false, found " + json_kind(*v));
    return v->get<bool>();
  }
  std::optional<bool> optional_boolean(const char* key) const {
    if (!find(key)) return std::nullopt;
    return boolean(key, false);
  }
  std::optional<std::string> string(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw Error(at(key) + ": expected a string, found " + json_kind(*v));
    return v->get<std::string>();
  }
  int64_t integer(const char* key, int64_t fallback, int64_t min, int64_t max) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number_integer() || (v->is_number_unsigned() ? v->get<uint64_t>() > static_cast<uint64_t>(max)
                                                             : v->get<int64_t>() < min || v->get<int64_t>() > max))
      throw Error(at(key) + ": expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", found " +
                  printable(v->dump()));
    return v->get<int64_t>();
  }
  // The "type" member, or `inferred` when the object has none.
  std::string type(const std::string& inferred = "") const {
    auto t = string("type");
    if (!t && inferred.empty()) throw Error(at("type") + ": missing");
    return t ? *t : inferred;
  }

 private:
  const json& j_;
  std::string where_;
};

std::string in_quotes(const std::string& s) { return std::string(1, '\'').append(printable(s)).append(1, '\''); }

void read_added_tokens(const json& root, const std::string& name, ModelFiles& files) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return;
  const std::string where = printable(name) + ": added_tokens";
  if (!it->is_array()) throw Error(where + ": expected a list, found " + json_kind(*it));
  std::set<std::string> contents;
  std::set<int32_t> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    const Fields f((*it)[i], where + "[" + std::to_string(i) + "]");
    AddedToken t;
    if (!f.find("id")) throw Error(f.at("id") + ": missing");
    t.id = static_cast<int32_t>(f.integer("id", 0, 0, kMaxTokenId));
    auto content = f.string("content");
    if (!content) throw Error(f.at("content") + ": missing");
    if (std::string problem = token_text_problem(*content); !problem.empty()) throw Error(f.at("content") + ": " + problem);
    t.content = *content;
    t.special = f.boolean("special", false);
    t.single_word = f.boolean("single_word", false);
    t.lstrip = f.boolean("lstrip", false);
    t.rstrip = f.boolean("rstrip", false);
    t.normalized = f.boolean("normalized", !t.special);  // Hugging Face's default
    if (!contents.insert(t.content).second) throw Error(f.where() + ": " + in_quotes(t.content) + " is listed twice");
    if (!ids.insert(t.id).second) throw Error(f.where() + ": id " + std::to_string(t.id) + " is listed twice");
    files.added.push_back(std::move(t));
  }
}

std::vector<Merge> read_json_merges(const json* merges, const std::string& where) {
  std::vector<Merge> out;
  if (!merges) return out;
  if (!merges->is_array()) throw Error(where + ": expected a list, found " + json_kind(*merges));
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    Merge merge;
    merge.place = i;
    if (m.is_string()) {  // "a b"
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
        throw Error(at + ": expected two tokens separated by one space, found " + in_quotes(s.substr(0, 80)));
      merge.left = s.substr(0, space);
      merge.right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
      merge.left = m[0].get<std::string>();
      merge.right = m[1].get<std::string>();
    } else {
      throw Error(at + ": expected \"a b\" or [\"a\", \"b\"], found " + json_kind(m));
    }
    for (const std::string* part : {&merge.left, &merge.right})
      if (std::string problem = token_text_problem(*part); !problem.empty()) throw Error(at + ": " + problem);
    out.push_back(std::move(merge));
  }
  return out;
}

void read_wordpiece_json(const json& root, const Fields& model, const std::string& name, ModelFiles& files) {
  files.vocab = vocabulary_from_json(model.find("vocab") ? *model.find("vocab") : json::object(), model.at("vocab"));
  WordPieceOptions& o = files.wordpiece;
  o.unk_token = model.string("unk_token").value_or("[UNK]");
  o.continuing_subword_prefix = model.string("continuing_subword_prefix").value_or("##");
  if (o.continuing_subword_prefix.size() > kMaxTokenBytes) throw Error(model.at("continuing_subword_prefix") + ": too long");
  o.max_input_chars_per_word = static_cast<size_t>(model.integer("max_input_chars_per_word", 100, 1, 1'000'000));

  BertNormalizerOptions normalizer{false, false, false, false};  // none
  if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
    const Fields n(*it, printable(name) + ": normalizer");
    if (const std::string type = n.type(); type != "BertNormalizer")
      throw Error(n.at("type") + ": " + in_quotes(type) + " is not supported with a WordPiece model (Loom reads BertNormalizer)");
    normalizer.clean_text = n.boolean("clean_text", true);
    normalizer.handle_chinese_chars = n.boolean("handle_chinese_chars", true);
    normalizer.lowercase = n.boolean("lowercase", true);
    normalizer.strip_accents = n.optional_boolean("strip_accents").value_or(normalizer.lowercase);
  } else {
    files.normalizer_null = true;
  }
  files.normalizer = normalizer;

  auto pre = root.find("pre_tokenizer");
  if (pre == root.end() || pre->is_null())
    throw Error(printable(name) + ": pre_tokenizer: missing (Loom reads BertPreTokenizer with a WordPiece model)");
  const Fields p(*pre, printable(name) + ": pre_tokenizer");
  if (const std::string type = p.type(); type != "BertPreTokenizer")
    throw Error(p.at("type") + ": " + in_quotes(type) + " is not supported with a WordPiece model (Loom reads BertPreTokenizer)");

  // The WordPiece decoder (glue continuations, clean up); without one, Hugging Face's tokenizers
  // join the tokens by spaces as they are.
  auto decoder = root.find("decoder");
  if (decoder == root.end() || decoder->is_null()) {
    o.no_decoder = true;
  } else {
    const Fields d(*decoder, printable(name) + ": decoder");
    if (const std::string type = d.type(); type != "WordPiece")
      throw Error(d.at("type") + ": " + in_quotes(type) + " is not supported with a WordPiece model (Loom reads WordPiece, or null)");
    o.decoder_cleanup = d.boolean("cleanup", true);
    if (d.string("prefix").value_or("##") != o.continuing_subword_prefix)
      throw Error(d.at("prefix") + ": the decoder's prefix differs from model.continuing_subword_prefix");
  }
}

// The model of both BPE kinds: byte-level BPE has no end-of-word suffix, CLIP's has one.
void read_bpe_model(const Fields& model, TokenizerKind kind, ModelFiles& files) {
  const char* kind_name = kind == TokenizerKind::ClipBpe ? "CLIP's BPE" : "byte-level BPE";
  files.vocab = vocabulary_from_json(model.find("vocab") ? *model.find("vocab") : json::object(), model.at("vocab"));
  files.merges = read_json_merges(model.find("merges"), model.at("merges"));
  const std::string merges_where = model.at("merges");
  files.merge_where = [merges_where](size_t i) { return merges_where + "[" + std::to_string(i) + "]"; };
  if (const json* dropout = model.find("dropout"))
    throw Error(model.at("dropout") + ": BPE dropout (" + printable(dropout->dump()) +
                ") samples merges at random; Loom encodes deterministically and reads only null");
  if (!model.string("continuing_subword_prefix").value_or("").empty())
    throw Error(model.at("continuing_subword_prefix") + ": not supported with " + kind_name + " (expected null or \"\")");
  const std::string suffix = model.string("end_of_word_suffix").value_or("");
  if (kind != TokenizerKind::ClipBpe && !suffix.empty())
    throw Error(model.at("end_of_word_suffix") + ": not supported with byte-level BPE (expected null or \"\")");
  if (kind == TokenizerKind::ClipBpe && suffix.empty())
    throw Error(model.at("end_of_word_suffix") + ": CLIP's BPE marks the end of a word (expected \"</w>\")");
  if (suffix.size() > kMaxTokenBytes) throw Error(model.at("end_of_word_suffix") + ": too long");
  files.bpe.end_of_word_suffix = suffix;
  if (model.boolean("byte_fallback", false)) throw Error(model.at("byte_fallback") + ": not supported with " + kind_name + " (expected false)");
  files.bpe.unk_token = model.string("unk_token");
  files.bpe.fuse_unk = model.boolean("fuse_unk", false);
  files.bpe.ignore_merges = model.boolean("ignore_merges", false);
}

void read_bpe_json(const json& root, const Fields& model, const std::string& name, ModelFiles& files) {
  read_bpe_model(model, TokenizerKind::ByteLevelBpe, files);
  if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
    const Fields n(*it, printable(name) + ": normalizer");
    throw Error(n.at("type") + ": " + in_quotes(n.type("(no type)")) + " is not supported with byte-level BPE (expected null)");
  }
  auto pre = root.find("pre_tokenizer");
  if (pre == root.end() || pre->is_null())
    throw Error(printable(name) + ": pre_tokenizer: missing (Loom reads ByteLevel with a BPE model)");
  const Fields p(*pre, printable(name) + ": pre_tokenizer");
  if (const std::string type = p.type(); type != "ByteLevel")
    throw Error(p.at("type") + ": " + in_quotes(type) + " is not supported with byte-level BPE (Loom reads ByteLevel)");
  if (!p.boolean("use_regex", true)) throw Error(p.at("use_regex") + ": false is not supported (GPT-2's regex is always used)");
  files.add_prefix_space = p.boolean("add_prefix_space", true);  // the ByteLevel default
  // Decoding maps the symbols back to their bytes, which is the ByteLevel decoder; without one,
  // Hugging Face's tokenizers join the tokens by spaces as they are.
  if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    const Fields d(*it, printable(name) + ": decoder");
    if (const std::string type = d.type(); type != "ByteLevel")
      throw Error(d.at("type") + ": " + in_quotes(type) + " is not supported with byte-level BPE (Loom reads ByteLevel, or null)");
  } else {
    files.bpe_no_decoder = true;
  }
}

// The members of a Sequence normalizer or pre-tokenizer (`key`: "normalizers", "pretokenizers"),
// which must be `expected` in that order, with the optional `last` after them.
std::vector<Fields> sequence_steps(const json& root, const char* part, const char* key, const std::string& name,
                                   const std::vector<std::string>& expected, const char* last, const char* what) {
  auto it = root.find(part);
  if (it == root.end() || it->is_null()) throw Error(printable(name) + ": " + part + ": missing (Loom reads " + what + ")");
  const Fields sequence(*it, printable(name) + ": " + part);
  if (const std::string type = sequence.type(); type != "Sequence")
    throw Error(sequence.at("type") + ": " + in_quotes(type) + " is not supported with CLIP's BPE (Loom reads " + what + ")");
  const json* steps = sequence.find(key);
  if (!steps || !steps->is_array()) throw Error(sequence.at(key) + ": expected a list of " + what);
  std::vector<Fields> out;
  for (size_t i = 0; i < steps->size(); ++i) {
    out.emplace_back((*steps)[i], sequence.at(key) + "[" + std::to_string(i) + "]");
    const std::string type = out.back().type();
    const bool fits = i < expected.size() ? type == expected[i] : i == expected.size() && last && type == last;
    if (!fits) throw Error(out.back().at("type") + ": " + in_quotes(type) + " is not supported here (Loom reads " + what + ")");
  }
  if (out.size() < expected.size()) throw Error(sequence.at(key) + ": too few steps (Loom reads " + what + ")");
  return out;
}

// A {"Regex": ...} pattern of a Replace or Split step, which must be `wanted`.
void expect_regex(const Fields& step, const std::string& wanted) {
  const json* pattern = step.find("pattern");
  const std::string where = step.at("pattern");
  if (!pattern || !pattern->is_object() || pattern->size() != 1 || !pattern->contains("Regex") || !(*pattern)["Regex"].is_string())
    throw Error(where + ": expected {\"Regex\": \"" + printable(wanted) + "\"}");
  if (const std::string found = (*pattern)["Regex"].get<std::string>(); found != wanted)
    throw Error(where + ".Regex: " + in_quotes(found) + " is not CLIP's " + in_quotes(wanted));
}

void read_clip_json(const json& root, const Fields& model, const std::string& name, ModelFiles& files) {
  read_bpe_model(model, TokenizerKind::ClipBpe, files);
  const char* normalizer = "CLIP's Sequence of NFC, Replace(\\s+, \" \") and Lowercase";
  const std::vector<Fields> n = sequence_steps(root, "normalizer", "normalizers", name, {"NFC", "Replace"}, "Lowercase", normalizer);
  expect_regex(n[1], R"(\s+)");
  if (n[1].string("content") != " ") throw Error(n[1].at("content") + ": expected \" \" (CLIP's white space becomes one space)");
  files.lowercase = n.size() == 3;

  const char* pre_tokenizer = "CLIP's Sequence of Split and ByteLevel";
  const std::vector<Fields> p = sequence_steps(root, "pre_tokenizer", "pretokenizers", name, {"Split", "ByteLevel"}, nullptr, pre_tokenizer);
  expect_regex(p[0], R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)");
  if (p[0].string("behavior") != "Removed") throw Error(p[0].at("behavior") + ": expected \"Removed\" (CLIP keeps only the regex's matches)");
  if (!p[0].boolean("invert", false)) throw Error(p[0].at("invert") + ": expected true (CLIP keeps only the regex's matches)");
  // ByteLevel's own regex (GPT-2's) leaves each of CLIP's pieces whole, so use_regex does not matter.
  if (p[1].boolean("add_prefix_space", true)) throw Error(p[1].at("add_prefix_space") + ": expected false (CLIP adds no space)");

  if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    const Fields d(*it, printable(name) + ": decoder");
    if (const std::string type = d.type(); type != "ByteLevel")
      throw Error(d.at("type") + ": " + in_quotes(type) + " is not supported with CLIP's BPE (Loom reads ByteLevel)");
  }
}

ModelFiles read_tokenizer_json_checked(const json& root, const std::string& name, TokenizerKind kind) {
  const Fields top(root, printable(name));  // the file must be an object
  auto model_it = root.find("model");
  if (model_it == root.end() || model_it->is_null()) throw Error(printable(name) + ": model: missing");
  const Fields model(*model_it, printable(name) + ": model");
  // Files written by old versions of tokenizers have no model.type: BPE is the one with merges.
  const std::string type = model.type(model.find("merges") ? "BPE" : "WordPiece");
  const char* wanted = kind == TokenizerKind::WordPiece ? "WordPiece" : "BPE";  // a CLIP one too
  if (type != "WordPiece" && type != "BPE")
    throw Error(model.at("type") + ": " + in_quotes(type) + " is not supported (Loom reads WordPiece and BPE models)");
  if (type != wanted)
    throw Error(model.at("type") + ": " + in_quotes(type) + ", but processing.tokenizer.kind is " + std::string(enum_name(kind)) +
                " (which needs a " + wanted + " model)");
  ModelFiles files;
  files.vocab_name = name;
  read_added_tokens(root, name, files);
  if (kind == TokenizerKind::WordPiece) read_wordpiece_json(root, model, name, files);
  else if (kind == TokenizerKind::ClipBpe) read_clip_json(root, model, name, files);
  else read_bpe_json(root, model, name, files);
  return files;
}

}  // namespace

ModelFiles read_wordpiece_files(std::string_view vocab_txt, const std::string& vocab_name) {
  ModelFiles files;
  files.vocab_name = vocab_name;
  files.vocab = read_vocab_txt(vocab_txt, vocab_name);
  return files;
}

ModelFiles read_bpe_files(std::string_view vocab_json, const std::string& vocab_name, std::string_view merges_txt,
                          const std::string& merges_name, MergesReader reader) {
  ModelFiles files;
  files.vocab_name = vocab_name;
  files.vocab = read_vocab_json(vocab_json, vocab_name);
  files.merges = read_merges_txt(merges_txt, merges_name, reader);
  const std::string shown = printable(merges_name);
  files.merge_where = [shown](size_t line) { return shown + ":" + std::to_string(line); };
  return files;
}

ModelFiles read_tokenizer_json(std::string_view text, const std::string& name, TokenizerKind kind) {
  try {
    return read_tokenizer_json_checked(parse_json_text(text, name), name, kind);
  } catch (const json::exception& e) {  // every access is checked first: this is a safety net
    throw Error(printable(name) + ": unexpected JSON: " + e.what());
  }
}

}  // namespace loom::tok
