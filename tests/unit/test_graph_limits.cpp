// The graph reader against hostile files: block nesting in any order, the node cap, YAML
// features the format refuses (tags, anchors), control bytes in what it prints.
#include <doctest/doctest.h>
#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include "scratch_dir.hpp"

using loom::parse_graph_yaml;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_graph_yaml(text, "g.yaml");
  } catch (const loom::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// `count` blocks b<i>, each using the one before it: b0 is the innermost. Block names are
// zero-padded so that a reader that visits blocks in name order meets the innermost first and
// each walk from there is one level deep.
std::string chain_of_blocks(int count) {
  std::string text = "loom: 1\ninputs: [{name: x, dtype: f32, shape: [4]}]\noutputs: [y]\nblocks:\n";
  auto name = [](int i) {
    std::string n = std::to_string(i);
    return "b" + std::string(6 - n.size(), '0') + n;
  };
  text += "  " + name(0) + ": {inputs: [a], outputs: [b], nodes: [{op: relu, inputs: [a], outputs: [b]}]}\n";
  for (int i = 1; i < count; ++i)
    text += "  " + name(i) + ": {inputs: [a], outputs: [b], nodes: [{use: " + name(i - 1) + ", inputs: {a: a}, outputs: {b: b}}]}\n";
  text += "nodes:\n  - {use: " + name(count - 1) + ", inputs: {a: x}, outputs: {b: y}}\n";
  return text;
}

}  // namespace

TEST_CASE("graph limits: 20000 nested blocks are refused without deep recursion") {
  const std::string message = error_of(chain_of_blocks(20000));
  CHECK_MESSAGE(message.find("blocks nest deeper than 32 levels") != std::string::npos, message);
  CHECK_MESSAGE(message.find("g.yaml:") == 0, message);
}

TEST_CASE("graph limits: the nesting limit holds whatever order the blocks are visited in") {
  // 32 levels read; 33 do not, although a walk from b000000 upwards never goes deeper than one.
  CHECK(parse_graph_yaml(chain_of_blocks(32), "g.yaml").nodes.size() == 1);
  const std::string message = error_of(chain_of_blocks(33));
  CHECK_MESSAGE(message.find("blocks nest deeper than 32 levels: b000032 -> b000031 -> ") != std::string::npos, message);
  CHECK_MESSAGE(message.find("-> b000000") != std::string::npos, message);
  // Seen from the other end (the outermost block first in name order), the chain is on the stack.
  std::string reversed = chain_of_blocks(33);
  for (size_t at = reversed.find("b0000"); at != std::string::npos; at = reversed.find("b0000", at + 1)) reversed[at] = 'z';
  const std::string again = error_of(reversed);
  CHECK_MESSAGE(again.find("blocks nest deeper than 32 levels") != std::string::npos, again);
}

TEST_CASE("graph limits: more than 100000 nodes are refused at the node that passes the cap") {
  std::string text = "loom: 1\ninputs: [{name: x0, dtype: f32, shape: [4]}]\noutputs: [x100001]\nnodes:\n";
  for (int i = 0; i < 100001; ++i)
    text += "  - {op: relu, inputs: [x" + std::to_string(i) + "], outputs: [x" + std::to_string(i + 1) + "]}\n";
  const std::string message = error_of(text);
  CHECK_MESSAGE(message.find("g.yaml:100005:5: nodes[100000]: the graph has more than 100000 nodes") == 0, message);
}

TEST_CASE("graph limits: YAML tags and anchors are refused everywhere with file:line:column") {
  const std::string head = "loom: 1\ninputs: [{name: x, dtype: f32, shape: [4]}]\noutputs: [y]\n";
  const std::string relu = "nodes: [{op: relu, inputs: [x], outputs: [y]}]\n";
  struct Case {
    std::string text, where, fault;
  };
  const Case cases[] = {
      {head + "name: !!python/object:os.system echo\n" + relu, "g.yaml:4:7:", "YAML tag !!python/object:os.system is not supported"},
      {head + "metadata: {k: !custom v}\n" + relu, "g.yaml:4:15:", "YAML tag !custom is not supported"},
      {head + "metadata: !!map {k: v}\n" + relu, "g.yaml:4:11:", "YAML tag !!map is not supported"},
      {head + "nodes: !!seq [{op: relu, inputs: [x], outputs: [y]}]\n", "g.yaml:4:8:", "YAML tag !!seq is not supported"},
      {head + "nodes: [{op: !!binary cmVsdQ==, inputs: [x], outputs: [y]}]\n", "g.yaml:4:14:", "YAML tag !!binary"},
      {head + "name: &a n\n" + relu, "g.yaml:4:7:", "YAML anchors (&name) are not supported"},
      {head + "nodes: [&n {op: relu, inputs: [x], outputs: [y]}]\n", "g.yaml:4:9:", "YAML anchors (&name) are not supported"},
      {head + "metadata: &m {}\n" + relu, "g.yaml:4:11:", "YAML anchors"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.text);
    INFO(c.text);
    CHECK_MESSAGE(message.find(c.where) == 0, message);
    CHECK_MESSAGE(message.find(c.fault) != std::string::npos, message);
  }
  // !!str stays allowed on a scalar: it only says what a plain scalar already is here.
  CHECK(parse_graph_yaml(head + "name: !!str 12\n" + relu, "g.yaml").name == "12");
}

TEST_CASE("graph limits: model manifests follow the same YAML rules") {
  namespace fs = std::filesystem;
  const fs::path dir = loom::test::scratch_dir("manifests");
  loom::EngineOptions options;
  options.search_default_paths = false;
  const loom::Engine engine(options);
  auto error_loading = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    try {
      engine.load_graph(dir / name);
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string tag = error_loading("tag.yaml", "model: toy\ncheckpoint: !!python/object:os.system ck\n");
  CHECK_MESSAGE(tag.find("tag.yaml:2:13: YAML tag !!python/object:os.system is not supported") != std::string::npos, tag);
  const std::string anchor = error_loading("anchor.yaml", "model: &m toy\ncheckpoint: ck\n");
  CHECK_MESSAGE(anchor.find("anchor.yaml:1:8: YAML anchors") != std::string::npos, anchor);
  // yaml-cpp says only "bad file" when nesting is too deep; the reader says what and where.
  const std::string deep = error_loading("deep.yaml", "model: toy\ncheckpoint: " + std::string(10000, '[') + "\n");
  CHECK_MESSAGE(deep.find("deep.yaml:") != std::string::npos, deep);
  CHECK_MESSAGE(deep.find("YAML nesting is too deep") != std::string::npos, deep);
  const std::string key = error_loading("key.yaml", "model: toy\n[a]: b\n");
  CHECK_MESSAGE(key.find("key.yaml:2:1: the keys of a model manifest are strings") != std::string::npos, key);
  const std::string twice = error_loading("twice.yaml", "model: toy\nmodel: toy\ncheckpoint: ck\n");
  CHECK_MESSAGE(twice.find("twice.yaml:2:1: model: duplicate key") != std::string::npos, twice);
}

TEST_CASE("graph limits: control bytes from the file are escaped in messages") {
  const std::string head = "loom: 1\ninputs: [{name: x, dtype: f32, shape: [4]}]\noutputs: [y]\n";
  // A key and an op name that would clear the screen and reverse the text if printed raw.
  const std::string message = error_of(head + "\"\\e[2J\\u202e\": 1\nnodes: []\n");
  CHECK_MESSAGE(message.find("\\x1b[2J\\u202e: unknown key") != std::string::npos, message);
  CHECK(message.find('\x1b') == std::string::npos);
  const std::string op = error_of(head + "nodes: [{op: \"re\\u0085lu\", inputs: [x], outputs: [y]}]\n");
  CHECK_MESSAGE(op.find("a name may not hold control characters") != std::string::npos, op);
}

TEST_CASE("printable escapes control characters and invalid UTF-8, and is idempotent") {
  CHECK(loom::printable("plain é ü 漢") == "plain é ü 漢");
  CHECK(loom::printable(std::string("a\nb\tc\rd\x1b[0m\x7f", 12)) == "a\\nb\\tc\\rd\\x1b[0m\\x7f");
  CHECK(loom::printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(loom::printable("\xc2\x85 \xe2\x80\xae \xe2\x81\xa6") == "\\u0085 \\u202e \\u2066");
  CHECK(loom::printable("bad \xff\xc3") == "bad \\xff\\xc3");
  const std::string once = loom::printable("x\x1b\xe2\x80\xaey");
  CHECK(loom::printable(once) == once);
}
