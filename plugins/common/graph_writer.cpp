#include "graph_writer.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace loom::models {

namespace {

// U+0085, U+2028 and U+2029: YAML 1.1's line breaks, which a double-quoted scalar folds into a
// space as it is read (JSON leaves them raw); YAML's escapes for them.
constexpr std::pair<std::string_view, std::string_view> kBreaks[] = {
    {"\xC2\x85", "\\u0085"}, {"\xE2\x80\xA8", "\\u2028"}, {"\xE2\x80\xA9", "\\u2029"}};

}  // namespace

std::string quoted(const std::string& s) {
  const std::string json = nlohmann::json(s).dump();
  std::string y;
  for (size_t i = 0; i < json.size(); ++i) {
    const std::string_view rest = std::string_view(json).substr(i);
    bool brk = false;
    for (const auto& [raw, escape] : kBreaks)
      if (rest.starts_with(raw)) {
        y += escape;
        i += raw.size() - 1;
        brk = true;
        break;
      }
    if (!brk) y += json[i];
  }
  return y;
}

std::string comment_text(std::string s) {
  std::string y;
  for (size_t i = 0; i < s.size(); ++i) {
    const std::string_view rest = std::string_view(s).substr(i);
    const auto c = static_cast<unsigned char>(s[i]);
    bool brk = false;
    for (const auto& [raw, escape] : kBreaks)
      if (rest.starts_with(raw)) {
        i += raw.size() - 1;
        brk = true;
        break;
      }
    y += brk || c < 0x20 || c == 0x7f ? '?' : s[i];
  }
  return y;
}

std::string float_literal(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string flow_list(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

std::string int_list(const std::vector<int64_t>& v) {
  std::vector<std::string> items;
  for (int64_t x : v) items.push_back(std::to_string(x));
  return flow_list(items);
}

namespace {
std::string name_list(const std::vector<std::string>& names) {
  std::vector<std::string> items;
  for (const auto& n : names) items.push_back(quoted(n));
  return flow_list(items);
}
}  // namespace

Attrs& Attrs::set(const std::string& key, int64_t v) {
  items_.push_back(quoted(key) + ": " + std::to_string(v));
  return *this;
}
Attrs& Attrs::set(const std::string& key, double v) {
  items_.push_back(quoted(key) + ": " + float_literal(v));
  return *this;
}
Attrs& Attrs::set(const std::string& key, bool v) {
  items_.push_back(quoted(key) + ": " + (v ? "true" : "false"));
  return *this;
}
Attrs& Attrs::set(const std::string& key, const std::string& v) {
  items_.push_back(quoted(key) + ": " + quoted(v));
  return *this;
}
Attrs& Attrs::set(const std::string& key, const std::vector<int64_t>& v) {
  items_.push_back(quoted(key) + ": " + int_list(v));
  return *this;
}
std::string Attrs::yaml() const {
  std::string s = "{";
  for (size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + items_[i];
  return s + "}";
}

GraphWriter::GraphWriter(std::string name, std::string comment) : name_(std::move(name)), comment_(std::move(comment)) {}

void GraphWriter::metadata(const std::string& key, const std::string& value) {
  metadata_.push_back(quoted(key) + ": " + quoted(value));
}

void GraphWriter::input(const std::string& name, const std::string& dtype, const std::vector<std::string>& shape,
                        const std::string& default_yaml) {
  std::vector<std::string> dims;
  for (const auto& d : shape) dims.push_back(!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])) ? d : quoted(d));
  inputs_.push_back("{name: " + quoted(name) + ", dtype: " + dtype + ", shape: " + flow_list(dims) +
                    (default_yaml.empty() ? "" : ", default: " + default_yaml) + "}");
}

void GraphWriter::values(int64_t min, int64_t max) {
  if (inputs_.empty()) throw std::logic_error("GraphWriter::values: no input declared yet");
  std::string& last = inputs_.back();
  last.insert(last.size() - 1, ", values: {min: " + std::to_string(min) + ", max: " + std::to_string(max) + "}");
}

void GraphWriter::output(const std::string& name) { outputs_.push_back(quoted(name)); }

void GraphWriter::bound(const std::string& symbol, int64_t max) {
  bounds_.push_back(quoted(symbol) + ": {max: " + std::to_string(max) + "}");
}

void GraphWriter::weight(const std::string& name, const Weight& w) {
  const std::string dtype = w.dtype == "I64" ? "i64" : w.dtype == "I32" ? "i32" : "f32";
  initializers_.push_back("{name: " + quoted(name) + ", file: " + quoted(w.file) + ", tensor: " + quoted(w.tensor) +
                          ", dtype: " + dtype + ", shape: " + int_list(w.shape) + "}");
}

void GraphWriter::constant(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                           const std::vector<double>& values) {
  std::vector<std::string> vs;
  for (double v : values) vs.push_back(dtype == "f32" ? float_literal(v) : std::to_string(static_cast<int64_t>(v)));
  initializers_.push_back("{name: " + quoted(name) + ", dtype: " + dtype + ", shape: " + int_list(shape) + ", values: " + flow_list(vs) + "}");
}

void GraphWriter::state(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                        const std::string& update) {
  states_.push_back("{name: " + quoted(name) + ", dtype: " + dtype + ", shape: " + int_list(shape) + ", update: " + quoted(update) + "}");
}

void GraphWriter::node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                       const Attrs& attrs) {
  std::string s = "{op: " + quoted(op) + ", inputs: " + name_list(inputs) + ", outputs: " + name_list(outputs);
  if (!attrs.empty()) s += ", attrs: " + attrs.yaml();
  nodes_.push_back(s + "}");
}

void GraphWriter::processing(const std::string& yaml) { processing_ = yaml; }

std::string GraphWriter::str() const {
  std::ostringstream y;
  y << "# " << comment_text(comment_) << "\n";
  y << "loom: 1\nname: " << quoted(name_) << "\n";
  if (!metadata_.empty()) {
    std::string m = flow_list(metadata_);
    y << "metadata: {" << m.substr(1, m.size() - 2) << "}\n";
  }
  if (!bounds_.empty()) {
    y << "symbols:\n";
    for (const auto& b : bounds_) y << "  " << b << "\n";
  }
  y << "inputs:\n";
  for (const auto& i : inputs_) y << "  - " << i << "\n";
  y << "outputs: " << flow_list(outputs_) << "\n";
  if (!initializers_.empty()) {
    y << "initializers:\n";
    for (const auto& i : initializers_) y << "  - " << i << "\n";
  }
  if (!states_.empty()) {
    y << "state:\n";
    for (const auto& s : states_) y << "  - " << s << "\n";
  }
  y << "nodes:\n";
  for (const auto& n : nodes_) y << "  - " << n << "\n";
  if (!processing_.empty()) y << "processing:\n" << processing_;
  return y.str();
}

}  // namespace loom::models
