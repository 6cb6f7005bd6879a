#include "adapters/wecom/replay_cache.h"

namespace yuer::adapters::wecom {

std::string ReplayCache::key(std::string_view timestamp, std::string_view nonce, std::string_view signature) {
  std::string k;
  k.reserve(timestamp.size() + nonce.size() + signature.size() + 2);
  k.append(timestamp).push_back('\n');
  k.append(nonce).push_back('\n');
  k.append(signature);
  return k;
}

void ReplayCache::expire(std::int64_t now) {
  while (!order_.empty() && (order_.size() > capacity_ || now - order_.front().at > max_age_s_)) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
}

bool ReplayCache::contains(std::string_view timestamp, std::string_view nonce, std::string_view signature,
                           std::int64_t now) {
  expire(now);
  return keys_.count(key(timestamp, nonce, signature)) != 0;
}

void ReplayCache::remember(std::string_view timestamp, std::string_view nonce, std::string_view signature,
                           std::int64_t now) {
  if (capacity_ == 0) return;
  auto k = key(timestamp, nonce, signature);
  if (!keys_.insert(k).second) return;
  order_.push_back(Entry{now, std::move(k)});
  expire(now);
}

}  // namespace yuer::adapters::wecom
