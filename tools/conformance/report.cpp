// The op x backend table, as text and as JSON.
#include "suite.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace loom::conformance {

namespace {

std::string cell_text(const Cell& c) {
  char buf[64];
  const std::string s = c.status();
  if (s == "pass") std::snprintf(buf, sizeof buf, "pass %.1e", c.worst_error);
  else if (s == "fail") std::snprintf(buf, sizeof buf, "FAIL %d/%d", c.failed, c.passed + c.failed + c.unsupported);
  else return s == "unsupported" ? "unsupported" : "no case";
  return buf;
}

}  // namespace


void print_table(const SuiteReport& report, std::FILE* out) {
  std::fprintf(out, "%-16s %6s", "op", "cases");
  for (const auto& b : report.backends) std::fprintf(out, "  %-16s", b.c_str());
  std::fprintf(out, "\n");
  for (const OpRow& row : report.ops) {
    std::fprintf(out, "%-16s %6d", row.op.c_str(), row.cases);
    for (const auto& b : report.backends) std::fprintf(out, "  %-16s", row.cases ? cell_text(row.backends.at(b)).c_str() : "no case");
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "(pass: the worst |out - reference| of the op's cases; unsupported: the backend runs none of them)\n");
  for (const OpRow& row : report.ops) {
    if (row.cases == 0) std::fprintf(out, "FAILED %s: no conformance case\n", row.op.c_str());
    for (const auto& b : report.backends) {
      const Cell& c = row.backends.at(b);
      if (c.failed) std::fprintf(out, "FAILED %s on %s: %s\n", row.op.c_str(), b.c_str(), c.failure.c_str());
    }
  }
  std::fprintf(out, "%zu ops, %zu backends, %d failures\n", report.ops.size(), report.backends.size(), report.failures());
}

nlohmann::json report_json(const SuiteReport& report) {
  nlohmann::json ops = nlohmann::json::array();
  for (const OpRow& row : report.ops) {
    nlohmann::json cells = nlohmann::json::object();
    for (const auto& b : report.backends) {
      const Cell& c = row.backends.at(b);
      nlohmann::json cell = {{"status", row.cases ? c.status() : "no case"},
                             {"passed", c.passed},
                             {"failed", c.failed},
                             {"unsupported", c.unsupported}};
      if (c.passed) {
        cell["worst_error"] = c.worst_error;
        cell["worst_case"] = c.worst_case;
      }
      if (c.failed) cell["failure"] = c.failure;
      cells[b] = std::move(cell);
    }
    ops.push_back({{"op", row.op}, {"cases", row.cases}, {"backends", std::move(cells)}});
  }
  return {{"reference", kReferenceBackend},
          {"backends", report.backends},
          {"ops", std::move(ops)},
          {"failures", report.failures()},
          {"ok", report.failures() == 0}};
}

}  // namespace loom::conformance
