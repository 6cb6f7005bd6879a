#include "adapters/aibot/aibot_reply.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::aibot {
namespace {

constexpr const char* kPath = "/cgi-bin/aibot/response?response_code=";

class ReplyChannel final : public model::OutboundChannel {
 public:
  ReplyChannel(wecom::ApiClient& api, std::string base) : api_(api), base_(std::move(base)) {}

  std::string route() const override { return kReplyRoute; }

  model::ChannelLimits limits() const override {
    model::ChannelLimits l;
    // Each response_url is used once: nothing to pace per target. All robots together stay under
    // the per-IP API limit of 20 000 calls/min (reference §12).
    l.per_route = {{18000, std::chrono::milliseconds(60000)}};
    l.text_max_bytes = 20480;      // DOC 101138: markdown.content ≤ 20480 bytes
    l.markdown_max_bytes = 20480;
    return l;
  }

  bool knows_target(const std::string& target) const override { return !response_path(base_, target).empty(); }

  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    const std::string path = response_path(base_, item.target);
    if (path.empty()) co_return model::SendOutcome::permanent(0, "不是本企业微信接口的 response_url");
    auto reply = co_await api_.post(path, reply_body(item.content));
    co_return reply.outcome;
  }

 private:
  wecom::ApiClient& api_;
  std::string base_;
};

}  // namespace

std::string response_path(const std::string& api_base, const std::string& url) {
  if (api_base.empty() || !url.starts_with(api_base)) return "";
  std::string rest = url.substr(api_base.size());
  if (!rest.starts_with(kPath) || rest.size() == std::char_traits<char>::length(kPath)) return "";
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '#') return "";
  return rest;
}

std::string reply_body(const std::string& content) {
  nlohmann::json body{{"msgtype", "markdown"}, {"markdown", {{"content", content}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<model::OutboundChannel> make_reply_channel(wecom::ApiClient& api, std::string api_base) {
  while (!api_base.empty() && api_base.back() == '/') api_base.pop_back();
  return std::make_unique<ReplyChannel>(api, std::move(api_base));
}

}  // namespace yuer::adapters::aibot
