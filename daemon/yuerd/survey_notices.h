// SurveyNotices: the survey's scheduled messages (issue 7) — reminders to the parent groups of each
// open round's townships (counts only, the township's kf link) plus kf nudges to parents who
// started and did not finish, and the daily coverage report to every management group. Times are
// the scheduler's (scheduler::next_nominal in [time] zone, quiet hours shift an occurrence to
// their end); each job keeps a watermark (the last nominal occurrence handled) in survey_cursor
// ("notice:remind", "notice:report"). An occurrence's messages are queued first, the watermark
// moves after: a crash or a double tick replays the occurrence and the outbox (and the customer-
// group task queue) drops the repeated idempotency keys:
//   survey:remind:<round>:<township>:g<group id>:<nominal ms>   (one per parent group and occurrence)
//   survey:nudge:<round>:<external_userid>:<last turn ms>       (at most one per parent message)
//   survey:report:g<group id>:<local date>                      (one per management group and day)
// Call on the io thread; store calls hop to the store pool.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/outbox/dispatcher.h"
#include "daemon/scheduler/scheduler.h"
#include "daemon/scheduler/zone.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/survey_store.h"
#include "daemon/yuerd/survey_reports_settings.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <string>

namespace yuer::yuerd {

class SurveyNotices {
 public:
  // `delivery` reaches the group routes (robot, appchat, group_task); `dispatcher` the kf route.
  // `open_kfid` is the kf account of the nudges ("" = no nudges). Everything must outlive this.
  SurveyNotices(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::SurveyStore& surveys,
                store::OrgStore& org, store::GroupStore& groups, scheduler::Zone zone, const Clock& clock,
                scheduler::Delivery& delivery, outbox::Dispatcher& dispatcher, std::string open_kfid,
                SurveyReportSettings settings);
  boost::asio::awaitable<void> run();
  void stop();
  void poke();

  std::uint64_t queued() const { return queued_; }

 private:
  boost::asio::awaitable<bool> tick();
  boost::asio::awaitable<bool> remind(std::int64_t nominal_ms, std::int64_t now_ms);
  boost::asio::awaitable<bool> report(std::int64_t nominal_ms, std::int64_t at_ms);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::SurveyStore& surveys_;
  store::OrgStore& org_;
  store::GroupStore& groups_;
  scheduler::Zone zone_;
  const Clock& clock_;
  scheduler::Delivery& delivery_;
  outbox::Dispatcher& dispatcher_;
  std::string open_kfid_;
  SurveyReportSettings settings_;
  boost::asio::steady_timer timer_;
  std::int64_t remind_mark_ = -1;  // -1: not loaded yet
  std::int64_t report_mark_ = -1;
  std::uint64_t queued_ = 0;
  bool stopping_ = false;
  bool poked_ = false;
};

}  // namespace yuer::yuerd
