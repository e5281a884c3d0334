#include "tokenizer/bpe.hpp"

#include <loom/error.hpp>

#include <mutex>
#include <queue>

namespace loom::tok {

namespace {

size_t utf8_length_at(std::string_view s, size_t i) {
  size_t end = i + 1;
  while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
  return end - i;
}

}  // namespace

Bpe::Bpe(const Vocabulary& vocab, const std::vector<Merge>& merges, BpeOptions options,
         const std::function<std::string(size_t)>& where, const std::string& vocab_name)
    : vocab_(vocab), options_(std::move(options)) {
  if (merges.size() > static_cast<size_t>(INT32_MAX)) throw Error(where(merges.back().place) + ": too many merges");
  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    auto id_of = [&](const std::string& token, const char* role) {
      auto id = vocab_.find(token);
      if (!id)
        throw Error(where(m.place) + ": " + role + " '" + printable(token) + "' of the merge '" + printable(m.left) + " " +
                    printable(m.right) + "' is not in the vocabulary");
      return *id;
    };
    const int32_t left = id_of(m.left, "the left part"), right = id_of(m.right, "the right part");
    joined.assign(m.left).append(m.right);
    const int32_t merged = id_of(joined, "the result");
    auto [it, fresh] = merges_.emplace(pair_key(left, right), Merged{static_cast<int32_t>(rank), merged});
    if (!fresh)
      throw Error(where(m.place) + ": the merge '" + printable(m.left) + " " + printable(m.right) + "' is listed twice (first at " +
                  where(merges[static_cast<size_t>(it->second.rank)].place) + ")");
  }
  if (options_.unk_token) {
    unk_id_ = vocab_.find(*options_.unk_token);
    if (!unk_id_) throw Error(printable(vocab_name) + ": the unknown token '" + printable(*options_.unk_token) + "' is not in the vocabulary");
  }
}

void Bpe::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  const bool cacheable = word.size() <= kCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> out;
  merge_word(word, out);
  ids.insert(ids.end(), out.begin(), out.end());
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(out));
  }
}

void Bpe::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  const std::string& suffix = options_.end_of_word_suffix;
  if (options_.ignore_merges) {
    // As tokenizers looks it up: the word as it is, without the end-of-word suffix.
    if (auto id = vocab_.find(word)) {
      ids.push_back(*id);
      return;
    }
  }
  // The symbols, linked so that a merge removes one in constant time.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  bool last_unknown = false;
  std::string piece;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8_length_at(word, i);
    piece.assign(word.substr(i, n));
    i += n;
    if (i == word.size()) piece += suffix;
    std::optional<int32_t> id = vocab_.find(piece);
    const bool unknown = !id;
    if (unknown) {
      if (!unk_id_) continue;                           // as Hugging Face tokenizers: dropped
      if (options_.fuse_unk && last_unknown) continue;  // one unk for the run
      id = unk_id_;
    }
    last_unknown = unknown;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{*id, index - 1, index + 1, true});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank, pos, id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || symbols[pos].next < 0) return;
    auto it = merges_.find(pair_key(symbols[pos].id, symbols[symbols[pos].next].id));
    if (it != merges_.end()) queue.push(Candidate{it->second.rank, pos, it->second.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.pos];
    if (!left.alive || left.next < 0) continue;
    // The pair may have changed since it was queued: merge only if it still ranks as queued.
    auto it = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.rank != c.rank) continue;
    Symbol& right = symbols[left.next];
    left.id = c.id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  for (const Symbol& s : symbols)
    if (s.alive) ids.push_back(s.id);
}

}  // namespace loom::tok
