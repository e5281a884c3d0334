#include "suite.hpp"

#include "graph/program.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>

namespace loom::conformance {

namespace {

// The node rewritten into its reference decomposition (core/src/passes/decompose.cpp).
Graph decomposed(const Graph& g) {
  std::vector<RewrittenNode> done;
  Graph out = passes::decompose(build_program(g), [](const Program&) { return [](int) { return std::optional<std::string>("conformance: the decomposed form"); }; }, done)->graph;
  if (done.empty()) throw Error("the op has no reference decomposition");
  return out;
}

// Outputs of the graph on one backend; nullopt when the backend does not run it.
std::optional<TensorMap> run_on(const Engine& engine, const Graph& g, const TensorMap& inputs, const std::string& backend) {
  SessionOptions so;
  so.backends = {backend};
  so.threads = 1;
  so.optimize = OptimizeLevel::none;
  std::optional<Session> s;
  try {
    s.emplace(engine.compile(g, so));
  } catch (const Error& e) {
    if (std::string(e.what()).find("no backend can run this node") != std::string::npos) return std::nullopt;
    throw;
  }
  return s->run(inputs);
}

std::string value_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// "" when every output is within the tolerance; the error so far is raised to the worst seen.
std::string compare_outputs(const OpCase& c, const TensorMap& out, const TensorMap& ref, double& worst) {
  for (const auto& [name, expected] : ref) {
    auto it = out.find(name);
    if (it == out.end()) return "output '" + name + "' is missing";
    const Comparison cmp = compare(it->second, expected, c.tolerance.atol, c.tolerance.rtol);
    if (!cmp.mismatch.empty()) return "output '" + name + "': " + cmp.mismatch;
    worst = std::max(worst, cmp.max_abs_error);
    if (!cmp.ok())
      return "output '" + name + "' element " + std::to_string(cmp.first) + ": " +
             value_str(element_as_double(it->second, cmp.first)) + ", expected " + value_str(element_as_double(expected, cmp.first)) +
             " (" + std::to_string(cmp.differing) + " elements beyond atol " + value_str(c.tolerance.atol) + ", rtol " +
             value_str(c.tolerance.rtol) + ")";
  }
  return "";
}

void record(Cell& cell, const OpCase& c, const std::string& failure, double error) {
  if (!failure.empty()) {
    if (cell.failed++ == 0) cell.failure = c.name + ": " + failure;
    return;
  }
  ++cell.passed;
  if (cell.worst_case.empty() || error > cell.worst_error) {
    cell.worst_error = error;
    cell.worst_case = c.name;
  }
}

}  // namespace

std::vector<std::string> registry_ops() {
  std::vector<std::string> names;
  for (const auto& schema : ops::all_ops()) names.push_back(schema.name);
  return names;
}

std::string Cell::status() const {
  if (failed) return "fail";
  if (passed) return "pass";
  if (unsupported) return "unsupported";
  return "no case";
}

int SuiteReport::failures() const {
  int n = 0;
  for (const OpRow& row : ops) {
    if (row.cases == 0) ++n;
    for (const auto& [backend, cell] : row.backends) n += cell.failed ? 1 : 0;
  }
  return n;
}

SuiteReport run_suite(const Engine& engine, const std::vector<OpCase>& cases, const std::vector<std::string>& backends,
                      const std::vector<std::string>& ops) {
  SuiteReport report;
  report.backends = backends;
  std::map<std::string, size_t> row_of;
  for (const auto& schema : ops::all_ops()) {
    if (!ops.empty() && std::find(ops.begin(), ops.end(), schema.name) == ops.end()) continue;
    row_of[schema.name] = report.ops.size();
    OpRow row{schema.name, 0, {}};
    for (const auto& b : backends) row.backends[b];
    report.ops.push_back(std::move(row));
  }
  for (const OpCase& c : cases) {
    auto at = row_of.find(c.op);
    if (at == row_of.end()) continue;
    OpRow& row = report.ops[at->second];
    ++row.cases;
    std::optional<TensorMap> expected;
    std::string reference_error;
    try {
      expected = run_on(engine, c.graph, c.inputs, kReferenceBackend);
      if (!expected) reference_error = "the reference backend does not run it";
    } catch (const std::exception& e) {
      reference_error = std::string("the reference backend failed: ") + e.what();
    }
    for (const auto& backend : backends) {
      Cell& cell = row.backends[backend];
      if (!reference_error.empty()) {
        record(cell, c, reference_error, 0);
        continue;
      }
      if (backend == kReferenceBackend && !c.decompose) {
        record(cell, c, "", 0);  // the oracle as written is the expected result itself
        continue;
      }
      double error = 0;
      std::string failure;
      try {
        std::optional<TensorMap> out = run_on(engine, c.decompose ? decomposed(c.graph) : c.graph, c.inputs, backend);
        if (!out) {
          ++cell.unsupported;
          continue;
        }
        failure = compare_outputs(c, *out, *expected, error);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      record(cell, c, failure, error);
    }
  }
  return report;
}

}  // namespace loom::conformance
