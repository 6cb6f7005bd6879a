// model::CustomerGroupApi over WeCom's customer-group APIs (reference §8.1–8.5):
// externalcontact/groupchat/get (need_name 0: yuer keeps no parent's name), groupchat/list (by owner,
// cursor paging) and the 「加入群聊」 join-way calls add/update/get_join_way. Uses the access token
// of an app with the customer-contact permission.
// https://developer.work.weixin.qq.com/document/path/92122 (groupchat/get)
// https://developer.work.weixin.qq.com/document/path/92120 (groupchat/list)
// https://developer.work.weixin.qq.com/document/path/92229 (join ways)
// Also: ChangeDoorbell, the inbox wrapper that tells the groups engine about committed
// change_external_chat events (https://developer.work.weixin.qq.com/document/path/92130).
#pragma once

#include "adapters/customer_group/chat_change.h"
#include "adapters/wecom/api_client.h"
#include "daemon/model/customer_group_api.h"
#include "daemon/model/inbox.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace yuer::adapters::customer_group {

// `api` and `token` must outlive the result.
std::unique_ptr<model::CustomerGroupApi> make_api(wecom::ApiClient& api, wecom::AccessToken& token);

// Wraps the inbox the app's callback endpoint writes to: after a change_external_chat event is
// committed (and only then), calls `on_change`. Everything else passes through unchanged.
class ChangeDoorbell final : public model::Inbox {
 public:
  using OnChange = std::function<void(ChatChange)>;
  ChangeDoorbell(model::Inbox& inner, OnChange on_change) : inner_(inner), on_change_(std::move(on_change)) {}
  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override;

 private:
  model::Inbox& inner_;
  OnChange on_change_;
};

}  // namespace yuer::adapters::customer_group
