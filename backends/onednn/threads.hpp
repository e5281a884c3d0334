// How the oneDNN backend keeps a session to its thread count (docs/architecture.md, "Threads").
//
// oneDNN (OpenMP build) fixes a primitive's thread count when the primitive is created, from
// omp_get_max_threads() of the creating thread, and runs it with `omp parallel
// num_threads(that count)`, which overrides whatever the running thread's ICV says. So the count
// must be in force when plans are prepared, not only when they run: a plan prepared under the
// process default used every core however low the session's count was. ThreadScope sets it (on
// the calling thread only, as OpenMP's ICV is per thread) and puts the caller's value back.
//
// A plan's primitives then use exactly the session's N threads, and cannot run on fewer, so
// concurrent runs of one session take turns: ThreadBudget lends the N threads to one partition
// run at a time. A run waiting for its turn still answers the host's stop poll.
#pragma once

#include <loom/abi.h>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace loom::onednn {

// A kernel's thread count: `threads` (NodeInfo::threads), or OpenMP's default where that is 0.
inline int resolved_threads(int threads) { return std::max(1, threads > 0 ? threads : omp_get_max_threads()); }

// Work items [0, count) for a team of threads: one contiguous range per thread, as a static split,
// which each thread takes from its front `grain` items at a time; a thread whose range is done
// then takes grains from the back of the others'. Where the threads keep pace this is the static
// split (neighbouring items on one thread, a weight streamed in order); where one runs slower (a
// vCPU whose sibling serves another guest, another process on its core) the others take its
// remaining work rather than wait for it. Up to kRanges ranges; a larger team shares them. Each
// range's front and back share one 64-bit word, so `count` must stay below 2^32 (the callers'
// items are weight panels and attention heads).
class Claims {
 public:
  Claims(int64_t count, int teams, int64_t grain = 1)
      : ranges_(std::clamp(teams, 1, kRanges)), grain_(std::max<int64_t>(1, grain)) {
    for (int r = 0; r < ranges_; ++r)
      range_[r].bounds.store(pack(count * r / ranges_, count * (r + 1) / ranges_), std::memory_order_relaxed);
  }
  // Member `member`'s next chunk [begin, end): its own range's front, else another's back;
  // false once every item is handed out.
  bool next(int member, int64_t& begin, int64_t& end) {
    const int own = member % ranges_;
    if (take(own, true, begin, end)) return true;
    for (int r = 1; r < ranges_; ++r)
      if (take((own + r) % ranges_, false, begin, end)) return true;
    return false;
  }

 private:
  static constexpr int kRanges = 16;
  static uint64_t pack(int64_t front, int64_t back) { return static_cast<uint64_t>(front) << 32 | static_cast<uint64_t>(back); }

  bool take(int r, bool front, int64_t& begin, int64_t& end) {
    std::atomic<uint64_t>& bounds = range_[r].bounds;
    uint64_t now = bounds.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t f = static_cast<int64_t>(now >> 32), b = static_cast<int64_t>(now & 0xffffffffu);
      if (f >= b) return false;
      begin = front ? f : std::max(f, b - grain_);
      end = front ? std::min(b, f + grain_) : b;
      if (bounds.compare_exchange_weak(now, front ? pack(end, b) : pack(f, begin), std::memory_order_relaxed)) return true;
    }
  }

  struct alignas(64) Range {
    std::atomic<uint64_t> bounds{0};
  };
  const int ranges_;
  const int64_t grain_;
  Range range_[kRanges];
};

// One thread's walk over its items of a Claims, which also knows the item it will take after the
// current one (claimed as it starts its chunk's last item), to fetch that one's data ahead.
class ClaimCursor {
 public:
  ClaimCursor(Claims& claims, int member) : claims_(claims), member_(member) {
    valid_ = claims_.next(member_, item_, end_);
    if (valid_) look_ahead();
  }
  bool valid() const { return valid_; }
  int64_t item() const { return item_; }
  // The item after this one, or -1 where there is none.
  int64_t upcoming() const { return item_ + 1 < end_ ? item_ + 1 : ahead_ ? ahead_begin_ : -1; }
  void advance() {
    if (++item_ == end_) {
      valid_ = ahead_;
      item_ = ahead_begin_;
      end_ = ahead_end_;
      ahead_ = false;
    }
    if (valid_) look_ahead();
  }

 private:
  void look_ahead() {
    if (item_ + 1 == end_) ahead_ = claims_.next(member_, ahead_begin_, ahead_end_);
  }

  Claims& claims_;
  const int member_;
  bool valid_ = false, ahead_ = false;
  int64_t item_ = 0, end_ = 0, ahead_begin_ = 0, ahead_end_ = 0;
};

class ThreadScope {
 public:
  explicit ThreadScope(int threads) : previous_(omp_get_max_threads()), threads_(threads) {
    if (threads_ != previous_) omp_set_num_threads(threads_);
  }
  ~ThreadScope() {
    if (threads_ != previous_) omp_set_num_threads(previous_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_, threads_;
};

class ThreadBudget {
 public:
  explicit ThreadBudget(int threads) : threads_(threads) {}
  int threads() const { return threads_; }

  // Holds the budget for one partition run; `acquired()` is false when the host asked the run
  // to stop while it waited.
  class Lease {
   public:
    Lease(ThreadBudget& budget, const loom_run_args& args) : budget_(budget) {
      std::unique_lock<std::mutex> lock(budget_.mutex_);
      if (!args.should_stop) {
        budget_.free_.wait(lock, [&] { return !budget_.busy_; });
      } else {
        while (budget_.busy_) {
          if (args.should_stop(args.stop_context)) return;
          budget_.free_.wait_for(lock, std::chrono::milliseconds(1));
        }
      }
      budget_.busy_ = true;
      held_ = true;
    }
    ~Lease() {
      if (!held_) return;
      {
        std::lock_guard<std::mutex> lock(budget_.mutex_);
        budget_.busy_ = false;
      }
      budget_.free_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    bool acquired() const { return held_; }

   private:
    ThreadBudget& budget_;
    bool held_ = false;
  };

 private:
  int threads_;
  std::mutex mutex_;
  std::condition_variable free_;
  bool busy_ = false;
};

}  // namespace loom::onednn
