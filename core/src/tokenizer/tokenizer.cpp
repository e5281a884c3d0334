// The public tokenizer API (loom/tokenizer.hpp) over TokenizerImpl.
#include <loom/tokenizer.hpp>

#include "io/regular_file.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

namespace loom {

namespace {

std::shared_ptr<const tok::TokenizerImpl> load(const TokenizerSpec& spec,
                                               const std::function<std::string(const std::string&, const char*)>& read,
                                               const std::function<std::string(const std::string&)>& name) {
  tok::check_post_processing(spec);
  return tok::load_tokenizer(spec, read, name);
}

std::string row_name(const char* what, size_t i) { return std::string(what) + " " + std::to_string(i); }

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl) : impl_(std::move(impl)) {}

Tokenizer::Tokenizer(const TokenizerSpec& spec, const std::filesystem::path& base_dir) {
  auto resolve = [&](const std::string& file) {
    const std::filesystem::path p(file);
    return p.is_absolute() ? p : base_dir / p;
  };
  impl_ = load(
      spec,
      [&](const std::string& file, const char* role) {
        return io::read_text_file(resolve(file), std::string("the tokenizer's ") + role + " file");
      },
      [&](const std::string& file) { return resolve(file).string(); });
}

Tokenizer Tokenizer::from_graph(const Graph& g) {
  if (!g.processing || !g.processing->tokenizer)
    throw Error(printable(g.path.empty() ? "graph '" + g.name + "'" : g.path.string()) +
                ": the graph has no tokenizer (processing.tokenizer) in its processing section");
  return Tokenizer(*g.processing->tokenizer, g.base_dir);
}

Tokenizer Tokenizer::from_texts(const TokenizerSpec& spec, const TokenizerFileTexts& texts) {
  const TokenizerFiles& f = spec.files;
  return Tokenizer(load(
      spec,
      [&](const std::string& file, const char*) -> std::string {
        return file == f.tokenizer ? texts.tokenizer : file == f.merges ? texts.merges : texts.vocab;
      },
      [](const std::string& file) { return file; }));
}

const TokenizerSpec& Tokenizer::spec() const { return impl_->spec(); }

Encoding Tokenizer::encode(const std::vector<std::string>& texts, const std::vector<std::string>& pairs) const {
  if (texts.empty()) throw Error("encode: no texts");
  if (!pairs.empty() && pairs.size() != texts.size())
    throw Error("encode: " + std::to_string(texts.size()) + " texts but " + std::to_string(pairs.size()) +
                " pair texts (one pair text per text)");
  Encoding e;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> a;
    impl_->encode_text(texts[i], row_name("text", i), a);
    std::optional<std::vector<int32_t>> b;
    if (!pairs.empty()) impl_->encode_text(pairs[i], row_name("pair text", i), b.emplace());
    tok::add_row(impl_->spec(), std::move(a), std::move(b), i, e);
  }
  tok::pad(impl_->spec(), e);
  return e;
}

std::vector<int64_t> Tokenizer::encode_text(std::string_view text) const {
  std::vector<int32_t> ids;
  impl_->encode_text(text, "the text", ids);
  return {ids.begin(), ids.end()};
}

std::map<std::string, Tensor> Tokenizer::tensors(const Encoding& e) const {
  const TokenizerSpec& spec = impl_->spec();
  if (e.size() == 0) throw Error("tensors: the encoding has no rows");
  if (e.token_type_ids.size() != e.size() || e.attention_mask.size() != e.size())
    throw Error("tensors: the encoding has " + std::to_string(e.size()) + " rows of ids but " + std::to_string(e.token_type_ids.size()) +
                " of token types and " + std::to_string(e.attention_mask.size()) + " of attention masks");
  const size_t seq = e.input_ids[0].size();
  for (size_t r = 0; r < e.size(); ++r)
    if (e.input_ids[r].size() != seq || e.token_type_ids[r].size() != seq || e.attention_mask[r].size() != seq)
      throw Error("tensors: row " + std::to_string(r) + " has " + std::to_string(e.input_ids[r].size()) + " tokens and row 0 has " +
                  std::to_string(seq) + "; a batch tensor needs rows of one length (processing.tokenizer.padding is " +
                  std::string(enum_name(spec.padding)) + ")");
  std::map<std::string, Tensor> out;
  auto put = [&](const std::string& name, const std::vector<std::vector<int64_t>>& rows) {
    if (name.empty()) return;
    Tensor t(DType::i64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(seq)});
    int64_t* p = t.data_as<int64_t>();
    for (const auto& row : rows) p = std::copy(row.begin(), row.end(), p);
    out.emplace(name, std::move(t));
  };
  put(spec.input_ids, e.input_ids);
  put(spec.token_type_ids, e.token_type_ids);
  put(spec.attention_mask, e.attention_mask);
  return out;
}

std::string Tokenizer::decode(std::span<const int64_t> ids, const DecodeOptions& options) const {
  std::string bytes;
  bool first = true;
  for (int64_t id : ids) {
    const std::string* token = impl_->find_token(id);
    if (!token || (options.skip_special_tokens && impl_->is_special(id))) continue;
    impl_->model().decode_token(*token, first, bytes);
    first = false;
  }
  std::string text, held;
  impl_->model().finish_text(tok::text::repair_utf8(bytes), true, true, text, held);
  const bool clean_up =
      options.clean_up_tokenization_spaces.value_or(spec().clean_up_tokenization_spaces.value_or(impl_->model().clean_up_by_default()));
  if (clean_up) text = tok::clean_up_tokenization(std::move(text));
  return text;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->find_id(token)) return *id;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
  if (const std::string* t = impl_->find_token(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::is_special(int64_t id) const { return impl_->is_special(id); }
size_t Tokenizer::vocabulary_size() const { return impl_->vocabulary_size(); }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : impl_(tokenizer.impl_), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::step(int64_t id) {
  const std::string* token = impl_->find_token(id);
  if (!token || (skip_special_ && impl_->is_special(id))) return "";
  std::string bytes = std::move(held_);
  impl_->model().decode_token(*token, first_, bytes);
  first_ = false;
  size_t hold = 0;
  std::string text = held_text_ + tok::text::repair_utf8(bytes, &hold);
  held_ = bytes.substr(bytes.size() - hold);
  return finish_text(text, false);
}

std::string StreamDecoder::finish() {
  std::string text = held_text_ + tok::text::repair_utf8(held_);
  held_.clear();
  return finish_text(text, true);
}

std::string StreamDecoder::finish_text(const std::string& text, bool at_end) {
  std::string out;
  impl_->model().finish_text(text, !started_, at_end, out, held_text_);
  started_ = started_ || !out.empty();
  return out;
}

}  // namespace loom
