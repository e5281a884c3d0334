// Fuzzes what the model plugins read from a Hugging Face checkpoint folder besides its weights:
// config.json, generation_config.json, tokenizer_config.json, special_tokens_map.json,
// added_tokens.json, tokenizer.json, the vocabulary files and preprocessor_config.json. The
// first byte picks one file of one small checkpoint of tests/models (copied once to a scratch
// folder); the rest replaces it. Loading the checkpoint, and making the tokenizer and the image
// processor of what loads, must succeed or throw loom::Error: anything else is a finding.
#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/image.hpp>
#include <loom/tokenizer.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Target {
  const char* model;
  const char* file;
};

constexpr Target kTargets[] = {
    {"bert-mlm", "config.json"},           {"bert-mlm", "tokenizer_config.json"}, {"bert-mlm", "special_tokens_map.json"},
    {"bert-mlm", "added_tokens.json"},     {"bert-mlm", "tokenizer.json"},        {"bert-mlm", "vocab.txt"},
    {"gpt2", "config.json"},               {"gpt2", "generation_config.json"},    {"gpt2", "tokenizer_config.json"},
    {"gpt2", "vocab.json"},                {"gpt2", "merges.txt"},                {"clip", "config.json"},
    {"clip", "preprocessor_config.json"},  {"clip", "tokenizer_config.json"},     {"vit-cls", "config.json"},
    {"vit-cls", "preprocessor_config.json"}, {"imagegpt", "config.json"},        {"imagegpt", "preprocessor_config.json"},
    {"swin-cls", "config.json"},           {"beit-mim", "config.json"},
};

struct Setup {
  fs::path root;
  std::unique_ptr<loom::Engine> engine;

  Setup() {
    root = fs::temp_directory_path() / ("loom-checkpoint-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    for (const Target& t : kTargets)
      if (!fs::exists(root / t.model)) fs::copy(fs::path(LOOM_TEST_DATA_DIR) / "models" / t.model, root / t.model);
    loom::EngineOptions options;
    for (const char* p : {"loom-bert.so", "loom-gpt2.so", "loom-clip.so", "loom-vit.so", "loom-imagegpt.so", "loom-swin.so", "loom-beit.so"})
      options.plugin_files.push_back(fs::path(LOOM_BUILD_PLUGIN_DIR) / p);
    options.search_default_paths = false;
    engine = std::make_unique<loom::Engine>(options);
    for (const auto& r : engine->plugins())
      if (!r.loaded) {
        std::fprintf(stderr, "%s: %s\n", r.path.c_str(), r.error.c_str());
        std::abort();
      }
    std::atexit([] { std::error_code ec; fs::remove_all(fs::temp_directory_path() / ("loom-checkpoint-fuzz-" + std::to_string(::getpid())), ec); });
  }
};

std::optional<std::string> read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write(const fs::path& p, const char* data, size_t size) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup setup;
  if (size == 0) return 0;
  const Target& target = kTargets[data[0] % std::size(kTargets)];
  const fs::path dir = setup.root / target.model;
  const fs::path file = dir / target.file;
  const std::optional<std::string> original = read(file);
  write(file, reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const loom::Graph g = setup.engine->load_graph(dir);
    if (g.processing && g.processing->tokenizer) {
      const loom::Tokenizer tokenizer = loom::Tokenizer::from_graph(g);
      tokenizer.encode({"Hello, the cat [MASK] sat <|endoftext|> on 42 mats."});
    }
    if (g.processing && g.processing->image) loom::ImageProcessor::from_graph(g);
  } catch (const loom::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s/%s: not a loom::Error: %s\n", target.model, target.file, e.what());
    std::abort();
  }
  if (original) write(file, original->data(), original->size());
  else fs::remove(file);
  return 0;
}
