#include "tokenizer/vocabulary.hpp"
#include "tokenizer/json_text.hpp"
#include "tokenizer/unicode_text.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <limits>

namespace loom::tok {

namespace {

// "'text'" for a message: printable, and cut short when long.
std::string quote(std::string_view token) {
  constexpr size_t kShown = 60;
  std::string shown(token.substr(0, kShown));
  if (token.size() > kShown) {
    // Cut at a character boundary so that the shown text stays UTF-8.
    while (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0xC0) == 0x80) shown.pop_back();
    if (!shown.empty() && static_cast<unsigned char>(shown.back()) >= 0xC0) shown.pop_back();
    shown += "...";
  }
  return std::string(1, '\'').append(printable(shown)).append(1, '\'');
}

// Calls fn(line_number, line) for each line of `text`, split as Python's text files split them
// (universal newlines, which transformers' readers get): "\n", "\r\n" and a lone "\r" end a
// line, and the empty piece after a final line end is not a line.
template <class Fn>
void for_each_line(std::string_view text, Fn fn) {
  size_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    fn(++number, text.substr(start, end - start));
    start = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
}

}  // namespace

void Vocabulary::reserve(size_t n) {
  ids_.reserve(n);
  tokens_.reserve(n);
}

bool Vocabulary::add(const std::string& token, int32_t id) {
  if (tokens_.count(id) || ids_.count(token)) return false;
  auto [it, fresh] = ids_.emplace(token, id);
  tokens_.emplace(id, &it->first);
  if (id > max_id_) max_id_ = id;
  if (token.size() > longest_) longest_ = token.size();
  return fresh;
}

void Vocabulary::assign(const std::string& token, int32_t id) {
  if (auto it = ids_.find(token); it != ids_.end()) {
    tokens_.erase(it->second);
    it->second = id;
    tokens_[id] = &it->first;
  } else {
    add(token, id);
  }
  if (id > max_id_) max_id_ = id;
}

std::optional<int32_t> Vocabulary::find(std::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* Vocabulary::token(int32_t id) const {
  auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : it->second;
}

std::string token_text_problem(std::string_view token) {
  if (token.empty()) return "an empty token";
  if (token.size() > kMaxTokenBytes)
    return "a token of " + std::to_string(token.size()) + " bytes (at most " + std::to_string(kMaxTokenBytes) + ")";
  if (auto bad = text::first_invalid_utf8(token)) return "a token that is not UTF-8 (at byte " + std::to_string(*bad) + ")";
  return "";
}

Vocabulary read_vocab_txt(std::string_view text, const std::string& name) {
  // As transformers' load_vocab reads it: the line index is the id; an empty line holds an id
  // that no token maps to; a token on several lines takes its last line's id, and its earlier
  // ids keep no token (they decode to no text).
  Vocabulary v;
  for_each_line(text, [&](size_t number, std::string_view line) {
    const std::string where = printable(name) + ":" + std::to_string(number) + ": ";
    if (number - 1 > static_cast<size_t>(kMaxTokenId)) throw Error(where + "too many tokens");
    if (line.empty()) return;
    if (std::string problem = token_text_problem(line); !problem.empty()) throw Error(where + problem);
    v.assign(std::string(line), static_cast<int32_t>(number - 1));
  });
  if (v.size() == 0) throw Error(printable(name) + ": the vocabulary is empty");
  return v;
}

Vocabulary read_vocab_json(std::string_view text, const std::string& name) {
  return vocabulary_from_json(parse_json_text(text, name), printable(name));
}

Vocabulary vocabulary_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object {token: id}, found " + json_kind(j));
  Vocabulary v;
  v.reserve(j.size());
  for (const auto& [token, value] : j.items()) {
    const std::string at = where + ": " + quote(token) + ": ";
    if (std::string problem = token_text_problem(token); !problem.empty()) throw Error(at + problem);
    if (!value.is_number_integer())
      throw Error(at + "the id must be a whole number, found " + json_kind(value) + " " + printable(value.dump()));
    if (!value.is_number_unsigned() || value.get<uint64_t>() > static_cast<uint64_t>(kMaxTokenId))
      throw Error(at + "id " + value.dump() + " is out of range (0 to " + std::to_string(kMaxTokenId) + ")");
    const auto id = static_cast<int32_t>(value.get<uint64_t>());
    if (!v.add(token, id)) throw Error(at + "id " + std::to_string(id) + " is already " + quote(*v.token(id)));
  }
  if (v.size() == 0) throw Error(where + ": the vocabulary is empty");
  return v;
}

std::vector<Merge> read_merges_txt(std::string_view text, const std::string& name, MergesReader reader) {
  // The lines transformers reads, whose ranks the fast tokenizers convert too: GPT2Tokenizer's
  // read().split("\n")[1:-1] leaves out the first line (the "#version" header) and the last
  // piece (empty after a final newline, else the last merge); CLIPTokenizer's
  // read().strip().split("\n")[1:...] the first line of the stripped text (and the merges
  // past its count, which the tokenizer cuts). A blank line is no merge.
  size_t skip_from = std::numeric_limits<size_t>::max();
  if (reader == MergesReader::clip) {
    const size_t first = text.find_first_not_of(" \t\n\r\f\v");
    text = first == std::string_view::npos ? std::string_view() : text.substr(first, text.find_last_not_of(" \t\n\r\f\v") - first + 1);
  } else if (!text.empty() && text.back() != '\n') {
    size_t lines = 0;
    for_each_line(text, [&](size_t number, std::string_view) { lines = number; });
    skip_from = lines;
  }
  std::vector<Merge> merges;
  for_each_line(text, [&](size_t number, std::string_view line) {
    if (number == 1 || number >= skip_from || line.empty()) return;
    const std::string where = printable(name) + ":" + std::to_string(number) + ": ";
    const size_t space = line.find(' ');
    if (line.empty() || space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw Error(where + "expected two tokens separated by one space, found '" + printable(line.substr(0, 80)) +
                  (line.size() > 80 ? "...'" : "'"));
    for (std::string_view part : {line.substr(0, space), line.substr(space + 1)})
      if (std::string problem = token_text_problem(part); !problem.empty()) throw Error(where + problem);
    merges.push_back(Merge{std::string(line.substr(0, space)), std::string(line.substr(space + 1)), number});
  });
  return merges;
}

}  // namespace loom::tok
