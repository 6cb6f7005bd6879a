// GroupStore: the programme's WeCom groups (management and parent groups), the members of parent
// groups, the township join ways and the alerts that need a person (migration 0006). Used from one
// thread only (the store executor). Every write is one committed transaction before the call
// returns; a failed write changes nothing.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct ChatGroup {
  std::int64_t id = 0;
  std::string kind;       // "management" | "parent"
  std::string unit_code;  // 12 digits
  std::string name;
  std::string chat_id;    // customer group chat id (parent) or app chat id ("" for a robot-only group)
  std::string route;      // "robot" | "appchat" | "group_task"
  std::string robot;      // robot name (its key stays in the secrets file)
  std::string owner;      // owner userid
  int soft_cap = 0;       // 0: programme default
  int hard_cap = 0;       // 0: programme default
  int members = 0;
  std::string member_version;
  std::string state = "open";  // open | warned | closed | dismissed
  std::int64_t synced_ms = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct GroupMember {
  std::string userid;
  int type = 2;  // 1 staff member, 2 external contact
  std::int64_t join_time = 0;
  std::string state;  // join way state (join_scene 3)
};

struct JoinWayRow {
  std::string unit_code;
  std::string config_id;
  std::string state;
  std::string qr_code;
  std::vector<std::string> chat_ids;
  std::int64_t asked_ms = 0;
  std::int64_t updated_ms = 0;
};

struct GroupAlert {
  std::int64_t id = 0;
  std::string chat_id;
  std::string unit_code;
  std::string kind;  // over_hard_cap | no_room
  int members = 0;
  std::int64_t created_ms = 0;
};

// How many members of a group's member list are matched to roster families.
struct GroupFamilies {
  int parents = 0;          // members of type 2
  int matched = 0;          // of them, an external_userid found in the roster
  int state_matched = 0;    // not in the roster, but joined through this township's join way
};

class GroupStore {
 public:
  virtual ~GroupStore() = default;
  // Groups, by id; kind/unit prefix filters ("" = all). Throws StoreError.
  virtual std::vector<ChatGroup> groups(const std::string& kind, const std::string& unit_prefix) = 0;
  virtual std::optional<ChatGroup> group(std::int64_t id) = 0;
  virtual std::optional<ChatGroup> group_by_chat(const std::string& chat_id) = 0;
  // Inserts (id 0: assigned and returned) or updates every column of `g` by id. Fails with
  // Error{"groups.duplicate_chat"} when another group has the same chat id. Throws StoreError.
  virtual Result<std::int64_t> put_group(const ChatGroup& g, std::int64_t now_ms) = 0;
  // Replaces a parent group's member list and its count/version/state in one transaction.
  virtual void write_members(std::int64_t group_id, const std::vector<GroupMember>& members,
                             const std::string& member_version, const std::string& state, std::int64_t now_ms) = 0;
  virtual std::vector<GroupMember> members(const std::string& chat_id) = 0;
  // Roster matching of one group's members (`township_state`: the state of its township's join way).
  virtual GroupFamilies families_of(const std::string& chat_id, const std::string& township_state) = 0;
  virtual std::optional<JoinWayRow> join_way(const std::string& unit_code) = 0;
  virtual std::vector<JoinWayRow> join_ways() = 0;
  virtual void put_join_way(const JoinWayRow& w, std::int64_t now_ms) = 0;
  virtual std::int64_t add_alert(const GroupAlert& a) = 0;
  virtual std::vector<GroupAlert> alerts(std::int64_t after_id, int limit) = 0;
};

// Opens its own connection to the store file (migrating it first when needed).
Result<std::unique_ptr<GroupStore>> open_sqlite_group_store(const Settings& settings);

}  // namespace yuer::store
