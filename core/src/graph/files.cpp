// The files a graph names: weights of its initializers and the files of its processing section
// (tokenizer vocabularies, colour clusters). They resolve against Graph::base_dir; rebasing them
// lets a graph be written into another folder and still find them (`loom export`).
#include "graph/processing.hpp"

#include <loom/error.hpp>
#include <loom/graph.hpp>


namespace loom {

namespace {

// Calls `fn(key, file)` for every file name of the graph; `key` says where it is written.
template <class G, class Fn>
void for_each_file(G& g, Fn fn) {
  for (auto& init : g.initializers)
    if (!init.file.empty()) fn("initializer '" + init.name + "'", init.file);
  if (!g.processing) return;
  if (auto& t = g.processing->tokenizer) {
    if (!t->files.vocab.empty()) fn("processing.tokenizer.files.vocab", t->files.vocab);
    if (!t->files.merges.empty()) fn("processing.tokenizer.files.merges", t->files.merges);
    if (!t->files.tokenizer.empty()) fn("processing.tokenizer.files.tokenizer", t->files.tokenizer);
  }
  if (auto& image = g.processing->image)
    if (!image->clusters_file.empty()) fn("processing.image.clusters_file", image->clusters_file);
}

std::filesystem::path resolve(const Graph& g, const std::string& file) {
  std::filesystem::path p(file);
  return p.is_absolute() ? p : g.base_dir / p;
}

}  // namespace

std::vector<std::filesystem::path> graph_files(const Graph& g) {
  std::vector<std::filesystem::path> out;
  for_each_file(g, [&](const std::string&, const std::string& file) { out.push_back(resolve(g, file)); });
  return out;
}

void rebase_graph_files(Graph& g, const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  // Both sides canonical (symbolic links resolved), so that `..` steps out of the real folder,
  // as the kernel resolves it.
  const fs::path target_dir = fs::weakly_canonical(fs::absolute(dir));
  const fs::path base_dir = g.base_dir;
  for_each_file(g, [&](const std::string&, std::string& file) {
    if (fs::path(file).is_absolute()) return;
    const fs::path target = fs::weakly_canonical(fs::absolute(base_dir / file));
    const fs::path rel = target.lexically_relative(target_dir);  // empty when none exists
    file = (rel.empty() ? target : rel).generic_string();
  });
  g.base_dir = dir;
}

void check_processing_files(const Graph& g) {
  std::string where = g.path.empty() ? "" : g.path.string() + ": ";
  for_each_file(g, [&](const std::string& key, const std::string& file) {
    if (key.rfind("processing.", 0) != 0) return;  // weights are checked when they are opened
    const std::filesystem::path p = resolve(g, file);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
      throw Error(where + key + ": " + file + ": " + (std::filesystem::exists(p, ec) ? "not a regular file" : "no such file") +
                  " (looked for " + p.string() + ")");
  });
}

}  // namespace loom
