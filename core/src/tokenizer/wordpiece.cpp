#include "tokenizer/wordpiece.hpp"
#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

namespace loom::tok {

namespace {

// BERT's whitespace: space, tab, newline, carriage return and category Zs.
bool is_bert_whitespace(char32_t c) { return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || text::is_category_zs(c); }

// BERT's control characters: category C*, except tab, newline and carriage return (whitespace).
bool is_bert_control(char32_t c) { return c != U'\t' && c != U'\n' && c != U'\r' && text::is_category_c(c); }

// ASCII symbols count as punctuation ("$", "+", "^", "`" are not category P), then category P*.
bool is_bert_punctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) || text::is_category_p(c);
}

// The CJK Unified Ideographs blocks of BERT's basic tokenizer (Hangul, kana are not among them).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Hugging Face tokenizers' WordPiece decoder clean-up, applied to each decoded token.
std::string cleanup_token(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = text::replace_all(s, from, to);
  return s;
}

}  // namespace

WordPieceModel::WordPieceModel(Vocabulary vocab, BertNormalizerOptions normalizer, WordPieceOptions options, const std::string& name)
    : vocab_(std::move(vocab)), normalizer_(normalizer), options_(std::move(options)) {
  auto unk = vocab_.find(options_.unk_token);
  if (!unk)
    throw Error(printable(name) + ": the unknown token '" + printable(options_.unk_token) +
                "' is not in the vocabulary (WordPiece gives it to every word it cannot split)");
  unk_id_ = *unk;
}

std::string WordPieceModel::normalize(std::string_view input) const {
  std::u32string s = text::decode_utf8(input);
  if (normalizer_.clean_text || normalizer_.handle_chinese_chars) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
      if (normalizer_.clean_text) {
        if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
        if (is_bert_whitespace(c)) c = U' ';
      }
      if (normalizer_.handle_chinese_chars && is_cjk_ideograph(c)) {
        out += U' ';
        out += c;
        out += U' ';
      } else {
        out += c;
      }
    }
    s = std::move(out);
  }
  // BertTokenizer's order: lower case, then strip accents (which the lower case may expose: U+0130).
  if (normalizer_.lowercase) s = text::python_lower(s);
  if (normalizer_.strip_accents) {
    std::u32string out;
    for (char32_t c : text::nfd(s))
      if (!text::is_nonspacing_mark(c)) out += c;
    s = std::move(out);
  }
  return text::encode_utf8(s);
}

void WordPieceModel::encode(std::string_view normalized, std::vector<int32_t>& ids) const {
  const std::u32string s = text::decode_utf8(normalized);
  size_t word = 0;  // start of the word being read
  for (size_t i = 0; i <= s.size(); ++i) {
    const bool end = i == s.size();
    if (end || text::is_white_space(s[i]) || is_bert_punctuation(s[i])) {
      if (i > word) encode_word(std::u32string_view(s).substr(word, i - word), ids);
      if (!end && is_bert_punctuation(s[i])) encode_word(std::u32string_view(s).substr(i, 1), ids);
      word = i + 1;
    }
  }
}

void WordPieceModel::encode_word(std::u32string_view word, std::vector<int32_t>& ids) const {
  if (word.size() > options_.max_input_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  // offsets[k]: the byte offset of character k in the UTF-8 word.
  std::string utf8;
  std::vector<size_t> offsets;
  for (char32_t c : word) {
    offsets.push_back(utf8.size());
    text::append_utf8(utf8, c);
  }
  offsets.push_back(utf8.size());
  const size_t first = ids.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    std::optional<int32_t> id;
    // No piece is longer than the longest token: start there, so that a word costs its length
    // times that, not its length squared.
    const size_t prefix = start > 0 ? options_.continuing_subword_prefix.size() : 0;
    size_t end = word.size();
    while (end > start && prefix + offsets[end] - offsets[start] > vocab_.longest_token_bytes()) --end;
    for (; end > start; --end) {
      candidate.assign(start > 0 ? options_.continuing_subword_prefix : "");
      candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
      if ((id = vocab_.find(candidate))) break;
    }
    if (!id) {  // one piece fails: the whole word is unknown
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(*id);
    start = end;
  }
}

void WordPieceModel::decode_token(std::string_view token, bool first, std::string& bytes) const {
  std::string piece;
  const std::string& prefix = options_.continuing_subword_prefix;
  if (options_.no_decoder) {
    if (!first) bytes += ' ';
    bytes += token;
    return;
  }
  if (first) {
    piece = token;
  } else if (token.substr(0, prefix.size()) == prefix) {
    piece = token.substr(prefix.size());  // an empty prefix glues every token, as in Hugging Face
  } else {
    piece.reserve(token.size() + 1);
    piece.append(1, ' ').append(token);
  }
  bytes += options_.decoder_cleanup ? cleanup_token(std::move(piece)) : piece;
}

}  // namespace loom::tok
