// Session options (key/value strings passed to the backends and validated there), the op-set
// version a backend was built for, and what a session does when a backend loses its device.
#include "ops/registry.hpp"
#include "session_graphs.hpp"

#include <loom/engine.hpp>
#include <loom/error.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

namespace {

using namespace loom;
namespace fs = std::filesystem;

constexpr const char* kAddRelu = R"(
loom: 1
name: add-relu
inputs:
  - {name: x, dtype: f32, shape: [2, 3]}
outputs: [y]
initializers:
  - {name: c, dtype: f32, shape: [3], values: [1, -2, 3]}
nodes:
  - {op: add, inputs: [x, c], outputs: [s]}
  - {op: relu, inputs: [s], outputs: [y]}
)";

Session with_options(const Engine& e, std::vector<std::string> backends, std::map<std::string, std::string> options) {
  SessionOptions so;
  so.backends = std::move(backends);
  so.threads = 1;
  so.options = std::move(options);
  return e.compile(parse_graph_yaml(kAddRelu, "add-relu.yaml"), so);
}

Tensor input() {
  Tensor t(DType::f32, {2, 3});
  for (int i = 0; i < 6; ++i) t.data_as<float>()[i] = static_cast<float>(i) - 2.5f;
  return t;
}

}  // namespace

TEST_CASE("options: an unknown key or an impossible value is refused, naming it and the backend") {
  Engine e = test::onednn_engine();
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"colour", "red"}}),
                       doctest::Contains("option 'colour' is unknown to the onednn backend"), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"precision", "f64"}}),
                       doctest::Contains("option precision=f64: the value must be one of f32, bf16"), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"precision", "f16"}}),
                       doctest::Contains("option precision=f16: the onednn backend computes in f32 or bf16, not f16"), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"precision", "bf16"}, {"onednn.gemm", "onednn"}}),
                       doctest::Contains("bf16 weights run on the packed or blocked GEMM only"), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"vulkan.device", "1"}}),
                       doctest::Contains("option 'vulkan.device' is for backend 'vulkan', which this session does not use"), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"fallback", "maybe"}}),
                       doctest::Contains("option fallback=maybe: the value must be on or off"), Error);
  // The creation error names the plugin and its file.
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"onednn.colour", "red"}}),
                       doctest::Contains("backend 'onednn' ("), Error);
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn", "onednn"}, {}), doctest::Contains("backend 'onednn' is named twice"), Error);
  Session ok = with_options(e, {"onednn"}, {{"precision", "f32"}, {"onednn.precision", "f32"}});
  CHECK(ok.run({{"x", input()}}).at("y").shape() == Shape{2, 3});
}

TEST_CASE("options: a node that sets an attribute newer than a backend's op set is never placed there") {
  Node n;
  n.name = "pos";
  n.op = "positions";
  n.attrs = {{"axis", int64_t(1)}, {"per_row", true}};
  auto why = ops::newer_attribute(n, 1);
  REQUIRE(why);
  CHECK(why->find("attribute 'per_row' of positions is from op set 2; the backend was built for op set 1") != std::string::npos);
  CHECK_FALSE(ops::newer_attribute(n, ops::kOpsetVersion));
  n.attrs["per_row"] = false;  // the default: an old backend computes exactly this
  CHECK_FALSE(ops::newer_attribute(n, 1));
}

TEST_CASE("options: attention over k and v in another dtype than q is op set 8's") {
  Node n;
  n.name = "att";
  n.op = "attention";
  n.attrs = {{"causal", true}};
  const std::vector<DType> mixed{DType::f32, DType::bf16, DType::bf16, DType::i64}, same{DType::f32, DType::f32, DType::f32};
  auto why = ops::newer_feature(n, mixed, 7);
  REQUIRE(why);
  CHECK(why->find("input dtypes (f32, bf16, bf16, i64) of attention are from op set 8; the backend was built for op set 7") !=
        std::string::npos);
  CHECK_FALSE(ops::newer_feature(n, mixed, 8));
  CHECK_FALSE(ops::newer_feature(n, same, 6));
  n.attrs["layout"] = std::string("bshd");  // an attribute newer still than the op set is named first
  CHECK(ops::newer_feature(n, same, 6)->find("attribute 'layout'") != std::string::npos);
}

TEST_CASE("device loss: the run fails saying so; with fallback=on later runs succeed on the remaining backends") {
  Engine e = test::device_engine();
  for (const auto& r : e.plugins()) REQUIRE_MESSAGE(r.loaded, r.error);
  Session reference = with_options(e, {"onednn"}, {});
  const Tensor expected = reference.run({{"x", input()}}).at("y");

  Session s = with_options(e, {"external", "onednn"}, {{"external.lose_device_after_runs", "1"}, {"fallback", "on"}});
  CHECK(s.placement().nodes.front().backend == "external");
  CHECK(compare(s.run({{"x", input()}}).at("y"), expected, 0, 0).ok());
  CHECK_THROWS_WITH_AS(s.run({{"x", input()}}), doctest::Contains("external: the device was lost"), DeviceLostError);
  for (int i = 0; i < 2; ++i) CHECK(compare(s.run({{"x", input()}}).at("y"), expected, 0, 0).ok());
  CHECK(s.placement().nodes.front().backend == "onednn");

  Session strict = with_options(e, {"external", "onednn"}, {{"external.lose_device_after_runs", "0"}});
  CHECK_THROWS_WITH_AS(strict.run({{"x", input()}}), doctest::Contains("fallback=on re-places the graph"), DeviceLostError);
  CHECK_THROWS_WITH_AS(strict.run({{"x", input()}}), doctest::Contains("lost its device in an earlier run"), DeviceLostError);
  CHECK_THROWS_WITH_AS(with_options(e, {"external"}, {{"external.lose_device_after_runs", "soon"}}),
                       doctest::Contains("option lose_device_after_runs=soon"), Error);
}

TEST_CASE("profile=on: every node is a partition of its own, timed per run through RunOptions::timings") {
  Engine e = test::onednn_engine();
  CHECK_THROWS_WITH_AS(with_options(e, {"onednn"}, {{"profile", "yes"}}),
                       doctest::Contains("option profile=yes: the value must be on or off"), Error);
  Session plain = with_options(e, {"onednn"}, {});
  Session profiled = with_options(e, {"onednn"}, {{"profile", "on"}});
  REQUIRE(plain.placement().partitions.size() == 1);
  REQUIRE(profiled.placement().partitions.size() == 2);
  CHECK(profiled.placement().partitions[1].nodes == std::vector<std::string>{profiled.graph().nodes[1].name});

  std::vector<PartitionTiming> timings;
  RunOptions record;
  record.timings = &timings;
  const Tensor want = plain.run({{"x", input()}}).at("y");
  const Tensor got = profiled.run({{"x", input()}}, record).at("y");
  for (int i = 0; i < 6; ++i) CHECK(got.data_as<float>()[i] == want.data_as<float>()[i]);
  REQUIRE(timings.size() == 2);
  CHECK(timings[0].partition == 0);
  CHECK(timings[1].partition == 1);
  for (const auto& t : timings) CHECK(t.end >= t.start);
  CHECK(timings[1].start >= timings[0].end);
  // Without the option a run records its one partition; without timings nothing is recorded.
  timings.clear();
  (void)plain.run({{"x", input()}}, record);
  CHECK(timings.size() == 1);
  timings.clear();
  (void)profiled.run({{"x", input()}});
  CHECK(timings.empty());
  // oneDNN times no device: host times only.
  (void)profiled.run({{"x", input()}}, record);
  for (const auto& t : timings) CHECK(t.device_ns == -1);
}

TEST_CASE("profile=on: a device backend that times its device (LOOM_EXTENSION_DEVICE_TIME) adds that time to each partition's") {
  Engine e = test::device_engine();
  Session profiled = with_options(e, {"external"}, {{"profile", "on"}});
  REQUIRE(profiled.placement().partitions.size() == 2);
  std::vector<PartitionTiming> timings;
  RunOptions record;
  record.timings = &timings;
  const Tensor got = profiled.run({{"x", input()}}, record).at("y");
  const Tensor want = with_options(e, {"external"}, {}).run({{"x", input()}}).at("y");
  for (int i = 0; i < 6; ++i) CHECK(got.data_as<float>()[i] == want.data_as<float>()[i]);
  REQUIRE(timings.size() == 2);
  for (const auto& t : timings) {
    CHECK(t.device_ns >= 0);
    // The device's work lies inside the host's span of the partition.
    CHECK(std::chrono::nanoseconds(t.device_ns) <= t.end - t.start);
  }
  // Without profile=on a run that asks for timings gets its one partition's device time too.
  timings.clear();
  Session plain = with_options(e, {"external"}, {});
  (void)plain.run({{"x", input()}}, record);
  REQUIRE(timings.size() == 1);
  CHECK(timings[0].device_ns >= 0);
}
