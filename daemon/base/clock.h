// Clock: the one source of "now" for logic that depends on time (replay windows, backoff, token
// expiry). Tests use ManualClock and never sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace yuer {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (UTC), for timestamps stored and compared with WeCom's.
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Monotonic time, for durations and timeouts.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;

  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::now(); }
};

// A clock tests move by hand. Thread-safe reads; advance() moves both clocks together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t unix_seconds = 1'700'000'000)
      : wall_ns_(unix_seconds * 1'000'000'000LL) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(wall_ns_.load())));
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(steady_ns_.load())));
  }
  void advance(std::chrono::nanoseconds d) {
    wall_ns_ += d.count();
    steady_ns_ += d.count();
  }
  void set_unix_seconds(std::int64_t s) { wall_ns_ = s * 1'000'000'000LL; }

 private:
  std::atomic<std::int64_t> wall_ns_;
  std::atomic<std::int64_t> steady_ns_{1'000'000'000LL};
};

}  // namespace yuer
