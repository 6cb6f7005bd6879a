// Sandbox: the in-memory state of the emulated WeCom tenant and the logic of every endpoint, as a
// function from (state, request) to reply. No sockets: server.cpp feeds it requests and runs the
// slow parts (fault latency, callback delivery) elsewhere. Thread-safe: every public method takes
// the one internal lock, so the io thread and the callback workers may call it concurrently.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "tests/sandbox/fixture.h"
#include "tests/sandbox/wire.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <variant>
#include <string>
#include <vector>

namespace yuer::sandbox {

// The sandbox's notion of now: a base clock (SystemClock in the binary, ManualClock in tests)
// moved by the control API (advance) or stopped (freeze). Thread-safe.
class ControlledClock final : public Clock {
 public:
  explicit ControlledClock(const Clock& base) : base_(base) {}
  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  void advance(std::chrono::milliseconds d);
  void freeze(bool on);  // freeze(true) stops time at the current instant; freeze(false) lets it run on
  bool frozen() const;
  void reset();  // no offset, not frozen

 private:
  const Clock& base_;
  mutable std::mutex mu_;
  std::chrono::milliseconds offset_{0};
  std::optional<std::chrono::system_clock::time_point> frozen_at_;
};

// How callbacks toward the daemon are delivered (reference §1.8: 5 s, "总共重试三次").
struct CallbackPolicy {
  int attempts = 4;                                // 1 original + 3 retries; [UNCERTAIN] §1.8, configurable
  std::chrono::milliseconds timeout{5000};         // no answer within this → failed attempt
  std::chrono::milliseconds retry_delay{1000};     // spacing between attempts: undocumented by WeCom
};

struct Settings {
  std::chrono::seconds token_lifetime{7200};  // expires_in of gettoken, §4
  int webhook_per_minute = 20;                // per robot key, rolling 60 s, §3.4
  int member_per_minute = 30;                 // message/send per app per member, §5.1 (silent drop)
  int member_per_hour = 1000;
  int appchat_member_per_minute = 200;        // appchat/send per member per app, §5.2 (silent drop)
  CallbackPolicy callback;
  std::string callback_url_override;          // --callback-url: used for apps whose fixture has none
};

// A fault injected for one endpoint path (control API POST /_sandbox/faults).
struct Fault {
  std::string path;                  // "/cgi-bin/webhook/send"
  int latency_ms = 0;                // wait before answering (applies with or without the rest)
  unsigned http_status = 0;          // != 0: answer with this HTTP status and an empty body
  std::optional<int> errcode;        // answer with WeCom's envelope for this errcode (-1, 45009, 42001…)
  bool drop_connection = false;      // not supported yet: HttpServer cannot abort a connection
  int count = 0;                     // how many requests it applies to; 0 = until cleared
};

// One request received on a WeCom endpoint, with the sandbox's timestamp and outcome.
struct RequestRecord {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;  // sandbox clock, unix milliseconds
  std::string method, path, query, body;
  unsigned http_status = 200;
  int errcode = 0;
  nlohmann::json detail;  // endpoint-specific: recipients, dropped, fault applied…
};

// One message that reached a chat (group or member), or was silently dropped.
struct Delivery {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string channel;  // "webhook", "app", "appchat"
  std::string chat_id;  // group chats
  std::string userid;   // one-to-one app messages
  std::string msgtype;
  nlohmann::json message;  // the msgtype object as received (after truncation where WeCom truncates)
  bool dropped = false;    // over a per-member limit: WeCom still answered errcode 0
};

struct CallbackAttempt {
  int number = 0;
  std::int64_t time_ms = 0;
  unsigned status = 0;  // 0 = no HTTP response (timeout, refused)
  std::string error;    // transport error, if any
  std::string body;     // response body (first 4 KiB)
  std::string target;   // path + query sent
};

// A callback prepared under the lock and delivered without it (it may take 4 × 5 s).
struct CallbackJob {
  enum class Kind { kMessage, kVerify };
  Kind kind = Kind::kMessage;
  std::string url;
  std::string corp_id;
  std::int64_t agent_id = 0;
  std::string token, aes_key;
  std::string plaintext;  // the XML message, or the echostr plaintext for kVerify
  std::string msg_id;     // for kMessage built from {"from_user","text"}
  CallbackPolicy policy;
};

struct CallbackRecord {
  std::int64_t seq = 0;
  std::string kind;  // "message" | "verify"
  std::int64_t agent_id = 0;
  std::string url, plaintext, msg_id;
  std::vector<CallbackAttempt> attempts;
  bool delivered = false;  // a 200 came back (for verify: with the echostr plaintext as body)
};
nlohmann::json to_json(const CallbackRecord& r);

class Sandbox {
 public:
  // `base_clock` must outlive the sandbox.
  Sandbox(Fixture fixture, const Clock& base_clock, Settings settings = {});

  // Answers one request to a WeCom endpoint (/cgi-bin/...) or a control endpoint (/_sandbox/...,
  // except the callback ones, see below). Records WeCom requests. Never throws for bad input.
  ApiReply handle(const ApiRequest& req);

  // Takes (and counts down) the first fault registered for `path`, if any.
  std::optional<Fault> take_fault(const std::string& path);
  // The reply for an errcode/http_status fault, recorded like any request.
  ApiReply fault_reply(const Fault& fault, const ApiRequest& req);

  // Control API POST /_sandbox/callbacks/app and /_sandbox/callbacks/verify: builds the job, or an
  // error reply (400 for bad input, 404 for an unknown app, 409 when the app has no callback URL).
  std::variant<CallbackJob, ApiReply> prepare_callback(const ApiRequest& req);
  // Stores a finished delivery and returns its JSON (the control API's answer).
  nlohmann::json record_callback(CallbackRecord rec);

  ControlledClock& clock() { return clock_; }
  const Settings& settings() const { return settings_; }

  // For tests: copies of the records.
  std::vector<RequestRecord> requests() const;
  std::vector<Delivery> deliveries() const;

 private:
  struct TokenInfo {
    std::int64_t agent_id = 0;
    std::chrono::system_clock::time_point expires_at;
  };

  ApiReply dispatch(const ApiRequest& req, RequestRecord& rec);
  ApiReply control(const ApiRequest& req);
  ApiReply gettoken(const Target& t);
  ApiReply webhook_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply message_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply appchat_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  // The app of a valid access_token, or the error reply (41001 / 40014 / 42001).
  std::variant<const App*, ApiReply> check_token(const Target& t);
  ApiReply error(int errcode, std::string_view detail = {});
  std::int64_t now_ms() const;
  // True (and counts the event) if fewer than `limit` events happened in the last `window`.
  bool admit(std::deque<std::int64_t>& window, int limit, std::int64_t window_ms, std::int64_t now);
  void add_delivery(Delivery d);
  void reset_state();

  mutable std::mutex mu_;
  Fixture fixture_;
  Settings settings_;
  ControlledClock clock_;
  std::map<std::string, TokenInfo> tokens_;
  std::map<std::string, std::deque<std::int64_t>> webhook_windows_;  // robot key → send times (ms)
  std::map<std::string, std::deque<std::int64_t>> member_minute_;    // "agent/userid" → times
  std::map<std::string, std::deque<std::int64_t>> member_hour_;
  std::map<std::string, std::deque<std::int64_t>> appchat_minute_;
  std::vector<Fault> faults_;
  std::vector<RequestRecord> requests_;
  std::vector<Delivery> deliveries_;
  std::vector<CallbackRecord> callbacks_;
  std::int64_t next_seq_ = 1;
  std::uint64_t next_msg_id_ = 0;
};

}  // namespace yuer::sandbox
