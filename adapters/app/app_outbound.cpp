#include "adapters/app/app_outbound.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::app {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kDuplicateCheckIntervalS = 1800;  // WeCom's default; 4 h at most

constexpr std::size_t kCardMaxBytes = 16384;  // our own bound: no documented size limit for a card

// A template card's content is the card object as JSON text (discarded when it is not an object).
json content_of(const model::OutboxItem& item) {
  if (item.kind == model::ContentKind::kTemplateCard) return json::parse(item.content, nullptr, false);
  return json{{"content", item.content}};
}
const char* type_of(const model::OutboxItem& item) {
  switch (item.kind) {
    case model::ContentKind::kText: return "text";
    case model::ContentKind::kMarkdown: return "markdown";
    case model::ContentKind::kTemplateCard: return "template_card";
  }
  return "text";
}
bool card_ok(const model::OutboxItem& item) {
  return item.kind != model::ContentKind::kTemplateCard || content_of(item).is_object();
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
    l.card_max_bytes = kCardMaxBytes;  // msgtype template_card (DOC 90236), sent whole
    return l;
  }
  bool knows_target(const std::string& target) const override { return member_target(target); }
  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    if (!card_ok(item)) co_return model::SendOutcome::permanent(0, "模板卡片内容不是 JSON 对象");
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

// Route "app_card": message/update_template_card for the member who clicked (DOC 94888 / 94945).
// Content: {"response_code": "...", "replace_name": "..."} (kTemplateCard, never split). The code is
// single use: a retry after a lost answer fails at WeCom and ends the row failed, which is harmless.
class CardUpdateChannel final : public model::OutboundChannel {
 public:
  CardUpdateChannel(wecom::ApiClient& api, wecom::AccessToken& token, OutboundSettings s)
      : api_(api), token_(token), settings_(s) {}
  std::string route() const override { return kCardUpdateRoute; }
  model::ChannelLimits limits() const override {
    model::ChannelLimits l;
    l.per_target = {{28, milliseconds(60000)}};
    l.card_max_bytes = kCardMaxBytes;
    return l;
  }
  bool knows_target(const std::string& target) const override { return member_target(target); }
  awaitable<model::SendOutcome> send(model::OutboxItem item) override {
    auto body = card_update_body(item, settings_.agent_id);
    if (body.empty()) co_return model::SendOutcome::permanent(0, "卡片更新内容无效");
    auto reply = co_await api_.post_with_token(token_, "/cgi-bin/message/update_template_card", body);
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

bool member_target(const std::string& target) {
  return !target.empty() && target.size() <= 64 && target.find('|') == std::string::npos && target != "@all";
}

std::string card_update_body(const model::OutboxItem& item, std::int64_t agent_id) {
  json c = json::parse(item.content, nullptr, false);
  if (!c.is_object() || !c.contains("response_code") || !c["response_code"].is_string() ||
      !c.contains("replace_name") || !c["replace_name"].is_string())
    return {};
  return dump(json{{"userids", json::array({item.target})},
                   {"agentid", agent_id},
                   {"response_code", c["response_code"]},
                   {"button", {{"replace_name", c["replace_name"]}}}});
}

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

std::unique_ptr<model::OutboundChannel> make_card_update_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                                 OutboundSettings settings) {
  return std::make_unique<CardUpdateChannel>(api, token, settings);
}

std::unique_ptr<model::OutboundChannel> make_appchat_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                             OutboundSettings) {
  return std::make_unique<AppchatChannel>(api, token);
}

}  // namespace yuer::adapters::app
