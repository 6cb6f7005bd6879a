#include "adapters/app/app_outbound.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::app {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kDuplicateCheckIntervalS = 1800;  // WeCom's default; 4 h at most

json content_of(const model::OutboxItem& item) { return json{{"content", item.content}}; }
const char* type_of(const model::OutboxItem& item) {
  return item.kind == model::ContentKind::kText ? "text" : "markdown";
}
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

class MessageChannel final : public model::OutboundChannel {
 public:
  MessageChannel(wecom::ApiClient& api, wecom::AccessToken& token, OutboundSettings s)
      : api_(api), token_(token), settings_(s) {}
  std::string route() const override { return "app"; }
  model::ChannelLimits limits() const override {
    model::ChannelLimits l;
    // DOC 90236: per app per member ≤ 30/min and 1000/h, the excess silently dropped: stay under.
    l.per_target = {{28, milliseconds(60000)}, {950, milliseconds(3600000)}};
    l.text_max_bytes = 2048;
    l.markdown_max_bytes = 2048;  // reference §5.1: 2048 vs 4096 uncertain; the smaller one
    return l;
  }
  bool knows_target(const std::string& target) const override {
    return !target.empty() && target.size() <= 64 && target.find('|') == std::string::npos && target != "@all";
  }
  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    auto reply = co_await api_.post_with_token(token_, "/cgi-bin/message/send", message_body(item, settings_.agent_id));
    if (reply.outcome.kind == model::OutcomeKind::kDelivered) {
      // A partly invalid recipient list still answers errcode 0 and names them; ours has one.
      if (reply.body.contains("invaliduser") && reply.body["invaliduser"].is_string() &&
          !reply.body["invaliduser"].get<std::string>().empty())
        co_return model::SendOutcome::permanent(0, "接收成员无效或不在应用可见范围内");
      co_return model::SendOutcome::delivered(reply.body.value("msgid", ""));
    }
    co_return reply.outcome;
  }

 private:
  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
  OutboundSettings settings_;
};

class AppchatChannel final : public model::OutboundChannel {
 public:
  AppchatChannel(wecom::ApiClient& api, wecom::AccessToken& token) : api_(api), token_(token) {}
  std::string route() const override { return "appchat"; }
  model::ChannelLimits limits() const override {
    model::ChannelLimits l;
    // DOC 90248: each member ≤ 200 msgs/min from one app; corp-wide ≤ 20 000 person-times/min.
    l.per_target = {{190, milliseconds(60000)}};
    l.per_route = {{9000, milliseconds(60000)}};
    l.text_max_bytes = 2048;
    l.markdown_max_bytes = 2048;
    return l;
  }
  bool knows_target(const std::string& target) const override { return !target.empty() && target.size() <= 32; }
  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    auto reply = co_await api_.post_with_token(token_, "/cgi-bin/appchat/send", appchat_body(item));
    co_return reply.outcome;
  }

 private:
  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
};

}  // namespace

std::string message_body(const model::OutboxItem& item, std::int64_t agent_id) {
  // enable_duplicate_check: WeCom drops an identical request within the interval (reference §5.1,
  // DOC 90236), so the same row sent again after a crash (the outbox's one duplicate window) is not
  // shown twice. Identical notices to one member within 30 minutes are shown once, which suits them.
  return dump(json{{"touser", item.target},
                   {"msgtype", type_of(item)},
                   {"agentid", agent_id},
                   {type_of(item), content_of(item)},
                   {"enable_duplicate_check", 1},
                   {"duplicate_check_interval", kDuplicateCheckIntervalS}});
}

std::string appchat_body(const model::OutboxItem& item) {
  return dump(json{{"chatid", item.target}, {"msgtype", type_of(item)}, {type_of(item), content_of(item)}});
}

std::unique_ptr<model::OutboundChannel> make_message_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                             OutboundSettings settings) {
  return std::make_unique<MessageChannel>(api, token, settings);
}

std::unique_ptr<model::OutboundChannel> make_appchat_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                             OutboundSettings) {
  return std::make_unique<AppchatChannel>(api, token);
}

}  // namespace yuer::adapters::app
