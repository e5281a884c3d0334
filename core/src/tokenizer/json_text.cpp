#include "tokenizer/json_text.hpp"

#include <loom/error.hpp>

#include <unordered_set>
#include <vector>

namespace loom::tok {

namespace {

// Far deeper than any tokenizer file nests (tokenizer.json: five levels).
constexpr size_t kMaxDepth = 64;

std::string strip_json_prefix(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
  auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

// The open containers of the parse. Keys are counted, and an object that ends with fewer
// members than keys had one twice (nlohmann keeps the last); only then are the keys collected,
// in a second parse, to name it.
struct Frame {
  std::string path;
  bool object = false;
  size_t keys = 0;
  std::unordered_set<std::string> seen;
  std::string last_key;
};

struct DuplicateKey {};

nlohmann::json parse(std::string_view text, const std::string& name, bool name_duplicates) {
  std::vector<Frame> open;
  auto child_path = [&]() -> std::string {
    if (open.empty()) return "";
    const Frame& f = open.back();
    const std::string step = f.object ? f.last_key : "[]";
    return f.path.empty() ? step : f.path + (f.object ? "." : "") + step;
  };
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (open.size() >= kMaxDepth)
          throw Error(printable(name) + ": " + child_path() + ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
        open.push_back(Frame{child_path(), event == E::object_start, 0, {}, {}});
        break;
      case E::object_end:
        if (!open.empty() && parsed.size() != open.back().keys) throw DuplicateKey{};
        [[fallthrough]];
      case E::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case E::key:
        if (open.empty()) break;
        ++open.back().keys;
        open.back().last_key = parsed.get<std::string>();
        if (name_duplicates) {
          Frame& f = open.back();
          if (!f.seen.insert(f.last_key).second)
            throw Error(printable(name) + ": " + (f.path.empty() ? "" : f.path + ": ") + "key \"" + printable(f.last_key) +
                        "\" appears more than once");
        }
        break;
      case E::value:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    throw Error(printable(name) + ": not valid JSON: " + strip_json_prefix(e.what()));
  }
}

}  // namespace

nlohmann::json parse_json_text(std::string_view text, const std::string& name) {
  if (size_t nul = text.find('\0'); nul != std::string_view::npos)
    throw Error(printable(name) + ": not JSON text: a NUL byte at offset " + std::to_string(nul));
  try {
    return parse(text, name, false);
  } catch (const DuplicateKey&) {
    parse(text, name, true);  // throws, naming the key
    throw Error(printable(name) + ": a key appears more than once in one object");
  }
}

std::string json_kind(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "a list";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::number_float: return "a fractional number";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    default: return "binary data";
  }
}

}  // namespace loom::tok
