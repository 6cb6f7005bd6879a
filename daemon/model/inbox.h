// Inbox: the seam adapters use to hand inbound events to the core. accept() completes only after
// the event is durably committed, so an adapter may acknowledge WeCom exactly when it returns.
#pragma once

#include "daemon/base/result.h"
#include "daemon/model/inbound_event.h"

#include <boost/asio/awaitable.hpp>

#include <cstdint>

namespace yuer::model {

struct Accepted {
  std::int64_t id = 0;     // inbox row id (the existing row's id for a duplicate)
  bool duplicate = false;  // true when (receiver, dedupe_key) was already stored
};

class Inbox {
 public:
  virtual ~Inbox() = default;
  // Stores `event` durably (on disk, fsynced per the store's settings) and completes with its row
  // id, or with the existing row for a duplicate. Fails with Error{"store.unavailable", ...} when
  // the store cannot commit (disk full, read-only, closed); nothing is then acknowledged.
  // Call on the io thread.
  virtual boost::asio::awaitable<Result<Accepted>> accept(InboundEvent event) = 0;
};

}  // namespace yuer::model
