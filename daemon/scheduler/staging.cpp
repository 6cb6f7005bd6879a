#include "daemon/scheduler/staging.h"

#include <algorithm>

namespace yuer::scheduler {

bool in_series(const lessons::Lesson& l, const std::string& topic) {
  return topic.empty() || std::find(l.topics.begin(), l.topics.end(), topic) != l.topics.end();
}

namespace {
int suited(const lessons::Lesson& l, const std::vector<int>& ages) {
  return static_cast<int>(std::count_if(ages.begin(), ages.end(), [&](int a) { return a >= l.from_day && a <= l.to_day; }));
}
}  // namespace

std::optional<Pick> pick_for_group(const lessons::Library& library, const std::string& topic,
                                   const std::vector<int>& ages_days, const StagingState& state, int starve_after) {
  const int max_day = lessons::first_day_of_month(lessons::kMaxMonth + 1) - 1;
  std::map<int, int> band_children;
  std::vector<int> ages;
  for (int a : ages_days)
    if (a >= 0 && a <= max_day) {
      ++band_children[lessons::month_of_day(a)];
      ages.push_back(a);
    }
  struct Candidate {
    int band, children, waited;
  };
  std::vector<Candidate> candidates;
  for (const auto& [band, n] : band_children) {
    bool any = false;
    for (const auto* l : library.lessons_for_month(band))
      if (in_series(*l, topic) && !state.sent.count(l->id)) {
        any = true;
        break;
      }
    if (!any) continue;
    auto it = state.band_last.find(band);
    const int waited = it == state.band_last.end() ? state.pushes + 1 : state.pushes - it->second;
    candidates.push_back({band, n, waited});
  }
  if (candidates.empty()) return std::nullopt;
  const bool starving = std::any_of(candidates.begin(), candidates.end(), [&](const Candidate& c) { return c.waited > starve_after; });
  auto better = [&](const Candidate& a, const Candidate& b) {
    if (starving) {
      const bool sa = a.waited > starve_after, sb = b.waited > starve_after;
      if (sa != sb) return sa;
      if (a.waited != b.waited) return a.waited > b.waited;
      if (a.children != b.children) return a.children > b.children;
      return a.band < b.band;
    }
    if (a.children != b.children) return a.children > b.children;
    if (a.waited != b.waited) return a.waited > b.waited;
    return a.band < b.band;
  };
  const Candidate best = *std::min_element(candidates.begin(), candidates.end(), better);
  Pick pick;
  pick.band = best.band;
  for (const auto* l : library.lessons_for_month(best.band)) {
    if (!in_series(*l, topic) || state.sent.count(l->id)) continue;
    const int n = suited(*l, ages);
    if (!pick.lesson || n > pick.suited) {
      pick.lesson = l;
      pick.suited = n;
    }
  }
  return pick;
}

std::optional<Pick> pick_for_child(const lessons::Library& library, const std::string& topic, int age_days,
                                   const StagingState& state) {
  if (age_days < 0) return std::nullopt;
  for (const auto* l : library.lessons_for_age(age_days))
    if (in_series(*l, topic) && !state.sent.count(l->id))
      return Pick{l, lessons::month_of_day(age_days), 1};
  return std::nullopt;
}

void record_push(StagingState& state, const std::string& lesson_id, int band, const std::string& local_date) {
  ++state.pushes;
  if (!lesson_id.empty()) state.sent.insert(lesson_id);
  if (band >= 0) state.band_last[band] = state.pushes;
  ++state.per_day[local_date];
}

}  // namespace yuer::scheduler
