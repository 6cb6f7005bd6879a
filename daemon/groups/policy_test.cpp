#include "daemon/groups/policy.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace yuer::groups {
namespace {

store::ChatGroup parent(std::int64_t id, int members, std::string state = "open", int soft = 0, int hard = 0) {
  store::ChatGroup g;
  g.id = id;
  g.kind = "parent";
  g.unit_code = "510101001000";
  g.name = "群" + std::to_string(id);
  g.chat_id = "wr" + std::to_string(id);
  g.route = "group_task";
  g.owner = "coord";
  g.members = members;
  g.state = std::move(state);
  g.soft_cap = soft;
  g.hard_cap = hard;
  return g;
}

TEST_CASE("next_state follows the caps with a closed group reopening only below the soft cap", "[groups]") {
  const Caps caps{350, 400, 10};
  struct Row {
    const char* from;
    int members;
    const char* to;
  };
  const std::vector<Row> rows = {
      {"open", 0, "open"},          {"open", 349, "open"},         {"open", 350, "warned"},
      {"open", 399, "warned"},      {"open", 400, "closed"},       {"warned", 401, "closed"},
      {"warned", 349, "open"},      {"closed", 399, "closed"},     {"closed", 350, "closed"},
      {"closed", 349, "open"},      {"dismissed", 10, "dismissed"}, {"dismissed", 450, "dismissed"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.from, r.members);
    CHECK(next_state(r.from, r.members, caps) == r.to);
  }
}

TEST_CASE("a group's own caps override the programme's", "[groups]") {
  const Caps defaults{350, 400, 10};
  auto g = parent(1, 0, "open", 200, 250);
  const Caps c = caps_of(g, defaults);
  CHECK(c.soft == 200);
  CHECK(c.hard == 250);
  CHECK(c.headroom == 10);
  auto d = caps_of(parent(2, 0), defaults);
  CHECK(d.soft == 350);
  CHECK(d.hard == 400);
}

TEST_CASE("the join list holds groups with room, fullest first, at most five", "[groups]") {
  const Caps defaults{350, 400, 10};
  std::vector<store::ChatGroup> groups = {
      parent(1, 100),           parent(2, 389),  // 389 < 400 - 10: listed
      parent(3, 390),                            // at hard - headroom: not listed
      parent(4, 360, "warned"), parent(5, 380, "closed"), parent(6, 0, "dismissed"),
      parent(7, 5),             parent(8, 6),    parent(9, 7), parent(10, 8),
  };
  auto list = join_list(groups, defaults);
  CHECK(list == std::vector<std::string>{"wr2", "wr4", "wr1", "wr10", "wr9"});
  // Room: only listable groups count, up to hard - headroom.
  CHECK(room_left({parent(1, 100), parent(3, 390), parent(5, 10, "closed")}, defaults) == 290);
  CHECK(join_list({parent(3, 390), parent(5, 10, "closed")}, defaults).empty());
}

TEST_CASE("a management group or a group without chat id is never listed", "[groups]") {
  auto m = parent(1, 0);
  m.kind = "management";
  auto no_chat = parent(2, 0);
  no_chat.chat_id.clear();
  CHECK(join_list({m, no_chat}, Caps{}).empty());
}

TEST_CASE("township states round trip and foreign states are refused", "[groups]") {
  CHECK(township_state("510101001000") == "yuer510101001000");
  CHECK(township_of_state("yuer510101001000") == "510101001000");
  for (const char* bad : {"", "yuer", "yuer51010100100", "yuer5101010010000", "xxxx510101001000", "yuer51010100100a"})
    CHECK(township_of_state(bad).empty());
}

}  // namespace
}  // namespace yuer::groups
