// OutboundChannel: the seam the outbox delivers through (STYLE D1). One implementation per route,
// in adapters/<channel>/; the core never names a channel. A channel states its own limits and the
// outbox paces by them, so WeCom's limits are never hit on purpose.
#pragma once

#include "daemon/model/outbox_item.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace yuer::model {

// At most `max` sends in any rolling `period`.
struct RateWindow {
  int max = 0;
  std::chrono::milliseconds period{60000};
};

struct ChannelLimits {
  std::vector<RateWindow> per_target;  // per target (robot key, member, chat)
  std::vector<RateWindow> per_route;   // all targets of the route together (corp/IP-wide API limits)
  std::size_t text_max_bytes = 2048;   // longer content is split before it is enqueued
  std::size_t markdown_max_bytes = 4096;
  // Template cards (ContentKind::kTemplateCard) are sent whole or not at all: 0 = the route has no
  // cards (enqueue refuses them), else the largest card JSON it takes.
  std::size_t card_max_bytes = 0;
};

class OutboundChannel {
 public:
  virtual ~OutboundChannel() = default;
  // The route name this channel delivers ("robot", "app", "appchat", later "kf", "group_task").
  virtual std::string route() const = 0;
  virtual ChannelLimits limits() const = 0;
  // Whether `target` can be sent to at all (e.g. a robot key is configured for the group);
  // enqueue refuses unknown targets so nothing waits for ever.
  virtual bool knows_target(const std::string& target) const = 0;
  // Makes one attempt to deliver `item` and classifies the answer. Never throws for remote or
  // network failures (they are outcomes); call on the io thread.
  virtual boost::asio::awaitable<SendOutcome> send(OutboxItem item) = 0;

  // A channel whose send() may answer kWaitForEvent calls `ready(target)` on the io thread when
  // that target may be sent to again (a kf parent wrote); the outbox then re-examines the target's
  // waiting message at once. The outbox sets it before run(); the default never calls it.
  using TargetReady = std::function<void(const std::string& target)>;
  virtual void set_target_ready(TargetReady ready) { (void)ready; }
};

}  // namespace yuer::model
