// Age staging (分龄推送): which lesson a parent group (children of mixed ages) or one child gets next.
// Pure functions of the library, the children's ages and what the target already had.
//
// Rule for a group (documented in daemon/scheduler/README.md):
//  1. Each child's age band is its completed month of life (0..36) on the occurrence's local date;
//     children not yet born or past 36 months do not count.
//  2. A band is a candidate when it has children and an unsent lesson of the series covers its month.
//  3. waited(band) = pushes this target has had since that band was last served (never served: all
//     of them + 1). A band that waited more than `starve_after` pushes goes first (the longest waiting;
//     ties: more children, then the younger band); otherwise the band with the most children goes
//     (ties: the longer waiting, then the younger band). So the biggest band gets most lessons and no
//     band with children waits more than starve_after + (number of bands) pushes.
//  4. In that band, the unsent lesson whose age range holds the most of the group's children (ties:
//     library order: from_day, then id).
// A lesson once planned for a target is never chosen for it again.
// One child (kf): the first unsent lesson of the series whose age range holds the child's age.
#pragma once

#include "daemon/lessons/lesson.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace yuer::scheduler {

// What a target (group or child) had so far: its lessons and when each band was last served.
struct StagingState {
  std::set<std::string> sent;       // lesson ids
  std::map<int, int> band_last;     // band → push number (1-based) that served it
  int pushes = 0;                   // pushes so far
  std::map<std::string, int> per_day;  // local date → pushes that day (quota)
};

struct Pick {
  const lessons::Lesson* lesson = nullptr;
  int band = -1;
  int suited = 0;  // children whose age the lesson's range holds
};

// Lessons of a series: `topic` "" = every lesson, else those with that topic.
bool in_series(const lessons::Lesson& l, const std::string& topic);

std::optional<Pick> pick_for_group(const lessons::Library& library, const std::string& topic,
                                   const std::vector<int>& ages_days, const StagingState& state, int starve_after);
std::optional<Pick> pick_for_child(const lessons::Library& library, const std::string& topic, int age_days,
                                   const StagingState& state);
// Records a push in `state` (lesson, band, date).
void record_push(StagingState& state, const std::string& lesson_id, int band, const std::string& local_date);

}  // namespace yuer::scheduler
