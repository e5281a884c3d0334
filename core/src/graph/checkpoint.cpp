// What a graph expanded from a checkpoint leaves unread: the checkpoint's tensors that no
// initializer names (`loom inspect` lists them).
#include <loom/graph.hpp>

#include <map>
#include <set>
#include <utility>

namespace loom {

namespace {

namespace fs = std::filesystem;

// One spelling per file, however the graph and the checkpoint name it (./x, a/../x, a link).
class CanonicalNames {
 public:
  const std::string& of(const fs::path& p) {
    auto [it, fresh] = names_.emplace(p.string(), std::string());
    if (fresh) {
      std::error_code ec;
      fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
      it->second = (ec ? p.lexically_normal() : c).string();
    }
    return it->second;
  }

 private:
  std::map<std::string, std::string> names_;
};

fs::path resolve(const fs::path& dir, const std::string& file) {
  const fs::path p(file);
  return p.is_absolute() ? p : dir / p;
}

}  // namespace

std::vector<CheckpointTensor> unused_checkpoint_tensors(const Graph& g) {
  std::vector<CheckpointTensor> unused;
  if (!g.checkpoint) return unused;
  CanonicalNames names;
  std::set<std::pair<std::string, std::string>> read;  // (file, tensor) some initializer reads
  for (const auto& init : g.initializers)
    if (!init.file.empty()) read.emplace(names.of(resolve(g.base_dir, init.file)), init.tensor.empty() ? init.name : init.tensor);
  // An initializer may read a tensor of a sharded checkpoint through the index, as its file.
  const std::string& index = names.of(resolve(g.checkpoint->dir, g.checkpoint->weights_file));
  for (const auto& t : g.checkpoint->tensors)
    if (!read.count({names.of(resolve(g.checkpoint->dir, t.file)), t.name}) && !read.count({index, t.name})) unused.push_back(t);
  return unused;
}

}  // namespace loom
