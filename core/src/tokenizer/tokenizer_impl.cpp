#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/byte_level_bpe.hpp"
#include "tokenizer/clip_bpe.hpp"
#include "tokenizer/unicode_text.hpp"
#include "tokenizer/wordpiece.hpp"

#include <loom/error.hpp>

#include <map>

namespace loom::tok {

namespace {

const std::string kSpecKey = "processing.tokenizer";

std::string in_quotes(std::string_view s) { return std::string(1, '\'').append(printable(s)).append(1, '\''); }
std::string yes_no(bool b) { return b ? "true" : "false"; }

// tokenizer.json's normalizer and pre-tokenizer options against the spec's. With
// replace_file_options the spec's replace them, as BertTokenizerFast and GPT2TokenizerFast apply
// tokenizer_config.json's values over the file's (clean_text stays the file's). Otherwise they
// must agree: a difference means the two disagree about the model, and silently taking either
// would differ from one of Hugging Face's classes.
void reconcile_options(const TokenizerSpec& spec, ModelFiles& files) {
  const std::string file = printable(files.vocab_name);
  const bool spec_strip = spec.strip_accents.value_or(spec.lowercase);
  if (spec.replace_file_options) {
    if (spec.kind == TokenizerKind::ClipBpe)
      throw Error(kSpecKey + ".replace_file_options: applies to `kind: wordpiece` and `kind: byte_level_bpe` only");
    if (files.normalizer_null)
      throw Error(file + ": normalizer is null, but " + kSpecKey +
                  ".replace_file_options replaces the options of a BertNormalizer (Hugging Face's BertTokenizerFast needs one)");
    if (files.normalizer) {
      files.normalizer->lowercase = spec.lowercase;
      files.normalizer->strip_accents = spec_strip;
      files.normalizer->handle_chinese_chars = spec.tokenize_chinese_chars;
    }
    if (files.add_prefix_space) files.add_prefix_space = spec.add_prefix_space;
    return;
  }
  auto differ = [&](const char* file_key, bool file_value, const char* spec_key, bool spec_value) {
    if (file_value != spec_value)
      throw Error(file + ": normalizer." + file_key + " is " + yes_no(file_value) + " but " + kSpecKey + "." + spec_key + " is " +
                  yes_no(spec_value) + " (make the graph's tokenizer spec agree with its tokenizer.json, or set " + kSpecKey +
                  ".replace_file_options)");
  };
  if (files.normalizer) {
    const BertNormalizerOptions& n = *files.normalizer;
    differ("lowercase", n.lowercase, "lowercase", spec.lowercase);
    differ("strip_accents", n.strip_accents, "strip_accents", spec_strip);
    differ("handle_chinese_chars", n.handle_chinese_chars, "tokenize_chinese_chars", spec.tokenize_chinese_chars);
  }
  if (files.add_prefix_space && *files.add_prefix_space != spec.add_prefix_space)
    throw Error(file + ": pre_tokenizer.add_prefix_space is " + yes_no(*files.add_prefix_space) + " but " + kSpecKey +
                ".add_prefix_space is " + yes_no(spec.add_prefix_space) + " (make the graph's tokenizer spec agree with its tokenizer.json, or set " +
                kSpecKey + ".replace_file_options)");
  if (files.lowercase && *files.lowercase != spec.lowercase)
    throw Error(file + ": the normalizer " + (*files.lowercase ? "lower-cases" : "does not lower-case") + " but " + kSpecKey +
                ".lowercase is " + yes_no(spec.lowercase) + " (make the graph's tokenizer spec agree with its tokenizer.json)");
}

// The spec's unknown token is the model's with the vocabulary files; a tokenizer.json names its
// own, which must be the same.
void take_unk(const TokenizerSpec& spec, bool from_json, const std::string& vocab_name, std::optional<std::string>& model_unk) {
  auto unk = spec.special_tokens.find("unk");
  if (unk == spec.special_tokens.end()) return;
  if (!from_json) model_unk = unk->second.token;
  else if (model_unk != unk->second.token)
    throw Error(printable(vocab_name) + ": model.unk_token is " + (model_unk ? in_quotes(*model_unk) : "null") + " but " + kSpecKey +
                ".special_tokens.unk is " + in_quotes(unk->second.token));
}

// The spec's added tokens join the files' (tokenizer.json's): a text keeps its id, and the spec's
// flags win, as Hugging Face applies tokenizer_config.json's added_tokens_decoder over the file.
void merge_added(const TokenizerSpec& spec, ModelFiles& files) {
  std::map<std::string, size_t, std::less<>> by_content;
  std::map<int32_t, size_t> by_id;
  for (size_t i = 0; i < files.added.size(); ++i) {
    by_content.emplace(files.added[i].content, i);
    by_id.emplace(files.added[i].id, i);
  }
  for (size_t i = 0; i < spec.added_tokens.size(); ++i) {
    const AddedTokenSpec& a = spec.added_tokens[i];
    const std::string key = kSpecKey + ".added_tokens[" + std::to_string(i) + "]";
    if (std::string problem = token_text_problem(a.token); !problem.empty()) throw Error(key + ".token: " + problem);
    if (a.id < 0 || a.id > kMaxTokenId) throw Error(key + ".id: " + std::to_string(a.id) + " is not a token id");
    const AddedToken t{a.token, static_cast<int32_t>(a.id), a.special, a.single_word, a.lstrip, a.rstrip, a.normalized.value_or(!a.special)};
    auto content = by_content.find(t.content);
    auto id = by_id.find(t.id);
    if (content == by_content.end() && id == by_id.end()) {
      by_content.emplace(t.content, files.added.size());
      by_id.emplace(t.id, files.added.size());
      files.added.push_back(t);
      continue;
    }
    const size_t at = content != by_content.end() ? content->second : id->second;
    const AddedToken& other = files.added[at];
    if (other.content != t.content || other.id != t.id)
      throw Error(key + ": " + in_quotes(t.content) + " with id " + std::to_string(t.id) + ", but " + printable(files.vocab_name) +
                  " adds " + in_quotes(other.content) + " as id " + std::to_string(other.id));
    files.added[at] = t;
  }
}

std::unique_ptr<TokenModel> make_model(const TokenizerSpec& spec, ModelFiles& files, bool from_json) {
  if (spec.kind == TokenizerKind::WordPiece) {
    BertNormalizerOptions normalizer;
    if (files.normalizer) {
      normalizer = *files.normalizer;
    } else {
      normalizer.handle_chinese_chars = spec.tokenize_chinese_chars;
      normalizer.lowercase = spec.lowercase;
      normalizer.strip_accents = spec.strip_accents.value_or(spec.lowercase);
    }
    WordPieceOptions options = files.wordpiece;
    std::optional<std::string> unk = options.unk_token;
    take_unk(spec, from_json, files.vocab_name, unk);
    options.unk_token = *unk;
    return std::make_unique<WordPieceModel>(std::move(files.vocab), normalizer, options, files.vocab_name);
  }
  if (spec.kind == TokenizerKind::ClipBpe) {
    if (spec.strip_accents.value_or(false))
      throw Error(kSpecKey + ".strip_accents: CLIP's tokenizer never strips accents (expected false or nothing)");
    BpeOptions options = files.bpe;
    take_unk(spec, from_json, files.vocab_name, options.unk_token);
    if (!from_json) {
      options.end_of_word_suffix = "</w>";
      // CLIPTokenizer reads no more merges than OpenAI's vocabulary has, by line: lines 2 to
      // 1 + 49152 - 256 - 2 of the stripped file (a blank one among them takes a place); the
      // rest are not used.
      std::erase_if(files.merges, [](const Merge& m) { return m.place > kClipMergesRead + 1; });
    }
    return std::make_unique<ClipBpeModel>(std::move(files.vocab), files.merges, options, spec.lowercase, files.merge_where,
                                          files.vocab_name);
  }
  return std::make_unique<ByteLevelBpeModel>(std::move(files.vocab), files.merges, files.bpe, spec.add_prefix_space,
                                             files.merge_where, files.vocab_name, files.bpe_no_decoder);
}

}  // namespace

TokenizerImpl::TokenizerImpl(const TokenizerSpec& spec, ModelFiles files) : spec_(spec) {
  const bool from_json = !spec.files.tokenizer.empty();
  if (from_json) reconcile_options(spec, files);
  merge_added(spec, files);
  added_ = files.added;
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& t = added_[i];
    // tokenizer.json lists the special tokens of the vocabulary again, with the same ids.
    const std::string* in_vocab = files.vocab.token(t.id);
    auto vocab_id = files.vocab.find(t.content);
    if ((in_vocab && *in_vocab != t.content) || (vocab_id && *vocab_id != t.id))
      throw Error(printable(files.vocab_name) + ": added_tokens: " + in_quotes(t.content) + " has id " + std::to_string(t.id) +
                  (vocab_id ? ", but it is " + std::to_string(*vocab_id) + " in model.vocab" : ", which model.vocab gives " + in_quotes(*in_vocab)));
    added_by_id_.emplace(t.id, i);
    added_by_content_.emplace(t.content, i);
  }
  add_spec_special_tokens(files);
  check_ids_fit(files);
  model_ = make_model(spec_, files, from_json);

  // A normalized token is matched in the normalized text, as its normalized content (Hugging
  // Face's tokenizers normalizes each one when it builds its matcher): an uncased BERT's added
  // "MyTok" is found as "mytok", whatever the case of the text.
  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : added_) {
    if (t.special) special_ids_.insert(t.id);
    if (!t.normalized) {
      raw.push_back(t);
      continue;
    }
    AddedToken n = t;
    n.content = model_->normalize(t.content);
    if (!n.content.empty()) normalized.push_back(std::move(n));
  }
  raw_matcher_ = AddedTokenMatcher(raw);
  normalized_matcher_ = AddedTokenMatcher(normalized);
}

void TokenizerImpl::add_spec_special_tokens(const ModelFiles& files) {
  const std::string file = printable(files.vocab_name);
  for (const auto& [role, s] : spec_.special_tokens) {
    const std::string key = kSpecKey + ".special_tokens." + role;
    if (std::string problem = token_text_problem(s.token); !problem.empty()) throw Error(key + ".token: " + problem);
    if (s.id < 0 || s.id > kMaxTokenId) throw Error(key + ".id: " + std::to_string(s.id) + " is not a token id");
    const auto id = static_cast<int32_t>(s.id);
    if (auto it = added_by_content_.find(s.token); it != added_by_content_.end()) {
      AddedToken& t = added_[it->second];
      if (t.id != id)
        throw Error(key + ": " + in_quotes(s.token) + " is id " + std::to_string(t.id) + " in " + file + ", not " + std::to_string(id));
      t.special = true;  // a role of the spec is special whatever the file says, as in Hugging Face
      continue;
    }
    if (auto vocab_id = files.vocab.find(s.token)) {
      if (*vocab_id != id)
        throw Error(key + ": " + in_quotes(s.token) + " is id " + std::to_string(*vocab_id) + " in " + file + ", not " +
                    std::to_string(id));
    } else if (const std::string* other = files.vocab.token(id)) {
      throw Error(key + ": " + in_quotes(s.token) + " is not in " + file + ", and its id " + std::to_string(id) + " is " + in_quotes(*other) +
                  " there");
    } else if (auto other_added = added_by_id_.find(id); other_added != added_by_id_.end()) {
      throw Error(key + ": " + in_quotes(s.token) + " is not in " + file + ", and its id " + std::to_string(id) + " is the added token " +
                  in_quotes(added_[other_added->second].content));
    }
    // Special tokens are matched in the raw text: never lower-cased or split. CLIP's are matched
    // in the normalized text, as CLIPTokenizer's pattern and CLIP's tokenizer.json have them
    // ("<|STARTOFTEXT|>" is the token too).
    added_.push_back(AddedToken{s.token, id, true, false, false, false, spec_.kind == TokenizerKind::ClipBpe});
    added_by_id_.emplace(id, added_.size() - 1);
    added_by_content_.emplace(s.token, added_.size() - 1);
  }
}

void TokenizerImpl::check_ids_fit(const ModelFiles& files) const {
  if (spec_.vocab_size <= 0) return;  // a spec made by a host without a graph's check
  int32_t top = files.vocab.max_id();
  std::string top_token = top >= 0 ? *files.vocab.token(top) : "";
  for (const AddedToken& t : added_)
    if (t.id > top) {
      top = t.id;
      top_token = t.content;
    }
  if (top >= spec_.vocab_size)
    throw Error(printable(files.vocab_name) + ": token " + in_quotes(top_token) + " has id " + std::to_string(top) + ", not below " +
                kSpecKey + ".vocab_size " + std::to_string(spec_.vocab_size) + " (the ids the graph takes)");
}

void TokenizerImpl::encode_text(std::string_view text, const std::string& what, std::vector<int32_t>& ids) const {
  if (auto bad = text::first_invalid_utf8(text))
    throw Error(what + ": not valid UTF-8 (byte " + std::to_string(*bad) + " of " + std::to_string(text.size()) + ")");
  std::vector<Piece> pieces;
  raw_matcher_.split(text, pieces);
  for (const Piece& piece : pieces) {
    if (piece.id >= 0) {
      ids.push_back(piece.id);
      continue;
    }
    const std::string normalized = model_->normalize(piece.text);
    if (normalized_matcher_.empty()) {
      encode_normalized(normalized, ids);
      continue;
    }
    std::vector<Piece> inner;
    normalized_matcher_.split(normalized, inner);
    for (const Piece& p : inner) {
      if (p.id >= 0) ids.push_back(p.id);
      else encode_normalized(p.text, ids);
    }
  }
}

void TokenizerImpl::encode_normalized(std::string_view normalized, std::vector<int32_t>& ids) const {
  if (!normalized.empty()) model_->encode(normalized, ids);
}

const std::string* TokenizerImpl::find_token(int64_t id) const {
  if (id < 0 || id > INT32_MAX) return nullptr;
  if (auto it = added_by_id_.find(static_cast<int32_t>(id)); it != added_by_id_.end()) return &added_[it->second].content;
  return model_->vocab().token(static_cast<int32_t>(id));
}

const std::string& TokenizerImpl::token(int64_t id) const {
  if (const std::string* t = find_token(id)) return *t;
  throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + printable(spec_.files.tokenizer.empty() ? spec_.files.vocab : spec_.files.tokenizer));
}

std::optional<int32_t> TokenizerImpl::find_id(std::string_view token) const {
  if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return added_[it->second].id;
  return model_->vocab().find(token);
}

size_t TokenizerImpl::vocabulary_size() const {
  size_t n = model_->vocab().size();
  for (const AddedToken& t : added_)
    if (!model_->vocab().token(t.id)) ++n;
  return n;
}

std::shared_ptr<const TokenizerImpl> load_tokenizer(const TokenizerSpec& spec,
                                                    const std::function<std::string(const std::string&, const char*)>& read,
                                                    const std::function<std::string(const std::string&)>& name) {
  const TokenizerFiles& f = spec.files;
  ModelFiles files;
  if (!f.tokenizer.empty()) {
    if (!f.vocab.empty() || !f.merges.empty())
      throw Error(kSpecKey + ".files: give either `tokenizer` (tokenizer.json) or the vocabulary files, not both");
    files = read_tokenizer_json(read(f.tokenizer, "tokenizer.json"), name(f.tokenizer), spec.kind);
  } else if (spec.kind == TokenizerKind::WordPiece) {
    if (f.vocab.empty()) throw Error(kSpecKey + ".files: a wordpiece tokenizer needs `vocab` (vocab.txt) or `tokenizer` (tokenizer.json)");
    files = read_wordpiece_files(read(f.vocab, "vocabulary"), name(f.vocab));
  } else {
    if (f.vocab.empty() || f.merges.empty())
      throw Error(kSpecKey + ".files: a BPE tokenizer needs `vocab` (vocab.json) and `merges` (merges.txt), or `tokenizer` (tokenizer.json)");
    files = read_bpe_files(read(f.vocab, "vocabulary"), name(f.vocab), read(f.merges, "merges"), name(f.merges),
                           spec.kind == TokenizerKind::ClipBpe ? MergesReader::clip : MergesReader::gpt2);
  }
  return std::make_shared<const TokenizerImpl>(spec, std::move(files));
}

std::string clean_up_tokenization(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = text::replace_all(s, from, to);
  return s;
}

}  // namespace loom::tok
