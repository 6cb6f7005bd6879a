// Planner: what one occurrence of a schedule sends, as a pure function of a World snapshot (groups,
// their roster children, kf families, what every target already had). The scheduler loop and the
// preview both call plan_occurrence on the same kind of snapshot, so a preview lists exactly what the
// loop will plan when the roster and groups stay as they are.
#pragma once

#include "daemon/lessons/lesson.h"
#include "daemon/scheduler/schedule.h"
#include "daemon/scheduler/staging.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/schedule_store.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace yuer::scheduler {

struct World {
  std::vector<store::ChatGroup> groups;                            // every registered group
  std::map<std::int64_t, std::vector<store::GroupChild>> children;  // group id → roster children
  std::vector<store::Family> families;                             // kf: families with an external_userid
  std::map<std::string, StagingState> states;                      // target → what it had
};

struct PlanSettings {
  int group_task_per_day = 1;  // pushes per customer group per local day (WeCom mass-message quota)
  int starve_after = 4;        // staging: a band waiting more pushes than this goes first
  std::string kf_account;      // open_kfid for route kf ("" : kf schedules plan nothing)
};

// Builds the target's StagingState from its stored history.
std::map<std::string, StagingState> states_from_history(const std::vector<store::SchedulePush>& history);

// Plans occurrence `nominal_ms` (sent at `at_ms`) of `s`: one push per target that gets something,
// recorded into `world.states`. `skipped_quota` counts targets left out by the daily quota.
std::vector<store::SchedulePush> plan_occurrence(const Schedule& s, std::int64_t nominal_ms, std::int64_t at_ms,
                                                 const Zone& zone, const lessons::Library& library,
                                                 const PlanSettings& settings, World& world, int& skipped_quota);

// The outbox idempotency key of one push: one per (schedule, nominal occurrence, target).
std::string push_key(const std::string& schedule_id, std::int64_t nominal_ms, const std::string& target);

// The route a group is reached by for schedule route `route` ("" when it cannot be: robot without a robot
// name, group_task for a group without a chat id), and the outbox target for it.
std::string resolve_route(const std::string& route, const store::ChatGroup& g, std::string& address);

}  // namespace yuer::scheduler
