#include "daemon/outbox/rate_window.h"

#include <algorithm>

namespace yuer::outbox {

RollingLimit::RollingLimit(std::vector<model::RateWindow> windows) : windows_(std::move(windows)) {
  for (const auto& w : windows_) longest_ms_ = std::max<std::int64_t>(longest_ms_, w.period.count());
}

std::int64_t RollingLimit::next_allowed(std::int64_t now_ms) const {
  std::int64_t at = now_ms;
  for (const auto& w : windows_) {
    if (w.max <= 0) continue;
    // Sends inside (now - period, now]; if there are max of them, wait until the oldest of the
    // last `max` leaves the window.
    const auto n = static_cast<std::ptrdiff_t>(sent_.size());
    if (n < w.max) continue;
    const std::int64_t oldest_of_last = sent_[static_cast<std::size_t>(n - w.max)];
    at = std::max(at, oldest_of_last + w.period.count());
  }
  return at;
}

void RollingLimit::record(std::int64_t now_ms) {
  sent_.push_back(now_ms);
  while (!sent_.empty() && sent_.front() <= now_ms - longest_ms_) sent_.pop_front();
}

}  // namespace yuer::outbox
