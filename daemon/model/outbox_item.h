// OutboxItem and SendOutcome: one message the outbox delivers through a route (robot, app,
// appchat, ...), and what one attempt to deliver it came to. Plain values; the outbox decides from
// SendOutcome::kind alone (STYLE D3), never from WeCom errcode numbers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace yuer::model {

// Durable states of an outbox row. queued → sending → sent | failed | expired | (queued again on a
// transient failure); cancelled from queued by an admin. A sent row never changes again.
enum class OutboxState { kQueued, kSending, kSent, kFailed, kExpired, kCancelled };

std::string_view to_string(OutboxState s);
// Parses the names to_string() gives; false for anything else.
bool parse_outbox_state(std::string_view text, OutboxState& out);

// What the content is; each route turns it into its own wire body. kTemplateCard: the content is
// one template card (模板卡片) as JSON text, the route's own wire object; it is never split (a route
// without cards refuses it at enqueue, see ChannelLimits::card_max_bytes).
enum class ContentKind { kText, kMarkdown, kTemplateCard };

std::string_view to_string(ContentKind k);
bool parse_content_kind(std::string_view text, ContentKind& out);

struct OutboxItem {
  std::int64_t id = 0;
  std::string route;            // "robot", "app", "appchat": the channel that delivers it
  std::string target;           // route-specific: group name (robot), userid (app), chatid (appchat)
  ContentKind kind = ContentKind::kText;
  std::string content;          // UTF-8, already within the route's size limit
  std::string idempotency_key;  // unique over the whole outbox
  int part = 1;                 // 1-based part number when a long message was split
  int parts = 1;
  int attempts = 0;             // attempts made before this one
};

// The outcome of one attempt (adapters/wecom/errcodes.cpp is the only place that maps errcodes).
enum class OutcomeKind {
  kDelivered,               // WeCom accepted it
  kRetryAfter,              // transient (busy, rate limit, 5xx, network): try again after a delay
  kRefreshTokenAndRetry,    // the access token was refused: get a new one, retry once
  kPermanent,               // will never succeed as is: the row ends failed with `reason`
  kWaitForEvent,            // not now and not by retrying (e.g. a kf parent's window is closed):
                            // the row waits, no attempt counted, `reason` shown, until the channel
                            // says the target is ready again or the row expires
};

std::string_view to_string(OutcomeKind k);

struct SendOutcome {
  OutcomeKind kind = OutcomeKind::kDelivered;
  // kRetryAfter: the least delay before the next attempt (0 = the outbox's own backoff only).
  std::chrono::milliseconds retry_after{0};
  int errcode = 0;       // WeCom errcode (0 when none, e.g. a network error); for display only
  std::string reason;    // Chinese, for admins: why it failed or waits; no secrets, no personal data
  std::string remote_id; // WeCom's id for the sent message (msgid) when it returns one

  static SendOutcome delivered(std::string remote_id = {}) {
    SendOutcome o;
    o.remote_id = std::move(remote_id);
    return o;
  }
  static SendOutcome retry(std::chrono::milliseconds after, int errcode, std::string reason) {
    return {OutcomeKind::kRetryAfter, after, errcode, std::move(reason), {}};
  }
  static SendOutcome refresh_token(int errcode, std::string reason) {
    return {OutcomeKind::kRefreshTokenAndRetry, {}, errcode, std::move(reason), {}};
  }
  static SendOutcome permanent(int errcode, std::string reason) {
    return {OutcomeKind::kPermanent, {}, errcode, std::move(reason), {}};
  }
  static SendOutcome wait(int errcode, std::string reason) {
    return {OutcomeKind::kWaitForEvent, {}, errcode, std::move(reason), {}};
  }
};

}  // namespace yuer::model
