// Fixture: the seeded corp of the sandbox (corp, apps with secrets, members, internal groups with
// robots, customer groups, kf accounts), loaded from JSON. Invariant after parse_fixture(): ids are
// unique, every group member/owner of an internal group is a member, robots live only in internal
// groups (as on the real service, reference §3.6), AES keys are 43 chars of [A-Za-z0-9].
#pragma once

#include "daemon/base/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
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
  std::int64_t join_time = 0;
  int join_scene = 3;  // 1 invited directly, 2 invited by link, 3 via QR code
};

struct CustomerGroup {  // 客户群 (parents' groups)
  std::string chat_id;
  std::string name;
  std::string owner;  // userid of the member who owns it
  std::vector<CustomerGroupMember> members;
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
  std::vector<KfAccount> kf_accounts;
  // The whole fixture document as parsed: modules read their own sections from it (module.h).
  nlohmann::json raw;

  const App* app(std::int64_t agent_id) const;
  const Member* member(std::string_view userid) const;
};

// Parses and validates. Errors: fixture.bad_json, fixture.invalid (message names the JSON path).
Result<Fixture> parse_fixture(std::string_view json_text);
// Reads `path` and parses it. Errors as parse_fixture, plus fixture.unreadable.
Result<Fixture> load_fixture(const std::string& path);

// The fixture in its file format, plus what PRODUCT.md promises GET /_sandbox/fixture returns:
// `corp_id` on each app and a top-level `robots` list ({key, name, chat_id, group_name}).
nlohmann::json fixture_to_json(const Fixture& f);

}  // namespace yuer::sandbox
