#include "adapters/robot/robot_channel.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::robot {
namespace {

class RobotChannel final : public model::OutboundChannel {
 public:
  RobotChannel(wecom::ApiClient& api, Settings s) : api_(api), settings_(std::move(s)) {}

  std::string route() const override { return "robot"; }

  model::ChannelLimits limits() const override {
    model::ChannelLimits l;
    l.per_target = {{settings_.per_key_per_window, settings_.window}};
    l.per_route = {{settings_.route_per_minute, std::chrono::milliseconds(60000)}};
    l.text_max_bytes = 2048;      // DOC 99110: text.content ≤ 2048 bytes
    l.markdown_max_bytes = 4096;  // DOC 99110: markdown.content ≤ 4096 bytes
    return l;
  }

  bool knows_target(const std::string& target) const override { return settings_.keys.count(target) > 0; }

  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    auto it = settings_.keys.find(item.target);
    if (it == settings_.keys.end())
      co_return model::SendOutcome::permanent(0, "该群没有配置机器人 webhook key（wecom.robots）");
    auto reply = co_await api_.post("/cgi-bin/webhook/send?key=" + wecom::url_encode(it->second), webhook_body(item));
    co_return reply.outcome;
  }

 private:
  wecom::ApiClient& api_;
  Settings settings_;
};

}  // namespace

std::string webhook_body(const model::OutboxItem& item) {
  const char* type = item.kind == model::ContentKind::kText ? "text" : "markdown";
  nlohmann::json body{{"msgtype", type}, {type, {{"content", item.content}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<model::OutboundChannel> make_channel(wecom::ApiClient& api, Settings settings) {
  return std::make_unique<RobotChannel>(api, std::move(settings));
}

}  // namespace yuer::adapters::robot
