// The session's plan cache on its own (runtime/plan_cache.hpp): least recently used eviction,
// plans made outside the lock, one make per key however many threads ask. Threads meet through
// explicit handshakes, never through sleeps; a timeout only turns a hang into a failure.
#include "runtime/plan_cache.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using Cache = loom::PlanCache<int, std::string>;
constexpr auto kHang = std::chrono::seconds(30);  // far longer than any of these steps takes

std::shared_ptr<std::string> value(int k) { return std::make_shared<std::string>("plan " + std::to_string(k)); }

// A make() that signals it has started and then waits until it is let go.
class Gate {
 public:
  void entered() {
    std::unique_lock<std::mutex> lock(m_);
    in_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool wait_entered() {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, kHang, [&] { return in_; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(m_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool in_ = false, open_ = false;
};

}  // namespace

TEST_CASE("plan cache: the least recently used plan goes first") {
  Cache cache(3);
  int makes = 0;
  auto get = [&](int k) { return cache.get(k, [&] { ++makes; return value(k); }); };
  get(1);
  get(2);
  get(3);
  CHECK(*get(1) == "plan 1");  // 1 is now the most recently used; 2 the least
  CHECK(makes == 3);
  get(4);                      // evicts 2
  CHECK(cache.keys() == std::vector<int>{4, 1, 3});
  get(5);                      // evicts 3
  CHECK(cache.keys() == std::vector<int>{5, 4, 1});
  get(2);                      // made again, evicts 1
  CHECK(cache.keys() == std::vector<int>{2, 5, 4});
  const auto c = cache.counts();
  CHECK(c.made == 6);
  CHECK(makes == 6);
  CHECK(c.evicted == 3);
  CHECK(c.cached == 3);
}

TEST_CASE("plan cache: an evicted plan stays alive while someone holds it") {
  Cache cache(1);
  auto held = cache.get(1, [] { return value(1); });
  std::weak_ptr<std::string> watch = held;
  cache.get(2, [] { return value(2); });
  CHECK(cache.counts().evicted == 1);
  REQUIRE(!watch.expired());
  CHECK(*held == "plan 1");
  held.reset();
  CHECK(watch.expired());
}

TEST_CASE("plan cache: making a new plan does not block a lookup of a cached one") {
  Cache cache(4);
  cache.get(1, [] { return value(1); });
  Gate gate;
  auto slow = std::async(std::launch::async, [&] { return cache.get(2, [&] { gate.entered(); return value(2); }); });
  REQUIRE(gate.wait_entered());  // plan 2 is being made now, and stays so until the gate opens
  auto cached = std::async(std::launch::async, [&] { return cache.get(1, [] { return value(-1); }); });
  const bool finished = cached.wait_for(kHang) == std::future_status::ready;
  gate.open();
  REQUIRE(finished);
  CHECK(*cached.get() == "plan 1");
  CHECK(*slow.get() == "plan 2");
  CHECK(cache.counts().made == 2);
}

TEST_CASE("plan cache: two threads asking for one new shape make it once") {
  Cache cache(4);
  Gate gate;
  std::atomic<int> makes{0};
  auto first = std::async(std::launch::async, [&] { return cache.get(7, [&] { ++makes; gate.entered(); return value(7); }); });
  REQUIRE(gate.wait_entered());
  auto second = std::async(std::launch::async, [&] { return cache.get(7, [&] { ++makes; return value(70); }); });
  // The second lookup finds plan 7 in the making and waits for it.
  const auto until = std::chrono::steady_clock::now() + kHang;
  while (cache.counts().waited == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  CHECK(cache.counts().waited == 1);
  gate.open();
  auto a = first.get(), b = second.get();
  CHECK(a == b);
  CHECK(*b == "plan 7");
  CHECK(makes == 1);
  CHECK(cache.counts().made == 1);
}

TEST_CASE("plan cache: a failed make leaves no entry and reaches every waiter") {
  Cache cache(2);
  Gate gate;
  auto first = std::async(std::launch::async, [&] {
    return cache.get(3, [&]() -> std::shared_ptr<std::string> { gate.entered(); throw std::runtime_error("prepare failed"); });
  });
  REQUIRE(gate.wait_entered());
  auto second = std::async(std::launch::async, [&] { return cache.get(3, [] { return value(30); }); });
  const auto until = std::chrono::steady_clock::now() + kHang;
  while (cache.counts().waited == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  gate.open();
  CHECK_THROWS_WITH(first.get(), "prepare failed");
  CHECK_THROWS_WITH(second.get(), "prepare failed");
  CHECK(cache.counts().cached == 0);
  CHECK(*cache.get(3, [] { return value(3); }) == "plan 3");  // the next lookup tries again
}
