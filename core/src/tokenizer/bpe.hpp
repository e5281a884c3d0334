// The BPE merge loop over one word: its characters start as symbols and the adjacent pair of
// lowest merge rank is merged until no listed pair remains (leftmost first among equal ranks, as
// Hugging Face tokenizers does). Shared by byte-level BPE (GPT-2) and CLIP's BPE, which marks a
// word's last symbol with an end-of-word suffix.
#pragma once

#include "tokenizer/vocabulary.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace loom::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;  // for characters outside the vocabulary; unset: dropped
  bool fuse_unk = false;                 // consecutive unknown characters become one unk
  bool ignore_merges = false;            // a word found whole in the vocabulary (no suffix added) is one token
  std::string end_of_word_suffix;        // appended to a word's last character (CLIP: "</w>")
};

class Bpe {
 public:
  // `vocab` must outlive this. Every merge's parts and result must be in it, each pair listed
  // once: errors name the merge by where(merge.place), the vocabulary by `vocab_name`.
  Bpe(const Vocabulary& vocab, const std::vector<Merge>& merges, BpeOptions options,
      const std::function<std::string(size_t place)>& where, const std::string& vocab_name);
  // Appends the ids of `word`, valid UTF-8. Thread-safe.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;

  struct Merged {
    int32_t rank = 0;
    int32_t id = 0;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  const Vocabulary& vocab_;
  std::unordered_map<uint64_t, Merged> merges_;
  BpeOptions options_;
  std::optional<int32_t> unk_id_;

  // Words already merged. Bounded: cleared when full; words longer than kCachedWordBytes are
  // not kept. Readers share the lock.
  static constexpr size_t kCacheEntries = 10000;
  static constexpr size_t kCachedWordBytes = 256;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace loom::tok
