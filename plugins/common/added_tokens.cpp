#include "added_tokens.hpp"

#include "graph_writer.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <charconv>
#include <map>

namespace loom::models {

using sdk::Error;
using nlohmann::json;

namespace {

constexpr int64_t kMaxId = INT32_MAX - 1;  // the tokenizer's ids are 32-bit

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what, LOOM_STATUS_INVALID_ARGUMENT);
}

int64_t checked_id(const json& v, const std::string& where) {
  if (!v.is_number_integer() || (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(kMaxId)
                                                         : v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxId))
    fail(where, "expected a token id (a whole number from 0 to " + std::to_string(kMaxId) + ")");
  return v.get<int64_t>();
}

// One AddedToken object: {"content": ..., "special": ..., "normalized": ..., ...}, with its id
// given beside it (added_tokens_decoder's key) or inside it ("id", tokenizer.json).
AddedEntry entry(const json& t, const std::string& where, std::optional<int64_t> id) {
  if (!t.is_object()) fail(where, "expected an object with a \"content\" string");
  AddedEntry e;
  e.where = where;
  auto content = t.find("content");
  if (content == t.end() || !content->is_string()) fail(where + ".content", "expected a string");
  e.content = content->get<std::string>();
  if (e.content.empty()) fail(where + ".content", "an added token may not be empty");
  if (id) {
    e.id = *id;
  } else {
    auto it = t.find("id");
    if (it == t.end()) fail(where + ".id", "missing");
    e.id = checked_id(*it, where + ".id");
  }
  std::optional<bool> normalized;
  const std::pair<const char*, bool*> flags[] = {
      {"special", &e.special}, {"single_word", &e.single_word}, {"lstrip", &e.lstrip}, {"rstrip", &e.rstrip}};
  for (const auto& [key, field] : flags) {
    auto it = t.find(key);
    if (it == t.end() || it->is_null()) continue;
    if (!it->is_boolean()) fail(where + "." + key, "expected true or false");
    *field = it->get<bool>();
  }
  if (auto it = t.find("normalized"); it != t.end() && !it->is_null()) {
    if (!it->is_boolean()) fail(where + ".normalized", "expected true or false");
    normalized = it->get<bool>();
  }
  e.normalized = normalized.value_or(!e.special);  // AddedToken's default
  return e;
}

// tokenizer_config.json's {"30522": {...}, ...}.
std::vector<AddedEntry> from_decoder(const JsonFile& config) {
  const json& d = config.json()["added_tokens_decoder"];
  if (!d.is_object()) config.fail("added_tokens_decoder", "expected an object of added tokens by id");
  std::vector<AddedEntry> out;
  for (auto it = d.begin(); it != d.end(); ++it) {
    const std::string& key = it.key();
    int64_t id = -1;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || key.empty() || id < 0 || id > kMaxId)
      config.fail("added_tokens_decoder", models::quoted(key.substr(0, 40)) + " is not a token id");
    out.push_back(entry(it.value(), config.file() + ": added_tokens_decoder." + key, id));
  }
  return out;
}

// added_tokens.json's {"text": id, ...}: special when the text is a special token.
std::vector<AddedEntry> from_added_tokens_json(const JsonFile& f, const std::vector<std::string>& special_texts) {
  std::vector<AddedEntry> out;
  for (auto it = f.json().begin(); it != f.json().end(); ++it) {
    AddedEntry e;
    e.where = f.file() + ": " + models::quoted(it.key().substr(0, 80));
    e.content = it.key();
    if (e.content.empty()) fail(e.where, "an added token may not be empty");
    e.id = checked_id(it.value(), e.where);
    e.special = std::find(special_texts.begin(), special_texts.end(), e.content) != special_texts.end();
    e.normalized = !e.special;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<AddedEntry> from_tokenizer_json(const JsonFile& j) {
  if (!j.has("added_tokens")) return {};
  const json& list = j.json()["added_tokens"];
  if (!list.is_array()) j.fail("added_tokens", "expected a list");
  std::vector<AddedEntry> out;
  for (size_t i = 0; i < list.size(); ++i)
    out.push_back(entry(list[i], j.file() + ": added_tokens[" + std::to_string(i) + "]", std::nullopt));
  return out;
}

// `over` joins `base`: an entry of the same text takes its place (keeping base's id, as a fast
// tokenizer's added vocabulary does); another text on a taken id disagrees about the vocabulary.
void join(std::vector<AddedEntry>& base, const std::vector<AddedEntry>& over) {
  std::map<std::string, size_t> by_content;
  std::map<int64_t, size_t> by_id;
  for (size_t i = 0; i < base.size(); ++i) {
    by_content.emplace(base[i].content, i);
    by_id.emplace(base[i].id, i);
  }
  for (const AddedEntry& e : over) {
    if (auto it = by_content.find(e.content); it != by_content.end()) {
      const int64_t id = base[it->second].id;
      base[it->second] = e;
      base[it->second].id = id;
      continue;
    }
    if (auto it = by_id.find(e.id); it != by_id.end())
      fail(e.where, models::quoted(e.content) + " has id " + std::to_string(e.id) + ", which " + base[it->second].where + " gives " +
                        models::quoted(base[it->second].content));
    by_content.emplace(e.content, base.size());
    by_id.emplace(e.id, base.size());
    base.push_back(e);
  }
}

}  // namespace

bool AddedEntry::same_as(const AddedEntry& o) const {
  return content == o.content && id == o.id && special == o.special && single_word == o.single_word && lstrip == o.lstrip &&
         rstrip == o.rstrip && normalized == o.normalized;
}

const AddedEntry* CheckpointAddedTokens::find(const std::string& content) const {
  for (const AddedEntry& e : all)
    if (e.content == content) return &e;
  return nullptr;
}

CheckpointAddedTokens read_added_tokens(const std::string& dir, const JsonFile& config, const JsonFile& tokenizer_json,
                                        const std::vector<std::string>& special_texts) {
  CheckpointAddedTokens out;
  out.in_tokenizer_json = from_tokenizer_json(tokenizer_json);
  std::vector<AddedEntry> saved;  // what transformers passes the tokenizer as added_tokens_decoder
  if (config.has("added_tokens_decoder")) {
    saved = from_decoder(config);
  } else {
    if (const JsonFile f = JsonFile::read_optional(dir, "added_tokens.json"); f.exists()) saved = from_added_tokens_json(f, special_texts);
    // tokenizer.json's entries replace those of the same id.
    std::map<int64_t, size_t> by_id;
    for (size_t i = 0; i < saved.size(); ++i) by_id.emplace(saved[i].id, i);
    for (const AddedEntry& e : out.in_tokenizer_json) {
      if (auto it = by_id.find(e.id); it != by_id.end()) {
        saved[it->second] = e;
      } else {
        by_id.emplace(e.id, saved.size());
        saved.push_back(e);
      }
    }
  }
  out.all = out.in_tokenizer_json;
  join(out.all, saved);
  return out;
}

}  // namespace loom::models
