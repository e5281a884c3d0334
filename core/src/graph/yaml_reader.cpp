// Reads the YAML graph format v1 (docs/graph-format.md) into a Document, checking each entry's
// keys and the kinds of its YAML nodes; expand_document() then resolves blocks and names.
#include "graph/processing.hpp"
#include "graph/yaml_document.hpp"
#include "graph/yaml_load.hpp"
#include "graph/yaml_scalar.hpp"
#include "io/regular_file.hpp"

#include <loom/error.hpp>
#include <loom/graph.hpp>

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <cmath>
#include <set>

namespace loom {

namespace yaml {

void fail(const Where& where, const std::string& what) {
  std::string prefix = where.loc.str();
  if (!where.key.empty()) prefix += (prefix.empty() ? "" : ": ") + where.key;
  throw Error(printable(prefix.empty() ? what : prefix + ": " + what));
}

namespace {

using Keys = std::initializer_list<std::string_view>;

std::string join(Keys keys) {
  std::string out;
  for (auto k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing (null)";
    default: return "nothing";
  }
}

class Reader {
 public:
  Reader(std::string file, YAML::Node root) : file_(std::move(file)), root_(std::move(root)) {}

  Document read();

 private:
  SourceLoc loc_of(const YAML::Node& n, const SourceLoc& fallback) const {
    YAML::Mark m = n.IsDefined() ? n.Mark() : YAML::Mark::null_mark();
    if (m.is_null() || m.line < 0) return fallback;
    return loc_at(m);
  }
  SourceLoc loc_at(const YAML::Mark& m) const { return SourceLoc{file_, m.line + 1, m.column + 1}; }
  Where at(const YAML::Node& n, std::string key, const Where& parent) const {
    return Where{std::move(key), loc_of(n, parent.loc)};
  }

  // Checks that `n` is a mapping whose keys are distinct strings from `allowed`.
  void expect_map(const YAML::Node& n, const Where& w, Keys allowed) const;
  void expect_map(const YAML::Node& n, const Where& w) const;  // any keys
  void expect_seq(const YAML::Node& n, const Where& w) const {
    if (!n.IsSequence()) fail(w, "expected a sequence, found " + kind_name(n));
  }
  static std::string child_key(const Where& w, std::string_view k) { return w.key.empty() ? std::string(k) : w.key + "." + std::string(k); }
  static std::string item_key(const Where& w, size_t i) { return w.key + "[" + std::to_string(i) + "]"; }

  YAML::Node require(const YAML::Node& map, const Where& w, const char* key) const {
    YAML::Node n = map[key];
    if (!n.IsDefined()) fail(w, std::string("missing key '") + key + "'");
    return n;
  }

  std::string scalar_text(const YAML::Node& n, const Where& w, const char* what) const;
  std::string name_of(const YAML::Node& n, const Where& w) const;
  int64_t int_of(const YAML::Node& n, const Where& w) const;
  double number_of(const YAML::Node& n, const Where& w) const;
  PlainKind kind_of(const YAML::Node& n, const Where& w) const;
  DType dtype_of(const YAML::Node& n, const Where& w) const;
  SymShape sym_shape_of(const YAML::Node& n, const Where& w) const;
  Shape shape_of(const YAML::Node& n, const Where& w) const;
  AttrValue attr_of(const YAML::Node& n, const Where& w) const;
  std::vector<NameRef> name_list(const YAML::Node& n, const Where& w) const;
  std::vector<std::pair<std::string, NameRef>> name_map(const YAML::Node& n, const Where& w) const;

  InitEntry initializer(const YAML::Node& n, const Where& w) const;
  StateEntry state(const YAML::Node& n, const Where& w) const;
  Entry entry(const YAML::Node& n, const Where& w) const;
  BlockDef block(const YAML::Node& n, const Where& w, std::string name) const;
  InputDefault input_default(const YAML::Node& n, const Where& w, const TensorInfo& info) const;
  InputValues input_values(const YAML::Node& n, const Where& w, const GraphInput& in) const;
  std::vector<InitEntry> initializers(const YAML::Node& n, const Where& w) const;
  std::vector<StateEntry> states(const YAML::Node& n, const Where& w) const;
  std::vector<Entry> entries(const YAML::Node& n, const Where& w) const;

  std::string file_;
  YAML::Node root_;
  std::string weights_;  // the top-level default weights file
};

void Reader::expect_map(const YAML::Node& n, const Where& w) const {
  if (!n.IsMap()) fail(w, "expected a mapping, found " + kind_name(n));
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    Where kw{w.key, loc_of(it->first, w.loc)};
    if (!it->first.IsScalar()) fail(kw, "keys must be strings, found " + kind_name(it->first));
    const std::string& k = it->first.Scalar();
    if (!seen.insert(k).second) fail(Where{child_key(w, k), kw.loc}, "duplicate key");
  }
}

void Reader::expect_map(const YAML::Node& n, const Where& w, Keys allowed) const {
  expect_map(n, w);
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string& k = it->first.Scalar();
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) fail(Where{child_key(w, k), loc_of(it->first, w.loc)}, "unknown key (allowed: " + join(allowed) + ")");
  }
}

// `values: {min: 0, max: 30521}`: both ends included, an integer input's only, min <= max, and a
// fill default inside them.
InputValues Reader::input_values(const YAML::Node& n, const Where& w, const GraphInput& in) const {
  expect_map(n, w, {"min", "max"});
  if (in.info.dtype != DType::i64 && in.info.dtype != DType::i32 && in.info.dtype != DType::u8)
    fail(w, "values bound an integer input (i64, i32 or u8), not one of " + std::string(dtype_name(in.info.dtype)));
  InputValues v;
  YAML::Node lo = require(n, w, "min"), hi = require(n, w, "max");
  v.min = int_of(lo, at(lo, child_key(w, "min"), w));
  v.max = int_of(hi, at(hi, child_key(w, "max"), w));
  if (v.min > v.max) fail(w, "min " + std::to_string(v.min) + " is above max " + std::to_string(v.max));
  if (in.default_value && in.default_value->kind == InputDefault::Kind::Fill &&
      (in.default_value->fill < static_cast<double>(v.min) || in.default_value->fill > static_cast<double>(v.max)))
    fail(w, "the input's default " + yaml::format_float(in.default_value->fill) + " is outside them");
  return v;
}

// `default: 0` (every element) or `default: {range: AXIS}` (each element's index along AXIS).
InputDefault Reader::input_default(const YAML::Node& n, const Where& w, const TensorInfo& info) const {
  InputDefault d;
  if (n.IsMap()) {
    expect_map(n, w, {"range"});
    YAML::Node a = require(n, w, "range");
    const Where aw = at(a, child_key(w, "range"), w);
    const int64_t rank = static_cast<int64_t>(info.shape.size());
    d.kind = InputDefault::Kind::Range;
    d.axis = int_of(a, aw);
    if (d.axis < 0 || d.axis >= rank) fail(aw, "axis " + std::to_string(d.axis) + " is not an axis of a rank-" + std::to_string(rank) + " input");
    if (info.dtype != DType::i64 && info.dtype != DType::i32) fail(w, "a range default needs an i64 or i32 input");
    return d;
  }
  d.fill = number_of(n, w);
  if (!std::isfinite(d.fill)) fail(w, "the fill value must be finite");
  if (info.dtype == DType::i64 || info.dtype == DType::i32 || info.dtype == DType::u8) {
    const double lo = info.dtype == DType::u8 ? 0 : info.dtype == DType::i32 ? -2147483648.0 : -9007199254740992.0;
    const double hi = info.dtype == DType::u8 ? 255 : info.dtype == DType::i32 ? 2147483647.0 : 9007199254740992.0;
    if (d.fill != std::floor(d.fill) || d.fill < lo || d.fill > hi)
      fail(w, "the fill value of an " + std::string(dtype_name(info.dtype)) + " input must be a whole number that fits it");
  }
  return d;
}

std::string Reader::scalar_text(const YAML::Node& n, const Where& w, const char* what) const {
  if (!n.IsScalar()) fail(w, std::string("expected ") + what + ", found " + kind_name(n));
  return n.Scalar();
}

std::string Reader::name_of(const YAML::Node& n, const Where& w) const {
  std::string s = scalar_text(n, w, "a name");
  if (s.empty()) fail(w, "a name may not be empty");
  // Control characters include C1 and the bidirectional controls, which reorder printed text.
  if (printable(s) != s) fail(w, "a name may not hold control characters ('" + printable(s) + "')");
  return s;
}

// Only plain scalars have a type; quoted ones ("12") and `!!str` ones are strings.
PlainKind Reader::kind_of(const YAML::Node& n, const Where& w) const {
  const std::string& tag = n.Tag();
  if (tag == "?") return plain_kind(n.Scalar());
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return PlainKind::String;
  fail(w, "YAML tags (" + tag + ") are not supported");
}

int64_t Reader::int_of(const YAML::Node& n, const Where& w) const {
  if (!n.IsScalar() || kind_of(n, w) != PlainKind::Int) fail(w, "expected an integer, found " + (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
  auto v = parse_int(n.Scalar());
  if (!v) fail(w, "integer " + n.Scalar() + " is out of range");
  return *v;
}

double Reader::number_of(const YAML::Node& n, const Where& w) const {
  if (n.IsScalar()) {
    PlainKind k = kind_of(n, w);
    if (k == PlainKind::Int) return static_cast<double>(int_of(n, w));
    if (k == PlainKind::Float) {
      auto v = parse_float(n.Scalar());
      if (!v) fail(w, "number " + n.Scalar() + " is out of range");
      return *v;
    }
  }
  fail(w, "expected a number, found " + (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
}

DType Reader::dtype_of(const YAML::Node& n, const Where& w) const {
  std::string s = scalar_text(n, w, "a dtype");
  auto t = parse_dtype(s);
  if (!t) fail(w, "unknown dtype '" + s + "' (f32, f16, bf16, i64, i32, u8)");
  return *t;
}

SymShape Reader::sym_shape_of(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  SymShape shape;
  for (size_t i = 0; i < n.size(); ++i) {
    Where dw = at(n[i], item_key(w, i), w);
    if (n[i].IsScalar() && kind_of(n[i], dw) == PlainKind::Int) {
      int64_t v = int_of(n[i], dw);
      if (v < 0) fail(dw, "a dimension may not be negative");
      shape.push_back(Dim::known(v));
    } else if (n[i].IsScalar() && kind_of(n[i], dw) == PlainKind::String) {
      try {
        shape.push_back(Dim::parse(n[i].Scalar()));
      } catch (const Error& e) {
        fail(dw, e.what());
      }
    } else {
      fail(dw, "expected a dimension (an integer, a symbol like `batch` or a product like `batch*seq`)");
    }
  }
  return shape;
}

Shape Reader::shape_of(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  Shape shape;
  for (size_t i = 0; i < n.size(); ++i) {
    Where dw = at(n[i], item_key(w, i), w);
    int64_t v = int_of(n[i], dw);
    if (v < 0) fail(dw, "a dimension may not be negative");
    shape.push_back(v);
  }
  try {
    shape_numel(shape);
  } catch (const Error& e) {
    fail(w, e.what());
  }
  return shape;
}

AttrValue Reader::attr_of(const YAML::Node& n, const Where& w) const {
  if (n.IsScalar()) {
    switch (kind_of(n, w)) {
      case PlainKind::Int: return int_of(n, w);
      case PlainKind::Float: return number_of(n, w);
      case PlainKind::Bool: return parse_bool(n.Scalar());
      case PlainKind::String: return n.Scalar();
    }
  }
  if (!n.IsSequence()) fail(w, "expected an attribute value (a number, bool, string or list of numbers), found " + kind_name(n));
  bool any_float = false;
  for (size_t i = 0; i < n.size(); ++i) {
    Where iw = at(n[i], item_key(w, i), w);
    PlainKind k = n[i].IsScalar() ? kind_of(n[i], iw) : PlainKind::String;
    if (k != PlainKind::Int && k != PlainKind::Float)
      fail(iw, "attribute lists hold numbers only, found " + (n[i].IsScalar() ? "'" + n[i].Scalar() + "'" : kind_name(n[i])));
    any_float = any_float || k == PlainKind::Float;
  }
  if (!any_float) {
    std::vector<int64_t> ints;
    for (size_t i = 0; i < n.size(); ++i) ints.push_back(int_of(n[i], at(n[i], item_key(w, i), w)));
    return ints;
  }
  std::vector<double> floats;
  for (size_t i = 0; i < n.size(); ++i) floats.push_back(number_of(n[i], at(n[i], item_key(w, i), w)));
  return floats;
}

std::vector<NameRef> Reader::name_list(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  std::vector<NameRef> out;
  for (size_t i = 0; i < n.size(); ++i) {
    Where iw = at(n[i], item_key(w, i), w);
    out.push_back(NameRef{name_of(n[i], iw), iw});
  }
  return out;
}

std::vector<std::pair<std::string, NameRef>> Reader::name_map(const YAML::Node& n, const Where& w) const {
  expect_map(n, w);
  std::vector<std::pair<std::string, NameRef>> out;
  for (auto it = n.begin(); it != n.end(); ++it) {
    Where kw = at(it->first, child_key(w, it->first.Scalar()), w);
    std::string formal = name_of(it->first, kw);
    Where vw = at(it->second, kw.key, kw);
    out.emplace_back(formal, NameRef{name_of(it->second, vw), vw});
  }
  return out;
}

InitEntry Reader::initializer(const YAML::Node& n, const Where& w) const {
  expect_map(n, w, {"name", "file", "tensor", "dtype", "shape", "values"});
  InitEntry e;
  e.where = w;
  Initializer& init = e.init;
  init.loc = w.loc;
  YAML::Node name = require(n, w, "name");
  init.name = name_of(name, at(name, child_key(w, "name"), w));
  if (YAML::Node d = n["dtype"]) init.dtype = dtype_of(d, at(d, child_key(w, "dtype"), w));
  if (YAML::Node s = n["shape"]) init.shape = shape_of(s, at(s, child_key(w, "shape"), w));
  if (YAML::Node v = n["values"]) {
    Where vw = at(v, child_key(w, "values"), w);
    if (n["file"] || n["tensor"]) fail(vw, "inline `values` and a weights `file`/`tensor` exclude each other");
    if (!init.dtype || !init.shape) fail(vw, "inline `values` need `dtype` and `shape`");
    expect_seq(v, vw);
    bool integral = *init.dtype == DType::i64 || *init.dtype == DType::i32 || *init.dtype == DType::u8;
    for (size_t i = 0; i < v.size(); ++i) {
      Where iw = at(v[i], item_key(vw, i), vw);
      double x = number_of(v[i], iw);
      // Values are held as doubles: integers must be whole and exactly representable.
      if (integral && (x != static_cast<double>(static_cast<int64_t>(x)) || x > 9007199254740992.0 || x < -9007199254740992.0 ||
                       (*init.dtype == DType::u8 && (x < 0 || x > 255)) ||
                       (*init.dtype == DType::i32 && (x < -2147483648.0 || x > 2147483647.0))))
        fail(iw, "value " + v[i].Scalar() + " does not fit dtype " + std::string(dtype_name(*init.dtype)));
      init.values.push_back(x);
    }
    int64_t expected = shape_numel(*init.shape);
    if (static_cast<int64_t>(init.values.size()) != expected)
      fail(vw, std::to_string(init.values.size()) + " values, but shape " + shape_str(*init.shape) + " holds " + std::to_string(expected));
    return e;
  }
  if (YAML::Node t = n["tensor"]) {
    init.tensor = name_of(t, at(t, child_key(w, "tensor"), w));
    e.tensor_given = true;
  } else {
    init.tensor = init.name;
  }
  if (YAML::Node f = n["file"]) {
    init.file = name_of(f, at(f, child_key(w, "file"), w));
  } else if (!weights_.empty()) {
    init.file = weights_;
  } else {
    fail(w, "no `file` and no top-level `weights` file (or inline `values`)");
  }
  return e;
}

StateEntry Reader::state(const YAML::Node& n, const Where& w) const {
  expect_map(n, w, {"name", "dtype", "shape", "update"});
  StateEntry e;
  e.where = w;
  e.state.loc = w.loc;
  YAML::Node name = require(n, w, "name");
  e.state.name = name_of(name, at(name, child_key(w, "name"), w));
  YAML::Node d = require(n, w, "dtype");
  e.state.dtype = dtype_of(d, at(d, child_key(w, "dtype"), w));
  YAML::Node s = require(n, w, "shape");
  e.state.shape = shape_of(s, at(s, child_key(w, "shape"), w));
  if (YAML::Node u = n["update"]) {
    e.update_where = at(u, child_key(w, "update"), w);
    e.state.update = name_of(u, e.update_where);
  }
  return e;
}

Entry Reader::entry(const YAML::Node& n, const Where& w) const {
  expect_map(n, w);
  if (n["use"]) {
    expect_map(n, w, {"use", "name", "repeat", "inputs", "outputs", "chain"});
    UseEntry u;
    u.where = w;
    YAML::Node b = n["use"];
    Where bw = at(b, child_key(w, "use"), w);
    u.block = NameRef{name_of(b, bw), bw};
    u.prefix = u.block.name;
    if (YAML::Node nm = n["name"]) u.prefix = name_of(nm, at(nm, child_key(w, "name"), w));
    if (YAML::Node r = n["repeat"]) {
      Where rw = at(r, child_key(w, "repeat"), w);
      int64_t count = int_of(r, rw);
      if (count < 1 || count > kMaxRepeat) fail(rw, "repeat must be between 1 and " + std::to_string(kMaxRepeat) + ", found " + std::to_string(count));
      u.repeat = count;
    }
    u.inputs_where = u.outputs_where = u.chain_where = w;
    if (YAML::Node i = n["inputs"]) u.inputs = name_map(i, u.inputs_where = at(i, child_key(w, "inputs"), w));
    if (YAML::Node o = n["outputs"]) u.outputs = name_map(o, u.outputs_where = at(o, child_key(w, "outputs"), w));
    if (YAML::Node c = n["chain"]) u.chain = name_map(c, u.chain_where = at(c, child_key(w, "chain"), w));
    return u;
  }
  expect_map(n, w, {"name", "op", "inputs", "outputs", "attrs", "backend"});
  OpEntry e;
  e.where = w;
  Node& node = e.node;
  node.loc = w.loc;
  YAML::Node op = require(n, w, "op");
  node.op = name_of(op, at(op, child_key(w, "op"), w));
  if (YAML::Node nm = n["name"]) node.name = name_of(nm, at(nm, child_key(w, "name"), w));
  if (YAML::Node in = n["inputs"]) {
    Where iw = at(in, child_key(w, "inputs"), w);
    expect_seq(in, iw);
    for (size_t i = 0; i < in.size(); ++i) {
      Where vw = at(in[i], item_key(iw, i), iw);
      // `null` or "" leaves an optional input out.
      node.inputs.push_back(in[i].IsNull() || (in[i].IsScalar() && in[i].Scalar().empty()) ? std::string() : name_of(in[i], vw));
      e.input_where.push_back(vw);
    }
  }
  YAML::Node out = require(n, w, "outputs");
  Where ow = at(out, child_key(w, "outputs"), w);
  for (NameRef& r : name_list(out, ow)) {
    node.outputs.push_back(r.name);
    e.output_where.push_back(r.where);
  }
  if (node.outputs.empty()) fail(ow, "a node needs at least one output");
  if (YAML::Node a = n["attrs"]) {
    Where aw = at(a, child_key(w, "attrs"), w);
    expect_map(a, aw);
    for (auto it = a.begin(); it != a.end(); ++it) {
      Where kw = at(it->first, child_key(aw, it->first.Scalar()), aw);
      std::string key = name_of(it->first, kw);
      node.attrs[key] = attr_of(it->second, at(it->second, kw.key, kw));
    }
  }
  if (YAML::Node b = n["backend"]) node.backend = name_of(b, at(b, child_key(w, "backend"), w));
  return e;
}

std::vector<InitEntry> Reader::initializers(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  std::vector<InitEntry> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(initializer(n[i], at(n[i], item_key(w, i), w)));
  return out;
}

std::vector<StateEntry> Reader::states(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  std::vector<StateEntry> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(state(n[i], at(n[i], item_key(w, i), w)));
  return out;
}

std::vector<Entry> Reader::entries(const YAML::Node& n, const Where& w) const {
  expect_seq(n, w);
  std::vector<Entry> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(entry(n[i], at(n[i], item_key(w, i), w)));
  return out;
}

BlockDef Reader::block(const YAML::Node& n, const Where& w, std::string name) const {
  expect_map(n, w, {"inputs", "outputs", "initializers", "state", "nodes"});
  BlockDef b;
  b.name = std::move(name);
  b.where = w;
  YAML::Node in = require(n, w, "inputs");
  b.inputs = name_list(in, at(in, child_key(w, "inputs"), w));
  YAML::Node out = require(n, w, "outputs");
  b.outputs = name_list(out, at(out, child_key(w, "outputs"), w));
  if (YAML::Node i = n["initializers"]) b.initializers = initializers(i, at(i, child_key(w, "initializers"), w));
  if (YAML::Node s = n["state"]) b.states = states(s, at(s, child_key(w, "state"), w));
  YAML::Node nodes = require(n, w, "nodes");
  b.nodes = entries(nodes, at(nodes, child_key(w, "nodes"), w));
  return b;
}

Document Reader::read() {
  const YAML::Node& root = root_;

  Document doc;
  doc.root = Where{"", loc_of(root, SourceLoc{file_, 1, 1})};
  const Where& w = doc.root;
  if (!root.IsMap()) fail(w, "expected a mapping that starts with `loom: 1`, found " + kind_name(root));
  // The version comes first so that a file of another version is reported as such.
  YAML::Node version = root["loom"];
  if (!version) fail(w, "missing key 'loom' (the format version; this reader reads `loom: 1`)");
  Where vw = at(version, "loom", w);
  if (!version.IsScalar() || version.Scalar() != "1")
    fail(vw, "unsupported format version '" + (version.IsScalar() ? version.Scalar() : kind_name(version)) + "' (this reader reads `loom: 1`)");
  expect_map(root, w,
             {"loom", "name", "metadata", "weights", "inputs", "outputs", "symbols", "initializers", "state", "blocks", "nodes",
              "processing"});

  Graph& g = doc.header;
  if (YAML::Node n = root["name"]) g.name = scalar_text(n, at(n, "name", w), "a string");
  if (YAML::Node m = root["metadata"]) {
    Where mw = at(m, "metadata", w);
    expect_map(m, mw);
    for (auto it = m.begin(); it != m.end(); ++it) {
      Where kw = at(it->second, "metadata." + it->first.Scalar(), mw);
      g.metadata[it->first.Scalar()] = scalar_text(it->second, kw, "a string");
    }
  }
  if (YAML::Node f = root["weights"]) weights_ = name_of(f, at(f, "weights", w));
  if (YAML::Node in = root["inputs"]) {
    Where iw = at(in, "inputs", w);
    expect_seq(in, iw);
    for (size_t i = 0; i < in.size(); ++i) {
      Where ew = at(in[i], item_key(iw, i), iw);
      expect_map(in[i], ew, {"name", "dtype", "shape", "default", "values"});
      GraphInput gi;
      gi.loc = ew.loc;
      YAML::Node name = require(in[i], ew, "name");
      gi.name = name_of(name, at(name, child_key(ew, "name"), ew));
      YAML::Node d = require(in[i], ew, "dtype");
      gi.info.dtype = dtype_of(d, at(d, child_key(ew, "dtype"), ew));
      YAML::Node s = require(in[i], ew, "shape");
      gi.info.shape = sym_shape_of(s, at(s, child_key(ew, "shape"), ew));
      if (YAML::Node d = in[i]["default"]) gi.default_value = input_default(d, at(d, child_key(ew, "default"), ew), gi.info);
      if (YAML::Node v = in[i]["values"]) gi.values = input_values(v, at(v, child_key(ew, "values"), ew), gi);
      g.inputs.push_back(std::move(gi));
      doc.input_where.push_back(ew);
    }
  }
  YAML::Node out = require(root, w, "outputs");
  for (NameRef& r : name_list(out, at(out, "outputs", w))) {
    g.outputs.push_back(GraphOutput{r.name, r.where.loc});
    doc.output_where.push_back(r.where);
  }
  if (YAML::Node sy = root["symbols"]) {
    Where sw = at(sy, "symbols", w);
    expect_map(sy, sw);
    for (auto it = sy.begin(); it != sy.end(); ++it) {
      Where kw = at(it->first, child_key(sw, it->first.Scalar()), sw);
      SymbolBound b;
      b.name = name_of(it->first, kw);
      b.loc = kw.loc;
      Where vw = at(it->second, kw.key, kw);
      expect_map(it->second, vw, {"max"});
      YAML::Node max = require(it->second, vw, "max");
      Where mw = at(max, child_key(vw, "max"), vw);
      b.max = int_of(max, mw);
      if (b.max < 1) fail(mw, "the bound of symbol '" + b.name + "' must be at least 1, got " + std::to_string(b.max));
      g.symbols.push_back(std::move(b));
    }
  }
  if (YAML::Node i = root["initializers"]) doc.initializers = initializers(i, at(i, "initializers", w));
  if (YAML::Node s = root["state"]) doc.states = states(s, at(s, "state", w));
  if (YAML::Node b = root["blocks"]) {
    Where bw = at(b, "blocks", w);
    expect_map(b, bw);
    for (auto it = b.begin(); it != b.end(); ++it) {
      Where kw = at(it->first, child_key(bw, it->first.Scalar()), bw);
      std::string name = name_of(it->first, kw);
      doc.blocks.emplace(name, block(it->second, at(it->second, kw.key, kw), name));
    }
  }
  YAML::Node nodes = require(root, w, "nodes");
  doc.nodes = entries(nodes, at(nodes, "nodes", w));
  if (YAML::Node p = root["processing"]) g.processing = read_processing(p, at(p, "processing", w), doc.processing_positions);
  return doc;
}

}  // namespace

}  // namespace yaml

Graph parse_graph_yaml(std::string_view text, const std::string& source_name, const std::filesystem::path& base_dir) {
  return yaml::read_graph_document(yaml::load_document(text, source_name), source_name, base_dir);
}

Graph yaml::read_graph_document(const YAML::Node& root, const std::string& source_name, const std::filesystem::path& base_dir) {
  yaml::Reader reader(source_name, root);
  yaml::Document doc;
  try {
    doc = reader.read();
  } catch (const YAML::Exception& e) {
    // The reader checks node kinds before it looks inside them; this is the safety net that
    // keeps yaml-cpp's exceptions inside the library whatever slips past those checks.
    SourceLoc loc{source_name, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1};
    throw Error(loc.str() + ": " + e.msg);
  }
  const yaml::Positions processing_positions = std::move(doc.processing_positions);
  Graph g = yaml::expand_document(std::move(doc));
  check_processing(g, processing_positions);  // after expansion: caches may be states of blocks
  g.base_dir = base_dir;
  return g;
}

Graph read_graph_yaml(const std::filesystem::path& file) {
  Graph g = parse_graph_yaml(io::read_text_file(file, "the graph"), file.string(), file.parent_path());
  g.path = file;
  return g;
}

}  // namespace loom
