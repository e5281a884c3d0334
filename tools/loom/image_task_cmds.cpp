// The image task commands: classify and embed on images, zero-shot and search (CLIP), generate
// for ImageGPT and fill-image for BEiT. Each loads a checkpoint (or graph, or manifest), reads
// images with the graph's image processor (loom/image.hpp), runs, and prints what transformers'
// pipelines would, as text or (--json) with their keys. The work is library API; this file only
// wires it and prints.
#include "commands.hpp"
#include "task_common.hpp"

#include <loom/error.hpp>
#include <loom/generation.hpp>
#include <loom/image.hpp>
#include <loom/tasks.hpp>
#include <loom/tokenizer.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

namespace loom::cli {

namespace {

std::vector<Image> read_images(const std::vector<std::string>& files) {
  std::vector<Image> images;
  images.reserve(files.size());
  for (const auto& f : files) images.push_back(read_image(f));
  return images;
}

// The graph input of the images in `files`, errors naming the file at fault: among them images
// whose processed size is not the one the graph takes (a spec that does not resize them).
TensorMap image_tensors(const Graph& g, const ImageProcessor& proc, const std::vector<std::string>& files) {
  TensorMap t = proc.tensors(read_images(files), files);
  const ImageProcessorSpec& spec = proc.spec();
  const auto input = std::find_if(g.inputs.begin(), g.inputs.end(), [&](const GraphInput& in) { return in.name == spec.input; });
  const auto made = t.find(spec.input);
  if (input == g.inputs.end() || made == t.end() || spec.do_color_quantize) return t;
  const auto& want = input->info.shape;
  const Shape& got = made->second.shape();
  if (want.size() != 4 || got.size() != 4) return t;
  for (size_t axis : {size_t{2}, size_t{3}})
    if (want[axis].is_known() && want[axis].value() != got[axis])
      throw Error((files.size() == 1 ? printable(files[0]) + " comes" : std::string("the images come")) + " out of the image processor at " +
                  std::to_string(got[3]) + "x" + std::to_string(got[2]) + (spec.do_resize ? "" : " (do_resize is off)") +
                  ", and " + printable(g.path.empty() ? g.name : g.path.string()) + " takes " +
                  (want[3].is_known() ? std::to_string(want[3].value()) : std::string("?")) + "x" +
                  (want[2].is_known() ? std::to_string(want[2].value()) : std::string("?")) + " images");
  return t;
}

// The graph's image processor; an Error naming the model when it has none.
ImageProcessor image_processor(const Graph& g, const std::string& model, const std::string& task) {
  if (!g.processing || !g.processing->image)
    throw Error(printable(model) + ": the model has no image processor (no preprocessor_config.json beside config.json), so " + task +
                " cannot read images");
  return ImageProcessor::from_graph(g);
}

Tokenizer text_tokenizer(const Graph& g, const std::string& model, const std::string& task) {
  if (!g.processing || !g.processing->tokenizer)
    throw Error(printable(model) + ": the model has no tokenizer (no vocab.json + merges.txt or tokenizer.json beside config.json), so " +
                task + " cannot read text");
  return Tokenizer::from_graph(g);
}

SessionOptions options_of(const TaskArgs& a) { return session_options(a.backends, a.threads, a.options, "all", a.precision); }

void merge(TensorMap& into, TensorMap more) {
  for (auto& [name, t] : more) into.insert_or_assign(name, std::move(t));
}

// Label and score lists, one per image: printed as the text classify prints them, or as JSON
// (one list for one image, a list of lists for several, as the pipelines return them). Text
// output names each image when there are several.
void print_rankings(const std::vector<std::vector<LabelScore>>& rows, const std::vector<std::string>& files, bool json) {
  Json all = Json::array();
  for (size_t r = 0; r < rows.size(); ++r) {
    Json list = Json::array();
    if (!json && rows.size() > 1 && r < files.size()) std::cout << printable(files[r]) << ":\n";
    for (const auto& ls : rows[r]) {
      list.push_back({{"score", ls.score}, {"label", ls.label}});
      if (!json) std::cout << fixed(ls.score) << "  " << printable(ls.label) << "\n";
    }
    all.push_back(std::move(list));
    if (!json && r + 1 < rows.size()) std::cout << "\n";
  }
  if (json) std::cout << dump(all.size() == 1 ? all[0] : all) << "\n";
}

// "a cat, a dog" -> {"a cat", "a dog"}, each trimmed; an empty label is a usage error.
std::vector<std::string> split_labels(const std::string& text) {
  std::vector<std::string> labels;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    std::string label = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t b = label.find_first_not_of(" \t"), e = label.find_last_not_of(" \t");
    label = b == std::string::npos ? "" : label.substr(b, e - b + 1);
    if (label.empty()) throw UsageError("--labels " + printable(text) + ": an empty label (expected \"a cat,a dog\")");
    labels.push_back(label);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return labels;
}

// The image vectors of `files` [n, dim] by the model's image-feature-extraction output: as they
// are when the model pools them itself (CLIP's image_embeds), else its last_hidden_state pooled
// by `pooling` (the CLS token, or the mean of every token).
Tensor image_vectors(Session& s, const Graph& g, const ImageProcessor& proc, const std::vector<std::string>& files, const std::string& pooling,
                     const std::string& model, std::string* used) {
  const TaskSpec& t = task_of(g, model, "image-feature-extraction");
  TensorMap out = s.run(image_tensors(g, proc, files));
  const Tensor& x = out.at(t.output);
  *used = t.output;
  if (x.shape().size() == 2) return x;
  if (x.shape().size() != 3 || x.dtype() != DType::f32)
    throw Error(printable(model) + ": output '" + t.output + "' is not f32 [batch, dim] or [batch, tokens, dim]");
  *used = pooling;
  const int64_t b = x.shape()[0], n = x.shape()[1], d = x.shape()[2];
  Tensor v(DType::f32, {b, d});
  for (int64_t r = 0; r < b; ++r)
    for (int64_t c = 0; c < d; ++c) {
      const float* row = x.data_as<float>() + r * n * d;
      double sum = 0;
      if (pooling == "cls") sum = row[c];
      else {
        for (int64_t i = 0; i < n; ++i) sum += row[i * d + c];
        sum /= static_cast<double>(n);
      }
      v.data_as<float>()[r * d + c] = static_cast<float>(sum);
    }
  return v;
}

}  // namespace

int classify_images(const PluginOptions& p, const TaskArgs& a) {
  Engine engine = make_engine(p);
  const Graph g = graph_for(engine, a.model, "image-classification");
  const TaskSpec& t = task_of(g, a.model, "image-classification");
  const ImageProcessor proc = image_processor(g, a.model, "image-classification");
  Session s = engine.compile(g, options_of(a));
  TensorMap out = s.run(image_tensors(g, proc, a.images));
  // The pipeline's default: the five best labels.
  print_rankings(classify(out.at(t.output), t, a.top_k > 0 ? a.top_k : t.top_k.value_or(5)), a.images, a.json);
  return 0;
}

int embed_images(const PluginOptions& p, const TaskArgs& a) {
  Engine engine = make_engine(p);
  const Graph g = graph_for(engine, a.model, "image-feature-extraction");
  const ImageProcessor proc = image_processor(g, a.model, "image-feature-extraction");
  Session s = engine.compile(g, options_of(a));
  std::string used;
  const Tensor v = image_vectors(s, g, proc, a.images, a.pooling, a.model, &used);
  // The model's own vectors (CLIP's image_embeds) at unit length, as CLIP compares them; pooled
  // hidden states only under --normalize.
  const bool unit = a.normalize || used != a.pooling;
  if (used != a.pooling) refuse_pooling(a, used);
  print_embeddings(unit ? unit_rows(v) : v, a.json, used, unit);
  return 0;
}

int cmd_zero_shot(const PluginOptions& p, const TaskArgs& a) {
  if (a.images.empty()) throw UsageError("zero-shot: give the image with --image FILE (repeat the option for each)");
  if (a.labels.empty()) throw UsageError("zero-shot: give the candidate labels with --labels \"a cat,a dog\"");
  if (a.hypothesis.find("{}") == std::string::npos)
    throw UsageError("--template " + printable(a.hypothesis) + ": it must hold {} where the label goes");
  const std::vector<std::string> labels = split_labels(a.labels);
  Engine engine = make_engine(p);
  const Graph g = graph_for(engine, a.model, "zero-shot-image-classification");
  const TaskSpec& t = task_of(g, a.model, "zero-shot-image-classification");
  const Tokenizer tok = text_tokenizer(g, a.model, "zero-shot");
  const ImageProcessor proc = image_processor(g, a.model, "zero-shot");
  // Each label alone first, so that a byte that is not UTF-8 is counted within its label rather
  // than within the templated sentence.
  encode_texts(tok, a.model, labels, {}, "--labels");
  std::vector<std::string> texts;
  for (const auto& l : labels) {
    std::string text = a.hypothesis;
    text.replace(text.find("{}"), 2, l);
    texts.push_back(text);
  }
  Session s = engine.compile(g, options_of(a));
  TensorMap in = text_inputs(tok, encode_texts(tok, a.model, texts, {}, "--labels"), g, s, a.model);
  merge(in, image_tensors(g, proc, a.images));
  TensorMap out = s.run(in);
  // logits_per_image [images, labels], softmax over the labels, as the pipeline scores them.
  TaskSpec scored = t;
  scored.function = ScoreFunction::Softmax;
  scored.id2label = labels;
  print_rankings(classify(out.at(t.output), scored, a.top_k), a.images, a.json);
  return 0;
}

int cmd_search(const PluginOptions& p, const TaskArgs& a) {
  if (a.texts.size() != 1) throw UsageError("search: give one query with --text TEXT");
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(a.folder, ec)) throw UsageError("search: " + quoted(a.folder) + " does not exist");
  if (!fs::is_directory(a.folder, ec)) throw UsageError("search: " + quoted(a.folder) + " is not a folder of images");
  std::vector<std::string> files;
  fs::directory_iterator it(a.folder, ec);
  if (ec) throw Error(printable(a.folder) + ": cannot be listed: " + ec.message());
  // An entry that is no regular file (a folder, a FIFO, a dangling or looping link) is passed
  // over, wherever it comes in the listing.
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw Error(printable(a.folder) + ": cannot be listed: " + ec.message());
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::error_code entry_ec;
    if (it->is_regular_file(entry_ec) && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(it->path().string());
  }
  if (ec) throw Error(printable(a.folder) + ": cannot be listed: " + ec.message());
  if (files.empty()) throw UsageError("search: " + quoted(a.folder) + " holds no .png, .jpg or .jpeg file");
  std::sort(files.begin(), files.end());

  // The text and image towers each run alone (CLIP's feature-extraction and
  // image-feature-extraction graphs); the score is the cosine similarity of the two vectors.
  Engine engine = make_engine(p);
  const Graph tg = graph_for(engine, a.model, "feature-extraction");
  const TaskSpec& tt = task_of(tg, a.model, "feature-extraction");
  const Tokenizer tok = text_tokenizer(tg, a.model, "search");
  Session ts = engine.compile(tg, options_of(a));
  TensorMap tout = ts.run(text_inputs(tok, encode_texts(tok, a.model, a.texts), tg, ts, a.model));
  if (tout.at(tt.output).shape().size() != 2)
    throw Error(printable(a.model) + ": output '" + tt.output + "' is not a text vector [batch, dim]; search needs a CLIP model");
  const Tensor query = unit_rows(tout.at(tt.output));

  const Graph ig = graph_for(engine, a.model, "image-feature-extraction");
  const ImageProcessor proc = image_processor(ig, a.model, "search");
  Session is = engine.compile(ig, options_of(a));
  const int64_t dim = query.shape()[1];
  std::vector<std::pair<double, std::string>> scored;
  constexpr size_t kBatch = 16;  // images per run: a folder of any size in bounded memory
  for (size_t at = 0; at < files.size(); at += kBatch) {
    const std::vector<std::string> part(files.begin() + static_cast<std::ptrdiff_t>(at),
                                        files.begin() + static_cast<std::ptrdiff_t>(std::min(files.size(), at + kBatch)));
    std::string used;
    const Tensor v = unit_rows(image_vectors(is, ig, proc, part, "cls", a.model, &used));
    if (v.shape()[1] != dim)
      throw Error(printable(a.model) + ": its image vectors have " + std::to_string(v.shape()[1]) + " dims, its text vectors " + std::to_string(dim));
    for (size_t i = 0; i < part.size(); ++i) {
      double dot = 0;
      for (int64_t c = 0; c < dim; ++c) dot += static_cast<double>(v.data_as<float>()[static_cast<int64_t>(i) * dim + c]) * query.data_as<float>()[c];
      scored.emplace_back(dot, part[i]);
    }
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  const size_t keep = a.top_k > 0 ? std::min(scored.size(), static_cast<size_t>(a.top_k)) : scored.size();
  Json list = Json::array();
  for (size_t i = 0; i < keep; ++i) {
    list.push_back({{"score", scored[i].first}, {"file", scored[i].second}});
    if (!a.json) std::cout << fixed(scored[i].first) << "  " << printable(scored[i].second) << "\n";
  }
  if (a.json) std::cout << dump(list) << "\n";
  return 0;
}

int cmd_fill_image(const PluginOptions& p, const TaskArgs& a) {
  if (a.images.size() != 1) throw UsageError("fill-image: give one image with --image FILE");
  if (!(a.mask_ratio > 0 && a.mask_ratio <= 1)) throw UsageError("--mask-ratio must be in (0, 1]");
  Engine engine = make_engine(p);
  const Graph g = graph_for(engine, a.model, "masked-image-modeling");
  const TaskSpec& t = task_of(g, a.model, "masked-image-modeling");
  const ImageProcessor proc = image_processor(g, a.model, "fill-image");
  const GraphInput* mask_input = nullptr;
  for (const auto& i : g.inputs)
    if (i.name == "bool_masked_pos") mask_input = &i;
  if (!mask_input || mask_input->info.shape.size() != 2 || !mask_input->info.shape[1].is_known())
    throw Error(printable(a.model) + ": the model has no input bool_masked_pos [batch, patches] to mask patches with");
  const int64_t n = mask_input->info.shape[1].value();
  // round(R · N) patches, at least one, chosen by the seed.
  const int64_t k = std::max<int64_t>(1, std::llround(a.mask_ratio * static_cast<double>(n)));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(a.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> masked(order.begin(), order.begin() + k);
  std::sort(masked.begin(), masked.end());
  Tensor mask(DType::u8, {1, n});
  std::fill_n(static_cast<uint8_t*>(mask.data()), n, uint8_t{0});
  for (int64_t m : masked) static_cast<uint8_t*>(mask.data())[m] = 1;

  Session s = engine.compile(g, options_of(a));
  TensorMap in = image_tensors(g, proc, a.images);
  in.emplace("bool_masked_pos", mask);
  TensorMap out = s.run(in);
  const Tensor& logits = out.at(t.output);  // [1, patches, vocab]
  const int64_t vocab = logits.shape().back();
  std::vector<int64_t> tokens;
  for (int64_t m : masked) {
    const float* l = logits.data_as<float>() + m * vocab;
    tokens.push_back(static_cast<int64_t>(std::max_element(l, l + vocab) - l));
  }
  if (a.json) {
    std::cout << dump({{"num_patches", n}, {"masked_positions", masked}, {"predicted_tokens", tokens}}) << "\n";
  } else {
    std::cout << k << " of " << n << " patches masked; the visual token predicted at each:\n";
    for (size_t i = 0; i < masked.size(); ++i) std::cout << "  patch " << masked[i] << ": " << tokens[i] << "\n";
  }
  return 0;
}

int generate_images(const PluginOptions& p, const GenerateArgs& a) {
  namespace fs = std::filesystem;
  const int64_t count = a.prime.empty() ? a.image_count : std::max<int64_t>(a.image_count, 1);
  if (a.output_dir.empty()) throw UsageError("generate: give the folder for the images with -o DIR");
  Engine engine = make_engine(p);
  const Graph g = engine.load_graph(a.model, "image-generation");
  if (!g.processing || !g.processing->generation || !g.processing->image || !g.processing->image->do_color_quantize)
    throw Error(printable(a.model) + ": the model generates no images (an ImageGPT checkpoint with its preprocessor_config.json)");
  const ImageProcessor proc = ImageProcessor::from_graph(g);
  const ImageProcessorSpec& spec = proc.spec();
  const GenerationSpec& gen_spec = *g.processing->generation;
  if (!spec.size || spec.size->height < 1 || !gen_spec.bos_token_id || spec.size->height * spec.size->width + 1 != gen_spec.max_length)
    throw Error(printable(a.model) + ": its image size does not fill its positions: the image processor's size (" +
                (spec.size && spec.size->height > 0 ? std::to_string(spec.size->height) + " x " + std::to_string(spec.size->width)
                                                    : std::string("none")) +
                ", preprocessor_config.json for a checkpoint) and the SOS token must make the generation's max_length " +
                std::to_string(gen_spec.max_length) + " (config.json's n_positions + 1)");
  const int64_t h = spec.size->height, w = spec.size->width;
  std::error_code ec;
  fs::create_directories(a.output_dir, ec);
  if (ec) throw Error(a.output_dir + ": cannot be created: " + ec.message());

  // The prompt: SOS, and with --prime the upper half of the given image's cluster ids.
  std::vector<int64_t> prompt = {*gen_spec.bos_token_id};
  if (!a.prime.empty()) {
    const TensorMap ids = image_tensors(g, proc, {a.prime});
    const Tensor& t = ids.at(spec.input);
    prompt.insert(prompt.end(), t.data_as<int64_t>(), t.data_as<int64_t>() + (h / 2) * w);
  }
  Session s = engine.compile(g, options_of(a));
  Generator gen(s);
  GenerationOptions o;
  // transformers' ImageGPT example samples from the 40 most likely clusters.
  o.do_sample = true;
  o.top_k = 40;
  set_decoding(a, o);
  o.max_new_tokens = h * w;
  o.stop_at_eos = false;
  const bool bar = !a.json && ::isatty(STDERR_FILENO);
  const auto& clusters = proc.clusters();
  Json files = Json::array();
  for (int64_t i = 0; i < count; ++i) {
    o.seed = a.seed + static_cast<uint64_t>(i);
    int64_t done = static_cast<int64_t>(prompt.size()) - 1;
    const auto start = std::chrono::steady_clock::now();
    const GenerationResult r = gen.generate(prompt, o, [&](int64_t) {
      if (bar && ++done % w == 0)
        std::fprintf(stderr, "\rimage %lld/%lld: %3lld%%", static_cast<long long>(i + 1), static_cast<long long>(count),
                     static_cast<long long>(100 * done / (h * w)));
      return true;
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = seconds > 0 ? static_cast<double>(r.tokens.size()) / seconds : 0.0;
    std::vector<int64_t> pixels(prompt.begin() + 1, prompt.end());
    pixels.insert(pixels.end(), r.tokens.begin(), r.tokens.end());
    // Each id back to its cluster's colour, rint(127.5 (c + 1)), as ImageGPT's examples decode it.
    Image img(w, h);
    for (int64_t k = 0; k < h * w; ++k) {
      const int64_t id = pixels.at(static_cast<size_t>(k));
      if (id < 0 || id >= static_cast<int64_t>(clusters.size()))
        throw Error(printable(a.model) + ": pixel " + std::to_string(k) + " was generated as id " + std::to_string(id) +
                    ", which has no colour: the image processor holds " + std::to_string(clusters.size()) + " clusters");
      for (int c = 0; c < 3; ++c) {
        const double v = std::nearbyint(127.5 * (clusters[static_cast<size_t>(id)][c] + 1.0));
        img.pixels()[static_cast<size_t>(k * 3 + c)] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
    }
    const fs::path file = fs::path(a.output_dir) / ("image-" + std::to_string(i) + ".png");
    write_png(file, img);
    files.push_back({{"file", file.string()}, {"seed", o.seed}, {"pixels_per_second", rate}, {"token_ids", pixels}});
    if (!a.json) std::printf("%s%s  (%lld pixels sampled, %.0f pixels/s)\n", bar ? "\r" : "", file.string().c_str(), static_cast<long long>(r.tokens.size()), rate);
  }
  if (a.json) std::cout << dump({{"images", files}, {"width", w}, {"height", h}}) << "\n";
  return 0;
}

}  // namespace loom::cli
