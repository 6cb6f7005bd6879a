// Fixture: the seeded corp of the sandbox (corp, apps with secrets, members, internal groups with
// robots, customer groups, external contacts and join ways, kf accounts), loaded from JSON;
// customer-group members may be generated from a compact spec (`generate`, see the README).
// Invariant after parse_fixture(): ids are unique, every group member/owner of an internal group is
// a member, robots live only in internal groups (as on the real service, reference §3.6), no
// customer group is over its member cap, AES keys are 43 chars of [A-Za-z0-9].
#pragma once

#include "daemon/base/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::sandbox {

struct App {  // 自建应用
  std::int64_t agent_id = 0;
  std::string name;
  std::string secret;        // corpsecret for gettoken
  std::string token;         // callback Token
  std::string aes_key;       // callback EncodingAESKey
  std::string callback_url;  // where callbacks go ("" = none configured)
  std::vector<std::string> visible_userids;  // empty = every member (root department)
};

struct Member {  // 成员
  std::string userid;
  std::string name;
  std::string department;
};

struct Robot {  // 群机器人 / 消息推送
  std::string key;
  std::string name;
};

struct InternalGroup {  // internal group chat (management groups)
  std::string chat_id;
  std::string name;
  std::string owner;
  std::vector<std::string> members;  // userids
  std::vector<Robot> robots;
  std::int64_t app_agent_id = 0;     // != 0: created through appchat/create by this app
};

struct CustomerGroupMember {
  std::string userid;  // member userid (type 1) or external_userid (type 2)
  int type = 2;        // 1 = corp member, 2 = external contact
  std::string name;
  std::string unionid;  // type 2 only, "" = the corp has not bound a WeChat developer id
  std::int64_t join_time = 0;
  int join_scene = 3;   // 1 invited directly, 2 invited by link, 3 via QR code (DOC 92122)
  std::string invitor;  // userid of the member who invited them ("" = not invited by a member)
  std::string group_nickname;
  std::string state;    // the join way's state when they scanned its QR (join_scene 3)
};

struct CustomerGroup {  // 客户群 (parents' groups)
  std::string chat_id;
  std::string name;
  std::string owner;  // userid of the member who owns it
  std::int64_t create_time = 0;
  std::string notice;
  std::vector<std::string> admins;  // member userids (admin_list)
  int member_cap = 0;               // 0 = Fixture::customer_group_member_cap
  std::vector<CustomerGroupMember> members;

  const CustomerGroupMember* member(std::string_view userid) const;
};

// 客户 (external contact): a WeChat user who added one or more members (follow_users).
struct ExternalContact {
  std::string external_userid;
  std::string name;
  int type = 1;  // 1 WeChat user, 2 WeCom user
  std::string unionid;
  std::vector<std::string> follow_users;  // member userids who have this contact
};

// 「加入群聊」 QR configuration (DOC 99547): joining through it fills the first chat of
// chat_id_list with room, then (auto_create_room) new rooms named room_base_name + number.
struct JoinWay {
  std::string config_id;
  std::int64_t agent_id = 0;  // the app that created it: only that app sees and manages it
  int scene = 2;              // 1 mini-program plugin, 2 QR code
  std::string remark;
  int auto_create_room = 1;
  std::string room_base_name;
  std::int64_t room_base_id = 1;
  std::int64_t next_room_id = 1;  // number of the next auto-created room
  std::vector<std::string> chat_id_list;
  std::string state;
  std::string qr_code;
};

struct KfAccount {  // 微信客服账号
  std::string open_kfid;
  std::string name;
};

struct Fixture {
  std::string corp_id;
  std::string corp_name;
  std::vector<App> apps;
  std::vector<Member> members;
  std::vector<InternalGroup> internal_groups;
  std::vector<CustomerGroup> customer_groups;
  std::vector<ExternalContact> external_contacts;  // listed ones plus every type-2 group member
  // Apps listed in 客户联系 → 可调用接口的应用 (fixture key customer_contact_agent_ids; absent = the
  // first app). Only they may call externalcontact/* and receive change_external_chat (§6.1, §8).
  std::vector<std::int64_t> customer_contact_agent_ids;
  // Members per customer group: 500 for groups created by a member (§8.4 [UNCERTAIN], no official
  // API page states it); fixture key customer_group_member_cap, per group member_cap.
  int customer_group_member_cap = 500;
  std::vector<JoinWay> join_ways;  // seeded configs (fixture key join_ways); the module adds more
  std::vector<KfAccount> kf_accounts;
  // The whole fixture document as parsed: modules read their own sections from it (module.h).
  nlohmann::json raw;

  const App* app(std::int64_t agent_id) const;
  const Member* member(std::string_view userid) const;
  CustomerGroup* customer_group(std::string_view chat_id);
  const CustomerGroup* customer_group(std::string_view chat_id) const;
  ExternalContact* external_contact(std::string_view external_userid);
  const ExternalContact* external_contact(std::string_view external_userid) const;
  bool customer_contact_app(std::int64_t agent_id) const;
  int member_cap(const CustomerGroup& g) const { return g.member_cap > 0 ? g.member_cap : customer_group_member_cap; }
};

// A parent's display name made up from `seed` (surname + child's nickname + 爸爸/妈妈), the same for
// the same seed; used for generated group members and generated joiners.
std::string generated_parent_name(std::uint64_t seed);

// Parses and validates. Errors: fixture.bad_json, fixture.invalid (message names the JSON path).
Result<Fixture> parse_fixture(std::string_view json_text);
// Reads `path` and parses it. Errors as parse_fixture, plus fixture.unreadable.
Result<Fixture> load_fixture(const std::string& path);

// The fixture in its file format, plus what PRODUCT.md promises GET /_sandbox/fixture returns:
// `corp_id` on each app and a top-level `robots` list ({key, name, chat_id, group_name}).
nlohmann::json fixture_to_json(const Fixture& f);

// One customer group, external contact or join way in the fixture file format (join ways also
// with agent_id, next_room_id and qr_code), and back WITHOUT the fixture's validation: for saved
// state (--state), which only the sandbox wrote. The readers never throw; missing or mistyped
// fields take their defaults.
nlohmann::json to_json(const CustomerGroup& g);
nlohmann::json to_json(const ExternalContact& c);
nlohmann::json to_json(const JoinWay& w);
CustomerGroup customer_group_from_json(const nlohmann::json& j);
ExternalContact external_contact_from_json(const nlohmann::json& j);
JoinWay join_way_from_json(const nlohmann::json& j);

}  // namespace yuer::sandbox
