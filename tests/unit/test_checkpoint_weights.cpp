// What the engine offers a model plugin of a checkpoint's weights (docs/plugins.md, "Model
// plugins"): a single file's header as it is, or, for a sharded checkpoint
// (model.safetensors.index.json), one header merging the shards' with each tensor's "file"; every
// shard mapped once and checked against the index. And what the expanded graph leaves unread
// (unused_checkpoint_tensors). The echo test plugin writes the request it got into its graph.
#include "io/checkpoint_weights.hpp"
#include "io/safetensors_index.hpp"
#include "io/weight_files.hpp"
#include "safetensors_bytes.hpp"
#include "session_graphs.hpp"

#include <loom/loom.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "scratch_dir.hpp"

namespace {

using namespace loom;
using json = nlohmann::json;
using loom::test::error_of;
using loom::test::raw_bytes;
namespace fs = std::filesystem;

const std::string kShard1 = "model-00001-of-00002.safetensors", kShard2 = "model-00002-of-00002.safetensors";
const std::string kIndex = "model.safetensors.index.json";

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = loom::test::scratch_dir("checkpoint_weights") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::trunc) << text; }

json index_of(const json& weight_map) { return {{"metadata", {{"total_size", 46}}}, {"weight_map", weight_map}}; }

// A checkpoint of model_type "echo" in two shards: a (F32 [2, 3]) and b (F16 [4]) in the first,
// c (BF16 [2]) and d (I64 [1]) in the second; each shard has metadata of its own.
fs::path sharded_checkpoint(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  write_text(dir / "config.json", R"({"model_type": "echo"})");
  loom::test::write_safetensors(dir / kShard1,
                                {loom::test::f32_tensor("a", {2, 3}, {1, 2, 3, 4, 5, 6}),
                                 {"b", "F16", {4}, raw_bytes(std::vector<uint16_t>{0x3c00, 0xc000, 0x3800, 0x0001})}},
                                {{"format", "pt"}});
  loom::test::write_safetensors(dir / kShard2,
                                {{"c", "BF16", {2}, raw_bytes(std::vector<uint16_t>{0x4049, 0xbf00})},
                                 {"d", "I64", {1}, raw_bytes(std::vector<int64_t>{7})}},
                                {{"format", "pt"}});
  write_text(dir / kIndex, index_of({{"a", kShard1}, {"b", kShard1}, {"c", kShard2}, {"d", kShard2}}).dump(2));
  return dir;
}

Engine echo_engine() {
  EngineOptions o;
  o.plugin_files = {fs::path(LOOM_TEST_ECHO_MODEL_PLUGIN), fs::path(LOOM_TEST_DEVICE_PLUGIN)};
  o.search_default_paths = false;
  Engine e(o);
  for (const auto& r : e.plugins()) REQUIRE_MESSAGE(r.loaded, r.path.string() << ": " << r.error);
  return e;
}

// A manifest beside the checkpoint folder `dir`, for the echo plugin with `task` (and `weights`).
fs::path manifest_for(const fs::path& dir, const std::string& task, const std::string& weights = "") {
  const fs::path file = dir.parent_path() / (dir.filename().string() + ".yaml");
  write_text(file, "model: echo\ncheckpoint: " + dir.filename().string() + "\ntask: " + json(task).dump() + "\n" +
                       (weights.empty() ? "" : "weights: " + weights + "\n"));
  return file;
}

std::vector<std::string> names_of(const std::vector<CheckpointTensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.name);
  return names;
}

}  // namespace

TEST_CASE("checkpoint weights: an index reads its weight_map and skips everything else") {
  const SafetensorsIndex index = parse_safetensors_index(
      R"({"metadata": {"total_size": 10, "nested": [{"a": [1, {"b": null}]}, "x"]}, "extra": [[], {}],
          "weight_map": {"w.1": "s1.safetensors", "w.0": "s2.safetensors", "w.2": "s1.safetensors"}, "last": 3})",
      "ckpt/model.safetensors.index.json");
  CHECK(index.weight_map == std::map<std::string, std::string>{{"w.0", "s2.safetensors"}, {"w.1", "s1.safetensors"}, {"w.2", "s1.safetensors"}});
  CHECK(index.shards == std::map<std::string, std::string>{{"s1.safetensors", "w.1"}, {"s2.safetensors", "w.0"}});
  CHECK(parse_safetensors_index(R"({"weight_map": {}})", "i.json").weight_map.empty());
}

TEST_CASE("checkpoint weights: a hostile index is refused, naming the index and the entry") {
  const std::string many = [] {
    json m = json::object();
    for (size_t i = 0; i <= kMaxSafetensorsShards; ++i) m["t" + std::to_string(i)] = "s" + std::to_string(i) + ".safetensors";
    return json{{"weight_map", m}}.dump();
  }();
  struct Bad {
    std::string text, message;
  };
  const Bad bad[] = {
      {"", "i.json: not valid JSON"},
      {"{\"weight_map\": {}", "i.json: not valid JSON"},
      {"{\"weight_map\": {}} x", "i.json: not valid JSON"},
      {std::string("{\"weight_map\": {}}\0", 19), "i.json: not valid JSON: a NUL byte at offset 18"},
      {"[1, 2]", "i.json: an index must be a JSON object, got a list"},
      {"\"weight_map\"", "i.json: an index must be a JSON object, got a string"},
      {"{\"metadata\": {}}", "i.json: no \"weight_map\" object (tensor names to shard files)"},
      {"{\"weight_map\": [\"a\"]}", "i.json: \"weight_map\" must be an object of tensor names to shard files, got a list"},
      {"{\"weight_map\": \"s.safetensors\"}", "i.json: \"weight_map\" must be an object of tensor names to shard files, got a string"},
      {"{\"weight_map\": {}, \"weight_map\": {}}", "i.json: \"weight_map\" appears twice"},
      {"{\"weight_map\": {\"w\": 3}}", "i.json: weight_map: 'w': the shard must be a file name (a string), got a number"},
      {"{\"weight_map\": {\"w\": null}}", "weight_map: 'w': the shard must be a file name (a string), got null"},
      {"{\"weight_map\": {\"w\": {\"file\": \"s\"}}}", "weight_map: 'w': the shard must be a file name (a string), got an object"},
      {"{\"weight_map\": {\"w\": [\"s\"]}}", "weight_map: 'w': the shard must be a file name (a string), got a list"},
      {"{\"weight_map\": {\"w\": \"s.safetensors\", \"w\": \"s.safetensors\"}}", "i.json: weight_map: 'w': the tensor is named twice"},
      {"{\"weight_map\": {\"w\": \"../s.safetensors\"}}", "i.json: weight_map: 'w' -> '../s.safetensors': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \"/etc/passwd\"}}", "weight_map: 'w' -> '/etc/passwd': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \"sub/s.safetensors\"}}", "weight_map: 'w' -> 'sub/s.safetensors': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \"..\"}}", "weight_map: 'w' -> '..': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \".\"}}", "weight_map: 'w' -> '.': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \"\"}}", "weight_map: 'w' -> '': the shard must be a plain file name"},
      {"{\"weight_map\": {\"w\": \"s\\u0000.safetensors\"}}", "weight_map: 'w' -> 's\\x00.safetensors': the shard must be a plain file name"},
      {many, "i.json: weight_map: 't9999' -> 's9999.safetensors': more than 10000 shard files"},
  };
  for (const Bad& b : bad) {
    const std::string message = error_of([&] { parse_safetensors_index(b.text, "i.json"); });
    CHECK_MESSAGE(message.find(b.message) != std::string::npos, "index " << b.text.substr(0, 80) << "\nmessage: " << message);
  }
}

TEST_CASE("checkpoint weights: a sharded checkpoint is offered as one header with each tensor's file") {
  const fs::path dir = sharded_checkpoint("two_shards");
  Engine engine = echo_engine();
  const Graph g = engine.load_graph(manifest_for(dir, "none"));
  CHECK(g.metadata.at("weights_file") == kIndex);
  CHECK(g.metadata.at("checkpoint_dir") == dir.string());
  const json header = json::parse(g.metadata.at("weights_header"));
  const json want = {
      {"a", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}, {"file", kShard1}}},
      {"b", {{"dtype", "F16"}, {"shape", {4}}, {"data_offsets", {24, 32}}, {"file", kShard1}}},
      {"c", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {0, 4}}, {"file", kShard2}}},
      {"d", {{"dtype", "I64"}, {"shape", {1}}, {"data_offsets", {4, 12}}, {"file", kShard2}}}};
  CHECK(header == want);  // and no __metadata__, though each shard has one

  REQUIRE(g.checkpoint);
  CHECK(g.checkpoint->dir == dir);
  CHECK(g.checkpoint->weights_file == kIndex);
  REQUIRE(g.checkpoint->tensors.size() == 4);
  const CheckpointTensor& c = g.checkpoint->tensors[2];
  CHECK(c.name == "c");
  CHECK(c.file == kShard2);
  CHECK(c.dtype == DType::bf16);
  CHECK(c.shape == Shape{2});
  CHECK(c.bytes == 4);

  // The default weights of a folder: the index when there is no model.safetensors; the
  // manifest may name the index itself.
  CHECK(engine.load_graph(manifest_for(dir, "none", kIndex)).metadata.at("weights_header") == g.metadata.at("weights_header"));
  fs::copy_file(dir / kIndex, dir / "other.index.json");
  CHECK(engine.load_graph(manifest_for(dir, "none", "other.index.json")).metadata.at("weights_file") == "other.index.json");
}

TEST_CASE("checkpoint weights: a single-file checkpoint is offered its header as it is") {
  const fs::path dir = fresh_dir("single");
  write_text(dir / "config.json", R"({"model_type": "echo"})");
  loom::test::write_safetensors(dir / "model.safetensors", {loom::test::f32_tensor("a", {2}, {1, 2})}, {{"format", "pt"}});
  // A stray index beside model.safetensors is not read.
  write_text(dir / kIndex, "not json");
  Engine engine = echo_engine();
  const Graph g = engine.load_graph(manifest_for(dir, "read-all"));
  CHECK(g.metadata.at("weights_file") == "model.safetensors");
  CHECK(g.metadata.at("weights_header") == SafetensorsFile::open(dir / "model.safetensors")->header_json());
  CHECK(json::parse(g.metadata.at("weights_header")).contains("__metadata__"));
  CHECK_FALSE(json::parse(g.metadata.at("weights_header"))["a"].contains("file"));
  REQUIRE(g.checkpoint);
  CHECK(g.checkpoint->tensors.size() == 1);
  CHECK(g.checkpoint->tensors[0].file == "model.safetensors");
  CHECK(unused_checkpoint_tensors(g).empty());

  const fs::path none = fresh_dir("no_weights");
  write_text(none / "config.json", R"({"model_type": "echo"})");
  CHECK_THROWS_WITH_AS(engine.load_graph(none),
                       doctest::Contains("no_weights: the checkpoint has neither model.safetensors nor model.safetensors.index.json"), Error);
}

TEST_CASE("checkpoint weights: every shard is mapped once, through the engine's weight files") {
  const fs::path dir = sharded_checkpoint("mapped_once");
  // Three tensors of the first shard: still one mapping of it.
  write_text(dir / kIndex, index_of({{"a", kShard1}, {"b", kShard1}, {"c", kShard2}}).dump());
  WeightFiles files;
  const CheckpointWeights w = open_checkpoint_weights(dir, kIndex, files);
  CHECK(w.files.size() == 2);
  CHECK(files.mapped() == 2);
  CHECK(files.open(dir / kShard1) == w.files[0]);
  CHECK(files.open(dir / kShard2) == w.files[1]);
  // d is in no weight_map entry but in a shard: offered all the same, as a shard is read whole.
  CHECK(names_of(w.checkpoint->tensors) == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("checkpoint weights: shards that disagree with their index are refused, naming the index and the entry") {
  Engine engine = echo_engine();
  struct Bad {
    std::string name;
    std::function<void(const fs::path&)> damage;
    std::string message;
  };
  const Bad bad[] = {
      {"missing_shard", [](const fs::path& d) { fs::remove(d / kShard2); },
       kIndex + ": weight_map: 'c' -> '" + kShard2 + "': " },
      {"not_safetensors", [](const fs::path& d) { write_text(d / kShard2, "{\"weight_map\": {}}"); },
       kIndex + ": weight_map: 'c' -> '" + kShard2 + "': "},
      {"shard_is_folder", [](const fs::path& d) { fs::remove(d / kShard2); fs::create_directory(d / kShard2); },
       "is a folder"},
      {"absent_tensor", [](const fs::path& d) {
         write_text(d / kIndex, index_of({{"a", kShard1}, {"b", kShard1}, {"c", kShard2}, {"z", kShard2}}).dump());
       }, kIndex + ": weight_map: 'z' -> '" + kShard2 + "': the shard has no tensor 'z'"},
      {"wrong_shard", [](const fs::path& d) {
         write_text(d / kIndex, index_of({{"a", kShard2}, {"b", kShard1}}).dump());
       }, kIndex + ": weight_map: 'a' -> '" + kShard2 + "': the shard has no tensor 'a' (it is in '" + kShard1 + "')"},
      {"in_two_shards", [](const fs::path& d) {
         loom::test::write_safetensors(d / kShard2, {loom::test::f32_tensor("a", {1}, {9})});
       }, kIndex + ": tensor 'a' is in two shards, '" + kShard1 + "' and '" + kShard2 + "'"},
      {"outside", [](const fs::path& d) {
         write_text(d / kIndex, index_of({{"a", "../" + kShard1}}).dump());
       }, kIndex + ": weight_map: 'a' -> '../" + kShard1 + "': the shard must be a plain file name"},
      {"not_json", [](const fs::path& d) { write_text(d / kIndex, "{"); }, kIndex + ": not valid JSON"},
  };
  for (const Bad& b : bad) {
    const fs::path dir = sharded_checkpoint(b.name);
    b.damage(dir);
    const std::string message = error_of([&] { engine.load_graph(manifest_for(dir, "none")); });
    CHECK_MESSAGE(message.find(b.message) != std::string::npos, b.name << ": " << message);
    CHECK_MESSAGE(message.find((dir / kIndex).string()) != std::string::npos, b.name << ": " << message);
  }
}

TEST_CASE("checkpoint weights: the tensors no initializer reads are listed, in any shard") {
  const fs::path dir = sharded_checkpoint("unused");
  Engine engine = echo_engine();
  const Graph g = engine.load_graph(manifest_for(dir, "read:a,c"));
  const auto unused = unused_checkpoint_tensors(g);
  CHECK(names_of(unused) == std::vector<std::string>{"b", "d"});
  CHECK(unused[0].file == kShard1);
  CHECK(unused[1].file == kShard2);
  CHECK(unused[1].dtype == DType::i64);
  CHECK(unused[1].bytes == 8);
  CHECK(names_of(unused_checkpoint_tensors(engine.load_graph(manifest_for(dir, "none")))) ==
        std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(unused_checkpoint_tensors(engine.load_graph(manifest_for(dir, "read-all"))).empty());

  // A tensor of the right name read from another file is not the checkpoint's.
  Graph other = g;
  other.initializers[0].file = "elsewhere.safetensors";
  CHECK(names_of(unused_checkpoint_tensors(other)) == std::vector<std::string>{"a", "b", "d"});
  // A graph not expanded from a checkpoint has nothing to list.
  other.checkpoint.reset();
  CHECK(unused_checkpoint_tensors(other).empty());
}

TEST_CASE("checkpoint weights: a sharded checkpoint's f16 and bf16 tensors are widened once for all sessions") {
  const fs::path dir = sharded_checkpoint("sharded_f32");
  Engine engine = echo_engine();
  const Graph g = engine.load_graph(manifest_for(dir, "read:a,b,c+f32"));
  engine.validate(g);
  // Nothing reads the tensors: no passes, or they would go with the dead initializers.
  const SessionOptions options{.backends = {"external"}, .optimize = OptimizeLevel::none};
  Session first = engine.compile(g, options);
  Session second = engine.compile(g, options);
  CHECK(engine.converted_bytes() == 4 * 4 + 2 * 4);  // b: 4 values, c: 2 values
  const MemoryReport m = second.plan_memory({});
  CHECK(m.converted_bytes == 24);
  CHECK(m.weight_bytes == 24 + 24);
  // The i64 tensor cannot be read as f32.
  const std::string message = error_of([&] { engine.validate(engine.load_graph(manifest_for(dir, "read:d+f32"))); });
  CHECK_MESSAGE(message.find("initializer 'w.d': declared dtype f32 but " + (dir / kShard2).string() + " holds 'd' as i64") !=
                    std::string::npos,
                message);
}

#ifdef LOOM_TEST_ONEDNN
namespace {

// The toymlp checkpoint of tests/external-model rewritten: every tensor's f32 values rounded to
// bf16 (so that bf16 holds them exactly), stored as F32 or, for the tensors `as_bf16` names, BF16;
// in one file, or in two shards with an index when `shard_of` is given (tensor -> shard).
fs::path rewritten_toymlp(const std::string& name, const std::function<bool(const std::string&)>& as_bf16,
                          const std::function<std::string(const std::string&)>& shard_of, bool round) {
  const fs::path src = fs::path(LOOM_TEST_DATA_DIR) / "external-model" / "checkpoint";
  const fs::path dir = fresh_dir(name);
  fs::copy_file(src / "config.json", dir / "config.json");
  auto file = SafetensorsFile::open(src / "model.safetensors");
  std::map<std::string, std::vector<loom::test::StTensor>> shards;
  json weight_map = json::object();
  for (const auto& e : file->entries()) {
    const Tensor t = file->tensor(e.name);
    std::vector<uint32_t> bits(t.numel());
    std::memcpy(bits.data(), t.data(), t.nbytes());
    if (round)
      for (auto& b : bits) b &= 0xffff0000u;
    loom::test::StTensor out{e.name, "F32", e.shape, raw_bytes(bits)};
    if (as_bf16(e.name)) {
      std::vector<uint16_t> half;
      for (uint32_t b : bits) half.push_back(static_cast<uint16_t>(b >> 16));
      out = {e.name, "BF16", e.shape, raw_bytes(half)};
    }
    const std::string shard = shard_of ? shard_of(e.name) : "model.safetensors";
    shards[shard].push_back(out);
    weight_map[e.name] = shard;
  }
  for (const auto& [shard, tensors] : shards) loom::test::write_safetensors(dir / shard, tensors, {{"format", "pt"}});
  if (shard_of) write_text(dir / kIndex, index_of(weight_map).dump());
  return dir;
}

Engine toymlp_engine() {
  EngineOptions o;
  o.plugin_files = {fs::path(LOOM_TEST_PLUGIN_DIR) / "loom-test-toymlp.so", fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
  o.search_default_paths = false;
  Engine e(o);
  for (const auto& r : e.plugins()) REQUIRE_MESSAGE(r.loaded, r.path.string() << ": " << r.error);
  return e;
}

// Runs the classification task of `manifest`, or of a manifest written for the checkpoint folder
// `checkpoint` (one of the test's own, in the build folder).
TensorMap run_toymlp(const Engine& engine, const fs::path& checkpoint, uint64_t* converted = nullptr, fs::path manifest = {}) {
  if (manifest.empty()) {
    manifest = checkpoint.parent_path() / (checkpoint.filename().string() + ".yaml");
    write_text(manifest, "model: toymlp\ncheckpoint: " + checkpoint.filename().string() + "\ntask: tabular-classification\n");
  }
  const Graph g = engine.load_graph(manifest);
  CHECK(unused_checkpoint_tensors(g).empty());
  Session s = engine.compile(g, loom::test::on_onednn());
  if (converted) *converted = s.plan_memory({{"batch", 3}}).converted_bytes;
  return s.run({{"features", read_npy(fs::path(LOOM_TEST_DATA_DIR) / "external-model" / "features.npy")}});
}

bool shard_one(const std::string& name) { return name.rfind("embed.", 0) == 0 || name.rfind("layers.0.", 0) == 0 || name == "norm.bias"; }

void check_same(const TensorMap& a, const TensorMap& b) {
  for (const char* out : {"logits", "probs"}) {
    REQUIRE(a.at(out).nbytes() == b.at(out).nbytes());
    CHECK_MESSAGE(std::memcmp(a.at(out).data(), b.at(out).data(), a.at(out).nbytes()) == 0, out << " differs");
  }
}

}  // namespace

TEST_CASE("checkpoint weights: toymlp in two shards runs as in one file, f32 or bf16 on disk") {
  Engine engine = toymlp_engine();
  auto none = [](const std::string&) { return false; };
  auto shards = [](const std::string& name) { return shard_one(name) ? kShard1 : kShard2; };

  // The shipped f32 checkpoint, split: the same bytes out, matching the PyTorch reference.
  const TensorMap single = run_toymlp(engine, {}, nullptr, fs::path(LOOM_TEST_DATA_DIR) / "external-model" / "manifest.yaml");
  const TensorMap split = run_toymlp(engine, rewritten_toymlp("toy_split", none, shards, false));
  check_same(single, split);
  const Tensor expected = read_npy(fs::path(LOOM_TEST_DATA_DIR) / "external-model" / "expected_logits.npy");
  CHECK(compare(split.at("logits"), expected, 1e-5, 1e-4).ok());

  // Values that bf16 holds exactly: stored as F32 in one file, or as BF16 (some, or all) in two
  // shards and widened on load, they give the same bytes out.
  const TensorMap rounded = run_toymlp(engine, rewritten_toymlp("toy_rounded", none, nullptr, true));
  uint64_t converted = 0;
  const TensorMap half = run_toymlp(engine, rewritten_toymlp("toy_bf16_some", shard_one, shards, true), &converted);
  check_same(rounded, half);
  CHECK(converted == (72 + 12 + 144 + 12 + 12) * 4);  // embed, layers.0, norm.bias
  const TensorMap all = run_toymlp(engine, rewritten_toymlp("toy_bf16_all", [](const std::string&) { return true; }, shards, true), &converted);
  check_same(rounded, all);
  CHECK(converted == 628 * 4);
}
#endif
