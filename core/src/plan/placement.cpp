#include "plan/placement.hpp"

#include "ops/registry.hpp"
#include "plugins/graph_view.hpp"

#include <loom/error.hpp>

#include <algorithm>

namespace loom::plan {

std::unique_ptr<plugins::GraphViewStorage> whole_program_view(const Program& p) {
  std::vector<int> all(p.nodes.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  std::vector<int32_t> kinds(p.values.size(), LOOM_VALUE_ACTIVATION);
  for (size_t v = 0; v < p.values.size(); ++v) {
    switch (p.values[v].kind) {
      case ValueKind::Input: kinds[v] = LOOM_VALUE_INPUT; break;
      case ValueKind::Constant: kinds[v] = LOOM_VALUE_CONSTANT; break;
      case ValueKind::State: kinds[v] = LOOM_VALUE_STATE; break;
      case ValueKind::Activation: kinds[v] = p.values[v].graph_output ? LOOM_VALUE_OUTPUT : LOOM_VALUE_ACTIVATION; break;
    }
  }
  return std::make_unique<plugins::GraphViewStorage>(p, all, kinds);
}

bool supports(const plugins::BackendInstance& backend, const plugins::GraphViewStorage& view, size_t node, std::string* why) {
  const loom_backend& api = backend.api();
  loom_status* status = nullptr;
  if (api.supports_node(api.self, view.view(), node, &status)) {
    plugins::take_status(status);
    return true;
  }
  std::string reason = plugins::take_status(status);
  if (why) *why = reason.empty() ? "not supported" : reason;
  return false;
}

std::vector<int> placement_order(const Node& node, const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends) {
  std::vector<int> order;
  for (size_t b = 0; b < backends.size(); ++b)
    if (!node.backend.empty() && backends[b]->name() == node.backend) order.push_back(static_cast<int>(b));
  for (size_t b = 0; b < backends.size(); ++b)
    if (node.backend.empty() || backends[b]->name() != node.backend) order.push_back(static_cast<int>(b));
  return order;
}

std::optional<std::string> newer_feature(const Program& p, size_t n, uint32_t opset) {
  std::vector<DType> dtypes;
  for (int v : p.nodes[n].inputs)
    if (v >= 0) dtypes.push_back(p.values[static_cast<size_t>(v)].info.dtype);
  return ops::newer_feature(p.nodes[n].node, dtypes, opset);
}

const plugins::BackendInstance* first_candidate(const Program& p, size_t n,
                                                const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends) {
  for (int b : placement_order(p.nodes[n].node, backends))
    if (!newer_feature(p, n, backends[b]->opset_version()) && !backends[b]->lost()) return backends[b].get();
  return nullptr;
}

bool first_choices_run_all(const Program& program, const Program& decomposed,
                           const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                           const std::vector<std::string>& later) {
  auto hints_later = [&](const Program& p) {
    return std::any_of(p.nodes.begin(), p.nodes.end(), [&](const auto& n) {
      return std::find(later.begin(), later.end(), n.node.backend) != later.end();
    });
  };
  if (hints_later(program) || hints_later(decomposed)) return false;
  // A node without a candidate among `backends` is decomposed over them, where the whole list
  // could run it fused on a later one.
  for (size_t n = 0; n < program.nodes.size(); ++n)
    if (!first_candidate(program, n, backends)) return false;
  const auto whole = whole_program_view(decomposed);
  for (size_t n = 0; n < decomposed.nodes.size(); ++n) {
    const plugins::BackendInstance* first = first_candidate(decomposed, n, backends);
    if (!first || !supports(*first, *whole, n, nullptr)) return false;
  }
  return true;
}

Placement place(const Program& p, const std::vector<std::shared_ptr<plugins::BackendInstance>>& backends,
                bool node_partitions) {
  const auto whole = whole_program_view(p);

  Placement out;
  out.node_backend.assign(p.nodes.size(), -1);
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    const Node& node = p.nodes[n].node;
    const std::vector<int> order = placement_order(node, backends);
    const bool hinted = !order.empty() && !node.backend.empty() && backends[order.front()]->name() == node.backend;

    NodePlacement np{node.name, node.op, "", "", {}};
    if (!node.backend.empty() && !hinted)
      np.declined.push_back(node.backend + ": hinted, but not among this session's backends");
    for (int b : order) {
      if (auto newer = newer_feature(p, n, backends[b]->opset_version())) {
        np.declined.push_back(backends[b]->name() + ": " + *newer);
        continue;
      }
      if (backends[b]->lost()) {
        np.declined.push_back(backends[b]->name() + ": its device was lost");
        continue;
      }
      std::string why;
      if (supports(*backends[b], *whole, n, &why)) {
        out.node_backend[n] = b;
        np.backend = backends[b]->name();
        if (hinted && b == order.front()) np.reason = "backend hint";
        else if (np.declined.empty()) np.reason = "first in priority order";
        else np.reason = "fallback";
        break;
      }
      np.declined.push_back(backends[b]->name() + ": " + why);
    }
    if (out.node_backend[n] < 0) {
      std::string all_reasons;
      for (const auto& d : np.declined) all_reasons += "\n  " + d;
      if (backends.empty()) all_reasons = " (no backend is loaded: see `loom plugins`)";
      throw Error(ops::node_prefix(node) + "no backend can run this node:" + all_reasons);
    }
    out.report.nodes.push_back(std::move(np));
  }

  for (size_t n = 0; n < p.nodes.size(); ++n) {
    if (out.partitions.empty() || out.partitions.back().backend != out.node_backend[n] || node_partitions)
      out.partitions.push_back({out.node_backend[n], {}});
    out.partitions.back().nodes.push_back(static_cast<int>(n));
  }
  for (const auto& part : out.partitions) {
    PartitionInfo info{backends[part.backend]->name(), {}};
    for (int n : part.nodes) info.nodes.push_back(p.nodes[n].node.name);
    out.report.partitions.push_back(std::move(info));
  }
  return out;
}

}  // namespace loom::plan
