// The `processing:` section of a YAML graph: read (structure only: keys, kinds of nodes, enum
// spellings), checked against its graph once blocks are expanded (values, ranges, references to
// graph inputs, outputs and states), and written back.
#pragma once

#include "graph/yaml_document.hpp"

#include <loom/graph.hpp>

#include <yaml-cpp/yaml.h>

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace loom::yaml {

// Where each entry of a processing section was written, by key path
// ("processing.tokenizer.special_tokens.pad.id"), so that later checks can name the place.
using Positions = std::map<std::string, SourceLoc>;

Processing read_processing(const YAML::Node& n, const Where& w, Positions& positions);
void write_processing(YAML::Emitter& out, const Processing& p);

// Every value of an enum with its YAML spelling.
template <class E>
std::span<const std::pair<E, std::string_view>> enum_entries();
template <> std::span<const std::pair<TokenizerKind, std::string_view>> enum_entries();
template <> std::span<const std::pair<Padding, std::string_view>> enum_entries();
template <> std::span<const std::pair<Truncation, std::string_view>> enum_entries();
template <> std::span<const std::pair<Side, std::string_view>> enum_entries();
template <> std::span<const std::pair<Resample, std::string_view>> enum_entries();
template <> std::span<const std::pair<ScoreFunction, std::string_view>> enum_entries();

}  // namespace loom::yaml

namespace loom {

// Checks a graph's processing section (if any) on its own and against the graph. Errors start
// with the entry's file:line:column from `positions` where known, and its key path.
void check_processing(const Graph& g, const yaml::Positions& positions = {});
// Checks that the files the processing section names exist (Engine::validate).
void check_processing_files(const Graph& g);

}  // namespace loom
