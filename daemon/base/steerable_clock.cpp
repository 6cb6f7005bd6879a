#include "daemon/base/steerable_clock.h"

namespace yuer {
namespace chr = std::chrono;

SteerableClock::SteerableClock(double rate)
    : rate_(rate),
      anchor_real_(chr::steady_clock::now()),
      anchor_wall_ns_(chr::duration_cast<chr::nanoseconds>(chr::system_clock::now().time_since_epoch()).count()),
      anchor_steady_ns_(chr::duration_cast<chr::nanoseconds>(anchor_real_.time_since_epoch()).count()) {}

namespace {
std::int64_t scaled(chr::steady_clock::time_point anchor, double rate) {
  const auto real = chr::duration_cast<chr::nanoseconds>(chr::steady_clock::now() - anchor).count();
  return static_cast<std::int64_t>(static_cast<double>(real) * rate);
}
}  // namespace

chr::system_clock::time_point SteerableClock::now() const {
  std::lock_guard lock(mu_);
  return chr::system_clock::time_point(chr::duration_cast<chr::system_clock::duration>(
      chr::nanoseconds(anchor_wall_ns_ + scaled(anchor_real_, rate_))));
}

chr::steady_clock::time_point SteerableClock::steady_now() const {
  std::lock_guard lock(mu_);
  return chr::steady_clock::time_point(chr::duration_cast<chr::steady_clock::duration>(
      chr::nanoseconds(anchor_steady_ns_ + scaled(anchor_real_, rate_))));
}

double SteerableClock::rate() const {
  std::lock_guard lock(mu_);
  return rate_;
}

std::int64_t SteerableClock::unix_ms() const {
  return chr::duration_cast<chr::milliseconds>(now().time_since_epoch()).count();
}

void SteerableClock::reanchor_locked() {
  const auto s = scaled(anchor_real_, rate_);
  anchor_wall_ns_ += s;
  anchor_steady_ns_ += s;
  anchor_real_ = chr::steady_clock::now();
}

void SteerableClock::advance(chr::milliseconds d) {
  std::lock_guard lock(mu_);
  reanchor_locked();
  anchor_wall_ns_ += chr::duration_cast<chr::nanoseconds>(d).count();
  anchor_steady_ns_ += chr::duration_cast<chr::nanoseconds>(d).count();
}

void SteerableClock::set_unix_ms(std::int64_t ms) {
  std::lock_guard lock(mu_);
  reanchor_locked();
  anchor_wall_ns_ = ms * 1'000'000LL;
}

void SteerableClock::set_rate(double rate) {
  std::lock_guard lock(mu_);
  reanchor_locked();
  rate_ = rate;
}

}  // namespace yuer
