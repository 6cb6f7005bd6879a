#include "tests/sandbox/fixture.h"

#include "tests/sandbox/wire.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <fstream>
#include <set>
#include <sstream>

namespace yuer::sandbox {

const App* Fixture::app(std::int64_t agent_id) const {
  for (const auto& a : apps)
    if (a.agent_id == agent_id) return &a;
  return nullptr;
}

const Member* Fixture::member(std::string_view userid) const {
  for (const auto& m : members)
    if (m.userid == userid) return &m;
  return nullptr;
}

const CustomerGroupMember* CustomerGroup::member(std::string_view userid) const {
  for (const auto& m : members)
    if (m.userid == userid) return &m;
  return nullptr;
}

CustomerGroup* Fixture::customer_group(std::string_view chat_id) {
  for (auto& g : customer_groups)
    if (g.chat_id == chat_id) return &g;
  return nullptr;
}

const CustomerGroup* Fixture::customer_group(std::string_view chat_id) const {
  for (const auto& g : customer_groups)
    if (g.chat_id == chat_id) return &g;
  return nullptr;
}

ExternalContact* Fixture::external_contact(std::string_view external_userid) {
  for (auto& c : external_contacts)
    if (c.external_userid == external_userid) return &c;
  return nullptr;
}

const ExternalContact* Fixture::external_contact(std::string_view external_userid) const {
  for (const auto& c : external_contacts)
    if (c.external_userid == external_userid) return &c;
  return nullptr;
}

bool Fixture::customer_contact_app(std::int64_t agent_id) const {
  return std::find(customer_contact_agent_ids.begin(), customer_contact_agent_ids.end(), agent_id) !=
         customer_contact_agent_ids.end();
}

std::string generated_parent_name(std::uint64_t seed) {
  static const char* const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
                                         "马", "朱", "胡", "郭", "何", "林", "罗", "高", "郑", "梁", "谢", "宋",
                                         "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "潘", "袁"};
  static const char* const nicknames[] = {"乐乐", "贝贝", "悠悠", "壮壮", "小米", "可可", "甜甜", "糖糖",
                                          "豆豆", "果果", "安安", "朵朵", "妞妞", "多多", "宁宁", "航航",
                                          "瑶瑶", "子涵", "一一", "欢欢", "笑笑", "天天", "小宝", "团团"};
  // splitmix64: a fixed mapping, so a fixture always generates the same names.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  std::string out = surnames[z % std::size(surnames)];
  out += nicknames[(z >> 16) % std::size(nicknames)];
  out += (z >> 40) % 3 == 0 ? "爸爸" : "妈妈";  // mothers answer most parenting groups
  return out;
}

namespace {

using nlohmann::json;

// Reads fields with a path for error messages; throws Invalid, caught in parse_fixture.
struct Invalid {
  std::string message;
};

std::string req_string(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
    throw Invalid{path + "." + key + ": required non-empty string"};
  return j[key].get<std::string>();
}

std::string opt_string(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key)) return {};
  if (!j[key].is_string()) throw Invalid{path + "." + key + ": must be a string"};
  return j[key].get<std::string>();
}

std::int64_t opt_int(const json& j, const std::string& path, const char* key, std::int64_t dflt) {
  if (!j.contains(key)) return dflt;
  if (!j[key].is_number_integer()) throw Invalid{path + "." + key + ": must be an integer"};
  return j[key].get<std::int64_t>();
}

const json& array_at(const json& j, const std::string& path, const char* key) {
  static const json empty = json::array();
  if (!j.contains(key)) return empty;
  if (!j[key].is_array()) throw Invalid{path + "." + key + ": must be an array"};
  return j[key];
}

std::vector<std::string> string_list(const json& j, const std::string& path, const char* key) {
  std::vector<std::string> out;
  const auto& a = array_at(j, path, key);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) throw Invalid{path + "." + key + "[" + std::to_string(i) + "]: must be a string"};
    out.push_back(a[i].get<std::string>());
  }
  return out;
}

void check_unique(std::set<std::string>& seen, const std::string& id, const std::string& path) {
  if (!seen.insert(id).second) throw Invalid{path + ": duplicate id \"" + id + "\""};
}

// FNV-1a: a seed from an id that is the same on every platform (std::hash is not).
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

bool aes_key_ok(const std::string& k) {
  if (k.size() != 43) return false;
  for (unsigned char c : k)
    if (!std::isalnum(c)) return false;
  return true;
}

Fixture parse(const json& root) {
  if (!root.is_object()) throw Invalid{"$: must be an object"};
  Fixture f;
  if (!root.contains("corp") || !root["corp"].is_object()) throw Invalid{"$.corp: required object"};
  f.corp_id = req_string(root["corp"], "$.corp", "corp_id");
  f.corp_name = opt_string(root["corp"], "$.corp", "name");

  std::set<std::string> ids;
  const auto& members = array_at(root, "$", "members");
  for (std::size_t i = 0; i < members.size(); ++i) {
    std::string p = "$.members[" + std::to_string(i) + "]";
    Member m{req_string(members[i], p, "userid"), opt_string(members[i], p, "name"),
             opt_string(members[i], p, "department")};
    check_unique(ids, m.userid, p + ".userid");
    f.members.push_back(std::move(m));
  }

  const auto& apps = array_at(root, "$", "apps");
  std::set<std::int64_t> agents;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    std::string p = "$.apps[" + std::to_string(i) + "]";
    App a;
    a.agent_id = opt_int(apps[i], p, "agent_id", 0);
    if (a.agent_id <= 0) throw Invalid{p + ".agent_id: required positive integer"};
    if (!agents.insert(a.agent_id).second) throw Invalid{p + ".agent_id: duplicate"};
    a.name = opt_string(apps[i], p, "name");
    a.secret = req_string(apps[i], p, "secret");
    a.token = req_string(apps[i], p, "token");
    a.aes_key = req_string(apps[i], p, "aes_key");
    if (!aes_key_ok(a.aes_key)) throw Invalid{p + ".aes_key: must be 43 characters of [A-Za-z0-9]"};
    a.callback_url = opt_string(apps[i], p, "callback_url");
    a.visible_userids = string_list(apps[i], p, "visible_userids");
    for (const auto& u : a.visible_userids)
      if (!f.member(u)) throw Invalid{p + ".visible_userids: unknown member \"" + u + "\""};
    f.apps.push_back(std::move(a));
  }

  std::set<std::string> chat_ids, robot_keys;
  const auto& groups = array_at(root, "$", "internal_groups");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::string p = "$.internal_groups[" + std::to_string(i) + "]";
    InternalGroup g;
    g.chat_id = req_string(groups[i], p, "chat_id");
    check_unique(chat_ids, g.chat_id, p + ".chat_id");
    g.name = opt_string(groups[i], p, "name");
    g.owner = req_string(groups[i], p, "owner");
    g.members = string_list(groups[i], p, "members");
    if (!f.member(g.owner)) throw Invalid{p + ".owner: unknown member \"" + g.owner + "\""};
    for (const auto& u : g.members)
      if (!f.member(u)) throw Invalid{p + ".members: unknown member \"" + u + "\""};
    g.app_agent_id = opt_int(groups[i], p, "app_agent_id", 0);
    if (g.app_agent_id != 0 && !f.app(g.app_agent_id)) throw Invalid{p + ".app_agent_id: unknown app"};
    const auto& robots = array_at(groups[i], p, "robots");
    for (std::size_t k = 0; k < robots.size(); ++k) {
      std::string rp = p + ".robots[" + std::to_string(k) + "]";
      Robot r{req_string(robots[k], rp, "key"), opt_string(robots[k], rp, "name")};
      check_unique(robot_keys, r.key, rp + ".key");
      g.robots.push_back(std::move(r));
    }
    f.internal_groups.push_back(std::move(g));
  }

  if (root.contains("customer_group_member_cap")) {
    f.customer_group_member_cap = static_cast<int>(opt_int(root, "$", "customer_group_member_cap", 500));
    if (f.customer_group_member_cap < 1) throw Invalid{"$.customer_group_member_cap: must be at least 1"};
  }
  if (root.contains("customer_contact_agent_ids")) {
    const auto& ids = array_at(root, "$", "customer_contact_agent_ids");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::string p = "$.customer_contact_agent_ids[" + std::to_string(i) + "]";
      if (!ids[i].is_number_integer() || !f.app(ids[i].get<std::int64_t>())) throw Invalid{p + ": must be an app's agent_id"};
      f.customer_contact_agent_ids.push_back(ids[i].get<std::int64_t>());
    }
  } else if (!f.apps.empty()) {
    f.customer_contact_agent_ids.push_back(f.apps.front().agent_id);
  }

  std::set<std::string> external_ids;
  const auto& contacts = array_at(root, "$", "external_contacts");
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    std::string p = "$.external_contacts[" + std::to_string(i) + "]";
    ExternalContact c;
    c.external_userid = req_string(contacts[i], p, "external_userid");
    if (f.member(c.external_userid)) throw Invalid{p + ".external_userid: \"" + c.external_userid + "\" is a member's userid"};
    check_unique(external_ids, c.external_userid, p + ".external_userid");
    c.name = opt_string(contacts[i], p, "name");
    c.type = static_cast<int>(opt_int(contacts[i], p, "type", 1));
    if (c.type != 1 && c.type != 2) throw Invalid{p + ".type: must be 1 (WeChat) or 2 (WeCom)"};
    c.unionid = opt_string(contacts[i], p, "unionid");
    c.follow_users = string_list(contacts[i], p, "follow_users");
    for (const auto& u : c.follow_users)
      if (!f.member(u)) throw Invalid{p + ".follow_users: unknown member \"" + u + "\""};
    f.external_contacts.push_back(std::move(c));
  }

  const auto& cgroups = array_at(root, "$", "customer_groups");
  for (std::size_t i = 0; i < cgroups.size(); ++i) {
    std::string p = "$.customer_groups[" + std::to_string(i) + "]";
    if (cgroups[i].contains("robots"))
      throw Invalid{p + ".robots: robots exist only in internal groups (reference §3.6)"};
    CustomerGroup g;
    g.chat_id = req_string(cgroups[i], p, "chat_id");
    check_unique(chat_ids, g.chat_id, p + ".chat_id");
    g.name = opt_string(cgroups[i], p, "name");
    g.owner = req_string(cgroups[i], p, "owner");
    if (!f.member(g.owner)) throw Invalid{p + ".owner: unknown member \"" + g.owner + "\""};
    g.create_time = opt_int(cgroups[i], p, "create_time", 0);
    g.notice = opt_string(cgroups[i], p, "notice");
    g.admins = string_list(cgroups[i], p, "admins");
    for (const auto& u : g.admins)
      if (!f.member(u)) throw Invalid{p + ".admins: unknown member \"" + u + "\""};
    g.member_cap = static_cast<int>(opt_int(cgroups[i], p, "member_cap", 0));
    if (g.member_cap < 0) throw Invalid{p + ".member_cap: must not be negative"};
    std::set<std::string> in_group;
    auto add_member = [&](CustomerGroupMember m, const std::string& mp) {
      if (!in_group.insert(m.userid).second) throw Invalid{mp + ".userid: \"" + m.userid + "\" is already in the group"};
      g.members.push_back(std::move(m));
    };
    const auto& ms = array_at(cgroups[i], p, "members");
    for (std::size_t k = 0; k < ms.size(); ++k) {
      std::string mp = p + ".members[" + std::to_string(k) + "]";
      CustomerGroupMember m;
      m.userid = req_string(ms[k], mp, "userid");
      m.type = static_cast<int>(opt_int(ms[k], mp, "type", 2));
      if (m.type != 1 && m.type != 2) throw Invalid{mp + ".type: must be 1 (member) or 2 (external contact)"};
      if (m.type == 1 && !f.member(m.userid)) throw Invalid{mp + ".userid: unknown member \"" + m.userid + "\""};
      if (m.type == 2 && f.member(m.userid)) throw Invalid{mp + ".userid: \"" + m.userid + "\" is a member: use type 1"};
      m.name = opt_string(ms[k], mp, "name");
      m.unionid = opt_string(ms[k], mp, "unionid");
      m.join_time = opt_int(ms[k], mp, "join_time", 0);
      m.join_scene = static_cast<int>(opt_int(ms[k], mp, "join_scene", 3));
      if (m.join_scene < 1 || m.join_scene > 3) throw Invalid{mp + ".join_scene: must be 1, 2 or 3"};
      m.invitor = opt_string(ms[k], mp, "invitor");
      if (!m.invitor.empty() && !f.member(m.invitor)) throw Invalid{mp + ".invitor: unknown member \"" + m.invitor + "\""};
      m.group_nickname = opt_string(ms[k], mp, "group_nickname");
      m.state = opt_string(ms[k], mp, "state");
      add_member(std::move(m), mp);
    }
    // The owner is always in the group (groupchat/get lists them as a type-1 member).
    if (!in_group.count(g.owner)) {
      CustomerGroupMember owner;
      owner.userid = g.owner;
      owner.type = 1;
      owner.join_time = g.create_time;
      owner.join_scene = 1;
      in_group.insert(g.owner);
      g.members.insert(g.members.begin(), std::move(owner));
    }
    if (cgroups[i].contains("generate")) {
      // Compact spec for large demo groups: `count` parents with ids id_prefix + 4 digits (README).
      const auto& gen = cgroups[i]["generate"];
      std::string gp = p + ".generate";
      if (!gen.is_object()) throw Invalid{gp + ": must be an object"};
      auto count = opt_int(gen, gp, "count", 0);
      if (count < 0 || count > 5000) throw Invalid{gp + ".count: must be 0..5000"};
      std::string prefix = req_string(gen, gp, "id_prefix");
      std::int64_t first = opt_int(gen, gp, "first_join_time", g.create_time);
      std::int64_t step = opt_int(gen, gp, "join_interval_s", 3600);
      int scene = static_cast<int>(opt_int(gen, gp, "join_scene", 3));
      if (scene < 1 || scene > 3) throw Invalid{gp + ".join_scene: must be 1, 2 or 3"};
      std::string state = opt_string(gen, gp, "state");
      for (std::int64_t k = 0; k < count; ++k) {
        std::string n = std::to_string(k + 1);
        CustomerGroupMember m;
        m.userid = prefix + std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
        if (f.member(m.userid)) throw Invalid{gp + ": generated id \"" + m.userid + "\" is a member's userid"};
        m.name = generated_parent_name(fnv1a(m.userid));
        m.join_time = first + k * step;
        m.join_scene = scene;
        if (scene != 3) m.invitor = g.owner;
        else m.state = state;
        add_member(std::move(m), gp);
      }
    }
    if (static_cast<int>(g.members.size()) > f.member_cap(g))
      throw Invalid{p + ".members: " + std::to_string(g.members.size()) + " members, over the cap of " +
                    std::to_string(f.member_cap(g)) + " (§8.4)"};
    // Every parent in a group is a customer of the corp; unlisted ones follow the group's owner.
    for (const auto& m : g.members) {
      if (m.type != 2 || f.external_contact(m.userid)) continue;
      ExternalContact c;
      c.external_userid = m.userid;
      c.name = m.name;
      c.unionid = m.unionid;
      c.follow_users = {g.owner};
      f.external_contacts.push_back(std::move(c));
    }
    f.customer_groups.push_back(std::move(g));
  }

  const auto& ways = array_at(root, "$", "join_ways");
  std::set<std::string> config_ids;
  for (std::size_t i = 0; i < ways.size(); ++i) {
    std::string p = "$.join_ways[" + std::to_string(i) + "]";
    JoinWay w;
    w.config_id = req_string(ways[i], p, "config_id");
    check_unique(config_ids, w.config_id, p + ".config_id");
    w.agent_id = opt_int(ways[i], p, "agent_id", f.customer_contact_agent_ids.empty() ? 0 : f.customer_contact_agent_ids.front());
    if (!f.customer_contact_app(w.agent_id)) throw Invalid{p + ".agent_id: must be in customer_contact_agent_ids"};
    w.scene = static_cast<int>(opt_int(ways[i], p, "scene", 2));
    if (w.scene != 1 && w.scene != 2) throw Invalid{p + ".scene: must be 1 or 2"};
    w.remark = opt_string(ways[i], p, "remark");
    w.auto_create_room = static_cast<int>(opt_int(ways[i], p, "auto_create_room", 1));
    w.room_base_name = opt_string(ways[i], p, "room_base_name");
    w.room_base_id = opt_int(ways[i], p, "room_base_id", 1);
    w.next_room_id = w.room_base_id;
    w.chat_id_list = string_list(ways[i], p, "chat_id_list");
    if (w.chat_id_list.empty() || w.chat_id_list.size() > 5) throw Invalid{p + ".chat_id_list: 1 to 5 customer groups"};
    for (const auto& c : w.chat_id_list)
      if (!f.customer_group(c)) throw Invalid{p + ".chat_id_list: unknown customer group \"" + c + "\""};
    w.state = opt_string(ways[i], p, "state");
    w.qr_code = "https://wework.qpic.cn/wwpic/sandbox_" + w.config_id + "/0";
    f.join_ways.push_back(std::move(w));
  }

  const auto& kfs = array_at(root, "$", "kf_accounts");
  std::set<std::string> kf_ids;
  for (std::size_t i = 0; i < kfs.size(); ++i) {
    std::string p = "$.kf_accounts[" + std::to_string(i) + "]";
    KfAccount k{req_string(kfs[i], p, "open_kfid"), opt_string(kfs[i], p, "name")};
    check_unique(kf_ids, k.open_kfid, p + ".open_kfid");
    f.kf_accounts.push_back(std::move(k));
  }
  f.raw = root;
  return f;
}

}  // namespace

Result<Fixture> parse_fixture(std::string_view json_text) {
  auto root = nlohmann::json::parse(json_text, nullptr, false);
  if (root.is_discarded()) return fail("fixture.bad_json", "fixture is not valid JSON");
  try {
    return parse(root);
  } catch (const Invalid& e) {
    return fail("fixture.invalid", e.message);
  }
}

Result<Fixture> load_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("fixture.unreadable", "cannot read fixture file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto f = parse_fixture(ss.str());
  if (!f) return fail(f.error().code, path + ": " + f.error().message);
  return f;
}

nlohmann::json fixture_to_json(const Fixture& f) {
  json j;
  j["corp"] = {{"corp_id", f.corp_id}, {"name", f.corp_name}};
  j["apps"] = json::array();
  for (const auto& a : f.apps)
    j["apps"].push_back({{"corp_id", f.corp_id}, {"agent_id", a.agent_id}, {"name", a.name}, {"secret", a.secret},
                         {"token", a.token}, {"aes_key", a.aes_key}, {"callback_url", a.callback_url},
                         {"visible_userids", a.visible_userids}});
  j["members"] = json::array();
  for (const auto& m : f.members)
    j["members"].push_back({{"userid", m.userid}, {"name", m.name}, {"department", m.department}});
  j["internal_groups"] = json::array();
  j["robots"] = json::array();
  for (const auto& g : f.internal_groups) {
    json robots = json::array();
    for (const auto& r : g.robots) {
      robots.push_back({{"key", r.key}, {"name", r.name}});
      j["robots"].push_back({{"key", r.key}, {"name", r.name}, {"chat_id", g.chat_id}, {"group_name", g.name}});
    }
    json gj = {{"chat_id", g.chat_id}, {"name", g.name}, {"owner", g.owner}, {"members", g.members},
               {"robots", robots}};
    if (g.app_agent_id != 0) gj["app_agent_id"] = g.app_agent_id;
    j["internal_groups"].push_back(std::move(gj));
  }
  j["customer_contact_agent_ids"] = f.customer_contact_agent_ids;
  j["customer_group_member_cap"] = f.customer_group_member_cap;
  j["external_contacts"] = json::array();
  for (const auto& c : f.external_contacts) j["external_contacts"].push_back(to_json(c));
  j["customer_groups"] = json::array();
  for (const auto& g : f.customer_groups) j["customer_groups"].push_back(to_json(g));
  j["join_ways"] = json::array();
  for (const auto& w : f.join_ways)
    j["join_ways"].push_back({{"config_id", w.config_id},
                              {"agent_id", w.agent_id},
                              {"scene", w.scene},
                              {"remark", w.remark},
                              {"auto_create_room", w.auto_create_room},
                              {"room_base_name", w.room_base_name},
                              {"room_base_id", w.room_base_id},
                              {"chat_id_list", w.chat_id_list},
                              {"state", w.state}});
  j["kf_accounts"] = json::array();
  for (const auto& k : f.kf_accounts) j["kf_accounts"].push_back({{"open_kfid", k.open_kfid}, {"name", k.name}});
  return j;
}

json to_json(const ExternalContact& c) {
  return {{"external_userid", c.external_userid}, {"name", c.name}, {"type", c.type}, {"unionid", c.unionid},
          {"follow_users", c.follow_users}};
}

json to_json(const CustomerGroup& g) {
  json ms = json::array();
  for (const auto& m : g.members)
    ms.push_back({{"userid", m.userid},       {"type", m.type},           {"name", m.name},
                  {"unionid", m.unionid},     {"join_time", m.join_time}, {"join_scene", m.join_scene},
                  {"invitor", m.invitor},     {"group_nickname", m.group_nickname}, {"state", m.state}});
  json gj = {{"chat_id", g.chat_id}, {"name", g.name},     {"owner", g.owner}, {"create_time", g.create_time},
             {"notice", g.notice},   {"admins", g.admins}, {"members", ms}};
  if (g.member_cap > 0) gj["member_cap"] = g.member_cap;
  return gj;
}

json to_json(const JoinWay& w) {
  return {{"config_id", w.config_id},
          {"agent_id", w.agent_id},
          {"scene", w.scene},
          {"remark", w.remark},
          {"auto_create_room", w.auto_create_room},
          {"room_base_name", w.room_base_name},
          {"room_base_id", w.room_base_id},
          {"next_room_id", w.next_room_id},
          {"chat_id_list", w.chat_id_list},
          {"state", w.state},
          {"qr_code", w.qr_code}};
}

ExternalContact external_contact_from_json(const json& j) {
  ExternalContact c;
  c.external_userid = string_field(j, "external_userid").value_or("");
  c.name = string_field(j, "name").value_or("");
  c.type = static_cast<int>(int_field(j, "type").value_or(1));
  c.unionid = string_field(j, "unionid").value_or("");
  c.follow_users = string_list(j, "follow_users");
  return c;
}

CustomerGroup customer_group_from_json(const json& j) {
  CustomerGroup g;
  g.chat_id = string_field(j, "chat_id").value_or("");
  g.name = string_field(j, "name").value_or("");
  g.owner = string_field(j, "owner").value_or("");
  g.create_time = int_field(j, "create_time").value_or(0);
  g.notice = string_field(j, "notice").value_or("");
  g.admins = string_list(j, "admins");
  g.member_cap = static_cast<int>(int_field(j, "member_cap").value_or(0));
  for (const auto& mj : array_field(j, "members")) {
    CustomerGroupMember m;
    m.userid = string_field(mj, "userid").value_or("");
    if (m.userid.empty()) continue;
    m.type = static_cast<int>(int_field(mj, "type").value_or(2));
    m.name = string_field(mj, "name").value_or("");
    m.unionid = string_field(mj, "unionid").value_or("");
    m.join_time = int_field(mj, "join_time").value_or(0);
    m.join_scene = static_cast<int>(int_field(mj, "join_scene").value_or(3));
    m.invitor = string_field(mj, "invitor").value_or("");
    m.group_nickname = string_field(mj, "group_nickname").value_or("");
    m.state = string_field(mj, "state").value_or("");
    g.members.push_back(std::move(m));
  }
  return g;
}

JoinWay join_way_from_json(const json& j) {
  JoinWay w;
  w.config_id = string_field(j, "config_id").value_or("");
  w.agent_id = int_field(j, "agent_id").value_or(0);
  w.scene = static_cast<int>(int_field(j, "scene").value_or(2));
  w.remark = string_field(j, "remark").value_or("");
  w.auto_create_room = static_cast<int>(int_field(j, "auto_create_room").value_or(1));
  w.room_base_name = string_field(j, "room_base_name").value_or("");
  w.room_base_id = int_field(j, "room_base_id").value_or(1);
  w.next_room_id = int_field(j, "next_room_id").value_or(w.room_base_id);
  w.chat_id_list = string_list(j, "chat_id_list");
  w.state = string_field(j, "state").value_or("");
  w.qr_code = string_field(j, "qr_code").value_or("");
  return w;
}

}  // namespace yuer::sandbox
