#include "daemon/groups/policy.h"

#include <algorithm>

namespace yuer::groups {

Caps caps_of(const store::ChatGroup& g, const Caps& defaults) {
  Caps c = defaults;
  if (g.soft_cap > 0) c.soft = g.soft_cap;
  if (g.hard_cap > 0) c.hard = g.hard_cap;
  return c;
}

std::string next_state(const std::string& state, int members, const Caps& caps) {
  if (state == "dismissed") return state;
  if (members >= caps.hard) return "closed";
  if (members >= caps.soft) return state == "closed" ? "closed" : "warned";
  return "open";
}

bool has_room(const store::ChatGroup& g, const Caps& caps) {
  return g.kind == "parent" && !g.chat_id.empty() && g.state != "closed" && g.state != "dismissed" &&
         g.members < caps.hard - caps.headroom;
}

std::vector<std::string> join_list(const std::vector<store::ChatGroup>& groups, const Caps& defaults) {
  std::vector<const store::ChatGroup*> open;
  for (const auto& g : groups)
    if (has_room(g, caps_of(g, defaults))) open.push_back(&g);
  std::stable_sort(open.begin(), open.end(), [](const auto* a, const auto* b) {
    return a->members != b->members ? a->members > b->members : a->id < b->id;
  });
  std::vector<std::string> out;
  for (const auto* g : open) {
    if (out.size() == 5) break;
    out.push_back(g->chat_id);
  }
  return out;
}

int room_left(const std::vector<store::ChatGroup>& groups, const Caps& defaults) {
  int room = 0;
  for (const auto& g : groups) {
    const Caps c = caps_of(g, defaults);
    if (has_room(g, c)) room += c.hard - c.headroom - g.members;
  }
  return room;
}

std::string township_state(const std::string& township_code) { return "yuer" + township_code; }

std::string township_of_state(const std::string& state) {
  if (state.size() != 16 || !state.starts_with("yuer")) return {};
  std::string code = state.substr(4);
  return std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) ? code : std::string();
}

}  // namespace yuer::groups
