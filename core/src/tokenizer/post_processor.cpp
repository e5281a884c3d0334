#include "tokenizer/post_processor.hpp"

#include <loom/error.hpp>

#include <algorithm>

namespace loom::tok {

namespace {

const std::string kKey = "processing.tokenizer";

bool is_sequence(const std::string& item) { return item == "$A" || item == "$B"; }

size_t special_count(const TokenizerSpec& spec, bool pair) {
  if (!spec.post_processor) return 0;
  const auto& items = pair ? spec.post_processor->pair : spec.post_processor->single;
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [](const std::string& i) { return !is_sequence(i); }));
}

// Keeps `n` ids of `v`, dropping the others from the end (right) or the start (left).
void keep(std::vector<int32_t>& v, size_t n, Side side) {
  if (v.size() <= n) return;
  if (side == Side::Right) v.resize(n);
  else v.erase(v.begin(), v.end() - static_cast<std::ptrdiff_t>(n));
}

// Hugging Face tokenizers' truncate_encodings, with max_length less the template's tokens.
void truncate(const TokenizerSpec& spec, std::vector<int32_t>& a, std::optional<std::vector<int32_t>>& b, size_t row) {
  if (spec.truncation == Truncation::None) return;
  const size_t specials = special_count(spec, b.has_value());
  if (spec.max_length < static_cast<int64_t>(specials))
    throw Error(kKey + ".max_length " + std::to_string(spec.max_length) + " leaves no room for the " + std::to_string(specials) +
                " special tokens of the template");
  const size_t budget = static_cast<size_t>(spec.max_length) - specials;
  const size_t total = a.size() + (b ? b->size() : 0);
  if (total <= budget) return;
  const Side side = spec.truncation_side;
  if (budget == 0) {
    a.clear();
    if (b) b->clear();
    return;
  }
  const size_t to_remove = total - budget;
  const std::string where = "text " + std::to_string(row) + ": ";
  switch (spec.truncation) {
    case Truncation::LongestFirst: {
      if (!b) {
        keep(a, budget, side);
        return;
      }
      // The shorter keeps its length when the longer can absorb the cut; else each keeps half,
      // the longer (the second when equal) one more when the budget is odd.
      size_t n1 = a.size(), n2 = b->size();
      const bool swapped = n1 > n2;
      if (swapped) std::swap(n1, n2);
      n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
      if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
      }
      if (swapped) std::swap(n1, n2);
      keep(a, n1, side);
      keep(*b, n2, side);
      return;
    }
    case Truncation::OnlyFirst:
    case Truncation::OnlySecond: {
      const bool first = spec.truncation == Truncation::OnlyFirst;
      if (!first && !b) throw Error(where + "truncation only_second needs a pair text, and there is none");
      std::vector<int32_t>& target = first ? a : *b;
      if (target.size() <= to_remove)
        throw Error(where + "the " + (first ? "first" : "second") + " text has " + std::to_string(target.size()) +
                    " tokens: truncation " + (first ? "only_first" : "only_second") + " cannot remove " + std::to_string(to_remove) +
                    " from it to fit max_length " + std::to_string(spec.max_length));
      keep(target, target.size() - to_remove, side);
      return;
    }
    case Truncation::None:
      return;
  }
}

}  // namespace

void check_post_processing(const TokenizerSpec& spec) {
  if (spec.post_processor) {
    const TokenizerTemplate& t = *spec.post_processor;
    auto check = [&](const std::vector<std::string>& items, const char* name, bool pair) {
      int a = 0, b = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i] == "$A") ++a;
        else if (items[i] == "$B") ++b;
        else if (!spec.special_tokens.count(items[i]))
          throw Error(kKey + ".post_processor." + name + "[" + std::to_string(i) + "]: '" + printable(items[i]) +
                      "' is neither $A, $B nor a role of special_tokens");
      }
      if (a != 1 || b != (pair ? 1 : 0))
        throw Error(kKey + ".post_processor." + name + ": " + (pair ? "a pair template holds $A and $B once each" :
                                                                      "a single-sequence template holds $A once and no $B"));
    };
    check(t.single, "single", false);
    if (!t.pair.empty()) check(t.pair, "pair", true);
    if (!t.pair_type_ids.empty() && t.pair_type_ids.size() != t.pair.size())
      throw Error(kKey + ".post_processor.pair_type_ids: one token type per item of `pair`");
  }
  if (spec.padding != Padding::None && !spec.special_tokens.count("pad"))
    throw Error(kKey + ".padding: padding needs a `pad` entry in special_tokens");
  if ((spec.truncation != Truncation::None || spec.padding == Padding::MaxLength) && spec.max_length < 1)
    throw Error(kKey + ".max_length: truncation and padding to max_length need a max_length of at least 1");
}

void add_row(const TokenizerSpec& spec, std::vector<int32_t> a, std::optional<std::vector<int32_t>> b, size_t row, Encoding& e) {
  truncate(spec, a, b, row);
  std::vector<int64_t> ids, types;
  auto append = [&](const std::vector<int32_t>& v, int64_t type) {
    ids.insert(ids.end(), v.begin(), v.end());
    types.insert(types.end(), v.size(), type);
  };
  auto append_special = [&](int64_t id, int64_t type) {
    ids.push_back(id);
    types.push_back(type);
  };
  if (!spec.post_processor) {  // no special tokens; a pair's second text is type 1
    append(a, 0);
    if (b) append(*b, 1);
  } else {
    const TokenizerTemplate& t = *spec.post_processor;
    if (b && t.pair.empty()) throw Error(kKey + ".post_processor: no `pair` template, so text pairs cannot be encoded");
    const std::vector<std::string>& items = b ? t.pair : t.single;
    for (size_t k = 0; k < items.size(); ++k) {
      const int64_t type = b && !t.pair_type_ids.empty() ? t.pair_type_ids[k] : 0;
      if (items[k] == "$A") append(a, type);
      else if (items[k] == "$B") append(*b, type);
      else append_special(spec.special_tokens.at(items[k]).id, type);
    }
  }
  e.attention_mask.emplace_back(ids.size(), 1);
  e.input_ids.push_back(std::move(ids));
  e.token_type_ids.push_back(std::move(types));
}

void pad(const TokenizerSpec& spec, Encoding& e) {
  if (spec.padding == Padding::None || e.size() == 0) return;
  size_t target = static_cast<size_t>(std::max<int64_t>(spec.max_length, 0));
  if (spec.padding == Padding::Longest) {
    target = 0;
    for (const auto& row : e.input_ids) target = std::max(target, row.size());
  }
  const int64_t pad_id = spec.special_tokens.at("pad").id;
  auto extend = [&](std::vector<int64_t>& v, size_t n, int64_t value) {
    if (spec.padding_side == Side::Right) v.insert(v.end(), n, value);
    else v.insert(v.begin(), n, value);
  };
  for (size_t r = 0; r < e.size(); ++r) {
    if (e.input_ids[r].size() >= target) continue;  // longer rows stay as they are, as in Hugging Face
    const size_t n = target - e.input_ids[r].size();
    extend(e.input_ids[r], n, pad_id);
    extend(e.token_type_ids[r], n, 0);  // Hugging Face's pad_token_type_id
    extend(e.attention_mask[r], n, 0);
  }
}

}  // namespace loom::tok
