// How the oneDNN backend's kernels share a call's work among their threads (backends/onednn/
// threads.hpp): one range per thread taken from its front, the others' backs taken once it is
// done, every item handed out exactly once.
#ifdef LOOM_TEST_ONEDNN
#include "../../backends/onednn/threads.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

using loom::onednn::ClaimCursor;
using loom::onednn::Claims;

namespace {

std::vector<std::pair<int64_t, int64_t>> drain(Claims& claims, int member) {
  std::vector<std::pair<int64_t, int64_t>> chunks;
  int64_t begin = 0, end = 0;
  while (claims.next(member, begin, end)) chunks.emplace_back(begin, end);
  return chunks;
}

}  // namespace

TEST_CASE("claims: a thread takes its own range from the front, then the others' from the back") {
  SUBCASE("one thread: the whole range, a grain at a time") {
    Claims claims(10, 1, 3);
    CHECK(drain(claims, 0) == std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 6}, {6, 9}, {9, 10}});
  }
  SUBCASE("two threads, one of which never comes: the other does its work too, from the back") {
    Claims claims(10, 2, 2);
    CHECK(drain(claims, 0) == std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 4}, {4, 5}, {8, 10}, {6, 8}, {5, 6}});
    CHECK(drain(claims, 1).empty());
  }
  SUBCASE("a range taken from both ends meets in the middle") {
    Claims claims(7, 2, 1);
    int64_t b = 0, e = 0;
    REQUIRE(claims.next(1, b, e));  // member 1 starts its range [3, 7)
    CHECK(std::pair(b, e) == std::pair<int64_t, int64_t>(3, 4));
    CHECK(drain(claims, 0) == std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 2}, {2, 3}, {6, 7}, {5, 6}, {4, 5}});
    CHECK_FALSE(claims.next(1, b, e));
  }
  SUBCASE("no items, and more threads than items") {
    Claims none(0, 4, 2);
    CHECK(drain(none, 3).empty());
    Claims few(3, 8, 1);
    CHECK(drain(few, 7).size() == 3);
  }
  SUBCASE("more threads than ranges share them") {
    Claims claims(1000, 200, 4);
    int64_t total = 0;
    for (int member = 0; member < 200; ++member)
      for (auto [b, e] : drain(claims, member)) total += e - b;
    CHECK(total == 1000);
  }
}

TEST_CASE("claims: threads racing for the items get each exactly once") {
  for (int64_t grain : {1, 3, 16}) {
    constexpr int64_t kCount = 20000;
    constexpr int kThreads = 4;
    Claims claims(kCount, kThreads, grain);
    std::vector<std::atomic<int>> taken(kCount);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        int64_t b = 0, e = 0;
        while (claims.next(t, b, e))
          for (int64_t i = b; i < e; ++i) taken[i].fetch_add(1, std::memory_order_relaxed);
      });
    for (auto& t : threads) t.join();
    int64_t wrong = 0;
    for (const auto& n : taken) wrong += n.load() != 1;
    CHECK_MESSAGE(wrong == 0, "grain " << grain);
  }
}

TEST_CASE("claim cursor: walks its items in order and names the next one before it comes") {
  Claims claims(9, 2, 2);  // member 0: [0, 4), then member 1's [4, 9) from the back
  std::vector<int64_t> items, upcoming;
  for (ClaimCursor cursor(claims, 0); cursor.valid(); cursor.advance()) {
    items.push_back(cursor.item());
    upcoming.push_back(cursor.upcoming());
  }
  CHECK(items == std::vector<int64_t>{0, 1, 2, 3, 7, 8, 5, 6, 4});
  CHECK(upcoming == std::vector<int64_t>{1, 2, 3, 7, 8, 5, 6, 4, -1});
  ClaimCursor empty(claims, 1);
  CHECK_FALSE(empty.valid());
}
#endif
