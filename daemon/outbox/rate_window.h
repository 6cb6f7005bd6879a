// RollingLimit: "at most N sends in any rolling period" for one or more windows (e.g. 30/min and
// 1000/h). Times are unix milliseconds from the injected Clock, so tests move them by hand.
#pragma once

#include "daemon/model/outbound_channel.h"

#include <cstdint>
#include <deque>
#include <vector>

namespace yuer::outbox {

class RollingLimit {
 public:
  RollingLimit() = default;
  explicit RollingLimit(std::vector<model::RateWindow> windows);

  // The earliest time >= now at which one more send stays within every window.
  std::int64_t next_allowed(std::int64_t now_ms) const;
  // Counts a send at `now_ms`. Requires: now_ms >= next_allowed(now_ms) (callers check first).
  void record(std::int64_t now_ms);
  bool empty() const { return sent_.empty(); }

 private:
  std::vector<model::RateWindow> windows_;
  std::int64_t longest_ms_ = 0;
  std::deque<std::int64_t> sent_;  // send times within the longest window, oldest first
};

}  // namespace yuer::outbox
