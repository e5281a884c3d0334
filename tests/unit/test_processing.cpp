// The processing section of the graph format: what it reads into, the errors it gives (with
// file:line:column), the round trip through the writer, and one section per architecture that
// the model plugins will emit (BERT, GPT-2, ViT, Swin, BEiT, ImageGPT, CLIP).
#include <doctest/doctest.h>
#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include "graph_yaml_helpers.hpp"

#include <filesystem>
#include <fstream>
#include <string>

using loom::Graph;
using loom::test::check_round_trip;
using loom::test::error_of;
using loom::test::parse;

namespace {

namespace fs = std::filesystem;

// A graph with every kind of value a processing section binds: text inputs, an image input,
// decoder inputs, cache states (declared in a block, so named after its instances) and outputs.
const std::string kGraph = R"(loom: 1
name: all-bindings
inputs:
  - {name: input_ids, dtype: i64, shape: [batch, seq]}
  - {name: token_type_ids, dtype: i64, shape: [batch, seq]}
  - {name: attention_mask, dtype: i64, shape: [batch, seq]}
  - {name: past_length, dtype: i64, shape: [batch]}
  - {name: pixel_values, dtype: f32, shape: [batch, 3, 224, 224]}
outputs: [logits, pooled]
blocks:
  layer:
    inputs: [x]
    outputs: [y]
    state:
      - {name: k_cache, dtype: f32, shape: [1, 2, 16, 4]}
    nodes:
      - {op: relu, inputs: [x], outputs: [y]}
nodes:
  - {op: cast, inputs: [input_ids], outputs: [ids.f], attrs: {to: f32}}
  - {use: layer, repeat: 2, inputs: {x: ids.f}, outputs: {y: logits}, chain: {y: x}}
  - {op: relu, inputs: [pixel_values], outputs: [pooled]}
)";

const std::string kProcessing = R"(processing:
  version: 1
  tokenizer:
    kind: wordpiece
    files: {vocab: vocab.txt}
    vocab_size: 30522
    lowercase: true
    special_tokens:
      cls: {token: "[CLS]", id: 101}
      sep: {token: "[SEP]", id: 102}
      pad: {token: "[PAD]", id: 0}
      unk: {token: "[UNK]", id: 100}
      mask: {token: "[MASK]", id: 103}
    post_processor:
      single: [cls, $A, sep]
      pair: [cls, $A, sep, $B, sep]
      pair_type_ids: [0, 0, 0, 1, 1]
    max_length: 512
    padding: longest
    truncation: longest_first
    inputs: {input_ids: input_ids, token_type_ids: token_type_ids, attention_mask: attention_mask}
  image:
    input: pixel_values
    do_resize: true
    size: {shortest_edge: 256}
    resample: bicubic
    do_center_crop: true
    crop_size: {height: 224, width: 224}
    do_rescale: true
    rescale_factor: 0.00392156862745098
    do_normalize: true
    image_mean: [0.485, 0.456, 0.406]
    image_std: [0.229, 0.224, 0.225]
  generation:
    input_ids: input_ids
    past_length: past_length
    attention_mask: attention_mask
    caches: [layer.0.k_cache, layer.1.k_cache]
    logits: logits
    bos_token_id: 101
    eos_token_id: [102, 0]
    max_length: 16
    do_sample: true
    temperature: 0.7
    top_k: 40
    top_p: 0.9
    max_new_tokens: 8
  tasks:
    - task: text-classification
      output: logits
      function: softmax
      id2label: {0: negative, 1: "true", 2: "3"}
      top_k: 2
    - {task: feature-extraction, output: pooled}
    - {task: fill-mask, output: logits, function: softmax, top_k: 5}
)";

// kGraph + kProcessing with `from` replaced by `to` (which must occur).
std::string edited(const std::string& from, const std::string& to) {
  std::string text = kGraph + kProcessing;
  size_t pos = text.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, from);
  return text.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("processing: the section reads into typed members") {
  Graph g = parse(kGraph + kProcessing);
  REQUIRE(g.processing);
  const loom::Processing& p = *g.processing;
  CHECK(p.version == 1);
  REQUIRE(p.tokenizer);
  const loom::TokenizerSpec& t = *p.tokenizer;
  CHECK(t.kind == loom::TokenizerKind::WordPiece);
  CHECK(t.files.vocab == "vocab.txt");
  CHECK(t.vocab_size == 30522);
  CHECK(t.lowercase);
  CHECK_FALSE(t.strip_accents.has_value());  // follows lowercase
  CHECK(t.tokenize_chinese_chars);
  CHECK(t.special_tokens.at("cls") == loom::SpecialToken{"[CLS]", 101});
  CHECK(t.special_tokens.at("pad").id == 0);
  REQUIRE(t.post_processor);
  CHECK(t.post_processor->pair == std::vector<std::string>{"cls", "$A", "sep", "$B", "sep"});
  CHECK(t.post_processor->pair_type_ids == std::vector<int64_t>{0, 0, 0, 1, 1});
  CHECK(t.max_length == 512);
  CHECK(t.padding == loom::Padding::Longest);
  CHECK(t.padding_side == loom::Side::Right);
  CHECK(t.truncation == loom::Truncation::LongestFirst);
  CHECK(t.token_type_ids == "token_type_ids");

  REQUIRE(p.image);
  CHECK(p.image->size == loom::ImageSize{0, 0, 256});
  CHECK(p.image->resample == loom::Resample::Bicubic);
  CHECK(p.image->crop_size == loom::ImageSize{224, 224, 0});
  CHECK(*p.image->rescale_factor == 1.0 / 255);
  CHECK(p.image->image_std == std::vector<double>{0.229, 0.224, 0.225});
  CHECK_FALSE(p.image->do_convert_rgb);
  CHECK_FALSE(p.image->do_color_quantize);

  REQUIRE(p.generation);
  CHECK(p.generation->caches == std::vector<std::string>{"layer.0.k_cache", "layer.1.k_cache"});
  CHECK(p.generation->eos_token_ids == std::vector<int64_t>{102, 0});
  CHECK(p.generation->bos_token_id == 101);
  CHECK_FALSE(p.generation->pad_token_id);
  CHECK(p.generation->position_ids.empty());

  REQUIRE(p.generation);
  CHECK(p.generation->do_sample == true);
  CHECK(p.generation->temperature == 0.7);
  CHECK(p.generation->top_k == 40);
  CHECK(p.generation->top_p == 0.9);
  CHECK(p.generation->max_new_tokens == 8);
  REQUIRE(p.tasks.size() == 3);
  CHECK(p.tasks[0].task == "text-classification");
  CHECK(p.tasks[0].function == loom::ScoreFunction::Softmax);
  CHECK(p.tasks[0].id2label == std::vector<std::string>{"negative", "true", "3"});
  CHECK(p.tasks[0].top_k == 2);
  CHECK(p.tasks[1].function == loom::ScoreFunction::None);
  CHECK_FALSE(p.tasks[1].top_k);
  CHECK(loom::enum_name(p.tasks[2].function) == "softmax");
}

TEST_CASE("processing: read(write(g)) equals g, and the comparison sees every section") {
  Graph g = parse(kGraph + kProcessing);
  check_round_trip(g);
  // Labels that read as other types are quoted; an eos list of one id is written as one id.
  const std::string text = loom::write_graph_yaml(g);
  CHECK(text.find("1: \"true\"") != std::string::npos);
  CHECK(text.find("2: \"3\"") != std::string::npos);
  g.processing->generation->eos_token_ids = {7};
  check_round_trip(g);
  CHECK(loom::write_graph_yaml(g).find("eos_token_id: 7\n") != std::string::npos);
  // The logits processors and the total length round-trip too.
  {
    Graph processed = g;
    loom::GenerationSpec& gen = *processed.processing->generation;
    gen.max_total_length = 30;
    gen.repetition_penalty = 1.25;
    gen.no_repeat_ngram_size = 3;
    gen.min_length = 4;
    gen.min_new_tokens = 2;
    gen.sequence_bias = {{{3}, -1.5}, {{1, 2, 3}, 4.0}};
    gen.bad_words_ids = {{4}, {5, 6}};
    gen.forced_bos_token_id = 1;
    gen.forced_eos_token_ids = {2, 3};
    gen.exponential_decay_length_penalty = loom::GenerationSpec::LengthDecay{5, 1.25};
    gen.suppress_tokens = {7, 8};
    gen.begin_suppress_tokens = {9};
    gen.min_p = 0.05;
    gen.typical_p = 0.9;
    gen.epsilon_cutoff = 3e-4;
    gen.eta_cutoff = 1e-3;
    gen.num_beams = 4;
    gen.num_return_sequences = 3;
    check_round_trip(processed);
    CHECK(loom::graph_difference(g, processed) == "processing.generation differs");
    const std::string written = loom::write_graph_yaml(processed);
    for (const char* line : {"max_total_length: 30\n", "repetition_penalty: 1.25\n", "no_repeat_ngram_size: 3\n", "min_length: 4\n",
                             "min_new_tokens: 2\n", "- {ids: [1, 2, 3], bias: 4.0}\n", "- [5, 6]\n", "forced_bos_token_id: 1\n",
                             "forced_eos_token_id: [2, 3]\n", "exponential_decay_length_penalty: {start: 5, factor: 1.25}\n",
                             "suppress_tokens: [7, 8]\n", "begin_suppress_tokens: [9]\n", "min_p: 0.05\n", "typical_p: 0.9\n",
                             "eta_cutoff: 0.001\n", "num_beams: 4\n", "num_return_sequences: 3\n"})
      CHECK_MESSAGE(written.find(line) != std::string::npos, (line + ("\n" + written)));
  }

  Graph other = g;
  other.processing->tokenizer->strip_accents = false;
  CHECK(loom::graph_difference(g, other) == "processing.tokenizer differs");
  other = g;
  other.processing->image->image_mean[1] = 0.5;
  CHECK(loom::graph_difference(g, other) == "processing.image differs");
  other = g;
  other.processing->tasks[2].top_k = 4;
  CHECK(loom::graph_difference(g, other) == "processing.tasks[2] differs");
  other = g;
  other.processing.reset();
  CHECK(loom::graph_difference(g, other) == "processing: present vs absent");
  check_round_trip(other);
}

TEST_CASE("processing: tokenizer added_tokens read, round-trip and are checked") {
  const std::string added =
      "    added_tokens:\n"
      "      - {token: \"<new>\", id: 30000}\n"
      "      - {token: \"[X]\", id: 30001, special: true, normalized: true, single_word: true, lstrip: true, rstrip: true}\n"
      "    max_length: 512\n";
  Graph g = parse(edited("    max_length: 512\n", added));
  REQUIRE(g.processing);
  REQUIRE(g.processing->tokenizer);
  const std::vector<loom::AddedTokenSpec>& a = g.processing->tokenizer->added_tokens;
  REQUIRE(a.size() == 2);
  CHECK(a[0] == loom::AddedTokenSpec{"<new>", 30000, false, false, false, false, std::nullopt});
  CHECK(a[1] == loom::AddedTokenSpec{"[X]", 30001, true, true, true, true, true});
  check_round_trip(g);

  struct Case {
    std::string to, error;
  };
  const Case cases[] = {
      {"    added_tokens: {token: x, id: 1}\n", "processing.tokenizer.added_tokens: expected a sequence"},
      {"    added_tokens:\n      - {token: x}\n", "processing.tokenizer.added_tokens[0]: missing key 'id'"},
      {"    added_tokens:\n      - {token: x, id: 1, strip: true}\n", "processing.tokenizer.added_tokens[0].strip: unknown key"},
      {"    added_tokens:\n      - {token: x, id: 30522}\n",
       "processing.tokenizer.added_tokens[0].id: token id 30522 is outside the vocabulary (tokenizer.vocab_size 30522)"},
      {"    added_tokens:\n      - {token: \"\", id: 1}\n", "processing.tokenizer.added_tokens[0].token: an added token's text may not be empty"},
      {"    added_tokens:\n      - {token: x, id: 1, special: maybe}\n", "processing.tokenizer.added_tokens[0].special: expected true or false"},
      {"    added_tokens:\n      - {token: x, id: 1}\n      - {token: x, id: 2}\n",
       "processing.tokenizer.added_tokens[1].token: the same text is listed twice (also added_tokens[0])"},
      {"    added_tokens:\n      - {token: x, id: 1}\n      - {token: y, id: 1}\n",
       "processing.tokenizer.added_tokens[1].id: id 1 is listed twice (also added_tokens[0])"},
  };
  for (const auto& c : cases) {
    const std::string error = error_of(edited("    max_length: 512\n", c.to + "    max_length: 512\n"));
    INFO(c.to);
    CHECK_MESSAGE(error.find(c.error) != std::string::npos, error);
  }
}

TEST_CASE("processing: tokenizer replace_file_options reads, round-trips and needs a tokenizer.json") {
  Graph g = parse(edited("    files: {vocab: vocab.txt}\n", "    files: {tokenizer: tokenizer.json}\n    replace_file_options: true\n"));
  REQUIRE(g.processing);
  REQUIRE(g.processing->tokenizer);
  CHECK(g.processing->tokenizer->replace_file_options);
  check_round_trip(g);
  g.processing->tokenizer->clean_up_tokenization_spaces = false;
  check_round_trip(g);
  CHECK(loom::write_graph_yaml(g).find("clean_up_tokenization_spaces: false\n") != std::string::npos);
  CHECK_FALSE(parse(edited("    files: {vocab: vocab.txt}\n", "    files: {tokenizer: tokenizer.json}\n")).processing->tokenizer->replace_file_options);
  std::string error = error_of(edited("    max_length: 512\n", "    replace_file_options: true\n    max_length: 512\n"));
  CHECK_MESSAGE(error.find("processing.tokenizer.replace_file_options: replaces a tokenizer.json's options, and `files` names none") !=
                    std::string::npos, error);
  error = error_of(edited("    files: {vocab: vocab.txt}\n", "    files: {tokenizer: tokenizer.json}\n    replace_file_options: 1.5\n"));
  CHECK_MESSAGE(error.find("processing.tokenizer.replace_file_options: expected true or false") != std::string::npos, error);
}

TEST_CASE("processing: malformed sections name file:line:column, the key and the fault") {
  struct Case {
    std::string from, to, error;
  };
  const Case cases[] = {
      {"  version: 1\n", "  version: 2\n", "g.yaml:23:12: processing.version: unsupported processing version '2'"},
      {"  version: 1\n", "", "processing: missing key 'version'"},
      {"    lowercase: true\n", "    lowercase: yes\n", "g.yaml:28:16: processing.tokenizer.lowercase: expected true or false, found 'yes'"},
      {"    vocab_size: 30522\n", "    vocab_size: big\n", "g.yaml:27:17: processing.tokenizer.vocab_size: expected an integer, found 'big'"},
      {"    kind: wordpiece\n", "    kind: sentencepiece\n",
       "g.yaml:25:11: processing.tokenizer.kind: unknown value 'sentencepiece' (expected one of: wordpiece, byte_level_bpe, clip_bpe)"},
      {"    lowercase: true\n", "    lowercase: true\n    lower_case: true\n", "g.yaml:29:5: processing.tokenizer.lower_case: unknown key"},
      {"      cls: {token: \"[CLS]\", id: 101}", "      cls: {token: \"[CLS]\", id: 30522}",
       "g.yaml:30:33: processing.tokenizer.special_tokens.cls.id: token id 30522 is outside the vocabulary (tokenizer.vocab_size 30522)"},
      {"      cls: {token: \"[CLS]\", id: 101}", "      cls: {token: \"[CLS]\", id: -1}", "processing.tokenizer.special_tokens.cls.id: a token id may not be negative"},
      {"      mask: {token: \"[MASK]\", id: 103}\n", "      mask: {token: \"[MASK]\", id: 103}\n      sos: {token: x, id: 1}\n",
       "processing.tokenizer.special_tokens.sos: unknown key (allowed: bos, eos, unk, sep, pad, cls, mask)"},
      {"single: [cls, $A, sep]", "single: [cls, $A, eos]", "g.yaml:36:25: processing.tokenizer.post_processor.single[2]: 'eos' is neither $A, $B nor a role"},
      {"single: [cls, $A, sep]", "single: [cls, $A, $B]", "processing.tokenizer.post_processor.single: a single-sequence template holds $A once and no $B"},
      {"pair_type_ids: [0, 0, 0, 1, 1]", "pair_type_ids: [0, 0, 1, 1]", "processing.tokenizer.post_processor.pair_type_ids: one token type per item of `pair`: expected 5, found 4"},
      {"    files: {vocab: vocab.txt}\n", "    files: {vocab: vocab.txt, merges: merges.txt}\n", "processing.tokenizer.files.merges: `merges` applies to BPE tokenizers only"},
      {"    kind: wordpiece\n", "    kind: byte_level_bpe\n", "processing.tokenizer.files: a BPE tokenizer needs `merges` (merges.txt) beside `vocab`"},
      {"    kind: wordpiece\n    files: {vocab: vocab.txt}\n", "    kind: clip_bpe\n    files: {vocab: vocab.json, merges: merges.txt}\n    strip_accents: true\n",
       "processing.tokenizer.strip_accents: CLIP's tokenizer never strips accents"},
      {"    max_length: 512\n", "    max_length: 0\n", "g.yaml:39:17: processing.tokenizer.max_length: expected at least 1, found 0"},
      {"      pad: {token: \"[PAD]\", id: 0}\n", "", "processing.tokenizer.padding: padding needs a `pad` entry in special_tokens"},
      {"{input_ids: input_ids, token_type_ids: token_type_ids,", "{input_ids: ids, token_type_ids: token_type_ids,",
       "g.yaml:42:25: processing.tokenizer.inputs.input_ids: 'ids' is not a graph input (graph inputs: input_ids, token_type_ids, attention_mask, past_length, pixel_values)"},
      {"token_type_ids: token_type_ids,", "token_type_ids: pixel_values,",
       "processing.tokenizer.inputs.token_type_ids: graph input 'pixel_values' is f32 [batch, 3, 224, 224]; tokenizer.inputs.token_type_ids needs i64 of rank 2"},
      {"token_type_ids: token_type_ids,", "token_type_ids: input_ids,",
       "processing.tokenizer.inputs.token_type_ids: graph input 'input_ids' is already bound by processing.tokenizer.inputs.input_ids"},
      {"    do_resize: true\n", "    do_resize: true\n    do_resize: false\n", "processing.image.do_resize: duplicate key"},
      {"    size: {shortest_edge: 256}\n", "", "g.yaml:44:5: processing.image: do_resize needs `size` and `resample`"},
      {"size: {shortest_edge: 256}", "size: {shortest_edge: 256, height: 3}", "processing.image.size: give `shortest_edge` or `height` and `width`, not both"},
      {"crop_size: {height: 224, width: 224}", "crop_size: {height: 200, width: 224}",
       "processing.image.input: graph input 'pixel_values' is [batch, 3, 224, 224] but the processed image's height gives 200 at axis 2"},
      {"crop_size: {height: 224, width: 224}", "crop_size: {shortest_edge: 224}", "processing.image.crop_size: expected `height` and `width`"},
      {"    resample: bicubic\n", "    resample: lanczos3\n",
       "processing.image.resample: unknown value 'lanczos3' (expected one of: nearest, bilinear, bicubic, box, hamming, lanczos)"},
      {"image_mean: [0.485, 0.456, 0.406]", "image_mean: [0.485, 0.456]", "processing.image.image_mean: one value per colour channel: expected 3, found 2"},
      {"image_std: [0.229, 0.224, 0.225]", "image_std: [0.229, 0, 0.225]", "processing.image.image_std[1]: expected a finite positive number"},
      {"rescale_factor: 0.00392156862745098", "rescale_factor: .nan", "processing.image.rescale_factor: expected a finite positive number"},
      {"    do_normalize: true\n", "    do_normalize: true\n    do_color_quantize: true\n", "processing.image: do_color_quantize needs `clusters` or `clusters_file`"},
      {"    input: pixel_values\n", "    input: input_ids\n",
       "processing.image.input: graph input 'input_ids' is i64 [batch, seq]; an image needs f32 of rank 4"},
      {"caches: [layer.0.k_cache, layer.1.k_cache]", "caches: [layer.0.k_cache, k_cache]",
       "g.yaml:59:31: processing.generation.caches[1]: 'k_cache' is not a state of the graph"},
      {"caches: [layer.0.k_cache, layer.1.k_cache]", "caches: [layer.0.k_cache, layer.0.k_cache]",
       "processing.generation.caches[1]: state 'layer.0.k_cache' is listed twice"},
      {"caches: [layer.0.k_cache, layer.1.k_cache]", "caches: []", "processing.generation.caches: a decoder needs at least one cache state"},
      {"    logits: logits\n", "    logits: scores\n", "processing.generation.logits: 'scores' is not a graph output (graph outputs: logits, pooled)"},
      {"    past_length: past_length\n", "    past_length: attention_mask\n",
       "processing.generation.past_length: graph input 'attention_mask' is i64 [batch, seq]; generation.past_length needs i64 of rank 1"},
      {"eos_token_id: [102, 0]", "eos_token_id: [102, 40000]", "g.yaml:62:25: processing.generation.eos_token_id[1]: token id 40000 is outside the vocabulary"},
      {"eos_token_id: [102, 0]", "eos_token_id: -3", "processing.generation.eos_token_id: a token id may not be negative"},
      {"    max_length: 16\n", "", "processing.generation: missing key 'max_length'"},
      {"    temperature: 0.7\n", "    temperature: 0\n", "processing.generation.temperature: expected a finite positive number, found 0"},
      {"    top_p: 0.9\n", "    top_p: 1.5\n", "processing.generation.top_p: expected a number in [0, 1], found 1.5"},
      {"    top_k: 40\n", "    top_k: -1\n", "processing.generation.top_k: expected at least 0, found -1"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 0\n", "processing.generation.max_new_tokens: expected at least 1, found 0"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    repetition_penalty: 0\n",
       "processing.generation.repetition_penalty: expected a finite positive number, found 0"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    no_repeat_ngram_size: -1\n",
       "processing.generation.no_repeat_ngram_size: expected at least 0, found -1"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    min_new_tokens: -3\n", "processing.generation.min_new_tokens: expected at least 0, found -3"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    max_total_length: 0\n",
       "processing.generation.max_total_length: expected at least 1, found 0"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    sequence_bias: [{ids: [], bias: 1}]\n",
       "processing.generation.sequence_bias[0].ids: expected at least one token id"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    sequence_bias: [{ids: [1], bias: .nan}]\n",
       "processing.generation.sequence_bias[0].bias: expected a finite number"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    sequence_bias: [{ids: [1]}]\n",
       "processing.generation.sequence_bias[0]: missing key 'bias'"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    bad_words_ids: [[1], [2, 40000]]\n",
       "processing.generation.bad_words_ids[1][1]: token id 40000 is outside the vocabulary"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    bad_words_ids: [1, 2]\n",
       "processing.generation.bad_words_ids[0]: expected a sequence, found '1'"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    forced_eos_token_id: -1\n",
       "processing.generation.forced_eos_token_id: a token id may not be negative"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    exponential_decay_length_penalty: {start: -1, factor: 2}\n",
       "processing.generation.exponential_decay_length_penalty.start: expected at least 0, found -1"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    exponential_decay_length_penalty: [2, 1.5]\n",
       "processing.generation.exponential_decay_length_penalty: expected a mapping"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    suppress_tokens: [1, 40000]\n",
       "processing.generation.suppress_tokens[1]: token id 40000 is outside the vocabulary"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    num_return_sequences: 0\n",
       "processing.generation.num_return_sequences: expected at least 1, found 0"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    min_p: 1.5\n", "processing.generation.min_p: expected a number in [0, 1], found 1.5"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    typical_p: 0\n", "processing.generation.typical_p: expected a number in (0, 1], found 0"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    epsilon_cutoff: 1\n",
       "processing.generation.epsilon_cutoff: expected a number in [0, 1), found 1"},
      {"    max_new_tokens: 8\n", "    max_new_tokens: 8\n    eta_cutoff: -0.1\n",
       "processing.generation.eta_cutoff: expected a number in [0, 1), found -0.1"},
      {"      output: logits\n", "      output: probs\n", "g.yaml:71:15: processing.tasks[0].output: 'probs' is not a graph output"},
      {"      function: softmax\n", "      function: log_softmax\n", "processing.tasks[0].function: unknown value 'log_softmax' (expected one of: none, softmax, sigmoid)"},
      {"{0: negative, 1: \"true\", 2: \"3\"}", "{0: negative, 2: \"3\"}", "processing.tasks[0].id2label.2: class ids must run from 0 to 1 without gaps; 1 is missing"},
      {"{0: negative, 1: \"true\", 2: \"3\"}", "{0: negative, one: x}", "processing.tasks[0].id2label: expected an integer, found 'one'"},
      {"      top_k: 2\n", "      top_k: 4\n", "processing.tasks[0].top_k: top_k 4 exceeds the 3 labels of id2label"},
      {"      top_k: 2\n", "      top_k: 0\n", "processing.tasks[0].top_k: expected at least 1, found 0"},
      {"{task: feature-extraction,", "{task: Feature_Extraction,", "processing.tasks[1].task: 'Feature_Extraction' is not a task name"},
      {"{task: feature-extraction,", "{task: text-classification,", "processing.tasks[1].task: task 'text-classification' is listed twice"},
      {"      mask: {token: \"[MASK]\", id: 103}\n", "", "processing.tasks[2].task: fill-mask needs a tokenizer with a `mask` special token"},
      {"  tasks:\n", "  tasks:\n    - {task: text-generation, output: logits}\n  unused:\n", "processing.unused: unknown key"},
      {"    truncation: longest_first\n", "    truncation: !!int 3\n", ":17: YAML tag !!int is not supported"},
  };
  for (const auto& c : cases) {
    const std::string error = error_of(edited(c.from, c.to));
    INFO(c.to);
    CHECK_MESSAGE(error.find(c.error) != std::string::npos, error);
  }
  CHECK(error_of(kGraph + "processing: {version: 1, tasks: [{task: text-generation, output: logits}]}\n")
            .find("g.yaml:22:41: processing.tasks[0].task: text-generation needs a `generation` section") != std::string::npos);
  CHECK(error_of(kGraph + "processing: {version: 1, tokenizer: wordpiece}\n")
            .find("g.yaml:22:37: processing.tokenizer: expected a mapping, found 'wordpiece'") != std::string::npos);
  CHECK(error_of(kGraph + "processing: [1]\n").find("g.yaml:22:13: processing: expected a mapping, found a sequence") != std::string::npos);
}
