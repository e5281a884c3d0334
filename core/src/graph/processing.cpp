// The YAML spellings of the processing section's enums, shared by its reader, writer and
// `loom inspect`. Names follow Hugging Face's where it has one (resample filters, padding and
// truncation strategies, pipeline score functions).
#include "graph/processing.hpp"

namespace loom {

namespace yaml {

namespace {

template <class E, size_t N>
std::span<const std::pair<E, std::string_view>> span_of(const std::pair<E, std::string_view> (&table)[N]) {
  return {table, N};
}

}  // namespace

template <>
std::span<const std::pair<TokenizerKind, std::string_view>> enum_entries() {
  static constexpr std::pair<TokenizerKind, std::string_view> table[] = {
      {TokenizerKind::WordPiece, "wordpiece"}, {TokenizerKind::ByteLevelBpe, "byte_level_bpe"}, {TokenizerKind::ClipBpe, "clip_bpe"}};
  return span_of(table);
}

template <>
std::span<const std::pair<Padding, std::string_view>> enum_entries() {
  static constexpr std::pair<Padding, std::string_view> table[] = {
      {Padding::None, "none"}, {Padding::Longest, "longest"}, {Padding::MaxLength, "max_length"}};
  return span_of(table);
}

template <>
std::span<const std::pair<Truncation, std::string_view>> enum_entries() {
  static constexpr std::pair<Truncation, std::string_view> table[] = {{Truncation::None, "none"},
                                                                      {Truncation::LongestFirst, "longest_first"},
                                                                      {Truncation::OnlyFirst, "only_first"},
                                                                      {Truncation::OnlySecond, "only_second"}};
  return span_of(table);
}

template <>
std::span<const std::pair<Side, std::string_view>> enum_entries() {
  static constexpr std::pair<Side, std::string_view> table[] = {{Side::Right, "right"}, {Side::Left, "left"}};
  return span_of(table);
}

template <>
std::span<const std::pair<Resample, std::string_view>> enum_entries() {
  static constexpr std::pair<Resample, std::string_view> table[] = {
      {Resample::Nearest, "nearest"}, {Resample::Bilinear, "bilinear"}, {Resample::Bicubic, "bicubic"},
      {Resample::Box, "box"},         {Resample::Hamming, "hamming"},   {Resample::Lanczos, "lanczos"}};
  return span_of(table);
}

template <>
std::span<const std::pair<ScoreFunction, std::string_view>> enum_entries() {
  static constexpr std::pair<ScoreFunction, std::string_view> table[] = {
      {ScoreFunction::None, "none"}, {ScoreFunction::Softmax, "softmax"}, {ScoreFunction::Sigmoid, "sigmoid"}};
  return span_of(table);
}

}  // namespace yaml

namespace {

template <class E>
std::string_view spelling(E v) {
  for (const auto& [value, name] : yaml::enum_entries<E>())
    if (value == v) return name;
  return "?";
}

}  // namespace

std::string_view enum_name(TokenizerKind v) { return spelling(v); }
std::string_view enum_name(Padding v) { return spelling(v); }
std::string_view enum_name(Truncation v) { return spelling(v); }
std::string_view enum_name(Side v) { return spelling(v); }
std::string_view enum_name(Resample v) { return spelling(v); }
std::string_view enum_name(ScoreFunction v) { return spelling(v); }

}  // namespace loom
