// ReplayCache: remembers recently acknowledged (timestamp, nonce, signature) triples, so a captured
// callback that is sent again is recognised without touching the store. Bounded in size and age.
// Not thread-safe: CallbackEndpoint guards it with a mutex (its handlers run on several io threads).
//
// Layout (one lookup and one insert per callback, so it is kept cheap): the entries sit in a ring
// in the order they were remembered (the oldest is evicted first, by age or by capacity), and an
// open-addressing index of ring positions (linear probing, backward-shift deletion) finds a key.
// Keys are compared in full; the hash only picks the slot. A ring entry's key string keeps its
// capacity when the entry is reused, and lookups build their key in a reused buffer, so once the
// ring is full nothing is allocated per callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::adapters::wecom {

class ReplayCache {
 public:
  // Keeps at most `capacity` entries, each for at most `max_age_s` seconds of `now` passed in.
  ReplayCache(std::size_t capacity, std::int64_t max_age_s) : capacity_(capacity), max_age_s_(max_age_s) {}

  // True when the triple was remembered within the age limit.
  bool contains(std::string_view timestamp, std::string_view nonce, std::string_view signature, std::int64_t now);
  // Remembers the triple as acknowledged at `now`; evicts the oldest entries beyond the limits.
  void remember(std::string_view timestamp, std::string_view nonce, std::string_view signature, std::int64_t now);
  std::size_t size() const { return count_; }

 private:
  struct Entry {
    std::int64_t at = 0;
    std::size_t hash = 0;
    std::string key;
  };
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // Builds "timestamp\nnonce\nsignature" into scratch_ and returns its hash.
  std::size_t make_key(std::string_view timestamp, std::string_view nonce, std::string_view signature);
  // Slot of the entry whose key is scratch_ (hash h), or kNone.
  std::size_t find(std::size_t h) const;
  void expire(std::int64_t now);
  void evict_oldest();
  void erase_slot(std::size_t slot);
  void insert_slot(std::size_t h, std::size_t pos);
  void rebuild_index(std::size_t slots);

  std::size_t capacity_;
  std::int64_t max_age_s_;
  std::vector<Entry> ring_;        // grows up to capacity_; oldest at head_
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::vector<std::uint32_t> index_;  // ring position + 1, or 0 for an empty slot; size a power of 2
  std::string scratch_;
};

}  // namespace yuer::adapters::wecom
