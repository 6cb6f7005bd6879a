// The sandbox is a core (tokens, robots, app messages: sandbox.cpp) plus one Module per group of
// WeCom endpoints (customer groups, mass messages, kf, intelligent robot …), each in its own files
// and registered by one line in modules.cpp. Every module runs under the Sandbox's one lock and
// reaches shared state only through Context, so adding a module never touches another one.
#pragma once

#include "daemon/base/clock.h"
#include "tests/sandbox/fixture.h"
#include "tests/sandbox/wire.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace yuer::sandbox {

// The sandbox's notion of now: a base clock (SystemClock in the binary, ManualClock in tests)
// moved by the control API (advance), stopped (freeze) or run faster (rate: 1440 = a day per real
// minute; --clock-rate). Thread-safe.
class ControlledClock final : public Clock {
 public:
  explicit ControlledClock(const Clock& base) : base_(base) {}
  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  void advance(std::chrono::milliseconds d);
  void freeze(bool on);  // freeze(true) stops time at the current instant; freeze(false) lets it run on
  bool frozen() const;
  void reset();  // no offset, not frozen, rate 1
  // From now on the clock runs at `rate` times the base clock (0 = stopped). Requires: rate >= 0.
  void set_rate(double rate);
  double rate() const;

 private:
  // The extra time run since anchor_ beyond the base clock ((rate - 1) x elapsed). Requires: mu_ held.
  std::chrono::milliseconds extra_locked(std::chrono::system_clock::time_point base_now) const;
  const Clock& base_;
  mutable std::mutex mu_;
  std::chrono::milliseconds offset_{0};
  double rate_ = 1.0;
  std::chrono::system_clock::time_point anchor_{};
  std::optional<std::chrono::system_clock::time_point> frozen_at_;
};

// How callbacks toward the daemon are delivered (reference §1.8: 5 s, "总共重试三次").
struct CallbackPolicy {
  int attempts = 4;                             // 1 original + 3 retries; [UNCERTAIN] §1.8, configurable
  std::chrono::milliseconds timeout{5000};      // no answer within this → failed attempt
  std::chrono::milliseconds retry_delay{1000};  // spacing between attempts: undocumented by WeCom
};

struct Settings {
  std::chrono::seconds token_lifetime{7200};  // expires_in of gettoken, §4
  int webhook_per_minute = 20;                // per robot key, rolling 60 s, §3.4
  int member_per_minute = 30;                 // message/send per app per member, §5.1 (silent drop)
  int member_per_hour = 1000;
  int appchat_member_per_minute = 200;        // appchat/send per member per app, §5.2 (silent drop)
  CallbackPolicy callback;
  std::string callback_url_override;          // --callback-url: used for apps whose fixture has none
  // The record keeps the newest this many requests, deliveries and callbacks each (--max-records);
  // older ones are forgotten, so a long-running sandbox does not grow without bound.
  std::size_t max_records = 100'000;
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
  std::string channel;  // "webhook", "app", "appchat", "groupmsg", "kf", "aibot"
  std::string chat_id;  // group chats
  std::string userid;   // one-to-one messages (member userid or external_userid)
  std::string msgtype;
  nlohmann::json message;  // the msgtype object as received (after truncation where WeCom truncates)
  bool dropped = false;    // over a per-member limit: WeCom still answered errcode 0
  std::string from;        // who "wrote" it, when not the app/robot itself (a parent typing in the page)
};

struct CallbackAttempt {
  int number = 0;
  std::int64_t time_ms = 0;
  unsigned status = 0;  // 0 = no HTTP response (timeout, refused)
  std::string error;    // transport error, if any
  std::string body;     // response body (first 4 KiB)
  std::string target;   // path + query sent
};

struct CallbackRecord;

// A callback prepared under the lock and delivered without it (it may take 4 × 5 s).
struct CallbackJob {
  enum class Kind {
    kMessage,  // XML envelope <xml><ToUserName/><Encrypt/><AgentID/></xml>, receiveid = corp id (§1.6)
    kVerify,   // GET URL verification with an encrypted echostr (§1.6)
    kJson,     // JSON envelope {"encrypt": …}, receiveid "" (intelligent robot, §1.7)
  };
  Kind kind = Kind::kMessage;
  std::string url;
  std::string corp_id;       // receiveid for kMessage/kVerify; ignored for kJson
  std::int64_t agent_id = 0;
  std::string token, aes_key;
  std::string plaintext;  // the XML/JSON message, or the echostr plaintext for kVerify
  std::string msg_id;     // for kMessage built from {"from_user","text"}
  std::string label;      // what it is, for the record: "text", "change_external_chat", "kf_msg_or_event" …
  CallbackPolicy policy;
  // Called under the sandbox lock once delivery has finished (e.g. to check a passive reply).
  std::function<void(const CallbackRecord&)> on_done;
};

struct CallbackRecord {
  std::int64_t seq = 0;
  std::string kind;  // "message" | "verify" | "json"
  std::string label;
  std::int64_t agent_id = 0;
  std::string url, plaintext, msg_id;
  std::vector<CallbackAttempt> attempts;
  bool delivered = false;  // a 200 came back (for verify: with the echostr plaintext as body)
  // A passive reply in the 200's body (XML app callbacks, §6.4): its decrypted plaintext, or why it
  // was refused (bad envelope, signature, receiveid). Both empty: the receiver answered empty.
  std::string reply;
  std::string reply_error;
};
nlohmann::json to_json(const CallbackRecord& r);

// An uploaded temporary media file (webhook/upload_media, media/upload). Valid 3 days (§3.3, §5.3).
struct Media {
  std::string media_id;
  std::string type;      // "file", "voice", "image", "video"
  std::string filename;  // as the group will see it
  std::size_t size = 0;
  std::string scope;     // "webhook:<key>" (only that robot may use it, §3.3) or "corp" (any app, §5.3)
  std::int64_t created_at_s = 0;
};

// A template card's response_code: from message/send (interactive cards) or from each click event;
// single use for message/update_template_card, valid 72 h (§5.1, §7.3).
struct ResponseCode {
  std::int64_t agent_id = 0;
  std::vector<std::string> userids;  // who received the card (the update's "atall" audience)
  std::string card_type;
  std::int64_t expires_ms = 0;
  bool used = false;
};

// Shared state and services for the core and every module. Not thread-safe by itself: the Sandbox
// holds its lock around every call into the core or a module.
class Context {
 public:
  Context(Fixture fixture, const Clock& base_clock, Settings settings);

  Fixture fixture;  // modules may change it (members join, groups are created)
  std::string base_url;  // the sandbox's own "http://host:port" once it listens ("" before, and in unit tests)
  Settings settings;
  ControlledClock clock;

  std::int64_t now_ms() const;
  std::int64_t now_s() const { return now_ms() / 1000; }
  // WeCom's error envelope at the sandbox's time.
  ApiReply error(int errcode, std::string_view detail = {}) const;
  // The app of a valid access_token, or the error reply (41001 / 40014 / 42001).
  std::variant<const App*, ApiReply> check_token(const Target& t) const;
  // Issues a token for `app` (gettoken).
  std::string issue_token(const App& app);

  // The checked start of an app endpoint that takes a JSON body: POST (else 43002), a valid token
  // (41001 / 40014 / 42001), then `check` on the app (its error reply, if any), then a non-empty
  // (44002) body that is a JSON object (40058). The app and the parsed body, or the error reply.
  struct AppCall {
    const App* app = nullptr;
    nlohmann::json body;
  };
  std::variant<AppCall, ApiReply> begin_app_call(
      const ApiRequest& req, const Target& t,
      const std::function<std::optional<ApiReply>(const App&)>& check = {}) const;

  // Next number of the one sequence shared by requests, deliveries and callbacks.
  std::int64_t next_seq() { return next_seq_++; }
  // Records a delivery (sequence number and time set here); the oldest beyond settings.max_records
  // is forgotten.
  void add_delivery(Delivery d);
  const std::deque<Delivery>& deliveries() const { return deliveries_; }

  // A callback to `app`'s callback URL carrying `plaintext_xml` (an event or message), or nullopt
  // when the app has no callback URL. The caller may adjust the job before emit_callback().
  std::optional<CallbackJob> app_callback(const App& app, std::string plaintext_xml, std::string label) const;
  // Queues a callback; the server delivers queued callbacks after the current request, in order
  // of emission per URL, on worker threads (tests without a server read them from take_callbacks()).
  void emit_callback(CallbackJob job) { pending_callbacks_.push_back(std::move(job)); }
  std::vector<CallbackJob> take_callbacks();

  // Uploaded media by media_id. media_usable: exists, not expired (3 days), and uploaded for
  // `scope` (a robot's media serves only that robot; app media serves the apps, not robots).
  std::map<std::string, Media> media;
  bool media_usable(const std::string& media_id, const std::string& scope) const;

  // response_code → its card (issued by message/send and by click events).
  std::map<std::string, ResponseCode> response_codes;
  std::string issue_response_code(std::int64_t agent_id, std::vector<std::string> userids, std::string card_type);

  // A 64-bit message id unique in this sandbox run (MsgId, msgid of kf messages …).
  std::string new_msg_id();

  // True (and counts the event) if fewer than `limit` events happened in the last `window_ms`.
  static bool admit(std::deque<std::int64_t>& window, int limit, std::int64_t window_ms, std::int64_t now);

  // Forgets everything but the fixture and settings (control API /_sandbox/reset).
  void reset();

  // Deliveries, media and response codes as JSON for `--state FILE`, and back. The clock, tokens
  // and rate windows are not kept: a restarted sandbox starts them fresh, as WeCom's would be
  // after a long pause.
  nlohmann::json save() const;
  void restore(const nlohmann::json& saved);

 private:
  struct TokenInfo {
    std::int64_t agent_id = 0;
    std::chrono::system_clock::time_point expires_at;
  };
  std::map<std::string, TokenInfo> tokens_;
  std::deque<Delivery> deliveries_;
  std::vector<CallbackJob> pending_callbacks_;
  std::int64_t next_seq_ = 1;
  std::uint64_t next_msg_id_ = 0;
};

// A group of emulated endpoints with its own state. All calls happen under the Sandbox's lock.
class Module {
 public:
  virtual ~Module() = default;
  // A WeCom endpoint (/cgi-bin/...): the reply, or nullopt when the path is not this module's.
  // `rec.detail` may be filled for the request record.
  virtual std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) = 0;
  // A control endpoint (/_sandbox/...): the reply, or nullopt when not this module's. `body` is the
  // parsed JSON object of a POST (an empty object otherwise).
  virtual std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const nlohmann::json& body) {
    (void)req, (void)t, (void)body;
    return std::nullopt;
  }
  // Back to the state right after construction (control API /_sandbox/reset).
  virtual void reset() {}
  // The module's state for GET /_sandbox/state and the web page (an object; null = nothing).
  virtual nlohmann::json state() const { return nullptr; }
  // For `--state FILE`: a stable name (empty = the module keeps nothing across runs), its state as
  // JSON, and restore() to take it back after the fixture and core state are in place. restore()
  // gets only what save() produced (by this or an earlier version of the module); it must not throw
  // for a missing or partial document.
  virtual std::string_view name() const { return {}; }
  virtual nlohmann::json save() const { return nullptr; }
  virtual void restore(const nlohmann::json& saved) { (void)saved; }
};

// The registered modules, in dispatch order (modules.cpp: one line each).
std::vector<std::unique_ptr<Module>> make_modules(Context& ctx);

}  // namespace yuer::sandbox
