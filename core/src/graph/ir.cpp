// Small helpers of the graph IR: shapes as text, attribute types, source locations.
#include <loom/graph.hpp>

namespace loom {

std::string sym_shape_str(const SymShape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i].str();
  }
  return out + "]";
}

SymShape to_sym_shape(const Shape& s) {
  SymShape out;
  out.reserve(s.size());
  for (int64_t d : s) out.push_back(Dim::known(d));
  return out;
}

std::optional<Shape> to_shape(const SymShape& s) {
  Shape out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.is_known()) return std::nullopt;
    out.push_back(d.value());
  }
  return out;
}

AttrType attr_type(const AttrValue& v) {
  switch (v.index()) {
    case 0: return AttrType::Int;
    case 1: return AttrType::Float;
    case 2: return AttrType::String;
    case 3: return AttrType::Ints;
    case 4: return AttrType::Floats;
    default: return AttrType::Bool;
  }
}

std::string_view attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::Int: return "int";
    case AttrType::Float: return "float";
    case AttrType::String: return "string";
    case AttrType::Ints: return "ints";
    case AttrType::Floats: return "floats";
    case AttrType::Bool: return "bool";
  }
  return "?";
}

std::string SourceLoc::str() const {
  if (file.empty() && line == 0) return "";
  std::string out = file;
  if (line > 0) {
    out.append(":").append(std::to_string(line));
    if (column > 0) out.append(":").append(std::to_string(column));
  }
  return out;
}

}  // namespace loom
