// KfSync: pulls 微信客服 messages with kf/sync_msg when a kf_msg_or_event doorbell has been stored
// (and once per configured account at start). Each page: the parents' windows move to their newest
// message (one store transaction; parents whose window moved are reported, the channel then wakes
// their waiting messages), then every message is committed to the inbox (receiver "kf", deduped by
// msgid), then the cursor moves to next_cursor. Windows first: whoever reads the inbox (the survey
// consumer answers at once) finds the parent's window already at the message it answers. A crash
// in between replays the page: the windows only move forward and the inbox drops the duplicates.
// https://developer.work.weixin.qq.com/document/path/94670, reference §9.2-9.3.
#pragma once

#include "adapters/kf/sync_page.h"
#include "adapters/wecom/api_client.h"
#include "daemon/base/clock.h"
#include "daemon/model/inbox.h"
#include "daemon/store/kf_store.h"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::adapters::kf {

struct SyncSettings {
  std::set<std::string> open_kfids;  // synced at start; doorbells of other accounts are ignored
                                     // unless this is empty (then every account that rings)
  int max_pages_per_sync = 1000;     // a guard against a cursor that never ends
};

class KfSync {
 public:
  using WindowMoved = std::function<void(const std::string& target)>;
  // `store` is used only on `store_ex`. Everything passed must outlive the object. Io thread only.
  KfSync(boost::asio::any_io_executor io, wecom::ApiClient& api, wecom::AccessToken& token, model::Inbox& inbox,
         store::KfStore& store, boost::asio::any_io_executor store_ex, const Clock& clock, SyncSettings settings,
         WindowMoved moved);

  // Starts a sync of `open_kfid` (or, when one runs, makes it run once more with `token`).
  void ring(std::string open_kfid, std::string token);
  // Rings every configured account without a token (catch-up after downtime).
  void start();
  // No new pages are pulled; syncs in flight end after their current request.
  void stop();

  bool busy() const;
  std::uint64_t messages_stored() const { return messages_stored_; }

 private:
  struct Account {
    bool running = false;
    bool again = false;
    std::string token;
  };
  awaitable<void> run_account(std::string open_kfid);
  // Pulls until has_more is 0. False when it stopped early (error, stop); logged.
  awaitable<bool> sync_pages(std::string open_kfid, std::string token);

  boost::asio::any_io_executor io_;
  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
  model::Inbox& inbox_;
  store::KfStore& store_;
  boost::asio::any_io_executor store_ex_;
  const Clock& clock_;
  SyncSettings settings_;
  WindowMoved moved_;
  std::map<std::string, Account> accounts_;
  bool stopping_ = false;
  std::uint64_t messages_stored_ = 0;
};

// Wraps the inbox the app's callback endpoint writes to: after a kf_msg_or_event doorbell is
// committed (and only then), rings `sync`. Everything else passes through unchanged.
class DoorbellInbox final : public model::Inbox {
 public:
  DoorbellInbox(model::Inbox& inner, KfSync& sync) : inner_(inner), sync_(sync) {}
  awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override;

 private:
  model::Inbox& inner_;
  KfSync& sync_;
};

}  // namespace yuer::adapters::kf
