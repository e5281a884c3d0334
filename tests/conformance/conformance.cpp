// The op conformance suite: runs every case of tests/fixtures/ops/ (one op, inputs and PyTorch
// reference outputs, made by tools/fixtures/make_op_fixtures.py) on every loaded backend and
// prints a table of op x backend. Fails if a backend that accepts a case gets it wrong, if a
// case runs nowhere, or if an op of the registry has no case at all. Each case runs as written
// and after the graph passes of level all; a fused op that a backend lacks runs there through
// its reference decomposition, as in any session, and its cell says so.
//
//   loom_conformance FIXTURE_DIR [--plugin FILE]... [--backend NAME]...
#include "ops/registry.hpp"

#include <loom/loom.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace {

struct Outcome {
  int passed = 0, failed = 0, unsupported = 0;
  int decomposed = 0;  // of passed: through the op's reference decomposition
};

std::string difference(const loom::Tensor& out, const loom::Tensor& ref, double atol, double rtol) {
  const loom::Comparison c = loom::compare(out, ref, atol, rtol);
  if (!c.mismatch.empty()) return c.mismatch;
  if (c.ok()) return "";
  return "element " + std::to_string(c.first) + ": " + std::to_string(loom::element_as_double(out, c.first)) + " vs " +
         std::to_string(loom::element_as_double(ref, c.first));
}

loom::AttrValue attr_value(const nlohmann::json& a) {
  const std::string type = a.at("type");
  const auto& v = a.at("value");
  if (type == "int") return v.get<int64_t>();
  if (type == "float") return v.get<double>();
  if (type == "bool") return v.get<bool>();
  if (type == "string") return v.get<std::string>();
  if (type == "ints") return v.get<std::vector<int64_t>>();
  if (type == "floats") return v.get<std::vector<double>>();
  throw std::runtime_error("unknown attribute type " + type);
}

// One case as a one-node graph: constant inputs become inline initializers.
loom::Graph case_graph(const std::filesystem::path& dir, const nlohmann::json& c, loom::TensorMap& inputs,
                       std::vector<std::pair<std::string, loom::Tensor>>& expected) {
  loom::Graph g;
  g.name = dir.filename().string();
  loom::Node node;
  node.name = "node";
  node.op = c.at("op");
  for (const auto& a : c.at("attrs")) node.attrs[a.at("name")] = attr_value(a);
  for (const auto& in : c.at("inputs")) {
    if (in.is_null() || in.value("name", "").empty()) {
      node.inputs.push_back("");
      continue;
    }
    const std::string name = in.at("name");
    loom::Tensor t = loom::read_npy(dir / in.at("file").get<std::string>());
    node.inputs.push_back(name);
    if (in.value("constant", false)) {
      loom::Initializer init;
      init.name = name;
      init.dtype = t.dtype();
      init.shape = t.shape();
      for (int64_t i = 0; i < t.numel(); ++i) init.values.push_back(loom::element_as_double(t, i));
      g.initializers.push_back(std::move(init));
    } else {
      g.inputs.push_back({name, {t.dtype(), loom::to_sym_shape(t.shape())}, {}});
      inputs.emplace(name, std::move(t));
    }
  }
  for (const auto& out : c.at("outputs")) {
    const std::string name = out.at("name");
    node.outputs.push_back(name);
    g.outputs.push_back({name, {}});
    expected.emplace_back(name, loom::read_npy(dir / out.at("file").get<std::string>()));
  }
  g.nodes.push_back(std::move(node));
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: loom_conformance FIXTURE_DIR [--plugin FILE]... [--backend NAME]...\n");
    return 2;
  }
  const std::filesystem::path fixtures = argv[1];
  loom::EngineOptions eo;
  std::vector<std::string> only;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--plugin") eo.plugin_files.emplace_back(argv[i + 1]);
    else if (flag == "--backend") only.emplace_back(argv[i + 1]);
    else {
      std::fprintf(stderr, "loom_conformance: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  loom::Engine engine(eo);
  std::vector<std::string> backends = only.empty() ? engine.backend_names() : only;
  if (backends.empty()) {
    std::fprintf(stderr, "loom_conformance: no backend loaded\n");
    return 1;
  }

  std::map<std::string, std::map<std::string, Outcome>> table;  // op -> backend -> outcome
  std::vector<std::string> failures;
  std::vector<std::filesystem::path> cases;
  for (const auto& e : std::filesystem::directory_iterator(fixtures))
    if (std::filesystem::exists(e.path() / "case.json")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());

  for (const auto& dir : cases) {
    nlohmann::json c = nlohmann::json::parse(std::ifstream(dir / "case.json"));
    const std::string op = c.at("op");
    const double atol = c.at("tolerance").at("atol"), rtol = c.at("tolerance").at("rtol");
    bool ran_somewhere = false;
    for (const auto& backend : backends) {
      Outcome& o = table[op][backend];
      loom::TensorMap inputs;
      std::vector<std::pair<std::string, loom::Tensor>> expected;
      try {
        loom::Graph g = case_graph(dir, c, inputs, expected);
        // As written, and after the graph passes (which must not change a result).
        std::string diff;
        bool unsupported = false, decomposed = false;
        for (loom::OptimizeLevel level : {loom::OptimizeLevel::none, loom::OptimizeLevel::all}) {
          loom::SessionOptions so;
          so.backends = {backend};
          so.threads = 1;
          so.optimize = level;
          std::optional<loom::Session> s;
          try {
            s.emplace(engine.compile(g, so));
          } catch (const loom::Error& e) {
            if (std::string(e.what()).find("no backend can run this node") == std::string::npos) throw;
            unsupported = true;
            break;
          }
          decomposed |= !s->optimization().decomposed.empty();
          loom::TensorMap out = s->run(inputs);
          for (const auto& [name, ref] : expected) {
            diff = difference(out.at(name), ref, atol, rtol);
            if (!diff.empty()) break;
          }
          if (!diff.empty()) {
            diff = "(--optimize " + std::string(loom::optimize_level_name(level)) + ") " + diff;
            break;
          }
        }
        if (unsupported) {
          ++o.unsupported;
        } else if (diff.empty()) {
          ++o.passed;
          o.decomposed += decomposed;
          ran_somewhere = true;
        } else {
          ++o.failed;
          failures.push_back(backend + " / " + dir.filename().string() + ": " + diff);
        }
      } catch (const std::exception& e) {
        ++o.failed;
        failures.push_back(backend + " / " + dir.filename().string() + ": " + e.what());
      }
    }
    if (!ran_somewhere && std::none_of(failures.begin(), failures.end(), [&](const std::string& f) {
          return f.find(" / " + dir.filename().string() + ":") != std::string::npos;
        }))
      failures.push_back(dir.filename().string() + ": no backend runs this case");
  }

  std::set<std::string> missing;
  for (const auto& schema : loom::ops::all_ops())
    if (!table.count(schema.name)) missing.insert(schema.name);

  std::printf("%-16s", "op");
  for (const auto& b : backends) std::printf("  %-14s", b.c_str());
  std::printf("\n");
  for (const auto& schema : loom::ops::all_ops()) {
    std::printf("%-16s", schema.name.c_str());
    for (const auto& b : backends) {
      char cell[64] = "no case";
      if (table.count(schema.name)) {
        const Outcome& o = table[schema.name][b];
        if (o.failed) std::snprintf(cell, sizeof cell, "FAIL %d/%d", o.failed, o.passed + o.failed + o.unsupported);
        else if (o.passed == 0) std::snprintf(cell, sizeof cell, "-");
        else std::snprintf(cell, sizeof cell, "ok%s %d/%d", o.decomposed ? "*" : "", o.passed, o.passed + o.unsupported);
      }
      std::printf("  %-14s", cell);
    }
    std::printf("\n");
  }
  std::printf("(* through the op's reference decomposition: the backend lacks the fused op)\n");
  for (const auto& f : failures) std::printf("FAILED %s\n", f.c_str());
  for (const auto& m : missing) std::printf("FAILED op '%s' has no conformance case\n", m.c_str());
  std::printf("%zu cases, %zu backends, %zu failures\n", cases.size(), backends.size(), failures.size() + missing.size());
  return failures.empty() && missing.empty() ? 0 : 1;
}
