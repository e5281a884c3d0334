// A YAML graph as written, before its blocks are expanded: what the reader checked entry by
// entry, with the key path and file position of everything that a later check may report.
#pragma once

#include <loom/graph.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace loom::yaml {

// Where something was written: its key path ("nodes[3].inputs[1]") and file position.
struct Where {
  std::string key;
  SourceLoc loc;
};

// Throws loom::Error "file:line:column: key: what".
[[noreturn]] void fail(const Where& where, const std::string& what);

struct NameRef {
  std::string name;
  Where where;
};

struct OpEntry {
  Node node;                      // name empty when not written: defaults to outputs[0]
  std::vector<Where> input_where;
  std::vector<Where> output_where;
  Where where;
};

// `use: block`: instantiates a block `repeat` times (once when absent).
struct UseEntry {
  NameRef block;
  std::string prefix;             // `name:`, else the block's name
  std::optional<int64_t> repeat;
  std::vector<std::pair<std::string, NameRef>> inputs;    // formal input -> outer value
  std::vector<std::pair<std::string, NameRef>> outputs;   // formal output -> outer value
  std::vector<std::pair<std::string, NameRef>> chain;     // formal output -> formal input
  Where inputs_where, outputs_where, chain_where;
  Where where;
};

using Entry = std::variant<OpEntry, UseEntry>;

struct InitEntry {
  Initializer init;               // file already defaulted to the top-level `weights`
  bool tensor_given = false;      // else `tensor` defaults to the (expanded) name
  Where where;
};

struct StateEntry {
  StateDecl state;
  Where update_where;
  Where where;
};

struct BlockDef {
  std::string name;
  std::vector<NameRef> inputs;
  std::vector<NameRef> outputs;
  std::vector<InitEntry> initializers;
  std::vector<StateEntry> states;
  std::vector<Entry> nodes;
  Where where;
};

struct Document {
  Graph header;                   // name, metadata, inputs, outputs; no nodes yet
  std::vector<Where> input_where;
  std::vector<Where> output_where;
  std::vector<InitEntry> initializers;
  std::vector<StateEntry> states;
  std::map<std::string, BlockDef> blocks;
  std::vector<Entry> nodes;
  std::map<std::string, SourceLoc> processing_positions;  // by key path, for check_processing
  Where root;
};

// Most instances and nodes one graph may expand to; guards against `repeat` inside `repeat`.
inline constexpr int64_t kMaxRepeat = 100000;
inline constexpr int64_t kMaxExpandedEntries = 100000;
inline constexpr int kMaxBlockNesting = 32;

// Expands blocks and checks names and references: unique names, every input defined by an
// earlier node (or a graph input, initializer or state), no cycles, outputs and state updates
// naming values. Returns the flat graph.
Graph expand_document(Document doc);

}  // namespace loom::yaml
