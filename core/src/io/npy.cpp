// NumPy .npy files: "\x93NUMPY", a version, a header length, a Python dict literal
// {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with spaces and '\n', then the
// raw C-order data. The header is parsed by a small strict parser for exactly that literal.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include "io/regular_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>
#include <optional>
#include <string>
#include <vector>

namespace loom {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// The header (with its preamble) is padded to this alignment so the data that follows can be
// mapped; NumPy also leaves room for the first dimension to grow to this many digits.
constexpr size_t kAlign = 64;
constexpr size_t kGrowthAxisDigits = 21;
constexpr int kMaxNesting = 32;
// NumPy writes headers of a few hundred bytes (and reads at most 10000 by default); a longer
// one is a corrupt length, and the header is parsed in memory.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(printable(path + ": " + problem));
}

uint32_t read_le(const char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// A value of the Python literal subset NumPy headers use.
struct Value {
  enum Kind { string, boolean, none, integer, tuple, list, dict } kind = none;
  std::string text;  // string contents, or an integer's digits with its sign
  bool flag = false;
  std::vector<Value> items;      // tuple and list elements, or dict values
  std::vector<std::string> keys;  // dict keys, in order, beside their values in `items`
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::string: return "a string";
    case Value::boolean: return "a boolean";
    case Value::none: return "None";
    case Value::integer: return "an integer";
    case Value::tuple: return "a tuple";
    case Value::list: return "a list";
    case Value::dict: return "a dict";
  }
  return "a value";
}

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  // The whole header: one dict, then spaces, then the terminating newline.
  Value parse_header() {
    skip_space();
    if (peek() != '{') error("header must be a dict literal starting with '{'");
    Value v = parse_value(0);
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    if (i_ == s_.size()) error("header does not end with a newline");
    if (s_[i_] != '\n' || i_ + 1 != s_.size()) error("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& problem) const {
    fail(path_, "header: " + problem + " (at offset " + std::to_string(i_) + " of the header)");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (i_ >= s_.size()) error(std::string("truncated: expected '") + c + "'");
    if (s_[i_] != c) error(std::string("expected '") + c + "', found '" + s_[i_] + "'");
    ++i_;
  }
  bool is_word_char(char c) const {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  Value parse_value(int depth) {
    if (depth > kMaxNesting) error("nesting is too deep");
    skip_space();
    if (i_ >= s_.size()) error("truncated: expected a value");
    const char c = s_[i_];
    if (c == '\'' || c == '"') return parse_string();
    if (c == '{') return parse_dict(depth);
    if (c == '(') return parse_sequence(depth, ')', Value::tuple);
    if (c == '[') return parse_sequence(depth, ']', Value::list);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_integer();
    if (is_word_char(c)) {
      size_t start = i_;
      while (i_ < s_.size() && is_word_char(s_[i_])) ++i_;
      std::string_view word = s_.substr(start, i_ - start);
      Value v;
      if (word == "True" || word == "False") {
        v.kind = Value::boolean;
        v.flag = word == "True";
      } else if (word == "None") {
        v.kind = Value::none;
      } else {
        i_ = start;
        error("unexpected name '" + std::string(word) + "'");
      }
      return v;
    }
    error(std::string("unexpected character '") + c + "'");
  }

  Value parse_string() {
    const char quote = s_[i_++];
    Value v;
    v.kind = Value::string;
    while (true) {
      if (i_ >= s_.size() || s_[i_] == '\n') error("unterminated string");
      const char c = s_[i_];
      if (c == '\\') error("escape sequences in strings are not supported");
      ++i_;
      if (c == quote) break;
      v.text += c;
    }
    return v;
  }

  Value parse_integer() {
    Value v;
    v.kind = Value::integer;
    if (s_[i_] == '-') {
      v.text += '-';
      ++i_;
      skip_space();  // Python reads "- 1" as the integer -1
    }
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ == start) error("expected digits");
    if (i_ < s_.size() && is_word_char(s_[i_])) error("malformed integer");
    std::string_view digits = s_.substr(start, i_ - start);
    if (digits.size() > 1 && digits[0] == '0') {
      i_ = start;
      error("integer with a leading zero");
    }
    v.text += digits;
    return v;
  }

  Value parse_sequence(int depth, char close, Value::Kind kind) {
    ++i_;
    Value v;
    v.kind = kind;
    bool comma = false;  // a 1-tuple needs its trailing comma: (3) is the integer 3
    while (true) {
      skip_space();
      if (peek() == close) {
        ++i_;
        break;
      }
      if (!v.items.empty() && !comma) error(std::string("expected ',' or '") + close + "'");
      v.items.push_back(parse_value(depth + 1));
      skip_space();
      comma = peek() == ',';
      if (comma) ++i_;
    }
    if (kind == Value::tuple && v.items.size() == 1 && !comma) return std::move(v.items[0]);
    return v;
  }

  Value parse_dict(int depth) {
    ++i_;
    Value v;
    v.kind = Value::dict;
    std::unordered_set<std::string> seen;
    bool comma = true;
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++i_;
        break;
      }
      if (!comma) error("expected ',' or '}'");
      if (i_ >= s_.size()) error("truncated: expected a key or '}'");
      Value key = parse_value(depth + 1);
      if (key.kind != Value::string) error("dict keys must be strings");
      if (!seen.insert(key.text).second) error("key '" + key.text + "' appears twice");
      expect(':');
      Value val = parse_value(depth + 1);
      v.keys.push_back(key.text);
      v.items.push_back(std::move(val));
      skip_space();
      comma = peek() == ',';
      if (comma) ++i_;
    }
    return v;
  }

  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

struct Preamble {
  size_t header_begin = 0;  // first byte of the dict literal
  size_t header_end = 0;    // first byte of the data
  int major = 0;
};

// Needs the first 12 bytes of the file (or all of it when shorter); `total` is its full size.
Preamble parse_preamble(std::string_view head, uint64_t total, const std::string& path) {
  if (head.size() < kMagic.size() || head.substr(0, kMagic.size()) != kMagic) {
    if (total < kMagic.size() && kMagic.substr(0, head.size()) == head)
      fail(path, "truncated: file is " + std::to_string(total) + " bytes, shorter than the .npy magic");
    fail(path, "not a .npy file (bad magic: expected \\x93NUMPY)");
  }
  if (total < 8) fail(path, "truncated: file ends inside the format version");
  Preamble p;
  p.major = static_cast<uint8_t>(head[6]);
  const int minor = static_cast<uint8_t>(head[7]);
  if ((p.major != 1 && p.major != 2 && p.major != 3) || minor != 0)
    fail(path, "unsupported .npy format version " + std::to_string(p.major) + "." + std::to_string(minor));
  const int len_bytes = p.major == 1 ? 2 : 4;
  p.header_begin = 8 + len_bytes;
  if (total < p.header_begin) fail(path, "truncated: file ends inside the header length");
  const uint64_t header_len = read_le(head.data() + 8, len_bytes);
  p.header_end = p.header_begin + header_len;
  if (p.header_end > total)
    fail(path, "truncated: header of " + std::to_string(header_len) + " bytes runs past the end of the file (" +
                   std::to_string(total) + " bytes)");
  if (header_len > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_len) + " is larger than the " + std::to_string(kMaxHeaderBytes) +
                   " bytes this reader accepts (a corrupt length?)");
  return p;
}

bool valid_utf8(std::string_view s) {
  static constexpr uint32_t kMinCodePoint[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    int n = 0;
    uint32_t cp = c;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<size_t>(n)) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if (cp < kMinCodePoint[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

struct NpyHeader {
  DType dtype = DType::f32;
  bool boolean = false;  // '|b1': read as u8, each byte 0 or 1
  Shape shape;
  uint64_t nbytes = 0;
  size_t data_offset = 0;
};

std::optional<DType> npy_dtype(std::string_view descr) {
  if (descr == "<f4") return DType::f32;
  if (descr == "<f2") return DType::f16;
  if (descr == "<i8") return DType::i64;
  if (descr == "<i4") return DType::i32;
  if (descr == "|u1" || descr == "<u1" || descr == "|b1") return DType::u8;
  return std::nullopt;
}

const Value* dict_get(const Value& dict, std::string_view key) {
  for (size_t i = 0; i < dict.keys.size(); ++i)
    if (dict.keys[i] == key) return &dict.items[i];
  return nullptr;
}

// `bytes` holds at least the whole header; `total` is the size of the whole file.
NpyHeader parse_header(std::string_view bytes, uint64_t total, const std::string& path) {
  const Preamble pre = parse_preamble(bytes, total, path);
  std::string_view text = bytes.substr(pre.header_begin, pre.header_end - pre.header_begin);
  if (pre.major == 3 && !valid_utf8(text)) fail(path, "header is not valid UTF-8");

  const Value dict = LiteralParser(text, path).parse_header();
  for (const auto& k : dict.keys)
    if (k != "descr" && k != "fortran_order" && k != "shape") fail(path, "header: unexpected key '" + k + "'");
  const Value* descr = dict_get(dict, "descr");
  const Value* fortran = dict_get(dict, "fortran_order");
  const Value* shape = dict_get(dict, "shape");
  if (!descr) fail(path, "header: missing key 'descr'");
  if (!fortran) fail(path, "header: missing key 'fortran_order'");
  if (!shape) fail(path, "header: missing key 'shape'");

  NpyHeader h;
  if (descr->kind == Value::list) fail(path, "structured dtypes are not supported");
  if (descr->kind != Value::string) fail(path, std::string("header: 'descr' must be a string, got ") + kind_name(descr->kind));
  const std::string& d = descr->text;
  auto dtype = npy_dtype(d);
  if (!dtype) {
    if (d.size() >= 2 && d[0] == '>' && d != ">u1" && d != ">i1")
      fail(path, "big-endian dtype '" + d + "' is not supported");
    if (d.find('O') != std::string::npos) fail(path, "object arrays ('" + d + "') are not supported");
    fail(path, "dtype '" + d + "' is not supported (supported: '<f4', '<f2', '<i8', '<i4', '|u1', '|b1')");
  }
  h.dtype = *dtype;
  h.boolean = d == "|b1";

  if (shape->kind != Value::tuple)
    fail(path, std::string("header: 'shape' must be a tuple, got ") + kind_name(shape->kind));
  for (const Value& dim : shape->items) {
    if (dim.kind != Value::integer)
      fail(path, std::string("header: 'shape' must hold integers, got ") + kind_name(dim.kind));
    if (dim.text[0] == '-' && dim.text != "-0") fail(path, "shape has a negative dimension " + dim.text);
    const std::string_view digits = std::string_view(dim.text).substr(dim.text[0] == '-' ? 1 : 0);
    if (digits.size() > 19) fail(path, "shape dimension " + dim.text + " is too large");
    uint64_t v = 0;
    for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > uint64_t(INT64_MAX)) fail(path, "shape dimension " + dim.text + " is too large");
    h.shape.push_back(static_cast<int64_t>(v));
  }
  int64_t numel = 0;
  try {
    numel = shape_numel(h.shape);
  } catch (const Error& e) {
    fail(path, e.what());
  }
  const uint64_t item = dtype_size(h.dtype);
  if (static_cast<uint64_t>(numel) > (uint64_t(1) << 62) / item)
    fail(path, "shape " + shape_str(h.shape) + " of '" + d + "' is too large");
  h.nbytes = static_cast<uint64_t>(numel) * item;

  if (fortran->kind != Value::boolean)
    fail(path, std::string("header: 'fortran_order' must be True or False, got ") + kind_name(fortran->kind));
  if (fortran->flag) {
    // Column-major order is the same bytes as row-major when at most one dimension exceeds 1.
    int big = 0;
    for (int64_t dim : h.shape) big += dim > 1;
    if (big > 1 && numel > 0) fail(path, "Fortran-order arrays are not supported");
  }

  h.data_offset = pre.header_end;
  const uint64_t available = total - pre.header_end;
  if (available < h.nbytes)
    fail(path, "truncated data: shape " + shape_str(h.shape) + " of '" + d + "' needs " + std::to_string(h.nbytes) +
                   " bytes, found " + std::to_string(available));
  if (available > h.nbytes)
    fail(path, std::to_string(available - h.nbytes) + " bytes of trailing data after the array");
  return h;
}

// NumPy's bools are the bytes 0 and 1 (read as u8); any other byte is a corrupt file.
void check_booleans(const NpyHeader& h, const Tensor& t, const std::string& path) {
  if (!h.boolean) return;
  const auto* p = static_cast<const uint8_t*>(t.data());
  for (uint64_t i = 0; i < h.nbytes; ++i)
    if (p[i] > 1) fail(path, "bool element " + std::to_string(i) + " holds the byte " + std::to_string(p[i]) + ", not 0 or 1");
}

std::string npy_descr(DType t, const std::string& what) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f16: return "<f2";
    case DType::i64: return "<i8";
    case DType::i32: return "<i4";
    case DType::u8: return "|u1";
    case DType::bf16: break;
  }
  throw Error(what + ": cannot store a bf16 tensor in .npy: NumPy has no bfloat16 dtype (convert to f32 first)");
}

// Byte-for-byte what numpy.save writes for the same array.
std::string npy_header(const Tensor& t, const std::string& what) {
  if (!t.defined()) throw Error(what + ": cannot write a tensor that has no data");
  std::string dict = "{'descr': '" + npy_descr(t.dtype(), what) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(t.shape()[i]);
  }
  if (t.shape().size() == 1) dict += ",";
  dict += "), }";
  if (!t.shape().empty()) dict.append(kGrowthAxisDigits - std::to_string(t.shape()[0]).size(), ' ');

  const size_t hlen = dict.size() + 1;  // with the newline
  for (int major : {1, 2}) {
    const size_t prefix = kMagic.size() + 2 + (major == 1 ? 2 : 4);
    const size_t pad = kAlign - (prefix + hlen) % kAlign;
    const uint64_t len = hlen + pad;
    if (major == 1 && len > 0xFFFF) continue;
    if (len > 0xFFFFFFFFu) break;
    std::string out(kMagic);
    out += static_cast<char>(major);
    out += '\0';
    for (int b = 0; b < (major == 1 ? 2 : 4); ++b) out += static_cast<char>((len >> (8 * b)) & 0xFF);
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return out;
  }
  throw Error(what + ": .npy header for shape " + shape_str(t.shape()) + " is too large");
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& name) {
  const std::string path = name.empty() ? "<memory>" : name;
  const NpyHeader h = parse_header(bytes, bytes.size(), path);
  Tensor t(h.dtype, h.shape);
  if (h.nbytes) std::memcpy(t.data(), bytes.data() + h.data_offset, h.nbytes);
  check_booleans(h, t, path);
  return t;
}

Tensor read_npy(const std::filesystem::path& file) {
  const io::RegularFile in(file, "the .npy file");
  const std::string path = file.string();
  const uint64_t total = in.size();

  // Read the preamble first so a corrupt header length cannot make us allocate the file size.
  std::string head(std::min<uint64_t>(total, 12), '\0');
  in.read_exact(0, head.data(), head.size());
  const Preamble pre = parse_preamble(head, total, path);
  head.resize(pre.header_end);
  in.read_exact(0, head.data(), head.size());
  const NpyHeader h = parse_header(head, total, path);

  Tensor t(h.dtype, h.shape);
  if (h.nbytes) in.read_exact(h.data_offset, t.data(), h.nbytes);
  check_booleans(h, t, path);
  return t;
}

std::string serialize_npy(const Tensor& t) {
  std::string out = npy_header(t, "<tensor>");
  out.append(static_cast<const char*>(t.data()), t.nbytes());
  return out;
}

void write_npy(const std::filesystem::path& file, const Tensor& t) {
  const std::string header = npy_header(t, file.string());
  write_file(file, {header, std::string_view(static_cast<const char*>(t.data()), t.nbytes())});
}

}  // namespace loom
