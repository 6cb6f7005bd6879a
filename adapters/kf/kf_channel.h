// KfChannel: the outbox route "kf" (微信客服 kf/send_msg to one parent). A target is
// "<open_kfid>/<external_userid>". A message goes only inside the parent's window (48 h after
// their last message, at most 5 messages per parent message, window.h); otherwise send() answers
// kWaitForEvent without calling WeCom, and the row waits until KfSync sees the parent write again
// (target_ready) or it expires. A send is counted in the store (committed) BEFORE send_msg is
// called and uncounted only when WeCom refuses it, so no crash can let a 6th message out.
// https://developer.work.weixin.qq.com/document/path/94677 (send_msg), reference §9.4.
#pragma once

#include "adapters/kf/window.h"
#include "adapters/wecom/api_client.h"
#include "daemon/base/clock.h"
#include "daemon/model/outbound_channel.h"
#include "daemon/store/kf_store.h"

#include <boost/asio/any_io_executor.hpp>

#include <set>
#include <string>

namespace yuer::adapters::kf {

struct ChannelSettings {
  std::set<std::string> open_kfids;  // kf accounts the route may send from; empty: any
  WindowRules rules;
};

class KfChannel final : public model::OutboundChannel {
 public:
  // `store` is used only on `store_ex` (the store executor). Everything passed must outlive the
  // channel.
  KfChannel(wecom::ApiClient& api, wecom::AccessToken& token, store::KfStore& store,
            boost::asio::any_io_executor store_ex, const Clock& clock, ChannelSettings settings);

  std::string route() const override { return "kf"; }
  model::ChannelLimits limits() const override;
  bool knows_target(const std::string& target) const override;
  awaitable<model::SendOutcome> send(model::OutboxItem item) override;
  void set_target_ready(TargetReady ready) override { ready_ = std::move(ready); }

  // A parent's window moved (they wrote): their waiting message is tried again. Io thread.
  void target_ready(const std::string& target);

 private:
  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
  store::KfStore& store_;
  boost::asio::any_io_executor store_ex_;
  const Clock& clock_;
  ChannelSettings settings_;
  TargetReady ready_;
};

// The send_msg body (text; markdown content is sent as text, kf has no markdown), for tests.
std::string send_body(const Target& target, const std::string& msgid, const model::OutboxItem& item);

}  // namespace yuer::adapters::kf
