// The session's cache of shape plans: bounded, least recently used first out, and a plan is made
// outside the lock, so that a new input shape (whose plan can take a backend long to prepare)
// never holds up runs of shapes already planned. Two threads that ask for the same new shape
// make it once: the second waits for the first. Plans are handed out as shared_ptr, so a plan
// evicted while a run uses it lives until that run ends.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace loom {

template <class Key, class Value>
class PlanCache {
 public:
  // `capacity` >= 1: the most plans kept.
  explicit PlanCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  struct Counts {
    uint64_t made = 0;     // values make() returned
    uint64_t evicted = 0;  // values dropped to stay within the capacity
    uint64_t waited = 0;   // lookups that waited for another thread's make() of the same key
    size_t cached = 0;     // values held now
  };

  // The value for `key`: the cached one (now the most recently used), or the one `make()`
  // returns, made without the lock. A hit allocates nothing. When make() throws, the key stays
  // absent and every thread that waited for it gets the exception.
  template <class Make>
  std::shared_ptr<Value> get(const Key& key, Make&& make) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    if (auto it = pending_.find(key); it != pending_.end()) {
      const std::shared_ptr<Pending> pending = it->second;
      ++counts_.waited;
      done_.wait(lock, [&] { return pending->done; });
      if (pending->error) std::rethrow_exception(pending->error);
      return pending->value;  // valid for this caller even if it has been evicted meanwhile
    }
    auto pending = std::make_shared<Pending>();
    pending_.emplace(key, pending);
    lock.unlock();

    std::shared_ptr<Value> value;
    std::exception_ptr error;
    try {
      value = make();
    } catch (...) {
      error = std::current_exception();
    }

    std::vector<std::shared_ptr<Value>> evicted;  // released after the lock: a plan's release calls plugins
    lock.lock();
    pending_.erase(key);
    pending->done = true;
    pending->value = value;
    pending->error = error;
    if (!error) {
      ++counts_.made;
      lru_.emplace_front(key, value);
      index_.emplace(key, lru_.begin());
      while (lru_.size() > capacity_) {
        evicted.push_back(std::move(lru_.back().second));
        index_.erase(lru_.back().first);
        lru_.pop_back();
        ++counts_.evicted;
      }
    }
    lock.unlock();
    done_.notify_all();
    if (error) std::rethrow_exception(error);
    return value;
  }

  Counts counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Counts c = counts_;
    c.cached = lru_.size();
    return c;
  }

  // The keys held, most recently used first.
  std::vector<Key> keys() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Key> out;
    for (const auto& e : lru_) out.push_back(e.first);
    return out;
  }

  void clear() {
    std::list<std::pair<Key, std::shared_ptr<Value>>> dropped;
    std::lock_guard<std::mutex> lock(mutex_);
    index_.clear();
    dropped.swap(lru_);
  }

 private:
  struct Pending {
    bool done = false;
    std::shared_ptr<Value> value;
    std::exception_ptr error;
  };
  using List = std::list<std::pair<Key, std::shared_ptr<Value>>>;

  size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  List lru_;  // front: most recently used
  std::map<Key, typename List::iterator> index_;
  std::map<Key, std::shared_ptr<Pending>> pending_;
  Counts counts_;
};

}  // namespace loom
