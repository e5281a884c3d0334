// The text task commands: fill-mask, next-sentence, classify, embed and generate (their image
// forms are in image_task_cmds.cpp). Each loads a
// checkpoint (or graph, or manifest), encodes text with its tokenizer, runs it and prints what
// transformers' pipelines would, as text or (--json) with their keys. The work is library API
// (loom/tokenizer.hpp, loom/tasks.hpp, loom/generation.hpp); this file only prints.
#include "commands.hpp"
#include "task_common.hpp"

#include <loom/error.hpp>
#include <loom/generation.hpp>
#include <loom/tasks.hpp>
#include <loom/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

namespace loom::cli {

namespace {

struct Loaded {
  Graph graph;
  Session session;
  Tokenizer tokenizer;
};

// The model's graph for `task` (the default graph when the plugin offers it there), compiled,
// with its tokenizer; `needs` names the graph output the task reads.
Loaded load(const PluginOptions& p, const TaskArgs& a, const std::string& task, const std::string& expand_for = "") {
  Engine engine = make_engine(p);
  Graph g = expand_for.empty() ? engine.load_graph(a.model) : engine.load_graph(a.model, expand_for);
  if (!g.processing || !g.processing->tokenizer)
    throw Error(printable(a.model) + ": the model has no tokenizer (no vocab.txt, vocab.json + merges.txt or tokenizer.json "
                                     "beside config.json), so " + task + " cannot read text");
  Tokenizer tok = Tokenizer::from_graph(g);
  Session s = engine.compile(g, session_options(a.backends, a.threads, a.options, "all", a.precision));
  return {std::move(g), std::move(s), std::move(tok)};
}

}  // namespace

int cmd_fill_mask(const PluginOptions& p, const TaskArgs& a) {
  if (a.texts.empty()) throw UsageError("fill-mask: give the text with its mask token, e.g. \"Paris is the [MASK] of France.\"");
  Loaded m = load(p, a, "fill-mask");
  const TaskSpec& t = task_of(m.graph, a.model, "fill-mask");
  const Encoding e = encode_texts(m.tokenizer, a.model, a.texts);
  TensorMap out = m.session.run(text_inputs(m.tokenizer, e, m.graph, m.session, a.model));
  const auto preds = fill_mask(out.at(t.output), e, m.tokenizer, a.top_k > 0 ? a.top_k : t.top_k.value_or(5));
  Json all = Json::array();
  for (size_t r = 0; r < preds.size(); ++r) {
    Json per_mask = Json::array();
    for (const auto& mask : preds[r]) {
      Json list = Json::array();
      for (const auto& pr : mask) {
        list.push_back({{"score", pr.score}, {"token", pr.token}, {"token_str", pr.token_str}, {"sequence", pr.sequence}});
        if (!a.json) std::cout << fixed(pr.score) << "  " << printable(pr.token_str) << "  " << printable(pr.sequence) << "\n";
      }
      if (!a.json && preds[r].size() > 1) std::cout << "\n";
      per_mask.push_back(std::move(list));
    }
    // One mask: its list, as the pipeline returns; several: a list per mask.
    all.push_back(per_mask.size() == 1 ? per_mask[0] : per_mask);
    if (!a.json && r + 1 < preds.size()) std::cout << "\n";
  }
  if (a.json) std::cout << dump(all.size() == 1 ? all[0] : all) << "\n";
  return 0;
}

int cmd_next_sentence(const PluginOptions& p, const TaskArgs& a) {
  if (a.texts.empty() || a.texts.size() != a.pairs.size())
    throw UsageError("next-sentence: give one --text A and one --text-pair B (repeat both for several pairs)");
  Loaded m = load(p, a, "next-sentence-prediction");
  const TaskSpec& t = task_of(m.graph, a.model, "next-sentence-prediction");
  const Encoding e = encode_texts(m.tokenizer, a.model, a.texts, a.pairs);
  TensorMap out = m.session.run(text_inputs(m.tokenizer, e, m.graph, m.session, a.model));
  TaskSpec probs = t;
  probs.function = ScoreFunction::Softmax;
  const auto rows = classify(out.at(t.output), probs, 0);
  Json all = Json::array();
  const Tensor& logits = out.at(t.output);
  for (size_t r = 0; r < rows.size(); ++r) {
    // Class 0 is "B follows A" (IsNext), as BERT's pre-training labels it.
    const float* x = logits.data_as<float>() + static_cast<int64_t>(r) * logits.shape()[1];
    const double is_next = 1.0 / (1.0 + std::exp(static_cast<double>(x[1]) - static_cast<double>(x[0])));
    Json scores = Json::array();
    for (const auto& ls : rows[r]) scores.push_back({{"label", ls.label}, {"score", ls.score}});
    all.push_back({{"is_next", is_next}, {"label", rows[r][0].label}, {"scores", scores}});
    if (!a.json) std::cout << "P(B follows A) = " << fixed(is_next) << "  (" << rows[r][0].label << ")\n";
  }
  if (a.json) std::cout << dump(all.size() == 1 ? all[0] : all) << "\n";
  return 0;
}

int cmd_classify(const PluginOptions& p, const TaskArgs& a) {
  if (!a.images.empty()) {
    if (!a.texts.empty() || !a.pairs.empty()) throw UsageError("classify: give texts (--text) or images (--image), not both");
    return classify_images(p, a);
  }
  if (a.texts.empty()) throw UsageError("classify: give the text with --text TEXT or the image with --image FILE (repeat the option for each)");
  if (!a.pairs.empty() && a.pairs.size() != a.texts.size())
    throw UsageError("classify: " + std::to_string(a.pairs.size()) + " --text-pair for " + std::to_string(a.texts.size()) +
                     " --text (one per text, or none)");
  Loaded m = load(p, a, "text-classification");
  const TaskSpec& t = task_of(m.graph, a.model, "text-classification");
  const Encoding e = encode_texts(m.tokenizer, a.model, a.texts, a.pairs);
  TensorMap out = m.session.run(text_inputs(m.tokenizer, e, m.graph, m.session, a.model));
  const auto rows = classify(out.at(t.output), t, a.top_k > 0 ? a.top_k : t.top_k.value_or(0));
  Json all = Json::array();
  for (size_t r = 0; r < rows.size(); ++r) {
    Json list = Json::array();
    for (const auto& ls : rows[r]) {
      list.push_back({{"label", ls.label}, {"score", ls.score}});
      if (!a.json) std::cout << fixed(ls.score) << "  " << printable(ls.label) << "\n";
    }
    all.push_back(std::move(list));
    if (!a.json && r + 1 < rows.size()) std::cout << "\n";
  }
  if (a.json) std::cout << dump(all.size() == 1 ? all[0] : all) << "\n";
  return 0;
}

int cmd_embed(const PluginOptions& p, const TaskArgs& a) {
  if (!a.images.empty()) {
    if (!a.texts.empty()) throw UsageError("embed: give texts (--text) or images (--image), not both");
    return embed_images(p, a);
  }
  if (a.texts.empty()) throw UsageError("embed: give the text with --text TEXT or the image with --image FILE (repeat the option for each)");
  if (a.pooling != "mean" && a.pooling != "cls") throw UsageError("--pooling " + a.pooling + ": expected mean or cls");
  Engine engine = make_engine(p);
  Graph g = graph_for(engine, a.model, "feature-extraction");
  if (!g.processing || !g.processing->tokenizer)
    throw Error(printable(a.model) + ": the model has no tokenizer (no vocab.txt, vocab.json + merges.txt or tokenizer.json "
                                     "beside config.json), so embeddings cannot read text");
  const Tokenizer tok = Tokenizer::from_graph(g);
  Session s = engine.compile(g, session_options(a.backends, a.threads, a.options, "all", a.precision));
  const Encoding e = encode_texts(tok, a.model, a.texts);
  TensorMap out = s.run(text_inputs(tok, e, g, s, a.model));
  // A model with its own sentence vector (CLIP's text_embeds) gives it, at unit length as CLIP
  // compares them; others are pooled, and scaled only under --normalize.
  const TaskSpec* t = find_task(g, "feature-extraction");
  if (t && out.count(t->output) && out.at(t->output).shape().size() == 2) {
    refuse_pooling(a, t->output);
    print_embeddings(unit_rows(out.at(t->output)), a.json, t->output, true);
    return 0;
  }
  if (!out.count("last_hidden_state"))
    throw Error(printable(a.model) + ": the model has no output last_hidden_state to pool embeddings from");
  const Tensor v = pool(out.at("last_hidden_state"), e, a.pooling == "cls" ? Pooling::Cls : Pooling::Mean, a.normalize);
  print_embeddings(v, a.json, a.pooling, a.normalize);
  return 0;
}

void set_decoding(const GenerateArgs& a, GenerationOptions& o) {
  // Any sampling setting asks for sampling, as a user of transformers' generate() means it.
  auto sample = [&](std::optional<double>& field, double value) {
    if (value < 0) return;
    field = value;
    o.do_sample = true;
  };
  sample(o.temperature, a.temperature);
  sample(o.top_p, a.top_p);
  sample(o.min_p, a.min_p);
  sample(o.typical_p, a.typical_p);
  sample(o.epsilon_cutoff, a.epsilon_cutoff);
  sample(o.eta_cutoff, a.eta_cutoff);
  if (a.sample_top_k >= 0) o.top_k = a.sample_top_k, o.do_sample = true;
  if (a.greedy) o.do_sample = false;
  // Choosing greedy decoding or sampling chooses it over the model's beams, unless --num-beams
  // asks for them.
  if (o.do_sample) o.num_beams = 1;
  if (a.num_beams > 0) o.num_beams = a.num_beams;
  if (a.num_return_sequences > 0) o.num_return_sequences = a.num_return_sequences;
  if (!std::isnan(a.length_penalty)) o.length_penalty = a.length_penalty;
  if (a.repetition_penalty >= 0) o.repetition_penalty = a.repetition_penalty;
  if (a.no_repeat_ngram_size >= 0) o.no_repeat_ngram_size = a.no_repeat_ngram_size;
  if (a.min_new_tokens >= 0) o.min_new_tokens = a.min_new_tokens;
}

int cmd_generate(const PluginOptions& p, const GenerateArgs& a) {
  if (a.image_count > 0 || !a.prime.empty()) {
    if (a.prompt_given) throw UsageError("generate: give a text --prompt or images (--image-count, --prime), not both");
    // An image is sampled pixel by pixel to its size: the text's lengths and beams do not apply.
    if (a.num_return_sequences > 0)
      throw UsageError("generate: --num-return-sequences is for text; --image-count N says how many images to make");
    if (a.max_new_tokens > 0) throw UsageError("generate: --max-new-tokens is for text; an image is generated to its size");
    if (a.num_beams > 0 || !std::isnan(a.length_penalty))
      throw UsageError("generate: --num-beams and --length-penalty are for text; images are sampled pixel by pixel");
    return generate_images(p, a);
  }
  if (!a.prompt_given) throw UsageError("generate: give the text to continue with --prompt TEXT (or --image-count N for ImageGPT)");
  if (!a.output_dir.empty()) throw UsageError("generate: --output-dir is for ImageGPT's images; a text is printed");
  Loaded m = load(p, a, "generation", "text-generation");
  Generator gen(m.session);
  std::vector<int64_t> prompt;
  try {
    prompt = m.tokenizer.encode_text(a.prompt);
  } catch (const Error& e) {  // "the text: not valid UTF-8 ...": the option it came from
    const std::string what = e.what(), text = "the text: ";
    throw Error(printable(a.model) + ": " + (what.rfind(text, 0) == 0 ? "--prompt: " + what.substr(text.size()) : what));
  }
  // An empty prompt starts from the bos token, as transformers' generate() without input_ids
  // (and its text-generation pipeline given "").
  if (prompt.empty() && gen.spec().bos_token_id) prompt = {*gen.spec().bos_token_id};
  if (prompt.empty())
    throw UsageError("generate: the prompt '" + a.prompt + "' gives no tokens, and the model has no bos_token_id to start from");
  GenerationOptions o;
  if (a.max_new_tokens > 0) o.max_new_tokens = a.max_new_tokens;
  set_decoding(a, o);
  o.seed = a.seed;
  // Each sequence is printed as it is made (a beam search's once it ends): the prompt, echoed
  // with the sequence's first token, then the text of each token; several sequences each under
  // a line that numbers it.
  const int64_t count = resolve_generation(gen.spec(), o).num_return_sequences;
  std::optional<StreamDecoder> stream;
  size_t current = 0;
  auto end_sequence = [&] {
    if (stream && !a.json) std::cout << stream->finish() << "\n";
    stream.reset();
  };
  const std::vector<GenerationResult> sequences = gen.generate_sequences(prompt, o, [&](size_t i, int64_t id) {
    if (i != current) end_sequence();
    current = i;
    if (!stream) {
      stream.emplace(m.tokenizer);
      if (!a.json && count > 1) std::cout << "--- sequence " << i + 1 << " of " << count << " ---\n";
      if (!a.json) std::cout << a.prompt;
    }
    const std::string piece = stream->step(id);
    if (!a.json) std::cout << piece << std::flush;
    return true;
  });
  end_sequence();
  const GenerationResult& r = sequences.front();
  // The prefill's token comes with the prompt's run; the rate is that of the decode steps.
  const double steps = static_cast<double>(r.tokens.size()) - 1;
  const double rate = steps > 0 && r.decode_ms > 0 ? steps / (r.decode_ms / 1000.0) : 0.0;
  if (a.json) {
    // As the text-generation pipeline's full text: the prompt, then the decoded sequence past
    // the decoded prompt, both without special tokens and cleaned up (its postprocess).
    const DecodeOptions as_pipeline{.skip_special_tokens = true, .clean_up_tokenization_spaces = true};
    const std::string before = m.tokenizer.decode(prompt, as_pipeline);
    Json all = Json::array();
    for (const GenerationResult& g : sequences) {
      std::vector<int64_t> ids = prompt;
      ids.insert(ids.end(), g.tokens.begin(), g.tokens.end());
      const std::string whole = m.tokenizer.decode(ids, as_pipeline);
      all.push_back({{"token_ids", ids},
                     {"text", a.prompt + whole.substr(std::min(before.size(), whole.size()))},
                     {"new_tokens", g.tokens.size()},
                     {"stop_reason", g.stop_reason}});
    }
    // The first sequence's keys, then every sequence (the first included).
    Json j = {{"token_ids", all[0]["token_ids"]}, {"text", all[0]["text"]}, {"new_tokens", r.tokens.size()}, {"tokens_per_s", rate},
              {"prefill_ms", r.prefill_ms},       {"stop_reason", r.stop_reason}, {"sequences", all}};
    std::cout << dump(j) << "\n";
  } else {
    std::cout.flush();  // the text before the summary, where both go to one file
    for (size_t i = 0; sequences.size() > 1 && i < sequences.size(); ++i)
      std::fprintf(stderr, "sequence %zu: %zu new tokens (%s)\n", i + 1, sequences[i].tokens.size(), sequences[i].stop_reason.c_str());
    if (sequences.size() > 1)
      std::fprintf(stderr, "prompt %zu tokens in %.1f ms; %.2f tokens/s (sequence 1)\n", prompt.size(), r.prefill_ms, rate);
    else
      std::fprintf(stderr, "%zu new tokens (%s); prompt %zu tokens in %.1f ms; %.2f tokens/s\n", r.tokens.size(), r.stop_reason.c_str(),
                   prompt.size(), r.prefill_ms, rate);
  }
  return 0;
}

}  // namespace loom::cli
