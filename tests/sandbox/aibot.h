// 智能机器人 (intelligent robot) in API mode, reference §10: the sandbox plays WeCom toward the
// robot's callback URL. A member @-mentions the robot in an internal group (control API) → an
// encrypted JSON callback (§1.7, receiveid "") with a response_url; the robot's passive reply in
// the HTTP answer is verified (signature, nonce echoed, receiveid "") and decrypted, and what it
// says becomes a Delivery (channel "aibot") — or a recorded error. Streams are refreshed until
// finish or 6 minutes; response_url accepts one asynchronous reply within 1 hour; template-card
// clicks are sent once (no retry).
#pragma once

#include "tests/sandbox/module.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::sandbox {

// A robot of the fixture's "aibots" section.
struct Aibot {
  std::string aibotid;
  std::string name;
  std::string token, aes_key;  // callback Token / EncodingAESKey
  std::string callback_url;
  std::vector<std::string> chat_ids;  // internal groups it is in
};

// What a robot's HTTP answer to a JSON callback says (§1.7, §10.4): nothing (empty body), the
// decrypted reply object, or why it is not acceptable.
struct PassiveReply {
  bool empty = false;
  nlohmann::json message;  // the decrypted plaintext JSON object (when ok)
  std::string error;       // non-empty = rejected
};

// Checks the answer of the delivered attempt of `rec` (the last with HTTP 200): empty body → empty;
// else JSON {encrypt, msgsignature, timestamp (number or string), nonce} whose nonce equals the
// callback's, whose signature is sha1(sort(token, timestamp, nonce, encrypt)), and whose encrypt
// decrypts with receiveid "" to a JSON object. Never throws.
PassiveReply read_passive_reply(const Aibot& bot, const CallbackRecord& rec);

class AibotModule final : public Module {
 public:
  static constexpr std::int64_t kResponseUrlMs = 3'600'000;  // response_url valid 1 h (DOC 101138)
  static constexpr std::int64_t kStreamMs = 6 * 60'000;      // stream refreshed ≤ 6 min (DOC 100719)
  static constexpr std::size_t kStreamMaxBytes = 20480;      // stream / markdown content (§10.4, §10.5)
  static constexpr int kMaxRefreshes = 360;                  // sandbox guard: one per second for 6 min

  // Reads the fixture's "aibots" section; invalid entries are skipped and listed in state().
  explicit AibotModule(Context& ctx);

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override;
  std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const nlohmann::json& body) override;
  void reset() override;
  nlohmann::json state() const override;
  // --state FILE: turns, response_url codes, clickable cards and a response_base set by control.
  // A turn still waiting for the robot's answer (pending, streaming) when the sandbox stopped comes
  // back as "interrupted": its callback died with the process.
  std::string_view name() const override { return "aibot"; }
  nlohmann::json save() const override;
  void restore(const nlohmann::json& saved) override;

 private:
  // One conversation turn: a user's message (or card click) and what came of it.
  struct Turn {
    std::string msgid;  // of the user's message (the first callback)
    std::string kind;   // "message" | "click"
    std::string aibotid, chatid, chattype, userid, text;
    std::int64_t time_ms = 0;
    std::string response_code;
    std::string status = "pending";  // pending, empty, streaming, delivered, error, undelivered, stream_expired
    std::vector<std::string> errors;
    std::string stream_id, stream_content;
    bool card_sent = false;
    int refreshes = 0;
    std::string task_id;  // click: the card clicked
  };
  struct Response {  // a response_url's code
    std::string turn;  // msgid of the turn
    std::int64_t expires_ms = 0;
    bool used = false;
  };

  const Aibot* bot(const std::string& aibotid) const;
  ApiReply response(const ApiRequest& req, const Target& t, RequestRecord& rec);
  ApiReply control_mention(const nlohmann::json& body);
  ApiReply control_click(const nlohmann::json& body);
  // Emits one JSON callback for `turn` carrying `plaintext`; its answer goes to on_reply.
  void emit(const Aibot& b, const std::string& turn, const nlohmann::json& plaintext, const std::string& label,
            int attempts);
  void on_reply(std::uint64_t generation, const std::string& turn, const CallbackRecord& rec);
  void deliver(const Turn& t, const std::string& msgtype, nlohmann::json message);
  void fail(Turn& t, std::string why);
  std::string new_response_url(const std::string& turn);
  std::string response_base() const;

  Context& ctx_;
  std::vector<Aibot> bots_;
  std::vector<std::string> fixture_errors_;
  std::map<std::string, Turn> turns_;
  std::vector<std::string> order_;  // turn msgids, oldest first
  std::map<std::string, Response> responses_;
  std::map<std::string, std::pair<std::string, std::string>> cards_;  // task_id → aibotid, chatid/userid
  std::uint64_t generation_ = 0;  // bumped by reset(): answers to older callbacks are ignored
  std::string response_base_;     // control /_sandbox/aibot/config; kept across reset
};

std::unique_ptr<Module> make_aibot_module(Context& ctx);

}  // namespace yuer::sandbox
