// Generation on the GPT-2 checkpoint of tests/models: greedy decoding through the KV cache as a
// full recomputation gives it, transformers' logits processors, sampling filters and beam search
// as tools/fixtures/make_text_models.py renders them in PyTorch, generation_config.json read as
// transformers reads it, and no heap allocation per decode step.
#include "counting_allocator.hpp"
#include "cpu_features.hpp"
#include "session_graphs.hpp"
#include "model_checks.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

using namespace loom;

namespace {

using test::kModels;
using test::text_engine;

}  // namespace

TEST_CASE("text models: GPT-2 generates greedily through the KV cache as a full recomputation does") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  Graph g = engine.load_graph(dir, "text-generation");
  REQUIRE(g.processing);
  REQUIRE(g.processing->generation);
  Session s = engine.compile(g, test::on_onednn());
  const Tensor prompt = read_npy(dir / "prompt_ids.npy");
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  State state = s.new_state();
  Tensor past(DType::i64, {1});
  past.data_as<int64_t>()[0] = 0;
  TensorMap out = s.run({{"input_ids", prompt}, {"past_length", past}}, state);
  std::vector<int64_t> seq(prompt.data_as<int64_t>(), prompt.data_as<int64_t>() + prompt.numel());
  const int64_t vocab = out.at("logits").shape().back();
  auto next = [&](const Tensor& logits) {
    const float* l = logits.data_as<float>() + logits.numel() - vocab;
    return static_cast<int64_t>(std::max_element(l, l + vocab) - l);
  };
  seq.push_back(next(out.at("logits")));
  const uint64_t plans = s.stats().plans_made;
  while (static_cast<int64_t>(seq.size()) < prompt.numel() + expected.numel()) {
    Tensor token(DType::i64, {1, 1});
    token.data_as<int64_t>()[0] = seq.back();
    past.data_as<int64_t>()[0] = static_cast<int64_t>(seq.size()) - 1;
    out = s.run({{"input_ids", token}, {"past_length", past}}, state);
    seq.push_back(next(out.at("logits")));
  }
  const std::vector<int64_t> generated(seq.begin() + prompt.numel(), seq.end());
  CHECK(generated == std::vector<int64_t>(expected.data_as<int64_t>(), expected.data_as<int64_t>() + expected.numel()));
  // The prefill's shape is one plan, every decode step shares the other.
  CHECK(s.stats().plans_made == plans + 1);
}

TEST_CASE("text models: the Generator applies transformers' logits processors as the reference does") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  // Each case of make_text_models.py: its settings and the greedy tokens its reference made.
  const nlohmann::json cases = nlohmann::json::parse(std::ifstream(dir / "expected_generated_processed.json"));
  REQUIRE(cases.size() == 38);
  const auto copy = std::filesystem::temp_directory_path() / ("loom-processed-" + std::to_string(::getpid()));
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  const std::set<std::string> option_keys = {"prompt", "expected", "max_new_tokens", "eos_token_id", "repetition_penalty",
                                             "no_repeat_ngram_size", "min_length", "min_new_tokens"};
  for (const nlohmann::json& c : cases) {
    INFO(c.dump());
    const auto prompt = c["prompt"].get<std::vector<int64_t>>();
    const auto expected = c["expected"].get<std::vector<int64_t>>();
    // The case's settings as generation_config.json, read by the plugin.
    nlohmann::json config = c;
    config.erase("prompt");
    config.erase("expected");
    config.erase("expected_sequences");
    std::ofstream(copy / "generation_config.json", std::ios::trunc) << config.dump();
    {
      Session from_file = engine.compile(engine.load_graph(copy, "text-generation"), test::on_onednn());
      Generator file_gen(from_file);
      CHECK(file_gen.generate(prompt).tokens == expected);
      // num_return_sequences: the best hypotheses, best first, the first generate()'s.
      const auto sequences = file_gen.generate_sequences(prompt);
      const auto expected_sequences =
          c.contains("expected_sequences") ? c["expected_sequences"].get<std::vector<std::vector<int64_t>>>() : std::vector<std::vector<int64_t>>{expected};
      REQUIRE(sequences.size() == expected_sequences.size());
      for (size_t i = 0; i < sequences.size(); ++i) CHECK(sequences[i].tokens == expected_sequences[i]);
      if (c.contains("num_beams")) {
        // Beam sampling is refused rather than replaced.
        CHECK_THROWS_WITH_AS(file_gen.generate(prompt, {.do_sample = true}), doctest::Contains("asks for beam sampling"), Error);
      } else if (c.contains("exponential_decay_length_penalty") && c.contains("min_new_tokens")) {
        // NaN scores cannot be sampled from, as in transformers.
        CHECK_THROWS_WITH_AS(file_gen.generate(prompt, {.do_sample = true}), doctest::Contains("a score is NaN"), Error);
      } else if (!c.contains("forced_eos_token_id")) {
        // Sampling sees the processed scores: with top_k 1 it is the greedy choice (but where
        // forced eos ids tie: transformers' top_k keeps every token tied with the k-th).
        CHECK(file_gen.generate(prompt, {.do_sample = true, .top_k = 1}).tokens == expected);
      }
    }
    bool options_only = true;
    for (const auto& [key, value] : c.items()) options_only = options_only && option_keys.count(key);
    if (!options_only) continue;
    Graph g = engine.load_graph(dir, "text-generation");
    if (c.contains("eos_token_id")) g.processing->generation->eos_token_ids = c["eos_token_id"].get<std::vector<int64_t>>();
    Session s = engine.compile(g, test::on_onednn());
    Generator gen(s);
    GenerationOptions o;
    o.max_new_tokens = c["max_new_tokens"].get<int64_t>();
    if (c.contains("repetition_penalty")) o.repetition_penalty = c["repetition_penalty"].get<double>();
    if (c.contains("no_repeat_ngram_size")) o.no_repeat_ngram_size = c["no_repeat_ngram_size"].get<int64_t>();
    if (c.contains("min_length")) o.min_length = c["min_length"].get<int64_t>();
    if (c.contains("min_new_tokens")) o.min_new_tokens = c["min_new_tokens"].get<int64_t>();
    CHECK(gen.generate(prompt, o).tokens == expected);
    // The same settings as the graph's defaults, as generation_config.json gives them.
    GenerationSpec& spec = *g.processing->generation;
    spec.repetition_penalty = o.repetition_penalty;
    spec.no_repeat_ngram_size = o.no_repeat_ngram_size;
    spec.min_length = o.min_length;
    spec.min_new_tokens = o.min_new_tokens;
    spec.max_new_tokens = o.max_new_tokens;
    Session defaults = engine.compile(g, test::on_onednn());
    CHECK(Generator(defaults).generate(prompt).tokens == expected);
    // Sampling sees the processed scores: with top_k 1 it is the greedy choice.
    o.do_sample = true;
    o.top_k = 1;
    CHECK(gen.generate(prompt, o).tokens == expected);
  }
  std::filesystem::remove_all(copy);

  // generation_config.json's keys reach the graph; without the file, config.json's do.
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-processors-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::copy(dir, tmp, std::filesystem::copy_options::recursive);
  auto write_config = [&](const std::string& text) { std::ofstream(tmp / "generation_config.json", std::ios::trunc) << text; };
  auto loaded_spec = [&] { return *engine.load_graph(tmp, "text-generation").processing->generation; };
  // config.json with `change` made to it.
  auto edit_model_config = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json config = nlohmann::json::parse(std::ifstream(tmp / "config.json"));
    change(config);
    std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  };
  write_config(R"({"repetition_penalty": 1.5, "no_repeat_ngram_size": 2, "min_length": 3, "min_new_tokens": 2, "max_length": 10})");
  GenerationSpec spec = loaded_spec();
  CHECK(spec.repetition_penalty == 1.5);
  CHECK(spec.no_repeat_ngram_size == 2);
  CHECK(spec.min_length == 3);
  CHECK(spec.min_new_tokens == 2);
  CHECK(spec.max_total_length == 10);
  // max_length counts the prompt (6 tokens here): 4 new tokens; max_new_tokens wins over it.
  Session s = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
  Generator gen(s);
  const std::vector<int64_t> prompt = cases[0]["prompt"].get<std::vector<int64_t>>();
  GenerationOptions keep_going;
  keep_going.stop_at_eos = false;
  const GenerationResult to_max_length = gen.generate(prompt, keep_going);
  CHECK(to_max_length.tokens.size() == 4);
  CHECK(to_max_length.stop_reason == "max_total_length");
  GenerationOptions beams_to_max_length = keep_going;
  beams_to_max_length.num_beams = 2;
  beams_to_max_length.early_stopping = GenerationSpec::EarlyStopping::Never;
  CHECK(gen.generate(prompt, beams_to_max_length).stop_reason == "max_total_length");
  keep_going.max_new_tokens = 7;
  const GenerationResult to_max_new_tokens = gen.generate(prompt, keep_going);
  CHECK(to_max_new_tokens.tokens.size() == 7);
  CHECK(to_max_new_tokens.stop_reason == "max_new_tokens");
  // A prompt that leaves no room under max_length is refused, as transformers' generate() does.
  const std::vector<int64_t> long_prompt(10, 5);
  keep_going.max_new_tokens.reset();
  CHECK_THROWS_WITH_AS(gen.generate(long_prompt, keep_going),
                       doctest::Contains("the prompt has 10 tokens, but processing.generation.max_total_length"), Error);
  keep_going.max_new_tokens = 2;
  CHECK(gen.generate(long_prompt, keep_going).tokens.size() == 2);
  // A model that samples with beams asks for beam sampling, which is refused rather than replaced;
  // choosing a decoding runs: one beam, or beams without sampling.
  write_config(R"({"num_beams": 4, "do_sample": true, "length_penalty": 1.0, "early_stopping": "never"})");
  {
    Session beams = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    Generator beam_gen(beams);
    CHECK(beam_gen.spec().num_beams == 4);
    CHECK(!beam_gen.spec().length_penalty);
    CHECK(beam_gen.spec().early_stopping == GenerationSpec::EarlyStopping::Never);
    CHECK_THROWS_WITH_AS(beam_gen.generate(prompt), doctest::Contains("num_beams 4 (processing.generation.num_beams, from the model's"),
                         Error);
    GenerationOptions one;
    one.num_beams = 1;
    one.max_new_tokens = 3;
    CHECK(beam_gen.generate(prompt, one).tokens.size() == 3);
    GenerationOptions searched;
    searched.do_sample = false;
    searched.max_new_tokens = 3;
    searched.stop_at_eos = false;
    CHECK(beam_gen.generate(prompt, searched).tokens.size() == 3);  // no eos closes a beam
  }

  // Values that change nothing are left out; wrong ones name the file and key.
  // max_length 20, transformers' default, means 20 new tokens there too.
  write_config(R"({"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "max_length": 20, "num_beams": 1})");
  spec = loaded_spec();
  CHECK(!spec.num_beams);
  CHECK(!spec.repetition_penalty);
  CHECK(!spec.no_repeat_ngram_size);
  CHECK(!spec.max_total_length);
  // A max_length past the positions generates until they are full; so does a max_new_tokens.
  write_config(R"({"max_length": 400})");
  spec = loaded_spec();
  CHECK(spec.max_total_length == 48);
  write_config(R"({"max_new_tokens": 100})");
  CHECK(loaded_spec().max_new_tokens == 48);
  // min_new_tokens 0 is kept: with it given, transformers reads no min_length.
  write_config(R"({"min_length": 12, "min_new_tokens": 0})");
  spec = loaded_spec();
  CHECK(spec.min_length == 12);
  CHECK(spec.min_new_tokens == 0);
  auto error_of = [&] {
    try {
      engine.load_graph(tmp, "text-generation");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // Defaults of the modes Loom does not run are no error.
  write_config(R"({"num_beam_groups": 1, "diversity_penalty": 0.0, "penalty_alpha": null, "constraints": null, "force_words_ids": [],
            "stop_strings": null})");
  CHECK(error_of().empty());
  write_config(R"({"repetition_penalty": -1})");
  CHECK_MESSAGE(error_of().find("generation_config.json: repetition_penalty") != std::string::npos, error_of());
  write_config(R"({"no_repeat_ngram_size": "two"})");
  CHECK_MESSAGE(error_of().find("generation_config.json: no_repeat_ngram_size") != std::string::npos, error_of());
  write_config(R"({"min_new_tokens": -2})");
  CHECK_MESSAGE(error_of().find("generation_config.json: min_new_tokens") != std::string::npos, error_of());
  // The other processors: malformed lists and ids past the vocabulary name the key; the ids
  // transformers ignores in the suppress lists (outside the scores) are left out, and so is a
  // bad word that is one eos token.
  for (const auto& text_key : std::vector<std::pair<std::string, std::string>>{
           {R"({"sequence_bias": [[[4], "up"]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs"},
           {R"j({"sequence_bias": {"(4,)": 1.0}})j", "sequence_bias: expected"},
           {R"({"sequence_bias": [[[4, 300], 1.0]]})", "sequence_bias: token id 300 is outside the vocabulary"},
           {R"({"bad_words_ids": [4, 5]})", "bad_words_ids: expected a list of lists of token ids"},
           {R"({"bad_words_ids": [[4], []]})", "bad_words_ids: expected a list of lists"},
           {R"({"bad_words_ids": [[-4]]})", "bad_words_ids: expected a list of lists of token ids (whole numbers >= 0)"},
           {R"({"forced_bos_token_id": 999})", "forced_bos_token_id"},
           {R"({"forced_eos_token_id": [1, "x"]})", "forced_eos_token_id"},
           {R"({"exponential_decay_length_penalty": [2]})", "exponential_decay_length_penalty: expected [start, factor]"},
           {R"({"suppress_tokens": 5})", "suppress_tokens: expected a list of token ids"},
           {R"({"do_sample": true, "min_p": 1.5})", "min_p: expected a number in [0, 1]"},
           {R"({"do_sample": true, "typical_p": 0})", "typical_p"},
           {R"({"do_sample": true, "temperature": 0.0})", "temperature"},
           {R"({"early_stopping": "sometimes"})", "early_stopping: expected true, false or \"never\""},
           // What transformers refuses (its list form takes ids > 0 and a float bias; a float
           // temperature and penalty; a non-empty bad_words_ids).
           {R"({"sequence_bias": [[[0], -1.0]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs (token ids > 0)"},
           {R"({"sequence_bias": [[[4], -10]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs (a float bias)"},
           {R"({"bad_words_ids": []})", "bad_words_ids: expected a non-empty list"},
           {R"({"do_sample": true, "temperature": 2})", "temperature: expected a float (2.0)"},
           {R"({"repetition_penalty": 2})", "repetition_penalty: expected a float (2.0)"},
           {"{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}", "nested deeper than 64 levels"},
           {R"({"length_penalty": "long"})", "length_penalty"},
           // Only single eos ids: transformers drops them and refuses the empty rest.
           {R"({"eos_token_id": 3, "bad_words_ids": [[3]]})", "bad_words_ids: holds only single eos ids"},
           // Decoding modes Loom does not run are refused, not run as another.
           {R"({"num_beams": 4, "num_beam_groups": 2, "diversity_penalty": 0.5})", "num_beam_groups: group beam search is not supported"},
           {R"({"penalty_alpha": 0.6, "top_k": 4})", "penalty_alpha: contrastive search"},
           {R"({"force_words_ids": [[5]]})", "force_words_ids: constrained beam search is not supported"},
           {R"({"stop_strings": ["\n"]})", "stop_strings: stop strings are not supported"}}) {
    const std::string& text = text_key.first;  // named, not bound: the assertions' lambdas capture them
    const std::string& key = text_key.second;
    write_config(text);
    CHECK_MESSAGE(error_of().find("generation_config.json: " + key) != std::string::npos, (text + " -> " + error_of()));
  }
  write_config(R"({"eos_token_id": 3, "bad_words_ids": [[3], [3, 4]], "suppress_tokens": [1, 999, -1, 2], "begin_suppress_tokens": [999, -5],
            "sequence_bias": [[[5], 1.0], [[6, 7], -2.0], [[5], 2.5]], "forced_eos_token_id": 3,
            "exponential_decay_length_penalty": [4, 1.5], "forced_bos_token_id": null})");
  spec = loaded_spec();
  CHECK(spec.bad_words_ids == std::vector<std::vector<int64_t>>{{3, 4}});
  CHECK(spec.suppress_tokens == std::vector<int64_t>{1, 2});
  CHECK(spec.begin_suppress_tokens.empty());
  REQUIRE(spec.sequence_bias.size() == 2);
  CHECK(spec.sequence_bias[0] == GenerationSpec::SequenceBias{{5}, 2.5});
  CHECK(spec.sequence_bias[1] == GenerationSpec::SequenceBias{{6, 7}, -2.0});
  CHECK(spec.forced_eos_token_ids == std::vector<int64_t>{3});
  CHECK(spec.exponential_decay_length_penalty == GenerationSpec::LengthDecay{4, 1.5});
  CHECK(!spec.forced_bos_token_id);
  // Sampling settings are used only when sampling: where the file does not sample, a value
  // transformers would refuse is ignored, as generate() ignores it; values that filter nothing
  // are left out.
  write_config(R"({"do_sample": false, "temperature": 0.0, "top_k": -1, "min_p": 2, "typical_p": 1.0, "epsilon_cutoff": 0.0})");
  spec = loaded_spec();
  CHECK(!spec.temperature);
  CHECK(!spec.top_k);
  CHECK(!spec.min_p);
  CHECK(!spec.typical_p);
  CHECK(!spec.epsilon_cutoff);
  write_config(R"({"do_sample": true, "top_p": 1.5, "typical_p": 1.0, "min_p": 0.05, "epsilon_cutoff": 3e-4, "eta_cutoff": 1.5})");
  spec = loaded_spec();
  CHECK(!spec.top_p);
  CHECK(!spec.typical_p);
  CHECK(!spec.eta_cutoff);
  CHECK(spec.min_p == 0.05);
  CHECK(spec.epsilon_cutoff == 3e-4);
  std::filesystem::remove(tmp / "generation_config.json");
  edit_model_config([](nlohmann::json& config) {
    config["repetition_penalty"] = 1.25;
    config["do_sample"] = true;
  });
  spec = loaded_spec();
  CHECK(spec.repetition_penalty == 1.25);
  CHECK(spec.do_sample == true);
  // config.json's settings that generation_config.json could not hold are left out, not refused:
  // the checkpoint loaded before they were read.
  edit_model_config([](nlohmann::json& config) {
    config["temperature"] = 0;
    config["no_repeat_ngram_size"] = "none";
  });
  spec = loaded_spec();
  CHECK(!spec.temperature);
  CHECK(!spec.no_repeat_ngram_size);
  CHECK(spec.repetition_penalty == 1.25);
  std::filesystem::remove_all(tmp);

  // Wrong options are refused by name.
  GenerationOptions wrong;
  wrong.repetition_penalty = 0.0;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("repetition_penalty must be a finite number > 0"), Error);
  wrong = {};
  wrong.no_repeat_ngram_size = -1;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("no_repeat_ngram_size must be >= 0"), Error);
  wrong = {};
  wrong.min_new_tokens = -1;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("min_new_tokens must be >= 0"), Error);
}

TEST_CASE("text models: the Generator decodes greedily as the reference, samples by seed, and allocates nothing per step") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  Session s = engine.compile(engine.load_graph(dir, "text-generation"), test::on_onednn());
  Generator gen(s);
  const Tensor prompt = read_npy(dir / "prompt_ids.npy");
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  const std::span<const int64_t> ids(prompt.data_as<int64_t>(), static_cast<size_t>(prompt.numel()));
  GenerationOptions greedy;
  greedy.max_new_tokens = expected.numel();
  greedy.stop_at_eos = false;
  std::vector<int64_t> streamed;
  GenerationResult r = gen.generate(ids, greedy, [&](int64_t id) {
    streamed.push_back(id);
    return true;
  });
  const std::vector<int64_t> want(expected.data_as<int64_t>(), expected.data_as<int64_t>() + expected.numel());
  CHECK(r.tokens == want);
  CHECK(streamed == want);
  CHECK(r.stop_reason == "max_new_tokens");

  // Every decode step runs through the Generator's binding: 5 tokens or 20, the same allocations
  // (those of the prefill and of the result).
  if (test::counting()) {
    GenerationOptions few = greedy, more = greedy;
    few.max_new_tokens = 5;
    more.max_new_tokens = 20;
    // The allocations of a generation of 5 tokens and of one of 20, after a first one of 20 (the
    // decode plan and the binding's outputs exist from then on).
    auto allocations = [&](const std::string& what) {
      gen.generate(ids, more);
      uint64_t before = test::heap_allocations();
      gen.generate(ids, few);
      const uint64_t five = test::heap_allocations() - before;
      before = test::heap_allocations();
      gen.generate(ids, more);
      const uint64_t twenty = test::heap_allocations() - before;
      MESSAGE("allocations " << what << " of 5 tokens: " << five << ", of 20 tokens: " << twenty);
      CHECK(twenty == five);
    };
    allocations("greedy");
    // So does sampling through every filter, and the processors (stop_at_eos off: 5 and 20
    // tokens, whatever is drawn).
    for (GenerationOptions* o : {&few, &more}) {
      o->do_sample = true;
      o->top_k = 0;
      o->top_p = 0.95;
      o->min_p = 0.01;
      o->typical_p = 0.9;
      o->epsilon_cutoff = 1e-4;
      o->eta_cutoff = 1e-4;
      o->repetition_penalty = 1.2;
      o->no_repeat_ngram_size = 3;
      o->stop_at_eos = false;
    }
    allocations("sampling");
    // And a beam search's steps (no eos: every beam runs to the length).
    for (GenerationOptions* o : {&few, &more}) *o = {.max_new_tokens = o->max_new_tokens, .num_beams = 3, .stop_at_eos = false};
    allocations("of a beam search");
  }

  // Sampling with top_k 1 is greedy; one seed gives one sequence, another seed another.
  GenerationOptions top1 = greedy;
  top1.do_sample = true;
  top1.top_k = 1;
  CHECK(gen.generate(ids, top1).tokens == want);
  GenerationOptions sample = greedy;
  sample.do_sample = true;
  sample.temperature = 1.5;
  sample.top_p = 0.95;
  sample.seed = 7;
  const auto a = gen.generate(ids, sample).tokens, b = gen.generate(ids, sample).tokens;
  CHECK(a == b);
  sample.seed = 8;
  CHECK(gen.generate(ids, sample).tokens != a);

  // A callback stops it; eos stops it; the caches' end stops it.
  CHECK(gen.generate(ids, greedy, [](int64_t) { return false; }).stop_reason == "callback");
  GenerationOptions many = greedy;
  many.max_new_tokens = 1000;
  const GenerationResult full = gen.generate(ids, many);
  CHECK(full.stop_reason == "max_length");
  CHECK(static_cast<int64_t>(full.tokens.size()) == gen.spec().max_length - prompt.numel());

  // generation_config.json's eos_token_id may be a list (transformers stops at any of them).
  {
    const auto tmp = std::filesystem::temp_directory_path() / ("loom-eos-list-" + std::to_string(::getpid()));
    std::filesystem::remove_all(tmp);
    std::filesystem::copy(dir, tmp, std::filesystem::copy_options::recursive);
    std::ofstream(tmp / "generation_config.json") << "{\"eos_token_id\": [" << want[4] << ", " << want[2] << "]}";
    Session listed = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    Generator eos_gen(listed);
    CHECK(eos_gen.spec().eos_token_ids == std::vector<int64_t>{want[4], want[2]});
    GenerationOptions stop = greedy;
    stop.stop_at_eos = true;
    const GenerationResult r_eos = eos_gen.generate(ids, stop);
    size_t first = 0;
    while (want[first] != want[4] && want[first] != want[2]) ++first;
    CHECK(r_eos.stop_reason == "eos");
    CHECK(r_eos.tokens == std::vector<int64_t>(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(first) + 1));
    // GPT2Config's default 50256, kept in the config of a smaller vocabulary (294 here), can never
    // be generated: transformers loads it and never stops at it; here it is dropped.
    std::ofstream(tmp / "generation_config.json") << "{\"bos_token_id\": 50256, \"eos_token_id\": [50256, " << want[2] << "]}";
    Session wide = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(Generator(wide).spec().eos_token_ids == std::vector<int64_t>{want[2]});
    CHECK(!Generator(wide).spec().bos_token_id);
    std::ofstream(tmp / "generation_config.json") << "{\"eos_token_id\": []}";
    CHECK_THROWS_WITH_AS(engine.load_graph(tmp, "text-generation"), doctest::Contains("generation_config.json: eos_token_id"), Error);
    // A generation_config.json that leaves eos out: transformers reads that file alone and stops
    // at no eos, whatever config.json's eos_token_id (the fixture's is in the vocabulary).
    std::ofstream(tmp / "generation_config.json") << "{\"do_sample\": false}";
    Session no_eos = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(Generator(no_eos).spec().eos_token_ids.empty());
    CHECK(!Generator(no_eos).spec().bos_token_id);
    CHECK(Generator(no_eos).generate(ids, many).stop_reason == "max_length");
    std::filesystem::remove(tmp / "generation_config.json");
    Session from_config = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(!Generator(from_config).spec().eos_token_ids.empty());
    // The same ids in config.json, with no generation_config.json: a model that never stops at eos.
    std::filesystem::remove(tmp / "generation_config.json");
    std::ifstream in(tmp / "config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const std::string key : {"\"bos_token_id\": ", "\"eos_token_id\": "}) {
      const size_t at = text.find(key);
      REQUIRE(at != std::string::npos);
      const size_t from = at + key.size(), to = text.find_first_of(",\n}", from);
      text.replace(from, to - from, "50256");
    }
    std::ofstream(tmp / "config.json") << text;
    Session unbounded = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(Generator(unbounded).spec().eos_token_ids.empty());
    CHECK(Generator(unbounded).generate(ids, many).stop_reason == "max_length");
    std::filesystem::remove_all(tmp);
  }

  CHECK_THROWS_WITH_AS(gen.generate({}, greedy), doctest::Contains("the prompt is empty"), Error);
  std::vector<int64_t> bad(ids.begin(), ids.end());
  bad[2] = 100000;
  CHECK_THROWS_WITH_AS(gen.generate(bad, greedy), doctest::Contains("prompt token 2 is id 100000, outside the vocabulary"), Error);
  std::vector<int64_t> too_long(static_cast<size_t>(gen.spec().max_length), 5);
  CHECK_THROWS_WITH_AS(gen.generate(too_long, greedy), doctest::Contains("holds at most 48 positions"), Error);
  GenerationOptions cold = greedy;
  cold.temperature = 0.0;
  CHECK_THROWS_WITH_AS(gen.generate(ids, cold), doctest::Contains("temperature must be a finite number > 0"), Error);
}

TEST_CASE("text models: generate_sequences returns num_return_sequences samples, one seed each, and refuses greedy ones") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  Session s = engine.compile(engine.load_graph(dir, "text-generation"), test::on_onednn());
  Generator gen(s);
  const std::vector<int64_t> prompt = {5, 93, 82};
  GenerationOptions o{.do_sample = true, .temperature = 1.5, .top_k = 0, .max_new_tokens = 12, .num_return_sequences = 3, .seed = 41};
  o.stop_at_eos = false;
  std::vector<std::vector<int64_t>> streamed(3);
  const auto sequences = gen.generate_sequences(prompt, o, [&](size_t i, int64_t token) {
    streamed.at(i).push_back(token);
    return true;
  });
  REQUIRE(sequences.size() == 3);
  std::set<std::vector<int64_t>> distinct;
  for (size_t i = 0; i < sequences.size(); ++i) {
    GenerationOptions one = o;
    one.seed = o.seed + i;
    CHECK(sequences[i].tokens == gen.generate(prompt, one).tokens);  // sequence i is seed + i's
    CHECK(sequences[i].tokens == streamed[i]);
    CHECK(sequences[i].tokens.size() == 12);
    distinct.insert(sequences[i].tokens);
  }
  CHECK(distinct.size() == 3);
  // A false return stops that sequence only.
  const auto stopped = gen.generate_sequences(prompt, o, [&](size_t i, int64_t) { return i != 1; });
  CHECK(stopped[1].tokens.size() == 1);
  CHECK(stopped[1].stop_reason == "callback");
  CHECK(stopped[2].tokens == sequences[2].tokens);

  // As transformers refuses them: several greedy sequences, more sequences than beams, none.
  CHECK_THROWS_WITH_AS(gen.generate_sequences(prompt, {.num_return_sequences = 2}),
                       doctest::Contains("num_return_sequences 2 with greedy decoding"), Error);
  CHECK_THROWS_WITH_AS(gen.generate_sequences(prompt, {.num_beams = 2, .num_return_sequences = 3}),
                       doctest::Contains("num_return_sequences 3 is more than num_beams 2"), Error);
  CHECK_THROWS_WITH_AS(gen.generate_sequences(prompt, {.num_return_sequences = 0}), doctest::Contains("num_return_sequences must be from 1 to 1024, got 0"),
                       Error);
  CHECK(gen.generate_sequences(prompt, {.max_new_tokens = 3}).size() == 1);
  // A length penalty without beams would change nothing: refused, not ignored.
  CHECK_THROWS_WITH_AS(gen.generate(prompt, {.max_new_tokens = 3, .length_penalty = 2.0}),
                       doctest::Contains("length_penalty 2.000000 weighs finished beams, and num_beams is 1 (the model's)"), Error);
  CHECK_THROWS_WITH_AS(gen.generate(prompt, {.do_sample = true, .max_new_tokens = 3, .num_beams = 1, .length_penalty = 0.5}),
                       doctest::Contains("length_penalty 0.500000 weighs finished beams, and sampling searches none: search beams without sampling"), Error);
  CHECK(gen.generate(prompt, {.max_new_tokens = 3, .num_beams = 2, .length_penalty = 2.0}).tokens.size() <= 3);
  // Bounded before anything is sized by them.
  CHECK_THROWS_WITH_AS(gen.generate(prompt, {.num_beams = 1'000'000'000}), doctest::Contains("num_beams must be from 1 to 1024"), Error);
  CHECK_THROWS_WITH_AS(gen.generate_sequences(prompt, {.do_sample = true, .num_return_sequences = 1'000'000}),
                       doctest::Contains("num_return_sequences must be from 1 to 1024"), Error);
  // The graph's num_return_sequences is generate_sequences()' count; generate() gives one sequence.
  Graph g = engine.load_graph(dir, "text-generation");
  g.processing->generation->num_return_sequences = 2;
  Session two = engine.compile(g, test::on_onednn());
  Generator gen2(two);
  CHECK(gen2.generate(prompt, {.max_new_tokens = 3}).tokens == gen.generate(prompt, {.max_new_tokens = 3}).tokens);
  CHECK_THROWS_WITH_AS(gen2.generate_sequences(prompt, {.max_new_tokens = 3}),
                       doctest::Contains("num_return_sequences 2 (processing.generation.num_return_sequences"), Error);
  CHECK(gen2.generate_sequences(prompt, {.do_sample = true, .max_new_tokens = 3}).size() == 2);
}

TEST_CASE("text models: GPT-2's KV caches kept in bf16 (kv_cache) give the f32 caches' logits within bf16's rounding") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-gpt2.so"});
  const auto dir = kModels / "gpt2";
  Graph g = engine.load_graph(dir, "text-generation");
  const Tensor prompt = read_npy(dir / "prompt_ids.npy");
  // Prefill and 6 greedy steps through each session; the steps follow the f32 caches' tokens.
  auto logits_of = [&](Session& s, const std::vector<int64_t>& steps) {
    State state = s.new_state();
    Tensor past(DType::i64, {1});
    past.data_as<int64_t>()[0] = 0;
    std::vector<Tensor> all{s.run({{"input_ids", prompt}, {"past_length", past}}, state).at("logits")};
    for (size_t i = 0; i < steps.size(); ++i) {
      Tensor token(DType::i64, {1, 1});
      token.data_as<int64_t>()[0] = steps[i];
      past.data_as<int64_t>()[0] = prompt.numel() + static_cast<int64_t>(i);
      all.push_back(s.run({{"input_ids", token}, {"past_length", past}}, state).at("logits"));
    }
    return std::make_pair(std::move(all), state.snapshot());
  };
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  const std::vector<int64_t> steps(expected.data_as<int64_t>(), expected.data_as<int64_t>() + std::min<int64_t>(6, expected.numel()));
  for (const std::string backend : {"onednn", "reference"}) {
    CAPTURE(backend);
    SessionOptions f32 = backend == "onednn" ? test::on_onednn() : test::on_reference(), bf16 = f32;
    bf16.options["kv_cache"] = "bf16";
    Session wide = engine.compile(g, f32), narrow = engine.compile(g, bf16);
    const auto wide_run = logits_of(wide, steps), narrow_run = logits_of(narrow, steps);
    const std::vector<Tensor>& want = wide_run.first;
    const std::vector<Tensor>& got = narrow_run.first;
    const TensorMap& wide_state = wide_run.second;
    const TensorMap& narrow_state = narrow_run.second;
    // Every layer's two caches became bf16 states, each written through one cast.
    size_t caches = 0;
    for (const auto& entry : narrow_state) {
      CHECK(entry.second.dtype() == DType::bf16);
      CHECK(wide_state.at(entry.first).dtype() == DType::f32);
      ++caches;
    }
    CHECK(caches == wide_state.size());
    CHECK(caches > 0);
    const auto& passes = narrow.optimization().passes;
    REQUIRE(!passes.empty());
    CHECK(passes.back().pass == "kv-cache-bf16");
    CHECK(passes.back().rewrites == caches);
    CHECK(passes.back().nodes_after == passes.back().nodes_before + caches);
    // Keys and values rounded to bf16 (8 bits of mantissa): logits within 1% of their range.
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const float* a = got[i].data_as<float>();
      const float* b = want[i].data_as<float>();
      float range = 0, worst = 0;
      for (int64_t j = 0; j < want[i].numel(); ++j) range = std::max(range, std::abs(b[j]));
      for (int64_t j = 0; j < want[i].numel(); ++j) worst = std::max(worst, std::abs(a[j] - b[j]));
      CAPTURE(i);
      CHECK(worst <= 0.01f * range);
      CHECK(worst > 0.0f);  // the caches did round
    }
  }
  // An unknown value fails; precision=bf16 keeps its caches in bf16 unless kv_cache says otherwise.
  SessionOptions o = test::on_onednn();
  o.options["kv_cache"] = "f16";
  CHECK_THROWS_WITH_AS(engine.compile(g, o), doctest::Contains("option kv_cache=f16: the value must be f32 or bf16"), Error);
  if (!test::cpu_allows(test::CpuIsa::avx2)) return;  // bf16 runs on the AVX2 GEMM
  o.options.erase("kv_cache");
  o.options["precision"] = "bf16";
  for (const auto& entry : engine.compile(g, o).new_state().snapshot()) CHECK(entry.second.dtype() == DType::bf16);
  o.options["kv_cache"] = "f32";
  for (const auto& entry : engine.compile(g, o).new_state().snapshot()) CHECK(entry.second.dtype() == DType::f32);
}
