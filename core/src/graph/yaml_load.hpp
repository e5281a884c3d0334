// Loading the YAML text of a Loom file (a graph, or a model manifest) with the format's limits
// applied before any of it is interpreted.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace loom::yaml {

// Parses `text` as one YAML document. Refuses, with loom::Error "file:line:column: what":
// invalid UTF-8, a second document, anchors (&a) and aliases (*a), tags other than !!str (on a
// scalar), nesting deeper than the parser's limit, and YAML syntax errors.
YAML::Node load_document(std::string_view text, const std::string& file);

}  // namespace loom::yaml
