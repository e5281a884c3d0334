#include "graph/yaml_load.hpp"

#include "graph/yaml_document.hpp"

#include <loom/error.hpp>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace loom::yaml {

namespace {

// Looks at every event of the stream before a node is built. Anchors and aliases are refused
// because blocks are the format's way to reuse a part and aliases let a small file expand to
// an enormous one; tags because the format gives each value its type and a tag would ask for
// another (`!!python/object:...`, `!!binary`), which the reader would silently ignore.
class EventCheck : public YAML::EventHandler {
 public:
  struct Found {
    YAML::Mark mark;
    std::string what;
  };
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) throw Found{mark, "the file holds more than one YAML document (expected one)"};
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { check(mark, "", anchor, false); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw Found{mark, "YAML aliases (*name) are not supported (a graph reuses parts with `blocks`)"};
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string&) override {
    check(mark, tag, anchor, true);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    check(mark, tag, anchor, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    check(mark, tag, anchor, false);
  }
  void OnMapEnd() override {}

 private:
  static void check(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, bool scalar) {
    if (anchor != YAML::NullAnchor) throw Found{mark, "YAML anchors (&name) are not supported (a graph reuses parts with `blocks`)"};
    // "?": no tag; "!": the non-specific tag of a quoted scalar. Both leave the type to the format.
    if (tag.empty() || tag == "?" || tag == "!") return;
    if (scalar && tag == "tag:yaml.org,2002:str") return;
    constexpr std::string_view core = "tag:yaml.org,2002:";
    const std::string written = tag.compare(0, core.size(), core) == 0 ? "!!" + tag.substr(core.size()) : tag;
    throw Found{mark, "YAML tag " + written + " is not supported (the only tag allowed is !!str, on a scalar)"};
  }
  int documents_ = 0;
};

// Length of the valid UTF-8 sequence at `p`, or 0 (overlong forms, surrogates and code points
// past U+10FFFF are invalid).
size_t utf8_length(const unsigned char* p, const unsigned char* end) {
  auto cont = [&](size_t i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xC2 && p[0] <= 0xDF) return cont(1) ? 2 : 0;
  if (p[0] >= 0xE0 && p[0] <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (p[0] == 0xE0 && p[1] < 0xA0) return 0;
    if (p[0] == 0xED && p[1] >= 0xA0) return 0;
    return 3;
  }
  if (p[0] >= 0xF0 && p[0] <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (p[0] == 0xF0 && p[1] < 0x90) return 0;
    if (p[0] == 0xF4 && p[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

YAML::Node load_document(std::string_view text, const std::string& file) {
  auto loc_at = [&](const YAML::Mark& m) {
    return m.is_null() || m.line < 0 ? SourceLoc{file, 0, 0} : SourceLoc{file, m.line + 1, m.column + 1};
  };
  // An image, an archive or a weights file given where a graph goes: said as such.
  for (const auto& [magic, what] : {std::pair<std::string_view, const char*>{"\x89PNG", "a PNG image"}, {"\xff\xd8\xff", "a JPEG image"},
                                    {"PK\x03\x04", "a zip archive"}, {"\x93NUMPY", "a .npy array"}, {"\x7f" "ELF", "a program or library"}})
    if (text.substr(0, magic.size()) == magic)
      fail(Where{"", SourceLoc{file, 0, 0}}, std::string("this is ") + what + ", not a YAML graph or model manifest");
  // safetensors: an 8-byte little-endian header length, then the header's JSON object.
  if (text.size() > 9 && text[8] == '{' && text[7] == 0 && text[6] == 0)
    fail(Where{"", SourceLoc{file, 0, 0}}, "this is a safetensors weights file, not a YAML graph or model manifest (give the "
                                            "checkpoint's folder)");
  // The YAML parser passes invalid UTF-8 through into strings, and no writer can give it back.
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  int line = 0, column = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_length(bytes + i, bytes + text.size());
    if (n == 0) fail(Where{"", SourceLoc{file, line + 1, column + 1}}, "the file is not valid UTF-8");
    if (bytes[i] == '\n') {
      ++line;
      column = 0;
    } else {
      ++column;
    }
    i += n;
  }
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    EventCheck check;
    while (parser.HandleNextDocument(check)) {
    }
    return YAML::Load(std::string(text));
  } catch (const EventCheck::Found& f) {
    fail(Where{"", loc_at(f.mark)}, f.what);
  } catch (const YAML::DeepRecursion& e) {
    fail(Where{"", loc_at(e.mark)}, "YAML nesting is too deep (more than " + std::to_string(e.depth() - 1) +
                                         " levels of collections)");
  } catch (const YAML::Exception& e) {
    fail(Where{"", loc_at(e.mark)}, "YAML syntax error: " + e.msg);
  }
}

}  // namespace loom::yaml
