#include "bench.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace loom::cli::bench {

void write_trace(std::ostream& os, const Session& s, const std::vector<PartitionTiming>& timings, const std::string& model,
                 const std::string& what) {
  const PlacementReport& placement = s.placement();
  std::map<std::string, std::string> op_of;
  for (const auto& n : placement.nodes) op_of[n.node] = n.op;
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "loom bench " + model}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1}, {"args", {{"name", what}}}});
  const auto origin = timings.empty() ? std::chrono::steady_clock::time_point{} : timings.front().start;
  auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count(); };
  size_t device_timed = 0;
  for (const PartitionTiming& t : timings) {
    if (t.partition >= placement.partitions.size()) continue;
    const PartitionInfo& part = placement.partitions[t.partition];
    std::string name, ops;
    for (const auto& node : part.nodes) {
      name += (name.empty() ? "" : "+") + node;
      const std::string& op = op_of[node];
      if (ops.find(op) == std::string::npos) ops += (ops.empty() ? "" : ",") + op;
    }
    nlohmann::json args{{"op", ops}, {"backend", part.backend}, {"partition", t.partition}, {"nodes", part.nodes.size()}};
    // A device backend's own time for the work (GPU timestamps), inside the host's span, which
    // adds the submission, the wait and the copies.
    if (t.device_ns >= 0) {
      args["device_us"] = static_cast<double>(t.device_ns) / 1000.0;
      ++device_timed;
    }
    events.push_back({{"name", name}, {"cat", ops}, {"ph", "X"}, {"pid", 1}, {"tid", 1},
                      {"ts", us(t.start - origin)}, {"dur", us(t.end - t.start)}, {"args", std::move(args)}});
  }
  nlohmann::json doc{{"traceEvents", events}, {"displayTimeUnit", "ms"},
                     {"otherData", {{"model", model}, {"run", what}, {"events", timings.size()}, {"device_timed_events", device_timed}}}};
  os << doc.dump() << "\n";
}

}  // namespace loom::cli::bench
