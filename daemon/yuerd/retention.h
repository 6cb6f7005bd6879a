// The periodic retention purge ([retention], docs/privacy.md "Retention"): every purge_every, on
// the store executor, closed rounds older than identifying_after_days lose their identifying
// fields and inbox payloads older than inbox_payload_after_days are blanked. Logs counts only;
// metrics yuer_retention_purged_total{what} and yuer_retention_runs_total{result}.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/store/retention_store.h"
#include "daemon/yuerd/config.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>

namespace yuer::yuerd {

struct PurgeCutoffs {
  std::int64_t rounds_closed_before_ms = 0;  // 0 = no round purge
  std::int64_t inbox_received_before_s = 0;  // 0 = no inbox purge
};
PurgeCutoffs purge_cutoffs(const RetentionSettings& s, std::chrono::system_clock::time_point now);

class Retention {
 public:
  // `store`, `clock` and `metrics` must outlive this; the store pool must be joined before it is destroyed.
  Retention(boost::asio::io_context& ioc, boost::asio::thread_pool& store_pool, store::RetentionStore& store,
            const Clock& clock, metrics::Registry& metrics, RetentionSettings settings);
  // First purge right away (on the store executor), then every purge_every.
  void start();
  // One purge now, on the calling thread (the store executor's rule applies). Throws StoreError.
  store::PurgeCounts run_once();

 private:
  void arm(std::chrono::milliseconds after);

  boost::asio::steady_timer timer_;
  boost::asio::thread_pool& pool_;
  store::RetentionStore& store_;
  const Clock& clock_;
  metrics::Registry& metrics_;
  RetentionSettings settings_;
};

}  // namespace yuer::yuerd
