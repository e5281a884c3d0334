// `loom conformance [--backend B] [--op OP] [--json]`: the generated op cases (tools/conformance)
// on every loaded backend, each result compared with the reference backend's. Exit status 1 on
// any failing cell or op without a case, 2 for an unknown op or backend.
#include "commands.hpp"

#include "suite.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace loom::cli {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError("--backend '" + text + "' has an empty name");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int cmd_conformance(const PluginOptions& p, const ConformanceArgs& a) {
  const Engine engine = make_engine(p);
  const std::vector<std::string> loaded = engine.backend_names();

  std::vector<std::string> ops;
  if (!a.op.empty()) {
    const std::vector<std::string> known = conformance::registry_ops();
    if (std::find(known.begin(), known.end(), a.op) == known.end())
      throw UsageError("--op: no op '" + printable(a.op) + "' in the registry (ops: " + join(known) + ")");
    ops.push_back(a.op);
  }
  std::vector<std::string> backends = a.backends.empty() ? loaded : split_list(a.backends);
  for (const auto& b : backends)
    if (std::find(loaded.begin(), loaded.end(), b) == loaded.end())
      throw UsageError("--backend: no backend '" + printable(b) + "' is loaded (loaded: " +
                       (loaded.empty() ? std::string("none; see `loom plugins`") : join(loaded)) + ")");
  if (std::find(loaded.begin(), loaded.end(), conformance::kReferenceBackend) == loaded.end())
    throw std::runtime_error(std::string("the ") + conformance::kReferenceBackend +
                             " backend, the oracle of every case, is not loaded (see `loom plugins`)");

  const conformance::SuiteReport report = conformance::run_suite(engine, conformance::all_cases(), backends, ops);
  if (a.json) std::cout << conformance::report_json(report).dump(2) << "\n";
  else conformance::print_table(report, stdout);
  return report.failures() ? 1 : 0;
}

}  // namespace loom::cli
