// The aibot reply route accepts only response_urls of the configured API base.
#include "adapters/aibot/aibot_reply.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace yuer::adapters::aibot {

TEST_CASE("aibot replies: only response_urls under the API base", "[aibot][reports]") {
  const std::string base = "https://qyapi.weixin.qq.com";
  struct Case {
    std::string url, want;
  };
  const Case cases[] = {
      {base + "/cgi-bin/aibot/response?response_code=RC1", "/cgi-bin/aibot/response?response_code=RC1"},
      {base + "/cgi-bin/aibot/response?response_code=", ""},
      {base + "/cgi-bin/webhook/send?key=K", ""},
      {"https://evil.example/cgi-bin/aibot/response?response_code=RC1", ""},
      {"https://qyapi.weixin.qq.com.evil/cgi-bin/aibot/response?response_code=RC1", ""},
      {base + "/cgi-bin/aibot/response?response_code=R C", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    INFO(c.url);
    CHECK(response_path(base, c.url) == c.want);
  }
  CHECK(response_path("", base + "/cgi-bin/aibot/response?response_code=RC1").empty());
}

TEST_CASE("aibot replies: a markdown body", "[aibot][reports]") {
  auto j = nlohmann::json::parse(reply_body("【进度】甲镇：9/10"));
  CHECK(j["msgtype"] == "markdown");
  CHECK(j["markdown"]["content"] == "【进度】甲镇：9/10");
}

}  // namespace yuer::adapters::aibot
