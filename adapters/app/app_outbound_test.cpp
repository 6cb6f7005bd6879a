#include "adapters/app/app_outbound.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace yuer::adapters::app {
namespace {

using nlohmann::json;

model::OutboxItem item(model::ContentKind kind, std::string target, std::string content) {
  model::OutboxItem i;
  i.route = "app";
  i.target = std::move(target);
  i.kind = kind;
  i.content = std::move(content);
  return i;
}

TEST_CASE("message/send bodies carry the content and ask WeCom to drop a resent duplicate", "[app][outbound]") {
  struct Case {
    const char* name;
    model::ContentKind kind;
    const char* msgtype;
  };
  for (const Case& c : {Case{"text", model::ContentKind::kText, "text"}, Case{"markdown", model::ContentKind::kMarkdown, "markdown"}}) {
    CAPTURE(c.name);
    json b = json::parse(message_body(item(c.kind, "QingheCoord", "您有 1 条群发等您确认"), 1000002));
    CHECK(b["touser"] == "QingheCoord");
    CHECK(b["agentid"] == 1000002);
    CHECK(b["msgtype"] == c.msgtype);
    CHECK(b[c.msgtype]["content"] == "您有 1 条群发等您确认");
    CHECK(b["enable_duplicate_check"] == 1);
    CHECK(b["duplicate_check_interval"] == 1800);
    // The same row gives the same bytes, which is what WeCom's duplicate check compares.
    CHECK(message_body(item(c.kind, "QingheCoord", "您有 1 条群发等您确认"), 1000002) == b.dump());
  }
}

TEST_CASE("appchat/send bodies name the chat", "[app][outbound]") {
  json b = json::parse(appchat_body(item(model::ContentKind::kText, "wrchat1", "通知")));
  CHECK(b["chatid"] == "wrchat1");
  CHECK(b["msgtype"] == "text");
  CHECK(b["text"]["content"] == "通知");
}

TEST_CASE("a template card goes out as msgtype template_card with the card object", "[app][outbound]") {
  const std::string card = R"({"card_type":"button_interaction","task_id":"s1_2_3","main_title":{"title":"第1题"},)"
                           R"("button_list":[{"text":"1.吃过","key":"q:0:ever_bf:1"}]})";
  json b = json::parse(message_body(item(model::ContentKind::kTemplateCard, "Doc01", card), 1000002));
  CHECK(b["msgtype"] == "template_card");
  CHECK(b["template_card"] == json::parse(card));
  CHECK_FALSE(b.contains("text"));
  CHECK(b["touser"] == "Doc01");
}

TEST_CASE("update_template_card bodies replace the clicked button, bad content gives none", "[app][outbound]") {
  auto [content, ok] = GENERATE(table<std::string, bool>({
      {R"({"response_code":"RC1","replace_name":"已选择：吃过"})", true},
      {R"({"response_code":"RC1"})", false},
      {R"({"response_code":7,"replace_name":"x"})", false},
      {"not json", false},
  }));
  CAPTURE(content);
  const std::string body = card_update_body(item(model::ContentKind::kTemplateCard, "Doc01", content), 1000002);
  REQUIRE(body.empty() == !ok);
  if (!ok) return;
  json b = json::parse(body);
  CHECK(b["userids"] == json::array({"Doc01"}));
  CHECK(b["agentid"] == 1000002);
  CHECK(b["response_code"] == "RC1");
  CHECK(b["button"]["replace_name"] == "已选择：吃过");
}

TEST_CASE("member targets are single userids", "[app][outbound]") {
  auto [target, ok] = GENERATE(table<std::string, bool>(
      {{"Doc01", true}, {"", false}, {"a|b", false}, {"@all", false}, {std::string(65, 'a'), false}}));
  CAPTURE(target);
  CHECK(member_target(target) == ok);
}

}  // namespace
}  // namespace yuer::adapters::app
