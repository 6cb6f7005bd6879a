// The adapter registry: the only adapters header the core (daemon/yuerd) includes. It turns the
// configured receivers into HTTP routes, one line per channel.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/model/customer_group_api.h"
#include "daemon/model/group_task_api.h"
#include "daemon/model/inbox.h"
#include "daemon/model/kf_contact_api.h"
#include "daemon/model/outbound_channel.h"
#include "daemon/net/http_server.h"
#include "daemon/net/https_client.h"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace yuer::store {
class KfStore;
}  // namespace yuer::store

namespace yuer::adapters {

// One callback URL as configured ([wecom.app] or [[wecom.bot]]).
struct CallbackReceiver {
  std::string name;        // "app" or "bot/<name>"
  std::string path;        // URL path
  bool json = false;       // intelligent robot (JSON) rather than app (XML)
  std::string token;       // secret
  std::string aes_key;     // secret
  std::string receive_id;  // corpid for the app, "" for robots
};

struct CallbackOptions {
  std::int64_t replay_window_s = 300;
  std::size_t replay_cache_size = 100000;
  std::size_t max_body_bytes = 64 * 1024;
};

class CallbackRoutes {
 public:
  // Builds one endpoint per receiver. Fails when a token or key is unusable (the error names the
  // receiver, never the secret). `inbox`, `clock` and `metrics` must outlive the result.
  static Result<std::unique_ptr<CallbackRoutes>> create(const std::vector<CallbackReceiver>& receivers,
                                                        const CallbackOptions& options, model::Inbox& inbox,
                                                        const Clock& clock, metrics::Registry& metrics);
  ~CallbackRoutes();

  // Routes to register on the server; they refer to endpoints owned by this object.
  std::vector<net::Route> routes() const;

  // Replaces the secrets of receivers with the same name (SIGHUP); unknown names are ignored.
  // Returns the first error; receivers that failed keep their old secrets.
  Result<void> rekey(const std::vector<CallbackReceiver>& receivers);

 private:
  struct Impl;
  explicit CallbackRoutes(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What the outbound channels need ([wecom], [wecom.robots], [wecom.app], [outbox]).
struct OutboundConfig {
  std::string api_base;  // "https://qyapi.weixin.qq.com" or a loopback http URL (sandbox)
  std::string corp_id;
  net::HttpsClientSettings http;
  std::map<std::string, std::string> robot_keys;  // group → webhook key (secrets); none: no robot route
  int robot_per_key_per_window = 18;
  std::chrono::milliseconds robot_window{60000};
  int robot_route_per_minute = 18000;
  std::int64_t app_agent_id = 0;  // with app_secret: the "app" and "appchat" routes
  std::string app_secret;         // secret
  bool group_tasks = false;       // with the app: customer-group tasks through its access token
  // [wecom.kf] (with the app): the "kf" route (微信客服 kf/send_msg) and its kf/sync_msg pulls.
  bool kf = false;
  std::vector<std::string> kf_open_kfids;  // synced at start, allowed to send; empty: any that rings
  std::chrono::milliseconds kf_window_margin{600000};  // sends stop this long before the 48 h end
  // [groups] (with the app): customer-group reads and join ways (groupchat/*).
  bool customer_groups = false;
  // [[wecom.bot]] (智能机器人): the "aibot" route, replies through a callback's response_url.
  bool aibot_replies = false;
};

// The outbound channels of every configured route, with the HTTPS client, API client and access
// token cache they share. One registration line per channel in registry.cpp.
class OutboundChannels {
 public:
  // Call on the io thread (`io`). `clock` must outlive the object. Throws std::runtime_error when
  // TLS cannot be set up (no CA store): a broken environment.
  OutboundChannels(boost::asio::any_io_executor io, const Clock& clock, OutboundConfig config);
  ~OutboundChannels();
  std::vector<model::OutboundChannel*> channels() const;
  // The customer-group task API (add_msg_template and companions), or nullptr when not configured.
  model::GroupTaskApi* group_task_api() const;
  // The customer-group API (groupchat/get|list, join ways), or nullptr when not configured.
  model::CustomerGroupApi* customer_group_api() const;
  // Replaces the app secret (SIGHUP): clears the token cache and a bad-secret stop.
  void set_app_secret(std::string secret);

  // Sets up the kf route when configured (config.kf): its channel joins channels() and its sync
  // stores parents' messages in `inbox`; `kf_store` is used only on `store_ex`. Returns the inbox
  // the app's callback endpoint must write to (a committed kf doorbell then starts a sync), or
  // `inbox` itself when kf is off. Call once, before channels() is read; both must outlive this.
  model::Inbox& attach_kf(model::Inbox& inbox, store::KfStore& kf_store, boost::asio::any_io_executor store_ex);
  // kf/add_contact_way (微信客服 links with a scene), or nullptr until attach_kf set up the kf route.
  model::KfContactApi* kf_contact_api() const;
  // Wraps `inbox` so that each committed change_external_chat event calls `on_change(chat_id,
  // change_type, LastMemVer, CurMemVer)` on the io thread. Returns the wrapper (it must outlive use).
  using ChatChanged = std::function<void(std::string, std::string, std::string, std::string)>;
  model::Inbox& attach_groups(model::Inbox& inbox, ChatChanged on_change);
  // Starts background work (a kf sync of each configured account). Call once the outbox runs.
  void start();
  // Stops starting background work (kf pulls end after their current request).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yuer::adapters
