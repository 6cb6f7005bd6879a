// SteerableClock: yuerd's clock when `[time] test_clock = true` (tests only; refused unless WeCom is on
// loopback): real time plus an offset, running at `rate` (1440 = a day per real minute, 0 = stopped).
// Moved by POST /api/v1/clock. Thread-safe. now() never goes backwards except by set_unix_ms.
#pragma once

#include "daemon/base/clock.h"

#include <functional>
#include <mutex>

namespace yuer {

class SteerableClock final : public Clock {
 public:
  explicit SteerableClock(double rate = 1.0);
  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  // How fast now() runs against real time (0 = stopped). Loops that sleep until a clock instant sleep
  // (instant - now) / rate of real time (clock_rate() below).
  double rate() const;

  std::int64_t unix_ms() const;
  void advance(std::chrono::milliseconds d);
  void set_unix_ms(std::int64_t ms);
  // Requires: rate >= 0 and finite.
  void set_rate(double rate);

 private:
  // Virtual instants at the anchor (real steady instant) and the rate since.
  void reanchor_locked();
  mutable std::mutex mu_;
  double rate_;
  std::chrono::steady_clock::time_point anchor_real_;
  std::int64_t anchor_wall_ns_;
  std::int64_t anchor_steady_ns_;
};

// The rate of `clock`: a SteerableClock's, else 1 (real time).
inline double clock_rate(const Clock& clock) {
  const auto* s = dynamic_cast<const SteerableClock*>(&clock);
  return s ? s->rate() : 1.0;
}

}  // namespace yuer
