// Runs the generated cases on backends and compares every result with the reference backend's
// (docs/plugins.md, "Conformance"): the op x backend table of `loom conformance`.
#pragma once

#include "op_case.hpp"

#include <loom/engine.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace loom::conformance {

inline constexpr const char* kReferenceBackend = "reference";

// One op on one backend.
struct Cell {
  int passed = 0, failed = 0, unsupported = 0;
  double worst_error = 0;    // the largest |out - ref| over the cases that ran
  std::string worst_case;    // the case that gave it
  std::string failure;       // the first failing case and what differed
  std::string status() const;  // "pass", "fail", "unsupported" or "no case"
};

struct OpRow {
  std::string op;
  int cases = 0;
  std::map<std::string, Cell> backends;
};

struct SuiteReport {
  std::vector<std::string> backends;
  std::vector<OpRow> ops;  // the registry's order
  int failures() const;    // failing cells, and ops without a case
};

// Runs `cases` (those of `ops`; every op when empty) on `backends`, each against the reference
// backend, which must be loaded. Never throws for a case: a case that errors is a failure.
SuiteReport run_suite(const Engine& engine, const std::vector<OpCase>& cases, const std::vector<std::string>& backends,
                      const std::vector<std::string>& ops);

// The names of the registry's ops, in its order.
std::vector<std::string> registry_ops();

void print_table(const SuiteReport& report, std::FILE* out);
nlohmann::json report_json(const SuiteReport& report);

}  // namespace loom::conformance
