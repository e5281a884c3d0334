// `loom export`: writes a graph, a model manifest or a checkpoint folder as one flat YAML graph
// (blocks expanded, processing section kept) that reads the same weights from its new folder.
#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/io.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace loom::cli {

namespace {

namespace fs = std::filesystem;

fs::path canonical_or_absolute(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p) : c;
}

// The files export must not write over: the input itself and every file the graph reads.
void refuse_overwrite(const fs::path& out, const std::string& input, const Graph& g) {
  const fs::path target = canonical_or_absolute(out);
  std::vector<fs::path> taken = graph_files(g);
  taken.emplace_back(input);
  std::error_code ec;
  if (fs::is_directory(input, ec)) taken.push_back(fs::path(input) / "config.json");
  for (const auto& f : taken)
    if (canonical_or_absolute(f) == target)
      throw UsageError("-o " + out.string() + ": refusing to overwrite " + f.string() + ", which the graph is read from");
  if (fs::is_directory(out, ec)) throw UsageError("-o " + out.string() + ": is a folder; give the graph file to write");
}

// Into the target's folder, made where missing; loom::write_file writes beside the target and
// renames, so that a failure never leaves half a graph behind.
void write_graph_file(const fs::path& out, const std::string& text) {
  const fs::path dir = out.parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) throw Error(out.string() + ": cannot create its folder " + dir.string() + ": " + ec.message());
  loom::write_file(out, {text});
}

}  // namespace

int cmd_export(const PluginOptions& p, const ExportArgs& a) {
  const fs::path out(a.output);
  if (out.empty() || out.filename().empty()) throw UsageError("-o: expected the path of the graph file to write");
  Engine engine = make_engine(p);
  Graph g = task_graph(engine, a.graph, a.task);
  // What is written must run: the graph, its weights and its processing files are checked first.
  engine.validate(g);
  refuse_overwrite(out, a.graph, g);

  // The graph passes of --optimize, on the validated graph (no decomposition: that depends on the
  // backends of a session, and the file must run on any).
  OptimizationReport report;
  g = engine.optimize(g, optimize_level(a.optimize), &report);

  const fs::path out_dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  rebase_graph_files(g, out_dir);
  // One comment line: control bytes, DEL and YAML 1.1's other line breaks (U+0085, U+2028,
  // U+2029) become '?'.
  std::string source;
  for (size_t i = 0; i < a.graph.size(); ++i) {
    const std::string_view rest = std::string_view(a.graph).substr(i);
    const auto c = static_cast<unsigned char>(a.graph[i]);
    if (rest.starts_with("\xC2\x85")) ++i;
    else if (rest.starts_with("\xE2\x80\xA8") || rest.starts_with("\xE2\x80\xA9")) i += 2;
    else if (c >= 0x20 && c != 0x7f) {
      source += a.graph[i];
      continue;
    }
    source += '?';
  }
  write_graph_file(out, "# Written by `loom export` from " + source + "\n" + write_graph_yaml(g));
  std::cout << a.graph << " -> " << out.string() << " (optimize " << a.optimize << ": " << report.nodes_before << " -> "
            << g.nodes.size() << " nodes, " << g.initializers.size()
            << " initializers" << (g.processing ? ", processing section" : "") << ")\n";
  return 0;
}

}  // namespace loom::cli
