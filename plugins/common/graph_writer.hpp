// Writes a graph in Loom's YAML format (docs/graph-format.md) one entry at a time, so that a
// model plugin reads as the architecture it expands: inputs, weights, then nodes in order.
// Every name and string is written as a double-quoted scalar (JSON's string syntax is valid
// YAML), so no checkpoint text can change the graph's structure.
#pragma once

#include "weights.hpp"

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace loom::models {

// A YAML double-quoted scalar: JSON's string syntax, with U+0085, U+2028 and U+2029 escaped
// (\u0085, \u2028, \u2029: YAML reads them raw as line breaks, and yaml-cpp's \N is no UTF-8).
std::string quoted(const std::string& s);
// `s` on one comment line: control bytes, DEL and those three line breaks become '?' (a
// checkpoint's folder or a config's string may hold any of them).
std::string comment_text(std::string s);
// A float that reads back as a float attribute (17 significant digits, always with a fraction
// or an exponent).
std::string float_literal(double v);
// A YAML flow list of plain items ("[a, b]"), and of whole numbers.
std::string flow_list(const std::vector<std::string>& items);
std::string int_list(const std::vector<int64_t>& v);

// Attributes of a node: `attrs().set("axis", 1).set("causal", true)`.
class Attrs {
 public:
  Attrs& set(const std::string& key, int64_t v);
  Attrs& set(const std::string& key, int v) { return set(key, static_cast<int64_t>(v)); }
  Attrs& set(const std::string& key, double v);
  Attrs& set(const std::string& key, bool v);
  Attrs& set(const std::string& key, const char* v) { return set(key, std::string(v)); }
  Attrs& set(const std::string& key, const std::string& v);
  Attrs& set(const std::string& key, const std::vector<int64_t>& v);
  bool empty() const { return items_.empty(); }
  std::string yaml() const;

 private:
  std::vector<std::string> items_;
};

class GraphWriter {
 public:
  GraphWriter(std::string name, std::string comment);

  void metadata(const std::string& key, const std::string& value);
  // `shape` holds dims: numbers or symbol names. `default_yaml`: what a run uses when the input
  // is left out ("1", "{range: 1}"; docs/graph-format.md), "" for a required input.
  void input(const std::string& name, const std::string& dtype, const std::vector<std::string>& shape,
             const std::string& default_yaml = "");
  // The values the input just declared may hold, both ends included (ids below a table's rows).
  void values(int64_t min, int64_t max);
  void output(const std::string& name);
  void bound(const std::string& symbol, int64_t max);
  // A checkpoint tensor, read as f32 (f16 and bf16 files are widened on load); an integer one
  // (I64, I32) as it is stored.
  void weight(const std::string& name, const Weight& w);
  void constant(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                const std::vector<double>& values);
  void state(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape, const std::string& update);
  // One node; an empty input name leaves out an optional input.
  void node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
            const Attrs& attrs = {});
  // The `processing:` section, already in YAML (indented by two spaces under the key).
  void processing(const std::string& yaml);

  std::string str() const;

 private:
  std::string name_, comment_;
  std::vector<std::string> metadata_, inputs_, outputs_, bounds_, initializers_, states_, nodes_;
  std::string processing_;
};

}  // namespace loom::models
