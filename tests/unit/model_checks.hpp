// The model plugins' tests: an engine with the given plugins, and a checkpoint of tests/models
// run on the inputs saved beside it, every expected_<name>.npy compared within a tolerance.
#pragma once

#include "session_graphs.hpp"

#include <loom/generation.hpp>
#include <loom/io.hpp>
#include <loom/tokenizer.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace loom::test {

inline const std::filesystem::path kModels = std::filesystem::path(LOOM_TEST_DATA_DIR) / "models";

inline Engine model_engine(std::initializer_list<const char*> plugins) {
  EngineOptions options;
  for (const char* p : plugins) options.plugin_files.push_back(std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / p);
  options.search_default_paths = false;
  Engine engine(options);
  for (const auto& r : engine.plugins()) REQUIRE_MESSAGE(r.loaded, r.path.string() << ": " << r.error);
  return engine;
}

// The oneDNN backend with the BERT and GPT-2 plugins.
inline Engine text_engine() { return model_engine({"loom-onednn.so", "loom-bert.so", "loom-gpt2.so"}); }

// |out - ref| <= atol + rtol |ref| for each expected output of checkpoint `name`.
inline void check_outputs(Engine& engine, const std::string& name, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const SessionOptions& options = on_onednn(),
                          double atol = 1e-4, double rtol = 1e-5) {
  const auto dir = kModels / name;
  Session s = engine.load(dir, options);
  TensorMap in;
  for (const auto& i : inputs) in.emplace(i, read_npy(dir / (i + ".npy")));
  TensorMap out = s.run(in);
  for (const auto& o : outputs) {
    INFO(name << ": " << o);
    REQUIRE(out.count(o));
    const Tensor ref = read_npy(dir / ("expected_" + o + ".npy"));
    const Comparison c = compare(out.at(o), ref, atol, rtol);
    MESSAGE(name << " " << o << ": largest difference " << c.max_abs_error);
    CHECK_MESSAGE(c.ok(), c.mismatch << " " << c.differing << " elements differ, largest by " << c.max_abs_error);
  }
}

}  // namespace loom::test
