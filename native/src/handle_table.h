// Integer ids for native objects (file handles, sessions, port connections). JS only ever holds
// these numbers. Ids start at 1 and are never reused, so an id below the next one that is not
// live was closed: that is how "closed" and "unknown" are told apart without tombstones.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fltb {

enum class Lookup { kLive, kClosed, kUnknown };

template <class T>
class IdTable {
 public:
  uint32_t Insert(std::shared_ptr<T> item) {
    std::lock_guard<std::mutex> lock(mu_);
    uint32_t id = next_++;
    live_.emplace(id, std::move(item));
    return id;
  }

  // kLive (and *out set), kClosed (the id was issued and is gone) or kUnknown (never issued).
  Lookup Find(uint32_t id, std::shared_ptr<T>* out) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(id);
    if (it != live_.end()) {
      if (out != nullptr) *out = it->second;
      return Lookup::kLive;
    }
    return (id != 0 && id < next_) ? Lookup::kClosed : Lookup::kUnknown;
  }

  // Removes a live entry; returns it (null when it was not live).
  std::shared_ptr<T> Remove(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return nullptr;
    std::shared_ptr<T> item = std::move(it->second);
    live_.erase(it);
    return item;
  }

  template <class Pred>
  std::vector<std::pair<uint32_t, std::shared_ptr<T>>> RemoveIf(Pred pred) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<uint32_t, std::shared_ptr<T>>> removed;
    for (auto it = live_.begin(); it != live_.end();) {
      if (pred(*it->second)) {
        removed.emplace_back(it->first, std::move(it->second));
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
    return removed;
  }

  size_t Size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<T>> live_;
  uint32_t next_ = 1;
};

}  // namespace fltb
