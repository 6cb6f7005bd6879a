#include "daemon/yuerd/retention.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace yuer::yuerd {

PurgeCutoffs purge_cutoffs(const RetentionSettings& s, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  PurgeCutoffs c;
  const auto now_ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  if (s.identifying_after_days > 0) c.rounds_closed_before_ms = now_ms - s.identifying_after_days * 86'400'000LL;
  if (s.inbox_payload_after_days > 0) c.inbox_received_before_s = now_ms / 1000 - s.inbox_payload_after_days * 86'400LL;
  return c;
}

Retention::Retention(boost::asio::io_context& ioc, boost::asio::thread_pool& store_pool, store::RetentionStore& store,
                     const Clock& clock, metrics::Registry& metrics, RetentionSettings settings)
    : timer_(ioc), pool_(store_pool), store_(store), clock_(clock), metrics_(metrics), settings_(settings) {
  for (const char* r : {"ok", "error"})
    metrics_.counter("yuer_retention_runs_total", "Retention purges run ([retention])", {{"result", r}});
  for (const char* w : {"eligible", "responses", "history", "conversations", "bindings", "inbox_payloads"})
    metrics_.counter("yuer_retention_purged_total", "Identifying values removed by the retention purge", {{"what", w}});
}

void Retention::start() { arm(std::chrono::milliseconds(0)); }

void Retention::arm(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    boost::asio::post(pool_, [this] {
      try {
        (void)run_once();
      } catch (const std::exception& e) {
        metrics_.counter("yuer_retention_runs_total", "", {{"result", "error"}}).inc();
        spdlog::error("retention purge failed: {}", e.what());
      }
    });
    arm(settings_.purge_every);
  });
}

store::PurgeCounts Retention::run_once() {
  const auto cut = purge_cutoffs(settings_, clock_.now());
  const auto c = store_.purge(cut.rounds_closed_before_ms, cut.inbox_received_before_s);
  metrics_.counter("yuer_retention_runs_total", "", {{"result", "ok"}}).inc();
  const std::pair<const char*, std::int64_t> counts[] = {{"eligible", c.eligible},           {"responses", c.responses},
                                                          {"history", c.history},             {"conversations", c.conversations},
                                                          {"bindings", c.bindings},           {"inbox_payloads", c.inbox_payloads}};
  for (const auto& [what, n] : counts)
    if (n > 0) metrics_.counter("yuer_retention_purged_total", "", {{"what", what}}).inc(static_cast<std::uint64_t>(n));
  if (c.changed() > 0)
    spdlog::info("retention purge: rounds_past_cutoff={} eligible={} responses={} history={} conversations={} "
                 "bindings={} inbox_payloads={}",
                 c.rounds, c.eligible, c.responses, c.history, c.conversations, c.bindings, c.inbox_payloads);
  return c;
}

}  // namespace yuer::yuerd
