#include <loom/error.hpp>
#include <loom/graph.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace loom {

namespace {
bool mul_overflows(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return false;
  return std::abs(a) > std::numeric_limits<int64_t>::max() / std::abs(b);
}
bool is_symbol_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
}  // namespace

Dim Dim::known(int64_t v) {
  Dim d;
  d.factor_ = v;
  return d;
}

Dim Dim::symbol(std::string name) {
  Dim d;
  d.factor_ = 1;
  d.symbols_.push_back(std::move(name));
  return d;
}

Dim Dim::unknown() {
  Dim d;
  d.unknown_ = true;
  return d;
}

Dim Dim::parse(std::string_view text) {
  auto bad = [&](const char* why) -> Error {
    return Error("bad dimension '" + std::string(text) + "': " + why);
  };
  if (text == "?") return unknown();
  if (text.empty()) throw bad("empty");
  Dim result = known(1);
  size_t pos = 0;
  while (true) {
    size_t star = text.find('*', pos);
    std::string_view term = text.substr(pos, star == std::string_view::npos ? std::string_view::npos : star - pos);
    while (!term.empty() && term.front() == ' ') term.remove_prefix(1);
    while (!term.empty() && term.back() == ' ') term.remove_suffix(1);
    if (term.empty()) throw bad("empty factor");
    if (std::isdigit(static_cast<unsigned char>(term[0]))) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(term.data(), term.data() + term.size(), v);
      if (ec != std::errc() || p != term.data() + term.size()) throw bad("not a number");
      if (mul_overflows(result.factor_, v)) throw bad("too large");
      result.factor_ *= v;
    } else {
      if (!std::all_of(term.begin(), term.end(), is_symbol_char)) throw bad("symbols are letters, digits and '_'");
      result.symbols_.emplace_back(term);
    }
    if (star == std::string_view::npos) break;
    pos = star + 1;
  }
  std::sort(result.symbols_.begin(), result.symbols_.end());
  return result;
}

int64_t Dim::value() const {
  if (!is_known()) throw Error("dimension " + str() + " is not known");
  return factor_;
}

Dim Dim::operator*(const Dim& o) const {
  if (unknown_ || o.unknown_) return unknown();
  if (mul_overflows(factor_, o.factor_)) return unknown();
  Dim d;
  d.factor_ = factor_ * o.factor_;
  if (d.factor_ == 0) return known(0);
  d.symbols_ = symbols_;
  d.symbols_.insert(d.symbols_.end(), o.symbols_.begin(), o.symbols_.end());
  std::sort(d.symbols_.begin(), d.symbols_.end());
  return d;
}

std::optional<Dim> Dim::divided_by(const Dim& o) const {
  if (unknown_ || o.unknown_) return unknown();
  if (o.factor_ == 0) return std::nullopt;
  if (factor_ % o.factor_ != 0) return std::nullopt;
  Dim d;
  d.factor_ = factor_ / o.factor_;
  d.symbols_ = symbols_;
  for (const auto& s : o.symbols_) {
    auto it = std::find(d.symbols_.begin(), d.symbols_.end(), s);
    if (it == d.symbols_.end()) return std::nullopt;
    d.symbols_.erase(it);
  }
  return d;
}

Dim Dim::operator+(const Dim& o) const {
  if (unknown_ || o.unknown_) return unknown();
  if (symbols_ == o.symbols_) {
    if ((o.factor_ > 0 && factor_ > std::numeric_limits<int64_t>::max() - o.factor_)) return unknown();
    Dim d = *this;
    d.factor_ = factor_ + o.factor_;
    if (d.factor_ == 0) return known(0);
    return d;
  }
  if (is_known() && factor_ == 0) return o;
  if (o.is_known() && o.factor_ == 0) return *this;
  return unknown();
}

Dim Dim::bind(const std::map<std::string, int64_t>& bindings) const {
  if (unknown_) return *this;
  Dim d = known(factor_);
  for (const auto& s : symbols_) {
    auto it = bindings.find(s);
    // Values bound to symbols whose product no int64 holds: no tensor has that dim (an unknown
    // dim here would be planned as 1).
    if (it != bindings.end() && mul_overflows(d.factor_, it->second))
      throw Error("dim " + str() + " overflows with " + s + " = " + std::to_string(it->second));
    d = d * (it == bindings.end() ? symbol(s) : known(it->second));
  }
  return d;
}

std::string Dim::str() const {
  if (unknown_) return "?";
  std::string out;
  if (factor_ != 1 || symbols_.empty()) out = std::to_string(factor_);
  for (const auto& s : symbols_) {
    if (!out.empty()) out += "*";
    out += s;
  }
  return out;
}

}  // namespace loom
