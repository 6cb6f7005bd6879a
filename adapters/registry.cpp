#include "adapters/registry.h"

#include "adapters/aibot/aibot_callback.h"
#include "adapters/aibot/aibot_reply.h"
#include "adapters/app/app_callback.h"
#include "adapters/app/app_outbound.h"
#include "adapters/customer_group/customer_group_api.h"
#include "adapters/group_task/group_task_api.h"
#include "adapters/kf/contact_way.h"
#include "adapters/kf/kf_channel.h"
#include "adapters/kf/kf_sync.h"
#include "adapters/robot/robot_channel.h"
#include "adapters/wecom/callback_endpoint.h"

#include <set>

namespace yuer::adapters {

struct CallbackRoutes::Impl {
  struct Entry {
    std::string path;
    std::shared_ptr<wecom::CallbackEndpoint> endpoint;
  };
  std::vector<Entry> entries;
  std::size_t max_body_bytes = 0;
};

namespace {

// One registration line per channel.
wecom::ReceiverConfig receiver_config(const CallbackReceiver& r) {
  if (r.json) return aibot::callback_config(r.name, r.token, r.aes_key);
  return app::callback_config(r.name, r.token, r.aes_key, r.receive_id);
}

}  // namespace

CallbackRoutes::CallbackRoutes(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CallbackRoutes::~CallbackRoutes() = default;

Result<std::unique_ptr<CallbackRoutes>> CallbackRoutes::create(const std::vector<CallbackReceiver>& receivers,
                                                               const CallbackOptions& options, model::Inbox& inbox,
                                                               const Clock& clock, metrics::Registry& metrics) {
  auto impl = std::make_unique<Impl>();
  impl->max_body_bytes = options.max_body_bytes;
  for (const auto& r : receivers) {
    auto config = receiver_config(r);
    config.replay_window_s = options.replay_window_s;
    config.replay_cache_size = options.replay_cache_size;
    auto endpoint = wecom::CallbackEndpoint::create(std::move(config), inbox, clock, metrics);
    if (!endpoint) return fail(endpoint.error().code, "receiver " + r.name + ": " + endpoint.error().message);
    impl->entries.push_back({r.path, std::shared_ptr<wecom::CallbackEndpoint>(std::move(*endpoint))});
  }
  return std::unique_ptr<CallbackRoutes>(new CallbackRoutes(std::move(impl)));
}

std::vector<net::Route> CallbackRoutes::routes() const {
  std::vector<net::Route> out;
  for (const auto& e : impl_->entries) {
    net::Route route;
    route.path = e.path;
    route.match = net::Route::Match::kExact;
    route.label = "wecom_" + e.endpoint->name();
    route.body_limit = impl_->max_body_bytes;
    // CallbackEndpoint is thread-safe (and so must the inbox be): it runs on every io thread.
    route.any_thread = true;
    // A plain lambda that returns the member coroutine's awaitable (no lambda coroutine, STYLE C2).
    route.handler = [ep = e.endpoint](http::Request req) { return ep->handle(std::move(req)); };
    out.push_back(std::move(route));
  }
  return out;
}

Result<void> CallbackRoutes::rekey(const std::vector<CallbackReceiver>& receivers) {
  Result<void> first = {};
  for (const auto& r : receivers)
    for (auto& e : impl_->entries)
      if (e.endpoint->name() == r.name)
        if (auto ok = e.endpoint->rekey(r.token, r.aes_key); !ok && first)
          first = fail(ok.error().code, "receiver " + r.name + ": " + ok.error().message);
  return first;
}

struct OutboundChannels::Impl {
  Impl(boost::asio::any_io_executor io, const Clock& clock, const OutboundConfig& c)
      : http(io, c.http), api(http, c.api_base), app_token(api, clock, c.corp_id, c.app_secret), config(c), io(io),
        clock(clock) {}
  net::HttpsClient http;
  wecom::ApiClient api;
  wecom::AccessToken app_token;
  std::vector<std::unique_ptr<model::OutboundChannel>> channels;
  std::unique_ptr<model::GroupTaskApi> group_task_api;
  std::unique_ptr<model::CustomerGroupApi> customer_group_api;
  std::unique_ptr<customer_group::ChangeDoorbell> groups_doorbell;
  OutboundConfig config;
  boost::asio::any_io_executor io;
  const Clock& clock;
  std::unique_ptr<kf::KfSync> kf_sync;
  std::unique_ptr<kf::DoorbellInbox> kf_doorbell;
  std::unique_ptr<model::KfContactApi> kf_contact;
};

OutboundChannels::OutboundChannels(boost::asio::any_io_executor io, const Clock& clock, OutboundConfig c)
    : impl_(std::make_unique<Impl>(io, clock, c)) {
  auto& api = impl_->api;
  auto& out = impl_->channels;
  // One registration line per channel.
  if (!c.robot_keys.empty())
    out.push_back(robot::make_channel(api, {c.robot_keys, c.robot_per_key_per_window, c.robot_window, c.robot_route_per_minute}));
  if (c.aibot_replies) out.push_back(aibot::make_reply_channel(api, c.api_base));
  if (c.app_agent_id && !c.app_secret.empty())
    out.push_back(app::make_message_channel(api, impl_->app_token, {c.app_agent_id}));
  if (c.app_agent_id && !c.app_secret.empty())
    out.push_back(app::make_card_update_channel(api, impl_->app_token, {c.app_agent_id}));
  if (c.app_agent_id && !c.app_secret.empty())
    out.push_back(app::make_appchat_channel(api, impl_->app_token, {c.app_agent_id}));
  if (c.app_agent_id && !c.app_secret.empty() && c.group_tasks)
    impl_->group_task_api = group_task::make_api(api, impl_->app_token);
  if (c.app_agent_id && !c.app_secret.empty() && c.customer_groups)
    impl_->customer_group_api = customer_group::make_api(api, impl_->app_token);
}

OutboundChannels::~OutboundChannels() = default;

std::vector<model::OutboundChannel*> OutboundChannels::channels() const {
  std::vector<model::OutboundChannel*> out;
  for (auto& c : impl_->channels) out.push_back(c.get());
  return out;
}

model::GroupTaskApi* OutboundChannels::group_task_api() const { return impl_->group_task_api.get(); }

model::CustomerGroupApi* OutboundChannels::customer_group_api() const { return impl_->customer_group_api.get(); }

model::KfContactApi* OutboundChannels::kf_contact_api() const { return impl_->kf_contact.get(); }

model::Inbox& OutboundChannels::attach_groups(model::Inbox& inbox, ChatChanged on_change) {
  impl_->groups_doorbell = std::make_unique<customer_group::ChangeDoorbell>(
      inbox, [f = std::move(on_change)](customer_group::ChatChange c) {
        f(std::move(c.chat_id), std::move(c.change_type), std::move(c.last_mem_ver), std::move(c.cur_mem_ver));
      });
  return *impl_->groups_doorbell;
}

void OutboundChannels::set_app_secret(std::string secret) { impl_->app_token.set_secret(std::move(secret)); }

model::Inbox& OutboundChannels::attach_kf(model::Inbox& inbox, store::KfStore& kf_store,
                                          boost::asio::any_io_executor store_ex) {
  auto& c = impl_->config;
  if (!c.kf || !c.app_agent_id || c.app_secret.empty()) return inbox;
  std::set<std::string> ids(c.kf_open_kfids.begin(), c.kf_open_kfids.end());
  kf::ChannelSettings cs{ids, {}};
  cs.rules.margin = c.kf_window_margin;
  auto channel = std::make_unique<kf::KfChannel>(impl_->api, impl_->app_token, kf_store, store_ex, impl_->clock, cs);
  kf::KfChannel* raw = channel.get();
  impl_->channels.push_back(std::move(channel));
  impl_->kf_sync = std::make_unique<kf::KfSync>(impl_->io, impl_->api, impl_->app_token, inbox, kf_store, store_ex,
                                                impl_->clock, kf::SyncSettings{ids, 1000},
                                                [raw](const std::string& target) { raw->target_ready(target); });
  impl_->kf_doorbell = std::make_unique<kf::DoorbellInbox>(inbox, *impl_->kf_sync);
  impl_->kf_contact = kf::make_contact_api(impl_->api, impl_->app_token);
  return *impl_->kf_doorbell;
}

void OutboundChannels::start() {
  if (impl_->kf_sync) impl_->kf_sync->start();
}

void OutboundChannels::stop() {
  if (impl_->kf_sync) impl_->kf_sync->stop();
}

}  // namespace yuer::adapters
