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
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace loom::onednn {

// A kernel's thread count: `threads` (NodeInfo::threads), or OpenMP's default where that is 0.
inline int resolved_threads(int threads) { return std::max(1, threads > 0 ? threads : omp_get_max_threads()); }

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
