// The two halves written from the documentation meet: wecom-sandbox plays WeCom and calls the real
// yuerd's callback URL (URL verification, encrypted app messages and events, WeCom's retries with
// the same MsgId), and yuerd must verify, decrypt and store each exactly once.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>

#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using http::Verb;

json sandbox_fixture(const YuerdFixture& d, const std::string& callback_url) {
  return {{"corp", {{"corp_id", kCorpId}, {"name", "联调县"}}},
          {"apps", {{{"agent_id", 1000002}, {"name", "育儿助手"}, {"secret", "e2e-app-secret"},
                     {"token", d.secrets().app_token}, {"aes_key", d.secrets().app_aes_key},
                     {"callback_url", callback_url}}}},
          {"members", {{{"userid", "QingheCoord"}, {"name", "清河专干"}}, {{"userid", "XishanCoord"}, {"name", "西山专干"}}}}};
}

json inbox(const YuerdFixture& d) {
  auto rsp = net::http_request(Verb::get, d.url("/api/v1/inbox?limit=100&order=oldest&payload=1"), {},
                               {{"Authorization", "Bearer " + d.secrets().admin_token}});
  REQUIRE(rsp.has_value());
  REQUIRE(rsp->status == 200);
  return json::parse(rsp->body)["items"];
}

TEST_CASE("e2e wecom-sandbox callbacks are verified, decrypted and stored once by yuerd", "[e2e][sandbox]") {
  YuerdFixture d;
  d.start();
  SandboxProcess sb(sandbox_fixture(d, d.url("/wecom/callback/app")));

  // Saving the callback URL in WeCom's admin page: one GET with an encrypted echostr.
  auto verify = sb.post("/_sandbox/callbacks/verify", json::object());
  INFO(verify.dump());
  CHECK(verify["delivered"] == true);

  // Members write to the app: text messages with fresh MsgIds.
  std::vector<std::string> msg_ids;
  for (const std::string text : {"收到，明天上午通知家长", "清河镇 3 组已满 350 人", "<b>不是标签</b> ]]> & 符号"}) {
    auto rec = sb.post("/_sandbox/callbacks/app", {{"from_user", "QingheCoord"}, {"text", text}});
    INFO(rec.dump());
    REQUIRE(rec["delivered"] == true);
    CHECK(rec["attempts"].size() == 1);
    msg_ids.push_back(rec["msg_id"].get<std::string>());
  }
  // WeCom's retry of an already delivered message (same plaintext, new signature): stored once.
  json second;
  const json sent = sb.get("/_sandbox/callbacks")["callbacks"];
  for (const auto& c : sent)
    if (c["msg_id"] == msg_ids[1]) second = c;
  REQUIRE(second.is_object());
  auto again = sb.post("/_sandbox/callbacks/app", {{"plaintext_xml", second["plaintext"]}});
  CHECK(again["delivered"] == true);
  // A card click: an event (no MsgId), stored on its own key.
  auto click = sb.post("/_sandbox/cards/click", {{"userid", "XishanCoord"}, {"task_id", "survey-r1"}, {"event_key", "confirm"}});
  CHECK(click.contains("response_code"));

  // The click is delivered after its control request returns: wait (bounded) for it.
  json items;
  for (int i = 0; i < 100; ++i) {
    items = inbox(d);
    if (items.size() >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(items.size() == 4);
  for (std::size_t i = 0; i < msg_ids.size(); ++i) {
    CAPTURE(i);
    CHECK(items[i]["dedupe_key"] == "msg:" + msg_ids[i]);
  }
  CHECK(items[1]["deliveries"] == 2);
  const std::string payload = items[3]["payload"].get<std::string>();
  CHECK(payload.find("template_card_event") != std::string::npos);
  CHECK(payload.find(click["response_code"].get<std::string>()) != std::string::npos);
  auto callbacks = sb.get("/_sandbox/callbacks")["callbacks"];
  for (const auto& c : callbacks) CHECK(c["delivered"] == true);

  // A sandbox configured with the wrong key: yuerd refuses, the sandbox retries as WeCom
  // does and finally gives up; nothing more is stored.
  json wrong = sandbox_fixture(d, d.url("/wecom/callback/app"));
  wrong["apps"][0]["aes_key"] = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
  SandboxProcess bad(wrong, {"--callback-retry-delay-ms", "0"});
  auto refused = bad.post("/_sandbox/callbacks/app", {{"from_user", "QingheCoord"}, {"text", "伪造"}});
  CHECK(refused["delivered"] == false);
  REQUIRE(refused["attempts"].size() == 4);
  // The signature is right (same token), the plaintext is not: yuerd answers 400, never 200.
  for (const auto& a : refused["attempts"]) CHECK(a["status"] == 400);
  CHECK(inbox(d).size() == 4);
}

}  // namespace
}  // namespace yuer::test
