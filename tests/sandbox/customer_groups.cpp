#include "tests/sandbox/customer_groups.h"

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/callbacks.h"


#include <algorithm>
#include <set>

namespace yuer::sandbox {

using nlohmann::json;

namespace {

const std::string kGroupchat = "/cgi-bin/externalcontact/groupchat/";

// UTF-8 characters (not bytes): the join-way limits count "utf8字符" (DOC 99547).
std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// The first `n` UTF-8 characters of `s`.
std::string utf8_prefix(const std::string& s, std::size_t n) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n) return s.substr(0, i);
  }
  return s;
}

std::string hex_id(std::size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += hex[random_u64() % 16];
  return out;
}

// Opaque paging cursor: base64 of "groupchat:<offset>". Anything else is an invalid cursor.
std::string encode_cursor(std::size_t offset) {
  return adapters::wecom::base64_encode("groupchat:" + std::to_string(offset));
}

std::optional<std::size_t> decode_cursor(const std::string& cursor) {
  auto raw = adapters::wecom::base64_decode(cursor);
  if (!raw || raw->rfind("groupchat:", 0) != 0) return std::nullopt;
  std::string digits = raw->substr(10);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<std::size_t>(std::stoul(digits));
}

// member_list join_scene (1 direct, 2 link, 3 QR) → the event's JoinScene (0 invited by a member,
// directly or by link; 3 scanned the group QR), reference §8.3.
int event_join_scene(int member_join_scene) { return member_join_scene == 3 ? 3 : 0; }

json group_state(const Fixture& f, const CustomerGroup& g) {
  json members = json::array();
  for (const auto& m : g.members)
    members.push_back({{"userid", m.userid},         {"type", m.type},           {"name", m.name},
                       {"join_time", m.join_time},   {"join_scene", m.join_scene}, {"invitor", m.invitor},
                       {"state", m.state}});
  return {{"chat_id", g.chat_id},         {"name", g.name},
          {"owner", g.owner},             {"create_time", g.create_time},
          {"notice", g.notice},           {"admins", g.admins},
          {"member_count", g.members.size()}, {"member_cap", f.member_cap(g)},
          {"member_version", member_version(g)}, {"members", members}};
}

json join_way_json(const JoinWay& w) {
  return {{"config_id", w.config_id},           {"scene", w.scene},
          {"remark", w.remark},                 {"auto_create_room", w.auto_create_room},
          {"room_base_name", w.room_base_name}, {"room_base_id", w.room_base_id},
          {"chat_id_list", w.chat_id_list},     {"qr_code", w.qr_code},
          {"state", w.state}};
}

}  // namespace

// --- shared helpers ---

std::variant<ExternalContactCall, ApiReply> begin_externalcontact_call(const Context& ctx, const ApiRequest& req,
                                                                       const Target& t) {
  // Customer-contact APIs from an app not in 客户联系 → 可调用接口的应用: 48002 (reference §11, §8).
  auto begun = ctx.begin_app_call(req, t, [&ctx](const App& app) -> std::optional<ApiReply> {
    if (ctx.fixture.customer_contact_app(app.agent_id)) return std::nullopt;
    return ctx.error(48002, "api forbidden");
  });
  if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
  auto& call = std::get<Context::AppCall>(begun);
  return ExternalContactCall{call.app, std::move(call.body)};
}

bool visible_to(const App& app, std::string_view userid) {
  if (app.visible_userids.empty()) return true;
  return std::find(app.visible_userids.begin(), app.visible_userids.end(), userid) != app.visible_userids.end();
}

std::string member_version(const CustomerGroup& g) {
  std::string text = g.chat_id;
  for (const auto& m : g.members) text += "\n" + m.userid;
  return md5_hex(text);
}

std::string change_external_chat_xml(std::string_view corp_id, std::int64_t create_time, const ChatChangeEvent& ev) {
  // Element order and CDATA-vs-bare numbers as in the official sample quoted in reference §8.3
  // (Senparc test "官方提供"); MemChangeList/Item as in WxJava PR #3572 citing DOC 96361.
  std::string x = "<xml><ToUserName>" + cdata(corp_id) + "</ToUserName><FromUserName>" + cdata("sys") +
                  "</FromUserName><CreateTime>" + std::to_string(create_time) + "</CreateTime><MsgType>" +
                  cdata("event") + "</MsgType><Event>" + cdata("change_external_chat") + "</Event><ChatId>" +
                  cdata(ev.chat_id) + "</ChatId><ChangeType>" + cdata(ev.change_type) + "</ChangeType>";
  if (ev.change_type == "update") {
    x += "<UpdateDetail>" + cdata(ev.update_detail) + "</UpdateDetail>";
    if (ev.update_detail == "add_member" || ev.update_detail == "del_member") {
      if (ev.join_scene >= 0) x += "<JoinScene>" + std::to_string(ev.join_scene) + "</JoinScene>";
      if (ev.quit_scene >= 0) x += "<QuitScene>" + std::to_string(ev.quit_scene) + "</QuitScene>";
      x += "<MemChangeCnt>" + std::to_string(ev.changed.size()) + "</MemChangeCnt><MemChangeList>";
      for (const auto& u : ev.changed) x += "<Item>" + cdata(u) + "</Item>";
      x += "</MemChangeList><LastMemVer>" + cdata(ev.last_mem_ver) + "</LastMemVer><CurMemVer>" +
           cdata(ev.cur_mem_ver) + "</CurMemVer>";
    }
  }
  return x + "</xml>";
}

// --- module ---

CustomerGroupsModule::CustomerGroupsModule(Context& ctx)
    : ctx_(ctx),
      initial_groups_(ctx.fixture.customer_groups),
      initial_contacts_(ctx.fixture.external_contacts),
      initial_join_ways_(ctx.fixture.join_ways) {}

void CustomerGroupsModule::reset() {
  held_.clear();
  coalesce_ = false;
  drop_next_ = 0;
  dropped_ = 0;
  ctx_.fixture.customer_groups = initial_groups_;
  ctx_.fixture.external_contacts = initial_contacts_;
  ctx_.fixture.join_ways = initial_join_ways_;
}

json CustomerGroupsModule::save() const {
  json ways = json::array();
  for (const auto& w : ctx_.fixture.join_ways) ways.push_back(to_json(w));
  json groups = json::array(), contacts = json::array(), initial_ways = json::array();
  for (const auto& g : initial_groups_) groups.push_back(to_json(g));
  for (const auto& c : initial_contacts_) contacts.push_back(to_json(c));
  for (const auto& w : initial_join_ways_) initial_ways.push_back(to_json(w));
  return {{"join_ways", ways},
          {"initial", {{"customer_groups", groups}, {"external_contacts", contacts}, {"join_ways", initial_ways}}}};
}

void CustomerGroupsModule::restore(const json& saved) {
  if (!saved.is_object()) return;
  if (saved.contains("join_ways") && saved["join_ways"].is_array()) {
    ctx_.fixture.join_ways.clear();
    for (const auto& j : saved["join_ways"])
      if (auto w = join_way_from_json(j); !w.config_id.empty()) ctx_.fixture.join_ways.push_back(std::move(w));
  }
  if (!saved.contains("initial") || !saved["initial"].is_object()) return;
  const json& initial = saved["initial"];
  initial_groups_.clear();
  initial_contacts_.clear();
  initial_join_ways_.clear();
  for (const auto& j : array_field(initial, "customer_groups")) initial_groups_.push_back(customer_group_from_json(j));
  for (const auto& j : array_field(initial, "external_contacts"))
    initial_contacts_.push_back(external_contact_from_json(j));
  for (const auto& j : array_field(initial, "join_ways")) initial_join_ways_.push_back(join_way_from_json(j));
}

json CustomerGroupsModule::state() const {
  json groups = json::array();
  for (const auto& g : ctx_.fixture.customer_groups) groups.push_back(group_state(ctx_.fixture, g));
  json ways = json::array();
  for (const auto& w : ctx_.fixture.join_ways) {
    json j = join_way_json(w);
    j["agent_id"] = w.agent_id;
    j["next_room_id"] = w.next_room_id;
    ways.push_back(std::move(j));
  }
  return {{"customer_groups",
           {{"groups", groups},
            {"join_ways", ways},
            {"external_contact_count", ctx_.fixture.external_contacts.size()},
            {"events", {{"coalesce", coalesce_}, {"held", held_.size()}, {"drop_next", drop_next_}, {"dropped", dropped_}}},
            {"customer_contact_agent_ids", ctx_.fixture.customer_contact_agent_ids}}}};
}

std::optional<ApiReply> CustomerGroupsModule::api(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  if (t.path.rfind(kGroupchat, 0) != 0) return std::nullopt;
  const std::string name = t.path.substr(kGroupchat.size());
  static const std::set<std::string> known = {"list",         "get",          "add_join_way",
                                              "get_join_way", "update_join_way", "del_join_way"};
  if (!known.count(name)) return std::nullopt;
  auto begun = begin_externalcontact_call(ctx_, req, t);
  if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
  auto& call = std::get<ExternalContactCall>(begun);
  const App& app = *call.app;
  rec.detail = {{"agent_id", app.agent_id}};
  if (name == "list") return list(app, call.body);
  if (name == "get") return get(app, call.body);
  if (name == "add_join_way") return add_join_way(app, call.body);
  if (name == "get_join_way") return get_join_way(app, call.body);
  if (name == "update_join_way") return update_join_way(app, call.body);
  return del_join_way(app, call.body);
}

ApiReply CustomerGroupsModule::list(const App& app, const json& body) {
  // DOC 93414 (reference §8.1).
  auto status = int_field(body, "status_filter").value_or(0);
  if (status < 0 || status > 3) return ctx_.error(40058, "status_filter invalid. invalid Request Parameter");
  std::optional<std::set<std::string>> owners;
  if (body.contains("owner_filter")) {
    const auto& of = body["owner_filter"];
    if (!of.is_object()) return ctx_.error(40058, "owner_filter invalid. invalid Request Parameter");
    if (of.contains("userid_list")) {
      const auto& ul = of["userid_list"];
      if (!ul.is_array()) return ctx_.error(40058, "owner_filter.userid_list invalid. invalid Request Parameter");
      // ≤ 100 userids per call [UNCERTAIN errcode: the page states the limit, not the code].
      if (ul.size() > 100)
        return ctx_.error(40058, "owner_filter.userid_list exceed max count 100. invalid Request Parameter");
      owners.emplace();
      for (const auto& u : ul)
        if (u.is_string()) owners->insert(u.get<std::string>());
    }
  }
  auto limit = int_field(body, "limit");
  // limit is required, 1..1000 [UNCERTAIN errcode for a missing/out-of-range limit: 40058].
  if (!limit || *limit < 1 || *limit > 1000)
    return ctx_.error(40058, "limit must be 1..1000. invalid Request Parameter");
  if (!owners) {
    // Without a filter the call covers everyone in the app's visibility: > 1000 people → 81017.
    std::size_t visible = app.visible_userids.empty() ? ctx_.fixture.members.size() : app.visible_userids.size();
    if (visible > 1000) return ctx_.error(81017, "request count over limit, use owner_filter");
  }
  std::size_t offset = 0;
  if (auto c = string_field(body, "cursor"); c && !c->empty()) {
    auto decoded = decode_cursor(*c);
    if (!decoded) return ctx_.error(50100, "invalid cursor");  // 分页查询的游标无效 (DOC 90313)
    offset = *decoded;
  }
  std::vector<const CustomerGroup*> groups;
  // Every sandbox group has status 0 (owner has not resigned): status filters 1..3 match none.
  if (status == 0)
    for (const auto& g : ctx_.fixture.customer_groups)
      if (visible_to(app, g.owner) && (!owners || owners->count(g.owner))) groups.push_back(&g);
  json page = json::array();
  std::size_t end = std::min(groups.size(), offset + static_cast<std::size_t>(*limit));
  for (std::size_t i = offset; i < end; ++i) page.push_back({{"chat_id", groups[i]->chat_id}, {"status", 0}});
  return wecom_ok({{"group_chat_list", page}, {"next_cursor", end < groups.size() ? encode_cursor(end) : ""}});
}

ApiReply CustomerGroupsModule::get(const App& app, const json& body) {
  // DOC 96338 / 92122 (reference §8.2).
  auto chat_id = string_field(body, "chat_id").value_or("");
  if (chat_id.empty()) return ctx_.error(40058, "chat_id missing. invalid Request Parameter");
  const CustomerGroup* g = ctx_.fixture.customer_group(chat_id);
  if (!g) {
    for (const auto& ig : ctx_.fixture.internal_groups)
      if (ig.chat_id == chat_id) return ctx_.error(90501, "chat is not external group chat");  // 该群不是客户群
    return ctx_.error(40050, "invalid chatid");  // chatid不存在 (DOC 90313)
  }
  // The owner must be in the app's visibility (§8) [UNCERTAIN code: 60011 no privilege].
  if (!visible_to(app, g->owner)) return ctx_.error(60011, "no privilege to access/modify contact/party/agent");
  const bool need_name = int_field(body, "need_name").value_or(0) == 1;
  json members = json::array();
  for (const auto& m : g->members) {
    json j = {{"userid", m.userid}, {"type", m.type}, {"join_time", m.join_time}, {"join_scene", m.join_scene}};
    if (m.type == 2 && !m.unionid.empty()) j["unionid"] = m.unionid;
    if (!m.invitor.empty()) j["invitor"] = {{"userid", m.invitor}};
    j["group_nickname"] = m.group_nickname;
    if (need_name) j["name"] = m.type == 1 && m.name.empty() && ctx_.fixture.member(m.userid)
                                   ? ctx_.fixture.member(m.userid)->name
                                   : m.name;
    if (!m.state.empty()) j["state"] = m.state;
    members.push_back(std::move(j));
  }
  json admins = json::array();
  for (const auto& a : g->admins) admins.push_back({{"userid", a}});
  return wecom_ok({{"group_chat",
                    {{"chat_id", g->chat_id},
                     {"name", g->name},
                     {"owner", g->owner},
                     {"create_time", g->create_time},
                     {"notice", g->notice},
                     {"member_list", members},
                     {"admin_list", admins},
                     {"member_version", member_version(*g)}}}});
}

namespace {

// Reads and checks the fields add_join_way and update_join_way share (DOC 99547); update needs all
// of them again ("send them all", reference §8.5). Fills `w` or returns the error.
std::optional<ApiReply> read_join_way(const Context& ctx, const json& body, JoinWay& w) {
  // Codes for scene follow the 「联系我」 family that shares the config store with join ways
  // (41038 missing / 41040 invalid scene, DOC 90313) [UNCERTAIN: not captured for join ways].
  auto scene = int_field(body, "scene");
  if (!scene) return ctx.error(41038, "scene missing");
  if (*scene != 1 && *scene != 2) return ctx.error(41040, "invalid scene");
  if (!body.contains("chat_id_list") || !body["chat_id_list"].is_array() || body["chat_id_list"].empty())
    return ctx.error(40058, "chat_id_list missing. invalid Request Parameter");
  if (body["chat_id_list"].size() > 5) return ctx.error(41091, "chat_id_list exceed max count 5");  // §8.5
  std::vector<std::string> chats;
  for (const auto& c : body["chat_id_list"]) {
    if (!c.is_string()) return ctx.error(40058, "chat_id_list invalid. invalid Request Parameter");
    std::string id = c.get<std::string>();
    if (!ctx.fixture.customer_group(id)) {
      for (const auto& ig : ctx.fixture.internal_groups)
        if (ig.chat_id == id) return ctx.error(90501, "chat is not external group chat");
      return ctx.error(40050, "invalid chatid");
    }
    if (std::find(chats.begin(), chats.end(), id) == chats.end()) chats.push_back(id);
  }
  auto auto_create = int_field(body, "auto_create_room").value_or(1);  // default 1 (DOC 99547)
  if (auto_create != 0 && auto_create != 1) return ctx.error(40058, "auto_create_room invalid. invalid Request Parameter");
  std::string base = string_field(body, "room_base_name").value_or("");
  if (utf8_chars(base) > 40) return ctx.error(40058, "room_base_name exceed max length 40. invalid Request Parameter");
  std::string state = string_field(body, "state").value_or("");
  if (utf8_chars(state) > 30) return ctx.error(40058, "state exceed max length 30. invalid Request Parameter");
  std::int64_t base_id = int_field(body, "room_base_id").value_or(1);
  if (base_id < 0) return ctx.error(40058, "room_base_id invalid. invalid Request Parameter");
  w.scene = static_cast<int>(*scene);
  w.remark = utf8_prefix(string_field(body, "remark").value_or(""), 30);  // ≤ 30 chars, cut (§8.5)
  w.auto_create_room = static_cast<int>(auto_create);
  // With no base name the first group's name is used [UNCERTAIN: the page does not say].
  w.room_base_name = base.empty() ? ctx.fixture.customer_group(chats.front())->name : base;
  if (w.room_base_id != base_id || w.next_room_id < base_id) w.next_room_id = base_id;
  w.room_base_id = base_id;
  w.chat_id_list = std::move(chats);
  w.state = std::move(state);
  return std::nullopt;
}

}  // namespace

ApiReply CustomerGroupsModule::add_join_way(const App& app, const json& body) {
  JoinWay w;
  w.next_room_id = 0;
  if (auto bad = read_join_way(ctx_, body, w)) return *bad;
  w.agent_id = app.agent_id;
  w.config_id = hex_id(32);  // like "9ad7fa5cdaa6511298498f979c472aaa"
  // The QR image URL; only get_join_way returns it (reference §8.5).
  w.qr_code = "https://wework.qpic.cn/wwpic/sandbox_" + w.config_id + "/0";
  std::string id = w.config_id;
  ctx_.fixture.join_ways.push_back(std::move(w));
  return wecom_ok({{"config_id", id}});
}

JoinWay* CustomerGroupsModule::find_join_way(const App& app, const json& body, ApiReply& error) {
  auto id = string_field(body, "config_id").value_or("");
  // 41043 missing / 41044 invalid config_id, the 「联系我」 codes (DOC 90313) [UNCERTAIN for join ways].
  if (id.empty()) {
    error = ctx_.error(41043, "config_id missing");
    return nullptr;
  }
  for (auto& w : ctx_.fixture.join_ways)
    if (w.config_id == id && w.agent_id == app.agent_id) return &w;  // an app sees only its own (§8.5)
  error = ctx_.error(41044, "invalid config_id");
  return nullptr;
}

ApiReply CustomerGroupsModule::get_join_way(const App& app, const json& body) {
  ApiReply error;
  JoinWay* w = find_join_way(app, body, error);
  if (!w) return error;
  return wecom_ok({{"join_way", join_way_json(*w)}});
}

ApiReply CustomerGroupsModule::update_join_way(const App& app, const json& body) {
  ApiReply error;
  JoinWay* w = find_join_way(app, body, error);
  if (!w) return error;
  JoinWay updated = *w;
  if (auto bad = read_join_way(ctx_, body, updated)) return *bad;
  *w = std::move(updated);
  return wecom_ok();
}

ApiReply CustomerGroupsModule::del_join_way(const App& app, const json& body) {
  ApiReply error;
  JoinWay* w = find_join_way(app, body, error);
  if (!w) return error;
  auto& ways = ctx_.fixture.join_ways;
  ways.erase(ways.begin() + (w - ways.data()));
  return wecom_ok();
}

// --- events and membership changes ---

void CustomerGroupsModule::emit(const ChatChangeEvent& ev, const std::string& owner) {
  const bool member_change =
      ev.change_type == "update" && (ev.update_detail == "add_member" || ev.update_detail == "del_member");
  if (member_change && drop_next_ > 0) {  // a lost event (POST /_sandbox/groups/events {"drop": K})
    --drop_next_;
    ++dropped_;
    return;
  }
  if (member_change && coalesce_) {  // WeCom sometimes reports several joins in one event (§8.3)
    auto it = held_.find(ev.chat_id);
    if (it != held_.end() && it->second.first.update_detail != ev.update_detail) {
      auto [held, held_owner] = std::move(it->second);
      held_.erase(it);
      send_event(held, held_owner);
      it = held_.end();
    }
    if (it == held_.end()) {
      held_.emplace(ev.chat_id, std::make_pair(ev, owner));
    } else {
      auto& h = it->second.first;
      h.changed.insert(h.changed.end(), ev.changed.begin(), ev.changed.end());
      h.cur_mem_ver = ev.cur_mem_ver;  // LastMemVer stays the first change's
    }
    return;
  }
  send_event(ev, owner);
}

void CustomerGroupsModule::flush_held() {
  auto held = std::move(held_);
  held_.clear();
  for (auto& [chat, h] : held) send_event(h.first, h.second);
}

void CustomerGroupsModule::send_event(const ChatChangeEvent& ev, const std::string& owner) {
  std::string xml = change_external_chat_xml(ctx_.fixture.corp_id, ctx_.now_s(), ev);
  // Sent to every app in 可调用接口的应用 with a callback URL whose visibility holds the group's
  // owner ("成员在应用可见范围内", reference §6.1).
  for (const auto& app : ctx_.fixture.apps) {
    if (!ctx_.fixture.customer_contact_app(app.agent_id) || !visible_to(app, owner)) continue;
    if (auto job = ctx_.app_callback(app, xml, "change_external_chat")) ctx_.emit_callback(std::move(*job));
  }
}

CustomerGroup& CustomerGroupsModule::create_group(std::string name, const std::string& owner, std::string chat_id) {
  CustomerGroup g;
  g.chat_id = chat_id.empty() ? "wr" + random_alnum(30) : std::move(chat_id);
  g.name = std::move(name);
  g.owner = owner;
  g.create_time = ctx_.now_s();
  CustomerGroupMember o;
  o.userid = owner;
  o.type = 1;
  o.join_time = g.create_time;
  o.join_scene = 1;
  g.members.push_back(std::move(o));
  ctx_.fixture.customer_groups.push_back(std::move(g));
  ChatChangeEvent ev;
  ev.chat_id = ctx_.fixture.customer_groups.back().chat_id;
  ev.change_type = "create";
  emit(ev, owner);
  return ctx_.fixture.customer_groups.back();
}

void CustomerGroupsModule::add_member(CustomerGroup& g, CustomerGroupMember m) {
  ChatChangeEvent ev;
  ev.chat_id = g.chat_id;
  ev.change_type = "update";
  ev.update_detail = "add_member";
  ev.join_scene = event_join_scene(m.join_scene);
  ev.changed = {m.userid};
  ev.last_mem_ver = member_version(g);
  g.members.push_back(std::move(m));
  ev.cur_mem_ver = member_version(g);
  emit(ev, g.owner);
}

CustomerGroupMember CustomerGroupsModule::new_parent(const std::string& owner, std::string name) {
  CustomerGroupMember m;
  m.userid = "wm" + random_alnum(30);
  m.type = 2;
  m.name = name.empty() ? generated_parent_name(random_u64()) : std::move(name);
  ExternalContact c;
  c.external_userid = m.userid;
  c.name = m.name;
  c.follow_users = {owner};
  ctx_.fixture.external_contacts.push_back(std::move(c));
  return m;
}

std::variant<CustomerGroup*, ApiReply> CustomerGroupsModule::landing_group(const json& body, JoinWay** way,
                                                                          std::string* created) {
  auto chat_id = string_field(body, "chat_id");
  auto config_id = string_field(body, "config_id");
  if (chat_id.has_value() == config_id.has_value())
    return control_error(400, "sandbox.bad_request", "give chat_id or config_id (a join way)");
  if (chat_id) {
    CustomerGroup* g = ctx_.fixture.customer_group(*chat_id);
    if (!g) return control_error(404, "sandbox.unknown_chat", "no such customer group");
    if (static_cast<int>(g->members.size()) >= ctx_.fixture.member_cap(*g))
      return control_error(409, "sandbox.group_full", "the group has reached its member cap");
    return g;
  }
  JoinWay* w = nullptr;
  for (auto& x : ctx_.fixture.join_ways)
    if (x.config_id == *config_id) w = &x;
  if (!w) return control_error(404, "sandbox.unknown_join_way", "no such join way config_id");
  *way = w;
  // The first listed chat with room; when all are full, a new room if the way allows it (§8.4, §8.5).
  for (const auto& id : w->chat_id_list) {
    CustomerGroup* g = ctx_.fixture.customer_group(id);
    if (g && static_cast<int>(g->members.size()) < ctx_.fixture.member_cap(*g)) return g;
  }
  if (w->auto_create_room != 1)
    return control_error(409, "sandbox.group_full", "every group of the join way is full and auto_create_room is 0");
  std::string owner;
  for (const auto& id : w->chat_id_list)
    if (const CustomerGroup* g = ctx_.fixture.customer_group(id); g && owner.empty()) owner = g->owner;
  if (owner.empty()) return control_error(409, "sandbox.group_full", "the join way's groups no longer exist");
  // "<room_base_name><n>" with n from room_base_id upwards ([3P] for the naming, reference §8.5);
  // the new room is added to the way's list so later joiners land in it [UNCERTAIN].
  CustomerGroup& g = create_group(w->room_base_name + std::to_string(w->next_room_id++), owner);
  w->chat_id_list.push_back(g.chat_id);
  *created = g.chat_id;
  return &g;
}

ApiReply CustomerGroupsModule::control_join(const json& body) {
  JoinWay* way = nullptr;
  std::string created;
  auto landed = landing_group(body, &way, &created);
  if (auto* r = std::get_if<ApiReply>(&landed)) return *r;
  CustomerGroup* g = std::get<CustomerGroup*>(landed);
  CustomerGroupMember m;
  auto uid = string_field(body, "external_userid");
  if (uid && !uid->empty()) {
    if (g->member(*uid)) return control_error(409, "sandbox.already_member", "already in the group");
    if (const Member* member = ctx_.fixture.member(*uid)) {
      m.userid = member->userid;
      m.type = 1;
      m.name = member->name;
    } else if (const ExternalContact* c = ctx_.fixture.external_contact(*uid)) {
      m.userid = c->external_userid;
      m.name = c->name;
      m.unionid = c->unionid;
    } else {
      return control_error(404, "sandbox.unknown_contact", "no such external contact or member");
    }
    if (auto n = string_field(body, "name")) m.name = *n;
  } else {
    m = new_parent(g->owner, string_field(body, "name").value_or(""));
  }
  m.join_time = ctx_.now_s();
  if (way) {
    m.join_scene = 3;
    m.state = way->state;
  } else {
    m.join_scene = static_cast<int>(int_field(body, "join_scene").value_or(1));
    if (m.join_scene < 1 || m.join_scene > 3)
      return control_error(400, "sandbox.bad_request", "join_scene must be 1, 2 or 3");
    m.state = string_field(body, "state").value_or("");
  }
  if (m.join_scene != 3) m.invitor = string_field(body, "invitor").value_or(g->owner);
  m.group_nickname = string_field(body, "group_nickname").value_or("");
  json out = {{"chat_id", g->chat_id}, {"userid", m.userid}, {"name", m.name}, {"join_scene", m.join_scene}};
  add_member(*g, std::move(m));
  out["member_count"] = g->members.size();
  out["member_version"] = member_version(*g);
  if (!created.empty()) out["created_room"] = created;
  return control_json(out);
}

ApiReply CustomerGroupsModule::control_join_bulk(const json& body) {
  auto count = int_field(body, "count").value_or(0);
  if (count < 1 || count > 5000) return control_error(400, "sandbox.bad_request", "count must be 1..5000");
  const std::string prefix = string_field(body, "name_prefix").value_or("");
  json joined = json::array(), rooms = json::array();
  json req = json::object();
  for (const char* k : {"chat_id", "config_id"})
    if (body.contains(k)) req[k] = body[k];
  std::int64_t n = 0;
  for (; n < count; ++n) {
    if (!prefix.empty()) req["name"] = prefix + std::to_string(n + 1);
    ApiReply r = control_join(req);
    if (r.status != 200) {
      if (n == 0 && r.status != 409) return r;  // a bad request, not a full group
      break;
    }
    auto j = json::parse(r.body);
    joined.push_back(j["userid"]);
    if (j.contains("created_room")) rooms.push_back(j["created_room"]);
  }
  return control_json({{"joined", joined}, {"refused", count - n}, {"created_rooms", rooms}});
}

ApiReply CustomerGroupsModule::control_leave(const json& body) {
  auto chat_id = string_field(body, "chat_id").value_or("");
  auto uid = string_field(body, "userid").value_or("");
  CustomerGroup* g = ctx_.fixture.customer_group(chat_id);
  if (!g) return control_error(404, "sandbox.unknown_chat", "no such customer group");
  auto it = std::find_if(g->members.begin(), g->members.end(), [&](const auto& m) { return m.userid == uid; });
  if (it == g->members.end()) return control_error(404, "sandbox.not_member", "not in the group");
  if (uid == g->owner) return control_error(409, "sandbox.owner", "the owner cannot leave: transfer or dismiss");
  ChatChangeEvent ev;
  ev.chat_id = g->chat_id;
  ev.change_type = "update";
  ev.update_detail = "del_member";
  ev.quit_scene = body.value("removed", false) ? 1 : 0;  // 0 left by themselves, 1 removed (§8.3)
  ev.changed = {uid};
  ev.last_mem_ver = member_version(*g);
  g->members.erase(it);
  g->admins.erase(std::remove(g->admins.begin(), g->admins.end(), uid), g->admins.end());
  ev.cur_mem_ver = member_version(*g);
  emit(ev, g->owner);
  return control_json({{"chat_id", g->chat_id}, {"userid", uid}, {"member_count", g->members.size()},
                       {"member_version", ev.cur_mem_ver}});
}

ApiReply CustomerGroupsModule::control_update(const json& body) {
  CustomerGroup* g = ctx_.fixture.customer_group(string_field(body, "chat_id").value_or(""));
  if (!g) return control_error(404, "sandbox.unknown_chat", "no such customer group");
  std::vector<std::string> details;
  if (auto owner = string_field(body, "owner"); owner && *owner != g->owner) {
    if (!ctx_.fixture.member(*owner)) return control_error(404, "sandbox.unknown_member", "owner must be a member");
    if (!g->member(*owner)) {
      CustomerGroupMember m;
      m.userid = *owner;
      m.type = 1;
      m.join_time = ctx_.now_s();
      m.join_scene = 1;
      m.invitor = g->owner;
      add_member(*g, std::move(m));
    }
    g->owner = *owner;
    details.push_back("change_owner");
  }
  if (auto name = string_field(body, "name"); name && *name != g->name) {
    g->name = *name;
    details.push_back("change_name");
  }
  if (auto notice = string_field(body, "notice"); notice && *notice != g->notice) {
    g->notice = *notice;
    details.push_back("change_notice");
  }
  for (const auto& d : details) {
    ChatChangeEvent ev;
    ev.chat_id = g->chat_id;
    ev.change_type = "update";
    ev.update_detail = d;
    emit(ev, g->owner);
  }
  return control_json({{"chat_id", g->chat_id}, {"changes", details}});
}

ApiReply CustomerGroupsModule::control_dismiss(const json& body) {
  auto chat_id = string_field(body, "chat_id").value_or("");
  auto& groups = ctx_.fixture.customer_groups;
  auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.chat_id == chat_id; });
  if (it == groups.end()) return control_error(404, "sandbox.unknown_chat", "no such customer group");
  const std::string owner = it->owner;
  groups.erase(it);
  for (auto& w : ctx_.fixture.join_ways)
    w.chat_id_list.erase(std::remove(w.chat_id_list.begin(), w.chat_id_list.end(), chat_id), w.chat_id_list.end());
  ChatChangeEvent ev;
  ev.chat_id = chat_id;
  ev.change_type = "dismiss";
  emit(ev, owner);
  return control_json({{"chat_id", chat_id}, {"dismissed", true}});
}

ApiReply CustomerGroupsModule::control_create(const json& body) {
  auto owner = string_field(body, "owner").value_or("");
  if (!ctx_.fixture.member(owner)) return control_error(404, "sandbox.unknown_member", "owner must be a member");
  auto chat_id = string_field(body, "chat_id").value_or("");
  if (!chat_id.empty()) {
    if (ctx_.fixture.customer_group(chat_id)) return control_error(409, "sandbox.duplicate", "chat_id exists");
    for (const auto& ig : ctx_.fixture.internal_groups)
      if (ig.chat_id == chat_id) return control_error(409, "sandbox.duplicate", "chat_id exists");
  }
  CustomerGroup& g = create_group(string_field(body, "name").value_or(""), owner, chat_id);
  return control_json(group_state(ctx_.fixture, g));
}

std::optional<ApiReply> CustomerGroupsModule::control(const ApiRequest& req, const Target& t, const json& body) {
  const std::string& p = t.path;
  if (p.rfind("/_sandbox/groups", 0) != 0) return std::nullopt;
  if (req.method == "GET" && (p == "/_sandbox/groups" || p == "/_sandbox/groups/")) return control_json(state());
  if (req.method != "POST") return std::nullopt;
  if (p == "/_sandbox/groups/join") return control_join(body);
  if (p == "/_sandbox/groups/events") {
    if (body.contains("drop")) {
      auto k = int_field(body, "drop");
      if (!k || *k < 0 || *k > 100000) return control_error(400, "sandbox.bad_request", "drop must be 0..100000");
      drop_next_ = *k;
    }
    if (body.contains("coalesce")) {
      if (!body["coalesce"].is_boolean()) return control_error(400, "sandbox.bad_request", "coalesce must be a boolean");
      coalesce_ = body["coalesce"].get<bool>();
    }
    if (body.value("flush", false) || !coalesce_) flush_held();
    return control_json({{"coalesce", coalesce_}, {"drop_next", drop_next_}, {"dropped", dropped_}});
  }
  if (p == "/_sandbox/groups/join_bulk") return control_join_bulk(body);
  if (p == "/_sandbox/groups/leave") return control_leave(body);
  if (p == "/_sandbox/groups/update") return control_update(body);
  if (p == "/_sandbox/groups/dismiss") return control_dismiss(body);
  if (p == "/_sandbox/groups/create") return control_create(body);
  return std::nullopt;
}

std::unique_ptr<Module> make_customer_groups_module(Context& ctx) {
  return std::make_unique<CustomerGroupsModule>(ctx);
}

}  // namespace yuer::sandbox
