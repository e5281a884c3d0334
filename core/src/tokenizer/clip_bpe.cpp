#include "tokenizer/clip_bpe.hpp"
#include "tokenizer/byte_level_bpe.hpp"
#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

namespace loom::tok {

namespace {

// CLIP's pre-tokenizer, as tokenizer.json has it (without the special tokens of CLIPTokenizer's
// pattern: they are matched before the model sees the text): English contractions, runs of
// letters, single digits, runs of other symbols. It sees normalized text, where a space is the
// only white space left: so `[^ ...]` is the `[^\s ...]` of the original, and PCRE2's \s (which
// also takes U+180E, white space no longer) cannot make a difference.
constexpr const char* kClipPattern = R"('s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^ \p{L}\p{N}]+)";

size_t utf8_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

ClipBpeModel::ClipBpeModel(Vocabulary vocab, const std::vector<Merge>& merges, BpeOptions options, bool lowercase,
                           const std::function<std::string(size_t)>& merge_where, const std::string& vocab_name)
    : vocab_(std::move(vocab)),
      bpe_(vocab_, merges, options, merge_where, vocab_name),
      suffix_(options.end_of_word_suffix),
      lowercase_(lowercase),
      pre_tokenizer_(kClipPattern) {
  if (suffix_.empty()) throw Error(printable(vocab_name) + ": CLIP's BPE needs an end-of-word suffix (\"</w>\")");
  if (!options.unk_token) check_byte_symbols(vocab_, suffix_, vocab_name);
}

std::string ClipBpeModel::normalize(std::string_view input) const {
  // tokenizers' Sequence[NFC, Replace(\s+, " "), Lowercase], in that order; \s is White_Space.
  const std::u32string composed = text::decode_utf8(text::nfc(input));
  std::u32string out;
  out.reserve(composed.size());
  bool in_space = false;
  for (char32_t c : composed) {
    const bool space = text::is_white_space(c);
    if (!space) out.push_back(c);
    else if (!in_space) out.push_back(U' ');
    in_space = space;
  }
  return text::encode_utf8(lowercase_ ? text::lower_each(out) : out);
}

void ClipBpeModel::encode(std::string_view normalized, std::vector<int32_t>& ids) const {
  encode_byte_pieces(bpe_, pre_tokenizer_.matches(normalized), ids);
}

void ClipBpeModel::decode_token(std::string_view token, bool, std::string& bytes) const { append_symbol_bytes(token, bytes); }

void ClipBpeModel::finish_text(std::string_view text, bool at_start, bool at_end, std::string& out, std::string& held) const {
  // Python's text.replace(suffix, " ").strip() (CLIPTokenizerFast's decode), read left to right.
  // kept_in and kept_out: where the input and the output stand after the last character that is
  // not white space; what follows is stripped at the end, or held while more text may come.
  out.clear();
  bool started = !at_start;
  size_t kept_in = 0, kept_out = 0;
  const size_t n = text.size(), k = suffix_.size();
  for (size_t i = 0; i < n;) {
    if (text.compare(i, k, suffix_) == 0) {
      if (started) out += ' ';
      else kept_in = i + k;  // white space before any text: dropped
      i += k;
      continue;
    }
    if (!at_end && n - i < k && suffix_.compare(0, n - i, text.substr(i)) == 0) break;  // may yet become the suffix
    const size_t len = utf8_length(static_cast<unsigned char>(text[i]));
    const std::string_view character = text.substr(i, len);
    if (text::is_python_space(text::decode_utf8(character).front())) {
      if (started) out += character;
      else kept_in = i + len;
    } else {
      started = true;
      out += character;
      kept_in = i + len;
      kept_out = out.size();
    }
    i += len;
  }
  out.resize(kept_out);
  if (at_end) held.clear();
  else held.assign(text.substr(kept_in));
}

}  // namespace loom::tok
