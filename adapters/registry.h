// The adapter registry: the only adapters header the core (daemon/yuerd) includes. It turns the
// configured receivers into HTTP routes, one line per channel.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/model/inbox.h"
#include "daemon/net/http_server.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

}  // namespace yuer::adapters
