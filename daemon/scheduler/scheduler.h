// Scheduler: turns schedules into pushes. Occurrences come from each schedule's persisted watermark
// (the last nominal occurrence handled); an occurrence is planned (lessons chosen, daemon/scheduler/
// planner.h) and committed together with the new watermark BEFORE anything is handed on, then each
// push goes to the outbox (Delivery) under the key sched:<schedule>:<nominal ms>:<target>, so a
// restart, a crash between the two steps or a double tick never sends twice. After downtime,
// occurrences missed by less than `catch_up` are sent late; older ones are skipped and logged.
// Time comes only from the Clock (a controlled clock may run fast: the loop sleeps clock-delta / rate,
// at most `poll`). Everything runs on the io thread; store calls hop to the store pool.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/lessons/lesson.h"
#include "daemon/lessons/templates.h"
#include "daemon/scheduler/planner.h"
#include "daemon/scheduler/schedule.h"
#include "daemon/scheduler/zone.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/schedule_store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace yuer::scheduler {

using boost::asio::awaitable;

struct Settings {
  std::chrono::milliseconds catch_up{86400000};  // occurrences missed by less than this are sent late
  std::chrono::milliseconds poll{1000};          // longest real sleep between looks at the schedules
  PlanSettings plan;
  std::vector<Schedule> config_schedules;        // from [[schedule]] (source "config")
};

// One push handed on: the outbox (robot, appchat, kf) or the customer-group task route.
struct DeliveryRequest {
  std::string route;
  std::string target;
  bool markdown = false;
  std::string content;
  std::string idempotency_key;
};

// The seam to the outbox (wired in daemon/yuerd). deliver() returns the outbox row id (an existing one
// when the key was seen before) or a refusal (unknown target, bad content) with its Chinese reason.
class Delivery {
 public:
  virtual ~Delivery() = default;
  virtual awaitable<Result<std::int64_t>> deliver(DeliveryRequest request) = 0;
};

struct ScheduleView {
  Schedule schedule;
  std::optional<std::int64_t> next_at_ms;
  std::int64_t last_at_ms = 0;
};

struct PreviewItem {
  std::int64_t at_ms = 0;
  std::string at_local;  // YYYY-MM-DD HH:MM
  std::string schedule_id;
  std::string chat_id;
  std::string group_name;
  std::string unit;
  std::string lesson_id;
  std::string lesson_title;
  std::string route;
  std::string target;  // g:<group id> | kf:<child id>
};

class Scheduler {
 public:
  // Stores are used only on `store_pool`'s thread; everything passed must outlive the scheduler.
  // `templates` may be null (lessons are then wrapped without the `lesson` template).
  Scheduler(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::ScheduleStore& schedules,
            store::GroupStore& groups, store::OrgStore& org, const lessons::Library& library,
            const lessons::Templates* templates, Zone zone, const Clock& clock, metrics::Registry& metrics,
            Delivery& delivery, Settings settings);

  // Stores the config schedules, hands on pushes planned before a crash, then runs occurrences as
  // they fall due until stop(). Throws StoreError (the daemon then ends, STYLE D3).
  awaitable<void> run();
  void stop();
  // Looks at the schedules now (after the clock was moved, or a schedule added).
  void poke();
  // One pass: every due occurrence planned and handed on. Exposed for tests and the double-tick check.
  awaitable<void> tick();

  // Adds a schedule from the API (source "api"; an id is assigned when empty). Fails with
  // Error{"scheduler.invalid"} (Chinese) for an unknown lesson or template, or "scheduler.exists".
  awaitable<Result<ScheduleView>> add(Schedule s);
  awaitable<std::vector<ScheduleView>> list(std::string unit_prefix);
  // "active" | "paused"; Error{"scheduler.not_found"}. Occurrences that fall while paused are not sent.
  awaitable<Result<ScheduleView>> set_state(std::string id, std::string state);
  // The pushes the schedules will plan with local dates in [from_days, to_days] (days since epoch),
  // simulated from the current state; filters: one schedule, a unit prefix. Error{"scheduler.too_many"}
  // beyond 200,000 pushes.
  awaitable<Result<std::vector<PreviewItem>>> preview(std::int64_t from_days, std::int64_t to_days,
                                                      std::string schedule_id, std::string unit_prefix);
  awaitable<std::vector<store::SchedulePush>> pushes(store::PushQuery q);

  const Zone& zone() const { return zone_; }

 private:
  struct Due {
    std::int64_t at_ms;
    std::int64_t nominal_ms;
    std::size_t schedule;  // index into the rows
    bool merged;           // moved by quiet hours onto an instant already sent
  };
  template <class F>
  auto on_store(F f) -> awaitable<decltype(f())>;
  std::int64_t now_ms() const;
  // Occurrences of `rows` after their watermarks up to `until_ms` (actual time), in time order.
  std::vector<Due> due(const std::vector<std::pair<store::ScheduleRow, Schedule>>& rows, std::int64_t until_ms,
                       std::size_t limit) const;
  awaitable<World> load_world(bool with_families);
  awaitable<std::vector<std::pair<store::ScheduleRow, Schedule>>> load_schedules();
  awaitable<void> flush_planned();
  Result<DeliveryRequest> render(const store::SchedulePush& p, const Schedule* s) const;
  ScheduleView view(const store::ScheduleRow& row, const Schedule& s) const;

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::ScheduleStore& schedules_;
  store::GroupStore& groups_;
  store::OrgStore& org_;
  const lessons::Library& library_;
  const lessons::Templates* templates_;
  Zone zone_;
  const Clock& clock_;
  Delivery& delivery_;
  Settings settings_;
  boost::asio::steady_timer wake_;
  bool stopping_ = false;
  bool poked_ = false;
  bool ticking_ = false;
  metrics::Counter* done_ = nullptr;
  metrics::Counter* skipped_ = nullptr;
  metrics::Counter* empty_ = nullptr;
  metrics::Counter* enqueued_ = nullptr;
  metrics::Counter* failed_ = nullptr;
};

// The next actual occurrence of `s` after the watermark (for listings).
std::optional<std::int64_t> next_occurrence(const Schedule& s, const Zone& zone, std::int64_t watermark_ms,
                                            std::int64_t last_at_ms);

}  // namespace yuer::scheduler
