// Sandbox: the in-memory state of the emulated WeCom tenant and the logic of every endpoint, as a
// function from (state, request) to reply. No sockets: server.cpp feeds it requests and runs the
// slow parts (fault latency, callback delivery) elsewhere. Thread-safe: every public method takes
// the one internal lock, so the io thread and the callback workers may call it concurrently.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "tests/sandbox/fixture.h"
#include "tests/sandbox/module.h"
#include "tests/sandbox/wire.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <variant>
#include <string>
#include <vector>

namespace yuer::sandbox {

// A fault injected for one endpoint path (control API POST /_sandbox/faults).
struct Fault {
  std::string path;                  // "/cgi-bin/webhook/send"
  int latency_ms = 0;                // wait before answering (applies with or without the rest)
  unsigned http_status = 0;          // != 0: answer with this HTTP status and an empty body
  std::optional<int> errcode;        // answer with WeCom's envelope for this errcode (-1, 45009, 42001…)
  bool drop_connection = false;      // reset the connection instead of answering (after latency_ms)
  int count = 0;                     // how many requests it applies to; 0 = until cleared
  double rate = 1.0;                 // fraction of matching requests it hits (random, 0 < rate ≤ 1)
};

class Sandbox {
 public:
  // `base_clock` must outlive the sandbox.
  Sandbox(Fixture fixture, const Clock& base_clock, Settings settings = {});

  // Answers one request to a WeCom endpoint (/cgi-bin/...) or a control endpoint (/_sandbox/...,
  // except the callback ones, see below). Records WeCom requests. Never throws for bad input.
  ApiReply handle(const ApiRequest& req);

  // Takes (and counts down) the first fault registered for `path`, if any.
  std::optional<Fault> take_fault(const std::string& path);
  // The reply for an errcode/http_status fault, recorded like any request (status 0 for a
  // drop_connection fault: the server then resets the connection).
  ApiReply fault_reply(const Fault& fault, const ApiRequest& req);

  // Control API POST /_sandbox/callbacks/app and /_sandbox/callbacks/verify: builds the job, or an
  // error reply (400 for bad input, 404 for an unknown app, 409 when the app has no callback URL).
  std::variant<CallbackJob, ApiReply> prepare_callback(const ApiRequest& req);
  // Stores a finished delivery and returns its JSON (the control API's answer).
  nlohmann::json record_callback(CallbackRecord rec,
                                 const std::function<void(const CallbackRecord&)>& on_done = {});

  // Callbacks emitted by the core or a module since the last call (the server delivers them).
  std::vector<CallbackJob> take_callbacks();

  ControlledClock& clock() { return ctx_.clock; }
  // Where the sandbox listens ("http://host:port"), for URLs it hands out (e.g. response_url).
  void set_base_url(std::string url);
  const Settings& settings() const { return ctx_.settings; }

  // Everything worth keeping across runs (`--state FILE`): the fixture as it is now (groups created,
  // members joined; module sections of the original fixture kept), deliveries, media, response
  // codes, message/send's duplicate-check window and each named module's save(). Not kept: tokens,
  // rate windows, faults, the clock's offset and the request and callback records. restore_state() takes that back into a sandbox built from
  // load_state_fixture(saved): call it once, before serving.
  nlohmann::json save_state() const;
  void restore_state(const nlohmann::json& saved);

  // For tests: copies of the records (the newest settings().max_records of each).
  std::vector<RequestRecord> requests() const;
  std::vector<Delivery> deliveries() const;
  std::vector<CallbackRecord> callbacks() const;

 private:
  ApiReply dispatch(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply control(const ApiRequest& req, const Target& t);
  void add_request(RequestRecord rec);
  ApiReply gettoken(const Target& t);
  ApiReply webhook_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply message_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply appchat_send(const ApiRequest& req, const Target& t, RequestRecord& rec);
  RequestRecord new_record(const ApiRequest& req, const Target& t);
  void reset_state();

  mutable std::mutex mu_;
  Context ctx_;
  std::vector<std::unique_ptr<Module>> modules_;
  std::map<std::string, std::deque<std::int64_t>> webhook_windows_;  // robot key → send times (ms)
  std::map<std::string, std::deque<std::int64_t>> member_minute_;    // "agent/userid" → times
  std::map<std::string, std::deque<std::int64_t>> member_hour_;
  std::map<std::string, std::deque<std::int64_t>> appchat_minute_;
  std::map<std::string, std::int64_t> recent_sends_;
  std::set<std::string> card_tasks_;  // "agent/task_id" of every template card sent (unique per app)  // "agent/body" → end of its duplicate-check window (ms)
  std::vector<Fault> faults_;
  std::deque<RequestRecord> requests_;
  std::deque<CallbackRecord> callbacks_;
};

}  // namespace yuer::sandbox
