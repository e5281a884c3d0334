#include "io/safetensors_index.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <utility>

namespace loom {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& name, const std::string& problem) { throw Error(printable(name + ": " + problem)); }

// Reads the index as a stream of JSON events, as the safetensors header is read: weight_map's
// entries go straight into the result (so a tensor named twice is seen, which a JSON document
// would silently collapse), and everything else is skipped at any depth without building a tree.
class IndexReader final : public json::json_sax_t {
 public:
  IndexReader(const std::string& name, SafetensorsIndex& out) : name_(name), out_(out) {}

  bool done() const { return at_ == At::Done; }
  bool has_weight_map() const { return seen_weight_map_; }
  const std::string& syntax_error() const { return syntax_error_; }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t) override { return scalar("a number"); }
  bool number_unsigned(number_unsigned_t) override { return scalar("a number"); }
  bool number_float(number_float_t, const string_t&) override { return scalar("a number"); }
  bool binary(binary_t&) override { return scalar("binary data"); }
  bool string(string_t& v) override {
    if (at_ == At::WeightMap) {
      add(v);
      return true;
    }
    return scalar("a string");
  }

  bool start_object(std::size_t) override {
    switch (at_) {
      case At::Start: at_ = At::Root; return true;
      case At::Root:
        if (key_ == "weight_map") {
          at_ = At::WeightMap;
          return true;
        }
        return skip();
      case At::Skip: ++depth_; return true;
      default: return scalar("an object");
    }
  }
  bool end_object() override {
    if (at_ == At::Root) at_ = At::Done;
    else if (at_ == At::WeightMap) at_ = At::Root;
    else if (at_ == At::Skip && --depth_ == 0) at_ = At::Root;
    return true;
  }
  bool start_array(std::size_t) override {
    if (at_ == At::Skip) {
      ++depth_;
      return true;
    }
    if (at_ == At::Root && key_ != "weight_map") return skip();
    return scalar("a list");
  }
  bool end_array() override {
    if (at_ == At::Skip && --depth_ == 0) at_ = At::Root;
    return true;
  }
  bool key(string_t& k) override {
    if (at_ == At::Root) {
      key_ = k;
      if (k == "weight_map" && std::exchange(seen_weight_map_, true)) fail(name_, "\"weight_map\" appears twice");
    } else if (at_ == At::WeightMap) {
      tensor_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    const std::string what = e.what();
    const auto close = what.find("] ");
    syntax_error_ = close == std::string::npos ? what : what.substr(close + 2);
    return false;
  }

 private:
  enum class At { Start, Root, WeightMap, Skip, Done };

  bool skip() {
    at_ = At::Skip;
    depth_ = 1;
    return true;
  }

  // A value where the index has none of its kind (a scalar value of a skipped key is fine).
  bool scalar(const char* type) {
    switch (at_) {
      case At::Start: fail(name_, std::string("an index must be a JSON object, got ") + type);
      case At::Root:
        if (key_ == "weight_map") fail(name_, std::string("\"weight_map\" must be an object of tensor names to shard files, got ") + type);
        return true;
      case At::WeightMap:
        fail(name_, "weight_map: '" + tensor_ + "': the shard must be a file name (a string), got " + type);
      case At::Skip: return true;
      case At::Done: break;
    }
    fail(name_, "unexpected JSON value after the object");
  }

  void add(const std::string& shard) {
    const std::string entry = "weight_map: '" + tensor_ + "' -> '" + shard + "': ";
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos)
      fail(name_, entry + "the shard must be a plain file name in the checkpoint's folder (no '/', '..' or NUL)");
    if (!out_.weight_map.emplace(tensor_, shard).second) fail(name_, "weight_map: '" + tensor_ + "': the tensor is named twice");
    if (out_.shards.emplace(shard, tensor_).second && out_.shards.size() > kMaxSafetensorsShards)
      fail(name_, entry + "more than " + std::to_string(kMaxSafetensorsShards) + " shard files");
  }

  const std::string& name_;
  SafetensorsIndex& out_;
  At at_ = At::Start;
  int depth_ = 0;
  std::string key_, tensor_;
  bool seen_weight_map_ = false;
  std::string syntax_error_;
};

}  // namespace

SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& name) {
  // JSON text has no raw NUL byte, and nlohmann's parser would take one for the end of input.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    fail(name, "not valid JSON: a NUL byte at offset " + std::to_string(nul));
  SafetensorsIndex index;
  IndexReader reader(name, index);
  if (!json::sax_parse(text.begin(), text.end(), &reader) || !reader.done()) fail(name, "not valid JSON: " + reader.syntax_error());
  if (!reader.has_weight_map()) fail(name, "no \"weight_map\" object (tensor names to shard files)");
  return index;
}

}  // namespace loom
