#include "tests/sandbox/appchat.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace yuer::sandbox {
namespace {

using nlohmann::json;

constexpr std::size_t kMinMembers = 2;     // userlist 2–2000 (DOC 90245, 2024 page)
constexpr std::size_t kMaxMembers = 2000;
constexpr int kCreatesPerDay = 1000;       // per corp (DOC 90245)
constexpr int kUpdatesPerHour = 1000;      // per corp (DOC 90246; older text 100/h)
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;

// Number of UTF-8 characters (not bytes) in `s`.
std::size_t utf8_chars(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The first `n` UTF-8 characters of `s`.
std::string utf8_first_chars(const std::string& s, std::size_t n) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n) return s.substr(0, i);
  }
  return s;
}

bool valid_chatid(const std::string& id) {
  return !id.empty() && id.size() <= 32 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

class AppChatModule final : public Module {
 public:
  explicit AppChatModule(Context& ctx) : ctx_(ctx) {}

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override {
    const bool create = t.path == "/cgi-bin/appchat/create";
    const bool update = t.path == "/cgi-bin/appchat/update";
    const bool get = t.path == "/cgi-bin/appchat/get";
    if (!create && !update && !get) return std::nullopt;
    // Only apps visible to the whole corp (root department) may use appchat (§5.2, 60011 seen).
    auto whole_corp = [this](const App& app) -> std::optional<ApiReply> {
      if (app.visible_userids.empty()) return std::nullopt;
      return ctx_.error(60011, "no privilege to access/modify contact/party/agent");
    };
    if (get) {
      auto checked = ctx_.check_token(t);
      if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
      const App* app = std::get<const App*>(checked);
      if (auto refused = whole_corp(*app)) return *refused;
      if (req.method != "GET") return ctx_.error(43001, "require GET method");
      return get_chat(*app, t.param("chatid").value_or(""));
    }
    auto begun = ctx_.begin_app_call(req, t, whole_corp);
    if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
    const auto& call = std::get<Context::AppCall>(begun);
    return create ? create_chat(*call.app, call.body, rec) : update_chat(*call.app, call.body, rec);
  }

  void reset() override {
    creates_.clear();
    updates_.clear();
  }

 private:
  // Userids of `list` as fixture members (case-insensitive, deduplicated), or nullopt if one is unknown.
  std::optional<std::vector<std::string>> resolve(const json& list) const {
    if (!list.is_array()) return std::nullopt;
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& u : list) {
      if (!u.is_string()) return std::nullopt;
      const Member* m = member(u.get<std::string>());
      if (!m) return std::nullopt;
      if (seen.insert(lower(m->userid)).second) out.push_back(m->userid);
    }
    return out;
  }

  const Member* member(const std::string& userid) const {
    for (const auto& m : ctx_.fixture.members)
      if (lower(m.userid) == lower(userid)) return &m;
    return nullptr;
  }

  InternalGroup* find(const std::string& chatid) {
    for (auto& g : ctx_.fixture.internal_groups)
      if (g.chat_id == chatid) return &g;
    return nullptr;
  }

  ApiReply create_chat(const App& app, const json& body, RequestRecord& rec) {
    std::string name = string_field(body, "name").value_or("");
    // name ≤ 50 UTF-8 characters; longer names are cut, not refused (DOC 90245).
    if (utf8_chars(name) > 50) name = utf8_first_chars(name, 50);
    auto users = resolve(body.value("userlist", json::array()));
    if (!users) return ctx_.error(86216, "invalid member id");
    if (users->size() < kMinMembers || users->size() > kMaxMembers) return ctx_.error(86006, "invalid chat member count");
    std::string owner;
    if (auto o = string_field(body, "owner")) {
      const Member* m = member(*o);
      if (!m || std::find(users->begin(), users->end(), m->userid) == users->end())
        return ctx_.error(86005, "invalid owner");
      owner = m->userid;
    } else {
      owner = (*users)[random_u64() % users->size()];  // "随机从userlist中选一人作为群主"
    }
    std::string chatid;
    if (body.contains("chatid")) {
      auto c = string_field(body, "chatid");
      if (!c || !valid_chatid(*c)) return ctx_.error(86001);
      if (find(*c)) return ctx_.error(86215, "chatid exists");
      chatid = *c;
    } else {
      do chatid = "wr" + random_alnum(20);
      while (find(chatid));
    }
    if (!Context::admit(creates_, kCreatesPerDay, kDayMs, ctx_.now_ms())) return ctx_.error(45009);
    InternalGroup g;
    g.chat_id = chatid;
    g.name = name;
    g.owner = owner;
    g.members = *users;
    g.app_agent_id = app.agent_id;
    ctx_.fixture.internal_groups.push_back(std::move(g));
    rec.detail = {{"chatid", chatid}, {"members", users->size()}};
    return wecom_ok({{"chatid", chatid}});
  }

  ApiReply update_chat(const App& app, const json& body, RequestRecord& rec) {
    auto chatid = string_field(body, "chatid");
    if (!chatid || chatid->empty()) return ctx_.error(86001);
    InternalGroup* g = find(*chatid);
    if (!g || g->app_agent_id == 0) return ctx_.error(86003);
    if (g->app_agent_id != app.agent_id) return ctx_.error(86008);
    auto add = resolve(body.value("add_user_list", json::array()));
    auto del = resolve(body.value("del_user_list", json::array()));
    if (!add || !del) return ctx_.error(86216, "invalid member id");
    std::vector<std::string> members = g->members;
    for (const auto& u : *add)
      if (std::find(members.begin(), members.end(), u) == members.end()) members.push_back(u);
    for (const auto& u : *del) members.erase(std::remove(members.begin(), members.end(), u), members.end());
    if (members.size() < kMinMembers || members.size() > kMaxMembers) return ctx_.error(86006, "invalid chat member count");
    std::string owner = g->owner;
    if (auto o = string_field(body, "owner")) {
      const Member* m = member(*o);
      if (!m) return ctx_.error(86005, "invalid owner");
      owner = m->userid;
    }
    if (std::find(members.begin(), members.end(), owner) == members.end()) return ctx_.error(86005, "invalid owner");
    if (!Context::admit(updates_, kUpdatesPerHour, kHourMs, ctx_.now_ms())) return ctx_.error(45009);
    if (auto n = string_field(body, "name")) g->name = utf8_chars(*n) > 50 ? utf8_first_chars(*n, 50) : *n;
    g->members = std::move(members);
    g->owner = owner;
    rec.detail = {{"chatid", *chatid}, {"members", g->members.size()}};
    return wecom_ok();
  }

  ApiReply get_chat(const App& app, const std::string& chatid) {
    if (chatid.empty()) return ctx_.error(86001);
    InternalGroup* g = find(chatid);
    if (!g || g->app_agent_id == 0) return ctx_.error(86003);
    if (g->app_agent_id != app.agent_id) return ctx_.error(86008);
    return wecom_ok({{"chat_info",
                      {{"chatid", g->chat_id}, {"name", g->name}, {"owner", g->owner}, {"userlist", g->members},
                       {"chat_type", 0}}}});
  }

  Context& ctx_;
  std::deque<std::int64_t> creates_;  // corp-wide creation times (ms)
  std::deque<std::int64_t> updates_;
};

}  // namespace

std::unique_ptr<Module> make_appchat_module(Context& ctx) { return std::make_unique<AppChatModule>(ctx); }

}  // namespace yuer::sandbox
