// Age staging and the planner over the real lesson library (templates/lessons).
#include "daemon/scheduler/planner.h"
#include "daemon/scheduler/staging.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

using namespace yuer;
using namespace yuer::scheduler;

namespace {

const lessons::Library& library() {
  static const lessons::Library lib =
      lessons::Library::load(std::filesystem::path(YUER_SOURCE_DIR) / "templates" / "lessons").value();
  return lib;
}

int mid_month(int m) { return (lessons::first_day_of_month(m) + lessons::first_day_of_month(m + 1)) / 2; }

// Runs `n` picks for a group, recording each; returns the bands served in order.
std::vector<int> run_picks(const std::vector<int>& ages, int n, StagingState& st, int starve_after = 4) {
  std::vector<int> bands;
  for (int i = 0; i < n; ++i) {
    auto p = pick_for_group(library(), "", ages, st, starve_after);
    if (!p) break;
    CHECK_FALSE(st.sent.count(p->lesson->id));
    // The lesson is of the chosen band's month.
    CHECK(p->lesson->from_day < lessons::first_day_of_month(p->band + 1));
    CHECK(p->lesson->to_day >= lessons::first_day_of_month(p->band));
    record_push(st, p->lesson->id, p->band, "2026-12-04");
    bands.push_back(p->band);
  }
  return bands;
}

}  // namespace

TEST_CASE("staging: one age band gets its month's lessons once each, then nothing", "[scheduler][staging]") {
  const int month = GENERATE(0, 6, 12, 24, 36);
  CAPTURE(month);
  std::vector<int> ages(8, mid_month(month));
  StagingState st;
  const auto bands = run_picks(ages, 200, st);
  const auto available = library().lessons_for_month(month).size();
  CHECK(bands.size() == available);
  CHECK(std::all_of(bands.begin(), bands.end(), [&](int b) { return b == month; }));
  CHECK_FALSE(pick_for_group(library(), "", ages, st, 4));
}

TEST_CASE("staging: the biggest band goes first, and a small band is served within starve_after + bands pushes",
          "[scheduler][staging]") {
  std::vector<int> ages(10, mid_month(3));
  ages.push_back(mid_month(20));
  ages.push_back(mid_month(30));
  StagingState st;
  const int starve_after = 3;
  const auto bands = run_picks(ages, 12, st, starve_after);
  REQUIRE(bands.size() >= 8);
  CHECK(bands[0] == 3);
  // Every band with children is served in the first starve_after + 3 pushes.
  std::set<int> early(bands.begin(), bands.begin() + starve_after + 3);
  CHECK(early == std::set<int>{3, 20, 30});
  // The big band gets the most.
  CHECK(std::count(bands.begin(), bands.end(), 3) > std::count(bands.begin(), bands.end(), 20));
}

TEST_CASE("staging: within a band, the lesson that suits most of the group's children", "[scheduler][staging]") {
  // Newborns of day 0..6 and one of 20 days: every pick's range holds at least one child, and the
  // first pick holds as many as any lesson of that month can.
  std::vector<int> ages = {0, 1, 2, 3, 5, 6, 20};
  StagingState st;
  auto p = pick_for_group(library(), "", ages, st, 4);
  REQUIRE(p);
  int best = 0;
  for (const auto* l : library().lessons_for_month(p->band)) {
    int n = 0;
    for (int a : ages) n += a >= l->from_day && a <= l->to_day;
    best = std::max(best, n);
  }
  CHECK(p->suited == best);
  CHECK(p->suited >= 1);
}

TEST_CASE("staging: no children, unborn or too old children give nothing, a topic narrows the series",
          "[scheduler][staging]") {
  StagingState st;
  CHECK_FALSE(pick_for_group(library(), "", {}, st, 4));
  CHECK_FALSE(pick_for_group(library(), "", {-3, lessons::first_day_of_month(37) + 10}, st, 4));
  CHECK_FALSE(pick_for_group(library(), "没有这个主题", {mid_month(6)}, st, 4));
  auto p = pick_for_group(library(), "母乳喂养", {mid_month(2)}, st, 4);
  REQUIRE(p);
  CHECK(in_series(*p->lesson, "母乳喂养"));
}

TEST_CASE("staging: one child (kf) gets lessons whose range holds its own age, never twice", "[scheduler][staging]") {
  const int age = mid_month(9);
  StagingState st;
  std::set<std::string> seen;
  while (auto p = pick_for_child(library(), "", age, st)) {
    CHECK(p->lesson->from_day <= age);
    CHECK(p->lesson->to_day >= age);
    CHECK(seen.insert(p->lesson->id).second);
    record_push(st, p->lesson->id, p->band, "2026-12-04");
  }
  CHECK(seen.size() == library().lessons_for_age(age).size());
}

namespace {

store::ChatGroup group(std::int64_t id, std::string kind, std::string unit, std::string route, std::string robot) {
  store::ChatGroup g;
  g.id = id;
  g.kind = std::move(kind);
  g.unit_code = std::move(unit);
  g.name = "群" + std::to_string(id);
  g.chat_id = "wr" + std::to_string(id);
  g.route = std::move(route);
  g.robot = std::move(robot);
  return g;
}

Schedule daily(std::string route, std::vector<std::string> units = {}, std::vector<std::string> tags = {}) {
  Schedule s;
  s.id = "s1";
  s.name = "每日课程";
  s.route = std::move(route);
  s.audience.units = std::move(units);
  s.audience.tags = std::move(tags);
  s.start_days = days_from_civil(2026, 1, 1);
  return s;
}

}  // namespace

TEST_CASE("planner: one push per group in the audience, by its route, never a lesson twice", "[scheduler][staging]") {
  const Zone z = Zone::fixed(8 * 3600, "UTC+8");
  World w;
  w.groups = {group(1, "parent", "410102001000", "robot", "r1"), group(2, "parent", "410102002000", "group_task", ""),
              group(3, "parent", "420102001000", "robot", "r3"), group(4, "management", "410102001000", "robot", "m4"),
              group(5, "parent", "410102001000", "robot", "")};
  w.groups[4].route = "robot";  // robot route without a robot name: cannot be reached
  for (std::int64_t id : {1, 2, 3, 4, 5})
    w.children[id] = {{"c" + std::to_string(id), "2026-06-01", {id == 2 ? "特困" : ""}}};
  PlanSettings ps;
  const World untouched = w;
  const Schedule s = daily("auto", {"4101"});
  std::map<std::string, std::set<std::string>> had;
  for (int day = 0; day < 30; ++day) {
    const std::int64_t t = z.to_unix_ms({2026, 12, 1 + day, 9, 0, 0});
    int quota = 0;
    auto pushes = plan_occurrence(s, t, t, z, library(), ps, w, quota);
    std::set<std::string> targets;
    for (const auto& p : pushes) {
      targets.insert(p.target);
      CHECK(had[p.target].insert(p.lesson_id).second);
      CHECK(p.idempotency_key == push_key("s1", t, p.target));
      if (p.target == "g:1") CHECK((p.route == "robot" && p.address == "r1"));
      if (p.target == "g:2") CHECK((p.route == "group_task" && p.address == "wr2"));
    }
    // Group 3 is outside the units, 4 is a management group, 5 has no robot.
    if (!pushes.empty()) CHECK(targets == std::set<std::string>{"g:1", "g:2"});
  }
  CHECK(had["g:1"].size() >= 3);

  // A full division code names its unit and everything below it; a township's code only that township.
  int q12 = 0;
  const std::int64_t t12 = z.to_unix_ms({2026, 12, 1, 9, 0, 0});
  std::set<std::string> county, township;
  World wc = untouched, wt = untouched;
  for (const auto& p : plan_occurrence(daily("auto", {"410102000000"}), t12, t12, z, library(), ps, wc, q12))
    county.insert(p.target);
  for (const auto& p : plan_occurrence(daily("auto", {"410102002000"}), t12, t12, z, library(), ps, wt, q12))
    township.insert(p.target);
  CHECK(county == std::set<std::string>{"g:1", "g:2"});
  CHECK(township == std::set<std::string>{"g:2"});

  // Tags: only groups with a child carrying one of them.
  World w2;
  w2.groups = w.groups;
  w2.children = w.children;
  int quota = 0;
  const std::int64_t t = z.to_unix_ms({2026, 12, 1, 9, 0, 0});
  auto tagged = plan_occurrence(daily("auto", {"4101"}, {"特困"}), t, t, z, library(), ps, w2, quota);
  REQUIRE(tagged.size() == 1);
  CHECK(tagged[0].target == "g:2");
}

TEST_CASE("planner: at most group_task_per_day customer-group pushes per group and local day", "[scheduler][staging]") {
  const Zone z = Zone::fixed(8 * 3600, "UTC+8");
  World w;
  w.groups = {group(1, "parent", "410102001000", "group_task", ""), group(2, "parent", "410102001000", "robot", "r2")};
  w.children[1] = {{"a", "2026-01-10", {}}, {"b", "2025-05-01", {}}};
  w.children[2] = w.children[1];
  PlanSettings ps;
  Schedule morning = daily("auto"), evening = daily("auto");
  evening.id = "s2";
  int quota = 0;
  const std::int64_t t1 = z.to_unix_ms({2026, 12, 1, 9, 0, 0}), t2 = z.to_unix_ms({2026, 12, 1, 18, 0, 0});
  CHECK(plan_occurrence(morning, t1, t1, z, library(), ps, w, quota).size() == 2);
  auto second = plan_occurrence(evening, t2, t2, z, library(), ps, w, quota);
  CHECK(quota == 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].target == "g:2");  // the robot group has no daily quota
  const std::int64_t t3 = z.to_unix_ms({2026, 12, 2, 9, 0, 0});
  quota = 0;
  CHECK(plan_occurrence(morning, t3, t3, z, library(), ps, w, quota).size() == 2);
  CHECK(quota == 0);
}

TEST_CASE("planner: history from the store rebuilds the staging state", "[scheduler][staging]") {
  std::vector<store::SchedulePush> h(3);
  h[0].target = h[1].target = "g:1";
  h[2].target = "g:2";
  h[0].lesson_id = "L-06m-01";
  h[0].band = 6;
  h[0].local_date = "2026-12-01";
  h[1].lesson_id = "L-07m-01";
  h[1].band = 7;
  h[1].local_date = "2026-12-02";
  h[2].lesson_id = "L-06m-01";
  h[2].local_date = "2026-12-01";
  auto st = states_from_history(h);
  CHECK(st["g:1"].pushes == 2);
  CHECK(st["g:1"].sent == std::set<std::string>{"L-06m-01", "L-07m-01"});
  CHECK(st["g:1"].band_last[7] == 2);
  CHECK(st["g:2"].per_day["2026-12-01"] == 1);
}
