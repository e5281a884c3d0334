// Loading the YAML text of a Loom file (a graph, or a model manifest) with the format's limits
// applied before any of it is interpreted.
#pragma once

#include <loom/graph.hpp>

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include <string>
#include <string_view>

namespace loom::yaml {

// Parses `text` as one YAML document. Refuses, with loom::Error "file:line:column: what":
// invalid UTF-8, a second document, anchors (&a) and aliases (*a), tags other than !!str (on a
// scalar), nesting deeper than the parser's limit, and YAML syntax errors.
YAML::Node load_document(std::string_view text, const std::string& file);

// The graph of a document that load_document() read (parse_graph_yaml without parsing again).
Graph read_graph_document(const YAML::Node& root, const std::string& source_name, const std::filesystem::path& base_dir);

}  // namespace loom::yaml
