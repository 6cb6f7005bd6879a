#include "adapters/wecom/replay_cache.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace yuer::adapters::wecom {

std::size_t ReplayCache::make_key(std::string_view timestamp, std::string_view nonce, std::string_view signature) {
  scratch_.clear();
  scratch_.append(timestamp).push_back('\n');
  scratch_.append(nonce).push_back('\n');
  scratch_.append(signature);
  return std::hash<std::string_view>{}(scratch_);
}

std::size_t ReplayCache::find(std::size_t h) const {
  if (index_.empty()) return kNone;
  const std::size_t mask = index_.size() - 1;
  for (std::size_t i = h & mask; index_[i] != 0; i = (i + 1) & mask) {
    const Entry& e = ring_[index_[i] - 1];
    if (e.hash == h && e.key == scratch_) return i;
  }
  return kNone;
}

void ReplayCache::insert_slot(std::size_t h, std::size_t pos) {
  const std::size_t mask = index_.size() - 1;
  std::size_t i = h & mask;
  while (index_[i] != 0) i = (i + 1) & mask;
  index_[i] = static_cast<std::uint32_t>(pos + 1);
}

// Linear probing without tombstones: after emptying `slot`, later entries of the same run move
// back into the gap unless their home slot lies cyclically in (gap, them].
void ReplayCache::erase_slot(std::size_t slot) {
  const std::size_t mask = index_.size() - 1;
  std::size_t gap = slot;
  for (std::size_t j = (gap + 1) & mask; index_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = ring_[index_[j] - 1].hash & mask;
    const bool stays = gap <= j ? (gap < home && home <= j) : (gap < home || home <= j);
    if (!stays) {
      index_[gap] = index_[j];
      gap = j;
    }
  }
  index_[gap] = 0;
}

void ReplayCache::rebuild_index(std::size_t slots) {
  index_.assign(slots, 0);
  for (std::size_t k = 0; k < count_; ++k) {
    const std::size_t pos = (head_ + k) % ring_.size();
    insert_slot(ring_[pos].hash, pos);
  }
}

void ReplayCache::evict_oldest() {
  const Entry& e = ring_[head_];
  const std::size_t mask = index_.size() - 1;
  std::size_t i = e.hash & mask;
  while (index_[i] != head_ + 1) i = (i + 1) & mask;  // present: every entry of the ring is indexed
  erase_slot(i);
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

void ReplayCache::expire(std::int64_t now) {
  while (count_ > 0 && (count_ > capacity_ || now - ring_[head_].at > max_age_s_)) evict_oldest();
}

bool ReplayCache::contains(std::string_view timestamp, std::string_view nonce, std::string_view signature,
                           std::int64_t now) {
  expire(now);
  const std::size_t h = make_key(timestamp, nonce, signature);
  return find(h) != kNone;
}

void ReplayCache::remember(std::string_view timestamp, std::string_view nonce, std::string_view signature,
                           std::int64_t now) {
  if (capacity_ == 0) return;
  expire(now);
  const std::size_t h = make_key(timestamp, nonce, signature);
  if (find(h) != kNone) return;
  if (count_ == capacity_) evict_oldest();
  if (count_ == ring_.size()) {
    // Grow the ring (never beyond capacity_); unwrap it first so positions stay head_-relative.
    if (ring_.size() >= UINT32_MAX - 1) throw std::length_error("replay cache too large");
    std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
    head_ = 0;
    ring_.resize(std::min(capacity_, std::max<std::size_t>(16, 2 * ring_.size())));
    rebuild_index(index_.size());
  }
  const std::size_t pos = (head_ + count_) % ring_.size();
  Entry& e = ring_[pos];
  e.at = now;
  e.hash = h;
  e.key.assign(scratch_);  // reuses the capacity of the entry that was there before
  ++count_;
  // Keep the index at most half full (short probe runs).
  if (2 * count_ > index_.size()) {
    std::size_t slots = 16;
    while (slots < 4 * count_) slots *= 2;
    rebuild_index(slots);  // indexes the new entry too
  } else {
    insert_slot(h, pos);
  }
}

}  // namespace yuer::adapters::wecom
