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

}  // namespace
}  // namespace yuer::adapters::app
