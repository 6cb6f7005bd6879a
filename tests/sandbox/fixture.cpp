#include "tests/sandbox/fixture.h"

#include <cctype>
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
    const auto& ms = array_at(cgroups[i], p, "members");
    for (std::size_t k = 0; k < ms.size(); ++k) {
      std::string mp = p + ".members[" + std::to_string(k) + "]";
      CustomerGroupMember m;
      m.userid = req_string(ms[k], mp, "userid");
      m.type = static_cast<int>(opt_int(ms[k], mp, "type", 2));
      if (m.type != 1 && m.type != 2) throw Invalid{mp + ".type: must be 1 (member) or 2 (external contact)"};
      if (m.type == 1 && !f.member(m.userid)) throw Invalid{mp + ".userid: unknown member \"" + m.userid + "\""};
      m.name = opt_string(ms[k], mp, "name");
      m.join_time = opt_int(ms[k], mp, "join_time", 0);
      m.join_scene = static_cast<int>(opt_int(ms[k], mp, "join_scene", 3));
      g.members.push_back(std::move(m));
    }
    f.customer_groups.push_back(std::move(g));
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
  j["customer_groups"] = json::array();
  for (const auto& g : f.customer_groups) {
    json ms = json::array();
    for (const auto& m : g.members)
      ms.push_back({{"userid", m.userid}, {"type", m.type}, {"name", m.name}, {"join_time", m.join_time},
                    {"join_scene", m.join_scene}});
    j["customer_groups"].push_back({{"chat_id", g.chat_id}, {"name", g.name}, {"owner", g.owner}, {"members", ms}});
  }
  j["kf_accounts"] = json::array();
  for (const auto& k : f.kf_accounts) j["kf_accounts"].push_back({{"open_kfid", k.open_kfid}, {"name", k.name}});
  return j;
}

}  // namespace yuer::sandbox
