// ReplayCache: remembers recently acknowledged (timestamp, nonce, signature) triples, so a captured
// callback that is sent again is recognised without touching the store. Bounded in size and age.
// Not thread-safe: CallbackEndpoint guards it with a mutex (its handlers run on several io threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace yuer::adapters::wecom {

class ReplayCache {
 public:
  // Keeps at most `capacity` entries, each for at most `max_age_s` seconds of `now` passed in.
  ReplayCache(std::size_t capacity, std::int64_t max_age_s) : capacity_(capacity), max_age_s_(max_age_s) {}

  // True when the triple was remembered within the age limit.
  bool contains(std::string_view timestamp, std::string_view nonce, std::string_view signature, std::int64_t now);
  // Remembers the triple as acknowledged at `now`; evicts the oldest entries beyond the limits.
  void remember(std::string_view timestamp, std::string_view nonce, std::string_view signature, std::int64_t now);
  std::size_t size() const { return keys_.size(); }

 private:
  static std::string key(std::string_view timestamp, std::string_view nonce, std::string_view signature);
  void expire(std::int64_t now);

  struct Entry {
    std::int64_t at;
    std::string key;
  };
  std::size_t capacity_;
  std::int64_t max_age_s_;
  std::deque<Entry> order_;
  std::unordered_set<std::string> keys_;
};

}  // namespace yuer::adapters::wecom
