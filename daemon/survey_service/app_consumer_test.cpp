// The app channel's conversation consumer on real stores (SQLite in a temp folder): a member is
// invited, identifies with birth date + phone digits, answers by card clicks and typed text, and
// bad input (an old card, a foreign key, an uninvited member) gets a reply or nothing. Replies are
// recorded at the SendReplies seam yuerd fills with the outbox.
#include "daemon/survey_service/service.h"

#include "daemon/store/store_testing.h"
#include "daemon/survey/test_support.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>

namespace yuer::survey_service {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr std::int64_t kNow = 1772380800;  // 2026-03-02 00:00 in Beijing

awaitable<Result<void>> record(std::vector<Reply>* out, std::vector<Reply> replies) {
  for (auto& r : replies) out->push_back(std::move(r));
  co_return Result<void>{};
}

std::string text_xml(const std::string& user, const std::string& text, std::int64_t msgid) {
  return "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[" + user +
         "]]></FromUserName><CreateTime>" + std::to_string(kNow) + "</CreateTime><MsgType><![CDATA[text]]></MsgType>"
         "<Content><![CDATA[" + text + "]]></Content><MsgId>" + std::to_string(msgid) + "</MsgId><AgentID>1</AgentID></xml>";
}

std::string click_xml(const std::string& user, const std::string& key, const std::string& code) {
  return "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[" + user +
         "]]></FromUserName><CreateTime>" + std::to_string(kNow) + "</CreateTime><MsgType><![CDATA[event]]></MsgType>"
         "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[" + key + "]]></EventKey>"
         "<TaskId><![CDATA[t]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
         "<ResponseCode><![CDATA[" + code + "]]></ResponseCode><AgentID>1</AgentID></xml>";
}

struct Env {
  store::testing::TempDir dir;
  store::Settings settings;
  std::unique_ptr<store::Store> inbox;
  std::unique_ptr<store::OrgStore> org;
  std::unique_ptr<store::SurveyStore> surveys;
  ManualClock clock{kNow};
  asio::io_context io;
  asio::thread_pool pool{1};
  std::vector<Reply> sent;
  std::int64_t round = 0;
  int seq = 0;

  Env() {
    settings.path = dir.file("yuer.db");
    inbox = std::move(store::open_sqlite_store(settings).value());
    org = std::move(store::open_sqlite_org_store(settings).value());
    surveys = std::move(store::open_sqlite_survey_store(settings).value());
    org->write_units({{"440000000000", "示范省", 1, "", 0, 0}, {"440103001000", "东一镇", 4, "440000000000", 0, 0}}, 1);
    store::Family f;
    f.child_id = "c1";
    f.birth_date = "2025-08-01";  // 7 months on kNow
    f.unit_code = "440103001000";
    f.phone_hash = "h1";
    f.phone_masked = "139****1234";
    org->write_families({f}, 1);
    store::SurveyRound r;
    r.survey_id = "feeding";
    r.survey_version = 1;
    r.unit_code = "440103001000";
    r.opens_on = "2026-03-01";
    r.closes_on = "2026-03-31";
    r.name = "第1轮";
    r.units = {"440103001000"};
    round = surveys->open_round(r, {{"c1", "440103001000", "2025-08-01"}}, 1);
  }

  std::unique_ptr<Service> service() {
    Settings s;
    s.app = true;
    s.poll = 5ms;
    s.retry_after = 5ms;
    SendReplies send = [this](std::vector<Reply> r) { return record(&sent, std::move(r)); };
    return std::make_unique<Service>(io.get_executor(), pool, *inbox, *surveys, *org,
                                     std::vector<survey::Survey>{survey::testing::feeding()}, nullptr, clock, s,
                                     std::move(send));
  }

  void add(const std::string& kind, const std::string& payload) {
    model::InboundEvent e = store::testing::make_event("app", "msg:" + std::to_string(++seq), kind, payload);
    e.created_at = kNow;
    inbox->insert_inbox({e});
  }

  // Runs the io context until `done` (at most 10 s).
  void run_until(const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < end) io.run_for(5ms);
  }

  // Runs the app consumer until `n` replies in all were recorded (and a little longer, to show
  // there is nothing more), then stops it.
  void consume(Service& svc, std::size_t n) {
    bool ended = false;
    asio::co_spawn(io, svc.run_app(), [&](std::exception_ptr) { ended = true; });
    run_until([&] { return sent.size() >= n; });
    io.run_for(50ms);
    svc.stop();
    run_until([&] { return ended; });
    io.restart();
  }
};

TEST_CASE("survey app channel: an invited member answers by clicks and typing, bad input is answered or ignored",
          "[survey_service][app]") {
  Env env;
  auto svc = env.service();
  bool invited = false;
  Result<Invited> got = Error{"unset", ""};
  asio::co_spawn(env.io, svc->invite(env.round, {"Doc01", "Doc01"}), [&](std::exception_ptr e, Result<Invited> r) {
    REQUIRE_FALSE(e);
    got = std::move(r);
    invited = true;
  });
  env.run_until([&] { return invited; });
  env.io.restart();
  REQUIRE(got.has_value());
  CHECK(got->members == 1u);  // the same userid twice is one member
  REQUIRE(env.sent.size() == 1u);
  CHECK(env.sent[0].route == "app");
  CHECK(env.sent[0].target == "Doc01");
  CHECK(env.sent[0].key == "survey:invite:" + std::to_string(env.round) + ":Doc01");
  CHECK(env.sent[0].text.find("第1轮") != std::string::npos);
  env.sent.clear();

  env.add("text", text_xml("Doc01", "开始", 1));                          // → birth date
  env.add("text", text_xml("Doc01", "2025-8-1", 2));                      // → phone digits
  env.add("text", text_xml("Doc01", "１２３４", 3));                       // → matched: ever_bf card
  env.add("event:template_card_event", click_xml("Doc01", "q:0:ever_bf:1", "RC4"));  // → update + first_bf card
  env.add("event:template_card_event", click_xml("Doc01", "q:0:ever_bf:2", "RC5"));  // old card → a reply
  env.add("event:template_card_event", click_xml("Doc01", "key111", "RC6"));        // not ours → nothing
  env.add("text", text_xml("Stranger", "你好", 7));                      // not invited → nothing
  env.add("event:enter_agent", "<xml><FromUserName>Doc01</FromUserName><MsgType>event</MsgType></xml>");
  env.add("text", text_xml("Doc01", "９", 9));                             // out of range → reason + card again
  env.add("text", text_xml("Doc01", "一", 10));                            // typed 1 → prelacteal card
  env.consume(*svc, 9);

  struct Want {
    std::string route;
    model::ContentKind kind;
    std::string contains;  // text, or the card's first button key
  };
  const std::vector<Want> want = {
      {"app", model::ContentKind::kText, "出生日期"},
      {"app", model::ContentKind::kText, "后4位"},
      {"app", model::ContentKind::kTemplateCard, "q:0:ever_bf:1"},
      {"app_card", model::ContentKind::kTemplateCard, "已选择：吃过"},
      {"app", model::ContentKind::kTemplateCard, "q:0:first_bf:1"},
      {"app", model::ContentKind::kText, "已经回答过了"},
      {"app", model::ContentKind::kText, "1 到 4"},
      {"app", model::ContentKind::kTemplateCard, "q:0:first_bf:1"},
      {"app", model::ContentKind::kTemplateCard, "q:0:prelacteal:1"},
  };
  // Before the first card, the engine may say more (the survey's intro); only the shape matters.
  std::vector<Reply> replies;
  for (const auto& r : env.sent)
    if (!(r.kind == model::ContentKind::kText && r.text.find("您好") != std::string::npos && r.text.find("出生日期") == std::string::npos))
      replies.push_back(r);
  REQUIRE(replies.size() == want.size());
  std::set<std::string> keys;
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i, replies[i].text);
    CHECK(replies[i].route == want[i].route);
    CHECK(replies[i].kind == want[i].kind);
    CHECK(replies[i].target == "Doc01");
    CHECK(replies[i].key.starts_with("survey:app:"));
    CHECK(replies[i].text.find(want[i].contains) != std::string::npos);
    if (replies[i].kind == model::ContentKind::kTemplateCard && replies[i].route == "app") {
      json card = json::parse(replies[i].text);
      CHECK(card["card_type"] == "button_interaction");
      CHECK(card["button_list"].size() >= 3u);
      CHECK(card["task_id"].get<std::string>().starts_with("s" + std::to_string(env.round) + "_"));
    }
  }
  for (const auto& r : env.sent) CHECK(keys.insert(r.key).second);
  json update = json::parse(replies[3].text);
  CHECK(update["response_code"] == "RC4");

  // State per (channel app, member, round); the stranger has none and no binding.
  auto state = env.surveys->conversation("app", "Doc01", env.round);
  REQUIRE(state.has_value());
  CHECK(json::parse(*state)["current"] == "prelacteal");
  CHECK_FALSE(env.surveys->binding("app", "Stranger").has_value());
  CHECK(env.surveys->cursor("app") > 0);

  // A restart resumes: nothing is answered twice, the next click continues the conversation.
  svc.reset();
  env.sent.clear();
  auto again = env.service();
  env.add("event:template_card_event", click_xml("Doc01", "q:0:prelacteal:2", "RC11"));
  env.consume(*again, 2);
  REQUIRE(env.sent.size() == 2u);
  CHECK(env.sent[0].route == "app_card");
  CHECK(env.sent[0].text.find("已选择：没喂过") != std::string::npos);
  CHECK(env.sent[1].kind == model::ContentKind::kTemplateCard);
  CHECK(env.sent[1].text.find("q:0:bf_yesterday:1") != std::string::npos);
}

TEST_CASE("survey app channel: invitations are refused for unknown or closed rounds and bad userids",
          "[survey_service][app]") {
  Env env;
  auto svc = env.service();
  struct Case {
    const char* name;
    std::int64_t round;
    std::vector<std::string> userids;
    const char* code;
  };
  store::SurveyRound january;
  january.survey_id = "feeding";
  january.unit_code = "440103001000";
  january.opens_on = "2026-01-01";
  january.closes_on = "2026-01-31";
  env.surveys->open_round(january, {}, 1);
  const std::int64_t closed = env.round + 1;
  env.surveys->close_round(closed, 2);
  for (const auto& c : std::vector<Case>{
           {"unknown round", 999, {"Doc01"}, "survey.not_found"},
           {"closed round", closed, {"Doc01"}, "survey.closed"},
           {"no userids", env.round, {}, "survey.bad_request"},
           {"a userid with a space", env.round, {"Doc 01"}, "survey.bad_request"},
           {"@all", env.round, {"a|b"}, "survey.bad_request"},
       }) {
    CAPTURE(c.name);
    bool done = false;
    Result<Invited> got = Error{"unset", ""};
    asio::co_spawn(env.io, svc->invite(c.round, c.userids), [&](std::exception_ptr, Result<Invited> r) {
      got = std::move(r);
      done = true;
    });
    env.run_until([&] { return done; });
    env.io.restart();
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().code == c.code);
  }
  CHECK(env.sent.empty());
}

}  // namespace
}  // namespace yuer::survey_service
