// The cap policy for parents' groups, as pure functions (the engine applies them).
//
// A parent group is 'open' below its soft cap, 'warned' from the soft cap, 'closed' from the hard
// cap, and stays closed until it falls below the soft cap again (so it does not flap around the
// hard cap). A 'dismissed' group stays dismissed.
//
// The township's join way lists the groups with room: not closed and below hard_cap − headroom,
// fullest first (WeCom sends a joiner to the first listed group with space, so groups fill one at a
// time), at most 5 (WeCom's limit, reference §8.5). The headroom exists because WeCom fills a
// listed group up to its own limit (500, §8.4) and yuer learns of joins only through events: the
// QR moves on a little before the hard cap so joins in flight cannot push a group over it.
#pragma once

#include "daemon/store/group_store.h"

#include <string>
#include <vector>

namespace yuer::groups {

struct Caps {
  int soft = 350;
  int hard = 400;
  int headroom = 10;
};

// The group's own caps where set, else `defaults`.
Caps caps_of(const store::ChatGroup& g, const Caps& defaults);

// The state a parent group with `members` moves to from `state`.
std::string next_state(const std::string& state, int members, const Caps& caps);

// Whether the join way may list the group.
bool has_room(const store::ChatGroup& g, const Caps& caps);

// The chat ids the township's join way should list (≤ 5), from its parent groups.
std::vector<std::string> join_list(const std::vector<store::ChatGroup>& groups, const Caps& defaults);

// Places left before the listed-or-listable groups reach hard_cap − headroom.
int room_left(const std::vector<store::ChatGroup>& groups, const Caps& defaults);

// The join way state that identifies a township ("yuer" + 12-digit code, ≤ 30 characters), and back
// ("" when `state` is not one of ours).
std::string township_state(const std::string& township_code);
std::string township_of_state(const std::string& state);

}  // namespace yuer::groups
