// [survey.reminders] and [survey.reports] (issue 7): when the survey's reminders and the
// management groups' daily coverage reports go out. The time shape is the scheduler's (daily /
// weekly / monthly at HH:MM or a cron expression, in [time] zone, start/end dates, quiet hours),
// parsed by scheduler::schedule_from_json, so the rules of daemon/scheduler/README.md "Time" hold.
#pragma once

#include "daemon/scheduler/schedule.h"

#include <cstdint>
#include <optional>

namespace yuer::yuerd {

struct SurveyReportSettings {
  // [survey.reminders]: absent = no reminders.
  std::optional<scheduler::Schedule> reminders;
  bool kf_nudge = true;                 // also nudge kf parents who started and did not finish
  std::int64_t nudge_margin_s = 3600;   // no nudge when the 48 h window ends within this
  std::int64_t nudge_expire_s = 1800;   // a nudge the kf window holds back is dropped after this
  // [survey.reports]: absent = no daily reports.
  std::optional<scheduler::Schedule> reports;
  int township_percent = 90;  // flags of reports and 进度 replies
  int county_percent = 80;
  bool bot_commands = true;   // answer 「@助手 进度」 in management groups ([[wecom.bot]] receivers)
  // Both: occurrences later than this are skipped (logged), e.g. after a long outage.
  std::int64_t catch_up_s = 6 * 3600;
  std::int64_t poll_ms = 1000;
};

}  // namespace yuer::yuerd
