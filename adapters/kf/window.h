// The 微信客服 (kf) send window as pure rules: a parent's message opens 48 hours in which at most 5
// messages may be sent to that parent (reference §9.4, https://developer.work.weixin.qq.com/document/path/94677).
// Also the route's target format and the msgid derived from an outbox key. No I/O here.
#pragma once

#include "daemon/store/kf_store.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yuer::adapters::kf {

struct WindowRules {
  std::chrono::milliseconds window{std::chrono::hours(48)};
  // Sends stop this long before the 48 h end: our clock and WeCom's differ, and a send near the
  // end could arrive after it.
  std::chrono::milliseconds margin{std::chrono::minutes(10)};
  int max_sends = 5;
};

enum class Verdict {
  kSend,        // inside the window, under the limit (or this msgid already counted in it)
  kNeverWrote,  // the parent has not written to this account (that we know of)
  kClosed,      // 48 h (less the margin) have passed since the parent's last message
  kQuotaUsed,   // 5 messages were sent since the parent's last message
  kRefused,     // WeCom refused a send in this window (its count or clock differs from ours)
};

// Decides whether one more message (or a retry of the msgid `w.counted` refers to) may go now.
Verdict judge(const store::KfWindow& w, std::int64_t now_ms, const WindowRules& rules);

// Why a message waits, in Chinese for admins (empty for kSend).
std::string wait_reason(Verdict v);

// A kf target: "<open_kfid>/<external_userid>".
struct Target {
  std::string open_kfid;
  std::string external_userid;
};
// Parses a target; nullopt unless both parts are 1..64 bytes of [0-9a-zA-Z_-].
std::optional<Target> parse_target(std::string_view target);
std::string format_target(const Target& t);

// send_msg's msgid for an outbox row: 32 bytes of [0-9a-f] derived from its idempotency key
// (unique over the outbox), so every attempt of one row carries the same msgid and WeCom, which
// keeps msgids unique per kf account, refuses a second delivery of it.
std::string msgid_for(std::string_view idempotency_key);

}  // namespace yuer::adapters::kf
