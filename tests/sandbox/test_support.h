// Shared by the sandbox's unit tests: a Sandbox on a ManualClock built from a fixture text, helpers
// to call WeCom endpoints and the control API, uploads as multipart bodies, and a save → restore
// round trip into a new sandbox (as `--state FILE` does across a restart).
#pragma once

#include "tests/sandbox/sandbox.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace yuer::sandbox::testing {

using nlohmann::json;

inline const std::string kBoundary = "----yuerBoundary7MA4YWxk";

// A multipart/form-data body with one file part (content type: multipart_type()).
inline std::string multipart(const std::string& name, const std::string& filename, const std::string& data) {
  return "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename +
         "\"; filelength=" + std::to_string(data.size()) + "\r\nContent-Type: application/octet-stream\r\n\r\n" +
         data + "\r\n--" + kBoundary + "--\r\n";
}
inline std::string multipart_type() { return "multipart/form-data; boundary=" + kBoundary; }

inline json parse(const ApiReply& r) { return json::parse(r.body); }
inline int errcode_of(const ApiReply& r) { return parse(r).at("errcode").get<int>(); }

// A sandbox seeded from `fixture_json` whose base clock starts at `unix_s` (ManualClock: tests move
// it with base.advance(), never sleep). REQUIREs a valid fixture.
class SandboxEnv {
 public:
  explicit SandboxEnv(const std::string& fixture_json, Settings settings = {}, std::int64_t unix_s = 1'700'000'000)
      : base(unix_s), settings_(settings) {
    auto f = parse_fixture(fixture_json);
    INFO((f.has_value() ? std::string() : f.error().message));
    REQUIRE(f.has_value());
    corp_id_ = f->corp_id;
    sandbox_ = std::make_unique<Sandbox>(std::move(*f), base, settings_);
  }

  ManualClock base;

  Sandbox& sb() { return *sandbox_; }
  const Sandbox& sb() const { return *sandbox_; }
  ApiReply get(const std::string& target) { return sandbox_->handle({"GET", target, ""}); }
  ApiReply post(const std::string& target, const std::string& body) { return sandbox_->handle({"POST", target, body}); }
  json post_json(const std::string& target, const json& body) { return parse(post(target, body.dump())); }
  // An access_token of the app holding `secret` (REQUIREs success).
  std::string token(const std::string& secret) {
    auto r = parse(get("/cgi-bin/gettoken?corpid=" + corp_id_ + "&corpsecret=" + secret));
    INFO(r.dump());
    REQUIRE(r.value("errcode", -1) == 0);
    return r.at("access_token").get<std::string>();
  }
  // A control call's JSON answer (its HTTP status in *status).
  json control(const std::string& path, const json& body, unsigned* status = nullptr) {
    ApiReply r = post(path, body.dump());
    if (status) *status = r.status;
    return parse(r);
  }
  json state() { return parse(get("/_sandbox/state")); }
  // media/upload with the app of `secret`; the media_id (REQUIREs errcode 0).
  std::string upload_media(const std::string& secret, const std::string& type, const std::string& filename,
                           const std::string& data) {
    auto r = parse(sandbox_->handle({"POST", "/cgi-bin/media/upload?access_token=" + token(secret) + "&type=" + type,
                                     multipart("media", filename, data), multipart_type()}));
    INFO(r.dump());
    REQUIRE(r.value("errcode", -1) == 0);
    return r.at("media_id").get<std::string>();
  }

  // What a restart with `--state FILE` does: save_state() through JSON text, a new Sandbox built
  // from the saved fixture on the same base clock, restore_state(). Later calls reach the new one.
  void restart() {
    const std::string text = sandbox_->save_state().dump();
    json saved = json::parse(text);
    auto f = parse_fixture(saved["fixture"].dump());
    INFO((f.has_value() ? std::string() : f.error().message));
    REQUIRE(f.has_value());
    sandbox_.reset();
    sandbox_ = std::make_unique<Sandbox>(std::move(*f), base, settings_);
    sandbox_->restore_state(saved);
  }

 private:
  Settings settings_;
  std::string corp_id_;
  std::unique_ptr<Sandbox> sandbox_;
};

// The smallest interactive card of `card_type` that message/send accepts (check_interactive_card).
inline nlohmann::json interactive_card(const std::string& card_type, const std::string& task_id) {
  nlohmann::json card = {{"card_type", card_type}, {"task_id", task_id}, {"main_title", {{"title", "问卷"}}}};
  const nlohmann::json options = {{{"id", "1"}, {"text", "是"}}, {{"id", "2"}, {"text", "否"}}};
  if (card_type == "button_interaction") card["button_list"] = {{{"text", "是"}, {"key", "yes"}}, {{"text", "否"}, {"key", "no"}}};
  if (card_type == "vote_interaction") card["checkbox"] = {{"question_key", "q1"}, {"mode", 0}, {"option_list", options}};
  if (card_type == "multiple_interaction") card["select_list"] = {{{"question_key", "q1"}, {"option_list", options}}};
  if (card_type != "button_interaction") card["submit_button"] = {{"text", "提交"}, {"key", "submit"}};
  return card;
}

}  // namespace yuer::sandbox::testing
