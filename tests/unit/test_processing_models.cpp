// The processing section as the model plugins will fill it in: one section per architecture of
// docs (BERT, GPT-2, ViT, Swin, BEiT, ImageGPT, CLIP) reads, checks and round-trips; the toymlp
// model plugin returns one inside its graph; the engine reads checkpoint folders; the files a
// section names are checked by validate and rebased for export.
#include <doctest/doctest.h>
#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include "graph_yaml_helpers.hpp"

#include <filesystem>
#include <fstream>
#include <string>

using loom::Graph;

namespace {

namespace fs = std::filesystem;

// A graph with the given inputs, outputs and states whose nodes only make each output; the
// processing section is what is under test.
std::string interface_graph(const std::string& inputs, const std::vector<std::string>& outputs, const std::string& states,
                            const std::string& processing) {
  std::string text = "loom: 1\ninputs:\n" + inputs + "outputs: [";
  for (size_t i = 0; i < outputs.size(); ++i) text += (i ? ", " : "") + outputs[i];
  text += "]\n" + states + "initializers:\n  - {name: c, dtype: f32, shape: [1], values: [1.0]}\nnodes:\n";
  for (const auto& o : outputs) text += "  - {op: relu, inputs: [c], outputs: [" + o + "]}\n";
  return text + processing;
}

const std::string kDecoderStates =
    "state:\n  - {name: layer.0.key, dtype: f32, shape: [1, 12, 1024, 64]}\n  - {name: layer.0.value, dtype: f32, shape: [1, 12, 1024, 64]}\n";

loom::Engine engine_with_toymlp() {
  loom::EngineOptions o;
  o.plugin_files = {fs::path(LOOM_TEST_PLUGIN_DIR) / "loom-test-toymlp.so"};
  o.search_default_paths = false;
  return loom::Engine(o);
}

}  // namespace

TEST_CASE("processing: a section per architecture reads, checks and round-trips") {
  const std::string text_inputs =
      "  - {name: input_ids, dtype: i64, shape: [batch, seq]}\n  - {name: token_type_ids, dtype: i64, shape: [batch, seq]}\n"
      "  - {name: attention_mask, dtype: i64, shape: [batch, seq]}\n";
  const std::string decoder_inputs = "  - {name: input_ids, dtype: i64, shape: [batch, seq]}\n  - {name: past_length, dtype: i64, shape: [batch]}\n";
  const std::string image_inputs = "  - {name: pixel_values, dtype: f32, shape: [batch, 3, 224, 224]}\n";
  struct Arch {
    const char* name;
    std::string graph;
  };
  const Arch archs[] = {
      // BERT from a tokenizer.json, the special tokens on one line.
      {"bert", interface_graph(text_inputs, {"logits"}, "", R"(processing:
  version: 1
  tokenizer:
    kind: wordpiece
    files: {tokenizer: tokenizer.json}
    vocab_size: 28996
    lowercase: false
    tokenize_chinese_chars: false
    special_tokens: {pad: {token: "[PAD]", id: 0}, unk: {token: "[UNK]", id: 100}, cls: {token: "[CLS]", id: 101}, sep: {token: "[SEP]", id: 102}, mask: {token: "[MASK]", id: 103}}
    post_processor: {single: [cls, $A, sep], pair: [cls, $A, sep, $B, sep], pair_type_ids: [0, 0, 0, 1, 1]}
    max_length: 512
    truncation: longest_first
    inputs: {input_ids: input_ids, token_type_ids: token_type_ids, attention_mask: attention_mask}
  tasks:
    - {task: fill-mask, output: logits, function: softmax, top_k: 5}
)")},
      {"gpt2", interface_graph(decoder_inputs, {"logits"}, kDecoderStates, R"(processing:
  version: 1
  tokenizer:
    kind: byte_level_bpe
    files: {vocab: vocab.json, merges: merges.txt}
    vocab_size: 50257
    add_prefix_space: false
    special_tokens:
      bos: {token: "<|endoftext|>", id: 50256}
      eos: {token: "<|endoftext|>", id: 50256}
      unk: {token: "<|endoftext|>", id: 50256}
    max_length: 1024
    inputs: {input_ids: input_ids}
  generation:
    input_ids: input_ids
    past_length: past_length
    caches: [layer.0.key, layer.0.value]
    logits: logits
    bos_token_id: 50256
    eos_token_id: 50256
    max_length: 1024
  tasks:
    - {task: text-generation, output: logits, function: softmax}
)")},
      {"vit", interface_graph(image_inputs, {"logits"}, "", R"(processing:
  version: 1
  image:
    input: pixel_values
    do_resize: true
    size: {height: 224, width: 224}
    resample: bilinear
    do_rescale: true
    rescale_factor: 0.00392156862745098
    do_normalize: true
    image_mean: [0.5, 0.5, 0.5]
    image_std: [0.5, 0.5, 0.5]
  tasks:
    - task: image-classification
      output: logits
      function: softmax
      id2label: {0: tench, 1: goldfish, 2: great white shark}
      top_k: 3
)")},
      {"swin", interface_graph(image_inputs, {"logits"}, "", R"(processing:
  version: 1
  image: {input: pixel_values, do_resize: true, size: {height: 224, width: 224}, resample: bicubic, do_rescale: true,
          rescale_factor: 0.00392156862745098, do_normalize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225]}
  tasks:
    - {task: image-classification, output: logits, function: softmax, top_k: 1}
)")},
      {"beit", interface_graph(image_inputs, {"logits"}, "", R"(processing:
  version: 1
  image: {input: pixel_values, do_resize: true, size: {height: 256, width: 256}, resample: bicubic, do_center_crop: true,
          crop_size: {height: 224, width: 224}, do_rescale: true, rescale_factor: 0.00392156862745098, do_normalize: true,
          image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5]}
  tasks:
    - {task: image-classification, output: logits, function: softmax}
)")},
      // ImageGPT: pixels become cluster ids (x/127.5 - 1 is rescale 1/127.5 and mean 1, std 1).
      {"imagegpt", interface_graph(decoder_inputs, {"logits"}, kDecoderStates, R"(processing:
  version: 1
  image:
    input: input_ids
    do_resize: true
    size: {height: 32, width: 32}
    resample: bilinear
    do_rescale: true
    rescale_factor: 0.00784313725490196
    do_normalize: true
    image_mean: [1.0, 1.0, 1.0]
    image_std: [1.0, 1.0, 1.0]
    do_color_quantize: true
    clusters: [[-0.9, -0.8, -0.7], [0.1, 0.2, 0.3], [0.9, 0.95, 1.0]]
  generation: {input_ids: input_ids, past_length: past_length, caches: [layer.0.key, layer.0.value], logits: logits,
               bos_token_id: 512, max_length: 1025}
  tasks:
    - {task: image-generation, output: logits, function: softmax}
)")},
      {"clip", interface_graph(text_inputs + image_inputs, {"logits_per_image", "text_embeds"}, "", R"(processing:
  version: 1
  tokenizer:
    kind: clip_bpe
    files: {vocab: vocab.json, merges: merges.txt}
    vocab_size: 49408
    lowercase: true
    strip_accents: false
    special_tokens:
      bos: {token: "<|startoftext|>", id: 49406}
      eos: {token: "<|endoftext|>", id: 49407}
      pad: {token: "<|endoftext|>", id: 49407}
      unk: {token: "<|endoftext|>", id: 49407}
    post_processor: {single: [bos, $A, eos], pair: [bos, $A, eos, eos, $B, eos]}
    max_length: 77
    padding: max_length
    truncation: longest_first
    inputs: {input_ids: input_ids, attention_mask: attention_mask}
  image:
    input: pixel_values
    do_convert_rgb: true
    do_resize: true
    size: {shortest_edge: 224}
    resample: bicubic
    do_center_crop: true
    crop_size: {height: 224, width: 224}
    do_rescale: true
    rescale_factor: 0.00392156862745098
    do_normalize: true
    image_mean: [0.48145466, 0.4578275, 0.40821073]
    image_std: [0.26862954, 0.26130258, 0.27577711]
  tasks:
    - {task: zero-shot-image-classification, output: logits_per_image, function: softmax}
    - {task: feature-extraction, output: text_embeds}
)")},
  };
  for (const auto& arch : archs) {
    INFO(arch.name);
    Graph g = loom::parse_graph_yaml(arch.graph, std::string(arch.name) + ".yaml");
    REQUIRE(g.processing);
    CHECK_FALSE(g.processing->tasks.empty());
    loom::test::check_round_trip(g);
  }
  Graph clip = loom::parse_graph_yaml(archs[6].graph, "clip.yaml");
  CHECK(clip.processing->tokenizer->strip_accents == false);
  CHECK(clip.processing->tokenizer->padding == loom::Padding::MaxLength);
  CHECK(clip.processing->image->size->shortest_edge == 224);
  Graph igpt = loom::parse_graph_yaml(archs[5].graph, "imagegpt.yaml");
  CHECK(igpt.processing->image->clusters.size() == 3);
  CHECK(igpt.processing->image->clusters[2][1] == 0.95);
  CHECK(igpt.processing->generation->bos_token_id == 512);  // no tokenizer: no vocabulary bound
}

TEST_CASE("processing: the toymlp model plugin returns a processing section inside its graph") {
  loom::Engine engine = engine_with_toymlp();
  const fs::path dir = fs::path(LOOM_TEST_DATA_DIR) / "external-model";
  Graph g = engine.load_graph(dir / "manifest.yaml");
  REQUIRE(g.processing);
  const loom::Processing& p = *g.processing;
  CHECK_FALSE(p.tokenizer);
  CHECK_FALSE(p.image);
  CHECK_FALSE(p.generation);
  REQUIRE(p.tasks.size() == 1);
  CHECK(p.tasks[0].task == "tabular-classification");
  CHECK(p.tasks[0].output == "logits");
  CHECK(p.tasks[0].function == loom::ScoreFunction::Softmax);
  CHECK(p.tasks[0].id2label == std::vector<std::string>{"low", "medium", "high", "very high"});  // config.json's id2label
  CHECK(p.tasks[0].top_k == 1);
  engine.validate(g);
  loom::test::check_round_trip(g);

  Graph features = engine.load_graph(dir / "features.yaml");
  REQUIRE(features.processing);
  REQUIRE(features.processing->tasks.size() == 1);
  CHECK(features.processing->tasks[0].task == "feature-extraction");
  CHECK(features.processing->tasks[0].output == "last_hidden_state");
  CHECK(features.processing->tasks[0].function == loom::ScoreFunction::None);
}

TEST_CASE("processing: a checkpoint folder is expanded by the plugin of its model_type, default task") {
  loom::Engine engine = engine_with_toymlp();
  const fs::path ckpt = fs::path(LOOM_TEST_DATA_DIR) / "external-model" / "checkpoint";
  Graph g = engine.load_graph(ckpt);
  CHECK(g.path == ckpt);
  CHECK(g.base_dir == ckpt);
  REQUIRE(g.processing);
  CHECK(g.processing->tasks.at(0).task == "feature-extraction");
  CHECK(g.outputs.at(0).name == "last_hidden_state");
  engine.validate(g);

  const fs::path empty = fs::path(LOOM_BUILD_DIR) / "test_processing_empty_folder";
  fs::create_directories(empty);
  CHECK_THROWS_WITH_AS(engine.load_graph(empty), doctest::Contains("test_processing_empty_folder: a folder is read as a checkpoint, but it has no config.json"),
                       loom::Error);
  loom::EngineOptions none;
  none.search_default_paths = false;
  CHECK_THROWS_WITH_AS(loom::Engine(none).load_graph(ckpt), doctest::Contains("config.json: no loaded model plugin accepts model_type 'toymlp'"),
                       loom::Error);
}

TEST_CASE("processing: validate checks the section's files; a graph built in code is checked too") {
  const fs::path dir = fs::path(LOOM_BUILD_DIR) / "test_processing_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "g.yaml") << "loom: 1\ninputs:\n  - {name: input_ids, dtype: i64, shape: [batch, seq]}\noutputs: [y]\n"
                                   "nodes:\n  - {op: cast, inputs: [input_ids], outputs: [y], attrs: {to: f32}}\n"
                                   "processing:\n  version: 1\n  tokenizer: {kind: wordpiece, files: {vocab: vocab.txt}, vocab_size: 10,\n"
                                   "    max_length: 8, inputs: {input_ids: input_ids}}\n  tasks: [{task: feature-extraction, output: y}]\n";
  loom::EngineOptions o;
  o.search_default_paths = false;
  loom::Engine engine(o);
  Graph g = engine.load_graph(dir / "g.yaml");
  CHECK_THROWS_WITH_AS(engine.validate(g), doctest::Contains("g.yaml: processing.tokenizer.files.vocab: vocab.txt: no such file"), loom::Error);
  std::ofstream(dir / "vocab.txt") << "[PAD]\n";
  engine.validate(g);

  g.processing->tasks[0].output = "z";
  CHECK_THROWS_WITH_AS(engine.validate(g), doctest::Contains("processing.tasks[0].output: 'z' is not a graph output"), loom::Error);
  CHECK_THROWS_WITH_AS(engine.compile(g), doctest::Contains("'z' is not a graph output"), loom::Error);
}

TEST_CASE("processing: rebase_graph_files makes a graph's files reachable from another folder") {
  const fs::path root = fs::weakly_canonical(fs::path(LOOM_BUILD_DIR) / "test_processing_rebase");
  fs::remove_all(root);
  fs::create_directories(root / "model");
  fs::create_directories(root / "out" / "deeper");
  Graph g;
  g.base_dir = root / "model";
  loom::Initializer a;
  a.name = "a";
  a.file = "w.safetensors";
  a.tensor = "a";
  loom::Initializer b = a;
  b.name = "b";
  b.file = "/opt/weights/b.safetensors";
  loom::Initializer c = a;
  c.name = "c";
  c.file = "sub/../more.safetensors";
  g.initializers = {a, b, c};
  g.processing.emplace();
  g.processing->tokenizer.emplace();
  g.processing->tokenizer->files.vocab = "vocab.json";
  g.processing->tokenizer->files.merges = "merges.txt";
  g.processing->image.emplace();
  g.processing->image->clusters_file = "preprocessor_config.json";

  CHECK(loom::graph_files(g) == std::vector<fs::path>{root / "model" / "w.safetensors", "/opt/weights/b.safetensors",
                                                      root / "model" / "sub/../more.safetensors", root / "model" / "vocab.json",
                                                      root / "model" / "merges.txt", root / "model" / "preprocessor_config.json"});
  loom::rebase_graph_files(g, root / "out" / "deeper");
  CHECK(g.base_dir == root / "out" / "deeper");
  CHECK(g.initializers[0].file == "../../model/w.safetensors");
  CHECK(g.initializers[1].file == "/opt/weights/b.safetensors");  // absolute names stay
  CHECK(g.initializers[2].file == "../../model/more.safetensors");
  CHECK(g.processing->tokenizer->files.vocab == "../../model/vocab.json");
  CHECK(g.processing->tokenizer->files.merges == "../../model/merges.txt");
  CHECK(g.processing->image->clusters_file == "../../model/preprocessor_config.json");
  loom::rebase_graph_files(g, root / "model");
  CHECK(g.initializers[0].file == "w.safetensors");
  CHECK(g.processing->tokenizer->files.vocab == "vocab.json");
}
