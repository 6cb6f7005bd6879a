#include "tests/sandbox/kf.h"

#include "tests/sandbox/callbacks.h"

#include <algorithm>
#include <cctype>

namespace yuer::sandbox {

using nlohmann::json;

namespace {

// errmsg texts for the kf codes (the core table does not have them; clients never parse errmsg).
// Codes and meanings: DOC 90313 via go-workwx, reference §9.6.
std::string kf_text(int code) {
  switch (code) {
    case 95000: return "invalid open_kfid";
    case 95001: return "send msg count exceed limit";
    case 95002: return "send msg time exceed limit";
    case 95004: return "open_kfid not exist";
    case 95007: return "invalid msg token";
    case 95008: return "menu item count exceed limit";
    case 95009: return "invalid menu item type";
    case 95018: return "session state not allow send msg";
    case 95031: return "customer has not sent msg in 48 hours";
    case 48002: return "api forbidden";
    case 41035: return "external_userid missing";
    case 45002: return "content size out of limit";
    default: return "";
  }
}

ApiReply err(const Context& ctx, int code, std::string detail = {}) {
  return ctx.error(code, detail.empty() ? kf_text(code) : detail);
}

std::variant<json, ApiReply> body_of(const Context& ctx, const ApiRequest& req) {
  if (req.body.empty()) return ctx.error(44002, "empty post data");
  auto b = json::parse(req.body, nullptr, false);
  if (b.is_discarded() || !b.is_object()) return ctx.error(40058, "invalid json. invalid Request Parameter");
  return b;
}

bool id_chars_ok(const std::string& s) {  // [0-9a-zA-Z_-]*
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

// A required string field of `obj` of 1..max bytes (max 0 = no limit), or the reject.
struct Bad {
  int code;
  std::string detail;
};
std::optional<Bad> need(const json& obj, const std::string& where, const char* key, std::size_t max,
                        bool required = true) {
  auto v = string_field(obj, key);
  if (!v || v->empty()) {
    if (!required) return std::nullopt;
    return Bad{40058, where + "." + key + " missing. invalid Request Parameter"};
  }
  if (max && v->size() > max) return Bad{45002, where + "." + key + " exceed max length " + std::to_string(max)};
  return std::nullopt;
}

// Validates the msgtype object of a kf message (DOC 96427, menu items per reference §9.4).
std::optional<Bad> validate_kf_message(const json& body, const std::string& msgtype, bool on_event) {
  static const std::set<std::string> send_types = {"text", "image", "voice", "video", "file", "link",
                                                   "miniprogram", "msgmenu", "location", "ca_link"};
  // send_msg_on_event: the welcome message is text or msgmenu only (DOC 96428).
  static const std::set<std::string> event_types = {"text", "msgmenu"};
  const auto& allowed = on_event ? event_types : send_types;
  if (msgtype.empty() || !allowed.count(msgtype)) return Bad{40008, ""};
  if (!body.contains(msgtype) || !body[msgtype].is_object())
    return Bad{40058, msgtype + " missing. invalid Request Parameter"};
  const json& m = body[msgtype];
  if (msgtype == "text") {
    auto c = string_field(m, "content");
    if (!c || c->empty()) return Bad{44004, ""};
    // text ≤ 2048 bytes; rejected with 45002 "content size out of limit" (§11) [UNCERTAIN: no capture].
    if (c->size() > 2048) return Bad{45002, "text.content exceed max length 2048"};
    return std::nullopt;
  }
  if (msgtype == "image" || msgtype == "voice" || msgtype == "video" || msgtype == "file") {
    auto id = string_field(m, "media_id");
    if (!id || id->empty()) return Bad{41006, ""};
    return std::nullopt;
  }
  if (msgtype == "link") {
    for (auto b : {need(m, "link", "title", 128), need(m, "link", "url", 2048), need(m, "link", "thumb_media_id", 0),
                   need(m, "link", "desc", 512, false)})
      if (b) return b;
    return std::nullopt;
  }
  if (msgtype == "miniprogram") {
    for (auto b : {need(m, "miniprogram", "appid", 0), need(m, "miniprogram", "title", 64, false),
                   need(m, "miniprogram", "thumb_media_id", 0), need(m, "miniprogram", "pagepath", 0)})
      if (b) return b;
    return std::nullopt;
  }
  if (msgtype == "location") {
    if (!m.contains("latitude") || !m["latitude"].is_number() || !m.contains("longitude") || !m["longitude"].is_number())
      return Bad{40058, "location.latitude and location.longitude required. invalid Request Parameter"};
    return std::nullopt;
  }
  if (msgtype == "ca_link") return need(m, "ca_link", "link_url", 0);
  // msgmenu: head/tail ≤ 1024 B, ≤ 10 items (95008), item types click/view/miniprogram/text (95009).
  for (const char* k : {"head_content", "tail_content"})
    if (auto b = need(m, "msgmenu", k, 1024, false)) return b;
  if (!m.contains("list")) return std::nullopt;
  if (!m["list"].is_array()) return Bad{40058, "msgmenu.list must be an array. invalid Request Parameter"};
  if (m["list"].size() > 10) return Bad{95008, ""};
  for (const auto& item : m["list"]) {
    auto type = string_field(item, "type").value_or("");
    if (type != "click" && type != "view" && type != "miniprogram" && type != "text") return Bad{95009, ""};
    if (!item.contains(type) || !item[type].is_object())
      return Bad{40058, "msgmenu item " + type + " missing. invalid Request Parameter"};
    const json& it = item[type];
    std::optional<Bad> b;
    if (type == "click") {
      if (!(b = need(it, "click", "id", 64))) b = need(it, "click", "content", 128);
    } else if (type == "view") {
      if (!(b = need(it, "view", "url", 2048))) b = need(it, "view", "content", 1024);
    } else if (type == "miniprogram") {
      if (!(b = need(it, "miniprogram", "appid", 0)))
        if (!(b = need(it, "miniprogram", "pagepath", 0))) b = need(it, "miniprogram", "content", 1024);
    } else {
      // Plain-text items: field names as in WxJava PR #2874 [UNCERTAIN, reference §9.4].
      b = need(it, "text", "content", 1024);
    }
    if (b) return b;
  }
  return std::nullopt;
}

// msgid of send_msg / send_msg_on_event: ≤ 32 bytes of [0-9a-zA-Z_-] (DOC 96427).
std::optional<Bad> check_msgid(const json& body) {
  if (!body.contains("msgid")) return std::nullopt;
  auto id = string_field(body, "msgid");
  if (!id || id->size() > 32 || !id_chars_ok(*id))
    return Bad{40058, "msgid must be at most 32 bytes of [0-9a-zA-Z_-]. invalid Request Parameter"};
  return std::nullopt;
}

std::string hex_of(std::uint64_t v, std::size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i, v >>= 4) out += hex[v & 15];
  return out;
}

// A stable pseudo-id for an account's link path ("kfc" + 14 hex, as in DOC 96416's example).
std::string link_id(const std::string& open_kfid) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : open_kfid) h = (h ^ c) * 1099511628211ULL;
  return "kfc" + hex_of(h, 14);
}

}  // namespace

// --- dispatch ---

std::optional<ApiReply> KfModule::api(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  static const std::set<std::string> paths = {"/cgi-bin/kf/account/list", "/cgi-bin/kf/add_contact_way",
                                              "/cgi-bin/kf/sync_msg", "/cgi-bin/kf/send_msg",
                                              "/cgi-bin/kf/send_msg_on_event"};
  if (!paths.count(t.path)) return std::nullopt;
  auto checked = ctx_.check_token(t);
  if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
  const App* app = std::get<const App*>(checked);
  // Only the app configured in 微信客服 → 可调用接口的应用 may call (§9.1); 48002 as §11 lists for
  // "API forbidden for this app" [UNCERTAIN: the exact code for kf].
  if (app_restricted() && kf_app() && app->agent_id != kf_app()->agent_id) return err(ctx_, 48002);
  // account/list was a GET without body in the old docs (§9.5): accept both.
  if (t.path == "/cgi-bin/kf/account/list") return account_list(req);
  if (req.method != "POST") return ctx_.error(43002);
  auto parsed = body_of(ctx_, req);
  if (auto* r = std::get_if<ApiReply>(&parsed)) return *r;
  const json& body = std::get<json>(parsed);
  if (t.path == "/cgi-bin/kf/add_contact_way") return add_contact_way(body, rec);
  if (t.path == "/cgi-bin/kf/sync_msg") return sync_msg(body, rec);
  if (t.path == "/cgi-bin/kf/send_msg") return send_msg(body, rec);
  return send_msg_on_event(body, rec);
}

// --- fixture helpers ---

const App* KfModule::kf_app() const {
  const json& raw = ctx_.fixture.raw;
  if (raw.is_object() && raw.contains("kf") && raw["kf"].is_object())
    if (auto id = int_field(raw["kf"], "agent_id")) return ctx_.fixture.app(*id);
  return ctx_.fixture.apps.empty() ? nullptr : &ctx_.fixture.apps.front();
}

bool KfModule::app_restricted() const {
  const json& raw = ctx_.fixture.raw;
  return raw.is_object() && raw.contains("kf") && raw["kf"].is_object() && int_field(raw["kf"], "agent_id");
}

const KfAccount* KfModule::account(const std::string& open_kfid) const {
  for (const auto& k : ctx_.fixture.kf_accounts)
    if (k.open_kfid == open_kfid) return &k;
  return nullptr;
}

json KfModule::account_extra(const std::string& open_kfid) const {
  const json& raw = ctx_.fixture.raw;
  if (raw.is_object() && raw.contains("kf_accounts") && raw["kf_accounts"].is_array())
    for (const auto& k : raw["kf_accounts"])
      if (k.is_object() && string_field(k, "open_kfid") == open_kfid) return k;
  return json::object();
}

std::string KfModule::user_name(const std::string& external_userid) const {
  if (auto it = generated_users_.find(external_userid); it != generated_users_.end()) return it->second;
  const json& raw = ctx_.fixture.raw;
  // Names of parents: the fixture's external_contacts section (shared with the customer groups).
  if (raw.is_object() && raw.contains("external_contacts") && raw["external_contacts"].is_array())
    for (const auto& u : raw["external_contacts"])
      if (u.is_object() && string_field(u, "external_userid") == external_userid)
        return string_field(u, "name").value_or("");
  for (const auto& g : ctx_.fixture.customer_groups)
    for (const auto& m : g.members)
      if (m.type == 2 && m.userid == external_userid) return m.name;
  return "";
}

// --- the log and the doorbell ---

std::string KfModule::ring(const std::string& open_kfid) {
  // The Token is opaque, ≤ 128 bytes, and valid 10 minutes (DOC 94670); shaped like the doc's example.
  std::string token = "ENC" + random_alnum(44);
  const auto now = ctx_.now_ms();
  std::erase_if(sync_tokens_, [now](const auto& kv) { return kv.second.expires_ms <= now; });  // stays bounded
  sync_tokens_[token] = SyncToken{open_kfid, now + kSyncTokenMs};
  const App* app = kf_app();
  if (!app) return token;
  // DOC 94670 回调事件 sample: no AgentID in the plaintext; the envelope is the app's (§1.6).
  std::string xml = "<xml><ToUserName>" + cdata(ctx_.fixture.corp_id) + "</ToUserName><CreateTime>" +
                    std::to_string(ctx_.now_s()) + "</CreateTime><MsgType>" + cdata("event") + "</MsgType><Event>" +
                    cdata("kf_msg_or_event") + "</Event><Token>" + cdata(token) + "</Token><OpenKfId>" +
                    cdata(open_kfid) + "</OpenKfId></xml>";
  if (auto job = ctx_.app_callback(*app, std::move(xml), "kf_msg_or_event")) ctx_.emit_callback(std::move(*job));
  return token;
}

std::string KfModule::append(const std::string& open_kfid, json wire) {
  log_.push_back(Item{ctx_.now_ms(), open_kfid, std::move(wire)});
  return ring(open_kfid);
}

void KfModule::fail_event(const std::string& open_kfid, const std::string& external_userid, const std::string& msgid,
                          int fail_type) {
  // msg_send_fail (reference §9.3): an origin-4 event naming the failed msgid.
  json ev = {{"event_type", "msg_send_fail"}, {"open_kfid", open_kfid}, {"external_userid", external_userid},
             {"fail_msgid", msgid}, {"fail_type", fail_type}};
  json wire = {{"msgid", ctx_.new_msg_id()}, {"send_time", ctx_.now_s()}, {"origin", 4}, {"msgtype", "event"},
               {"event", ev}};
  auto& s = sessions_[{open_kfid, external_userid}];
  s.conversation.push_back({{"time_ms", ctx_.now_ms()}, {"dir", "event"}, {"origin", 4}, {"msgtype", "event"},
                            {"msgid", wire["msgid"]}, {"content", ev}});
  append(open_kfid, std::move(wire));
}

std::string KfModule::issue_cursor(std::size_t position) {
  std::string c = random_alnum(19);  // like the doc's "4gw7MepFLfgF2VC5npN"; ≤ 64 bytes
  cursors_[c] = position;
  // Cursors stay valid, but only the newest max_records are remembered (a long run stays bounded).
  cursor_order_.push_back(c);
  while (cursor_order_.size() > std::max<std::size_t>(ctx_.settings.max_records, 1)) {
    cursors_.erase(cursor_order_.front());
    cursor_order_.pop_front();
  }
  return c;
}

// --- endpoints ---

ApiReply KfModule::account_list(const ApiRequest& req) {
  json body = json::object();
  if (req.method == "POST" && !req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return ctx_.error(40058, "invalid json. invalid Request Parameter");
  }
  // offset ≥ 0, limit 1..100, default 100 (DOC 94661).
  std::int64_t offset = 0, limit = 100;
  if (body.contains("offset")) {
    auto o = int_field(body, "offset");
    if (!o || *o < 0) return ctx_.error(40058, "offset invalid. invalid Request Parameter");
    offset = *o;
  }
  if (body.contains("limit")) {
    auto l = int_field(body, "limit");
    if (!l || *l < 1 || *l > 100) return ctx_.error(40058, "limit must be 1..100. invalid Request Parameter");
    limit = *l;
  }
  json list = json::array();
  const auto& all = ctx_.fixture.kf_accounts;
  for (std::size_t i = static_cast<std::size_t>(std::min<std::int64_t>(offset, static_cast<std::int64_t>(all.size())));
       i < all.size() && static_cast<std::int64_t>(list.size()) < limit; ++i) {
    json extra = account_extra(all[i].open_kfid);
    list.push_back({{"open_kfid", all[i].open_kfid},
                    {"name", all[i].name},
                    {"avatar", string_field(extra, "avatar").value_or("")},
                    {"manage_privilege", extra.value("manage_privilege", true)}});
  }
  return wecom_ok({{"account_list", list}});
}

ApiReply KfModule::add_contact_way(const json& body, RequestRecord& rec) {
  auto open_kfid = string_field(body, "open_kfid").value_or("");
  if (open_kfid.empty()) return err(ctx_, 95000);
  if (!account(open_kfid)) return err(ctx_, 95004);
  // scene: ≤ 32 bytes of [0-9a-zA-Z_-] (https://developer.work.weixin.qq.com/document/path/96416).
  std::string scene;
  if (body.contains("scene")) {
    auto s = string_field(body, "scene");
    if (!s || s->size() > 32 || !id_chars_ok(*s))
      return ctx_.error(40058, "scene must be at most 32 bytes of [0-9a-zA-Z_-]. invalid Request Parameter");
    scene = *s;
  }
  // URL shape of DOC 96416: https://work.weixin.qq.com/kf/kfc…?enc_scene=ENC…; enc_scene only with a scene.
  std::string url = "https://work.weixin.qq.com/kf/" + link_id(open_kfid);
  if (!scene.empty()) {
    std::string enc = "ENC" + random_alnum(24);
    contact_ways_[enc] = {open_kfid, scene};
    url += "?enc_scene=" + enc;
  }
  rec.detail = {{"open_kfid", open_kfid}, {"scene", scene}, {"url", url}};
  return wecom_ok({{"url", url}});
}

ApiReply KfModule::sync_msg(const json& body, RequestRecord& rec) {
  const auto now = ctx_.now_ms();
  std::size_t pos = 0;
  auto cursor = string_field(body, "cursor").value_or("");
  if (!cursor.empty()) {
    auto it = cursors_.find(cursor);
    // An unknown cursor: 40058 [UNCERTAIN: WeCom's code for a bad cursor is not documented].
    if (cursor.size() > 64 || it == cursors_.end()) return ctx_.error(40058, "invalid cursor. invalid Request Parameter");
    pos = it->second;
  }
  auto token = string_field(body, "token").value_or("");
  if (!token.empty()) {
    auto it = sync_tokens_.find(token);
    if (token.size() > 128 || it == sync_tokens_.end() || now >= it->second.expires_ms) return err(ctx_, 95007);
  }
  // Without a token the real API has a "strict" frequency limit whose number is not published
  // (§12): not enforced here; the record says the call had no token.
  std::size_t limit = kMaxSyncLimit;
  if (body.contains("limit")) {
    auto l = int_field(body, "limit");
    // default = max = 1000 (DOC 94670); above it rejected [UNCERTAIN: WeCom may clamp instead].
    if (!l || *l < 0 || *l > static_cast<std::int64_t>(kMaxSyncLimit))
      return ctx_.error(40058, "limit must be 0..1000. invalid Request Parameter");
    if (*l > 0) limit = static_cast<std::size_t>(*l);
  }
  if (body.contains("voice_format")) {
    auto v = int_field(body, "voice_format");
    if (!v || (*v != 0 && *v != 1)) return ctx_.error(40058, "voice_format must be 0 or 1. invalid Request Parameter");
  }
  auto open_kfid = string_field(body, "open_kfid").value_or("");
  if (!open_kfid.empty() && !account(open_kfid)) return err(ctx_, 95004);

  const std::int64_t horizon = now - kHistoryMs;
  auto matches = [&](const Item& it) {
    return it.time_ms >= horizon && (open_kfid.empty() || it.open_kfid == open_kfid);
  };
  auto more_after = [&](std::size_t from) {
    for (std::size_t i = from; i < log_.size(); ++i)
      if (matches(log_[i])) return true;
    return false;
  };
  json list = json::array();
  std::size_t i = std::min(pos, log_.size());
  bool empty_page = false;
  if (empty_pages_ > 0 && more_after(i)) {
    // has_more 1 with an empty msg_list happens on the real service (§9.3): injected by control.
    --empty_pages_;
    empty_page = true;
  } else {
    for (; i < log_.size() && list.size() < limit; ++i)
      if (matches(log_[i])) list.push_back(log_[i].wire);
  }
  const bool has_more = more_after(i);
  rec.detail = {{"returned", list.size()}, {"has_more", has_more}, {"with_token", !token.empty()},
                {"empty_page", empty_page}};
  return wecom_ok({{"next_cursor", issue_cursor(i)}, {"has_more", has_more ? 1 : 0}, {"msg_list", list}});
}

ApiReply KfModule::send_msg(const json& body, RequestRecord& rec) {
  auto open_kfid = string_field(body, "open_kfid").value_or("");
  if (open_kfid.empty()) return err(ctx_, 95000);
  if (!account(open_kfid)) return err(ctx_, 95004);
  auto touser = string_field(body, "touser").value_or("");
  if (touser.empty()) return err(ctx_, 41035);
  if (auto b = check_msgid(body)) return ctx_.error(b->code, b->detail);
  auto msgtype = string_field(body, "msgtype").value_or("");
  if (auto b = validate_kf_message(body, msgtype, false)) return ctx_.error(b->code, b->detail);
  std::string msgid = string_field(body, "msgid").value_or("");
  // msgid must be unique within the kf account (DOC 96427) [UNCERTAIN: errcode for a duplicate].
  if (!msgid.empty() && msgids_[open_kfid].count(msgid))
    return ctx_.error(40058, "msgid duplicated. invalid Request Parameter");

  auto it = sessions_.find({open_kfid, touser});
  const auto now = ctx_.now_ms();
  // A user who never wrote to this account: 95031 "has not asked in 48 h" [UNCERTAIN which of
  // 95031/95002 WeCom uses for a user it never saw]; after 48 h: 95002; the 6th message: 95001.
  if (it == sessions_.end() || it->second.last_customer_ms < 0) return err(ctx_, 95031);
  Session& s = it->second;
  // Only "new/unhandled" (0) or "smart assistant" (1) sessions accept API messages (§9.4).
  if (s.service_state != 0 && s.service_state != 1) return err(ctx_, 95018);
  if (now - s.last_customer_ms >= kWindowMs) return err(ctx_, 95002);
  if (s.sends >= kSendsPerCustomerMessage) return err(ctx_, 95001);

  if (msgid.empty()) msgid = random_alnum(22);
  msgids_[open_kfid].insert(msgid);
  ++s.sends;
  s.last_sent_msgid = msgid;
  const json& m = body[msgtype];
  if (msgtype == "msgmenu" && m.contains("list"))
    for (const auto& item : m["list"])
      if (string_field(item, "type") == "click") s.menu_items.push_back(item["click"]);
  const bool fails = s.fail_next.has_value();
  s.conversation.push_back({{"time_ms", now}, {"dir", "out"}, {"msgid", msgid}, {"msgtype", msgtype},
                            {"content", m}, {"failed", fails}});
  Delivery d;
  d.channel = "kf";
  d.userid = touser;
  d.msgtype = msgtype;
  d.message = m;
  d.dropped = fails;  // accepted (errcode 0) but never reached the user: a msg_send_fail follows
  ctx_.add_delivery(std::move(d));
  rec.detail = {{"open_kfid", open_kfid}, {"touser", touser}, {"msgid", msgid}, {"msgtype", msgtype},
                {"sends_since_customer_message", s.sends}, {"failed", fails}};
  if (fails) {
    int fail_type = *s.fail_next;
    s.fail_next.reset();
    fail_event(open_kfid, touser, msgid, fail_type);
  }
  return wecom_ok({{"msgid", msgid}});
}

ApiReply KfModule::send_msg_on_event(const json& body, RequestRecord& rec) {
  auto code = string_field(body, "code").value_or("");
  // Codes are single-use and expire (welcome: 20 s, DOC 96428) [UNCERTAIN: errcodes; 40058 here].
  if (code.empty()) return ctx_.error(40058, "code missing. invalid Request Parameter");
  auto it = welcome_codes_.find(code);
  if (it == welcome_codes_.end()) return ctx_.error(40058, "invalid code. invalid Request Parameter");
  WelcomeCode& wc = it->second;
  if (wc.used) return ctx_.error(40058, "code already used. invalid Request Parameter");
  if (ctx_.now_ms() >= wc.expires_ms) return ctx_.error(40058, "code expired. invalid Request Parameter");
  if (auto b = check_msgid(body)) return ctx_.error(b->code, b->detail);
  auto msgtype = string_field(body, "msgtype").value_or("");
  if (auto b = validate_kf_message(body, msgtype, true)) return ctx_.error(b->code, b->detail);
  std::string msgid = string_field(body, "msgid").value_or("");
  if (!msgid.empty() && msgids_[wc.open_kfid].count(msgid))
    return ctx_.error(40058, "msgid duplicated. invalid Request Parameter");
  if (msgid.empty()) msgid = random_alnum(22);
  msgids_[wc.open_kfid].insert(msgid);
  wc.used = true;
  Session& s = sessions_[{wc.open_kfid, wc.external_userid}];
  s.last_welcome_ms = ctx_.now_ms();
  const json& m = body[msgtype];
  if (msgtype == "msgmenu" && m.contains("list"))
    for (const auto& item : m["list"])
      if (string_field(item, "type") == "click") s.menu_items.push_back(item["click"]);
  s.conversation.push_back({{"time_ms", ctx_.now_ms()}, {"dir", "out"}, {"msgid", msgid}, {"msgtype", msgtype},
                            {"content", m}, {"failed", false}, {"on_event", true}});
  Delivery d;
  d.channel = "kf";
  d.userid = wc.external_userid;
  d.msgtype = msgtype;
  d.message = m;
  ctx_.add_delivery(std::move(d));
  rec.detail = {{"open_kfid", wc.open_kfid}, {"touser", wc.external_userid}, {"msgid", msgid}, {"msgtype", msgtype}};
  return wecom_ok({{"msgid", msgid}});
}

// --- control ---

std::optional<ApiReply> KfModule::control(const ApiRequest& req, const Target& t, const json& body) {
  if (t.path.rfind("/_sandbox/kf/", 0) != 0) return std::nullopt;
  const bool post = req.method == "POST";
  if (t.path == "/_sandbox/kf/write" && post) return control_write(body);
  if (t.path == "/_sandbox/kf/fail" && post) return control_fail(body);
  if (t.path == "/_sandbox/kf/session" && post) return control_session(body);
  if (t.path == "/_sandbox/kf/empty_pages" && post) {
    auto n = int_field(body, "count");
    if (!n || *n < 0 || *n > 1000) return control_error(400, "sandbox.bad_request", "count must be 0..1000");
    empty_pages_ = static_cast<int>(*n);
    return control_json({{"empty_pages", empty_pages_}});
  }
  if (t.path == "/_sandbox/kf/conversation" && req.method == "GET") {
    std::string open_kfid = t.param("open_kfid").value_or("");
    if (open_kfid.empty() && !ctx_.fixture.kf_accounts.empty()) open_kfid = ctx_.fixture.kf_accounts.front().open_kfid;
    auto it = sessions_.find({open_kfid, t.param("external_userid").value_or("")});
    if (it == sessions_.end()) return control_error(404, "sandbox.not_found", "no such kf conversation");
    return control_json(conversation_json(it->first, it->second));
  }
  return control_error(404, "sandbox.not_found", "no such kf control endpoint or method");
}

ApiReply KfModule::control_write(const json& body) {
  std::string open_kfid = string_field(body, "open_kfid").value_or("");
  if (open_kfid.empty() && !ctx_.fixture.kf_accounts.empty()) open_kfid = ctx_.fixture.kf_accounts.front().open_kfid;
  if (!account(open_kfid)) return control_error(404, "sandbox.unknown_kf", "open_kfid is not a kf account of the fixture");
  std::string user = string_field(body, "external_userid").value_or("");
  if (user.empty()) {
    // A new parent: kf external_userids look like wm… (reference §9.3).
    user = "wm" + random_alnum(30);
    generated_users_[user] = string_field(body, "name").value_or("家长" + user.substr(2, 4));
  }
  const auto now = ctx_.now_ms();
  json wire = {{"msgid", ctx_.new_msg_id()}, {"send_time", ctx_.now_s()}};

  if (body.contains("enter_session")) {
    const json& es = body["enter_session"];
    if (!es.is_object()) return control_error(400, "sandbox.bad_request", "enter_session must be an object");
    std::string scene = string_field(es, "scene").value_or("");
    std::string scene_param = string_field(es, "scene_param").value_or("");
    if (auto url = string_field(es, "url")) {
      // The link of add_contact_way as the parent opened it (…?enc_scene=ENC…&scene_param=…): the
      // account and scene come from the link.
      auto scheme = url->find("://");
      auto path_at = scheme == std::string::npos ? std::string::npos : url->find('/', scheme + 3);
      Target link = parse_target(path_at == std::string::npos ? std::string_view() : std::string_view(*url).substr(path_at));
      if (auto enc = link.param("enc_scene")) {
        auto cw = contact_ways_.find(*enc);
        if (cw == contact_ways_.end()) return control_error(400, "sandbox.bad_request", "unknown enc_scene in url");
        open_kfid = cw->second.first;
        scene = cw->second.second;
      }
      scene_param = link.param("scene_param").value_or(scene_param);
    }
    if (scene_param.size() > 128) return control_error(400, "sandbox.bad_request", "scene_param over 128 bytes");
    json out = {{"open_kfid", open_kfid}, {"external_userid", user}, {"msgid", wire["msgid"]}};
    json ev = {{"event_type", "enter_session"}, {"open_kfid", open_kfid}, {"external_userid", user},
               {"scene", scene}, {"scene_param", scene_param}};
    // welcome_code only if the console has no welcome message and the user got no welcome and sent
    // no message in the last 48 h (DOC 96428); the control may suppress it.
    Session& ss = sessions_[{open_kfid, user}];
    bool console_welcome = account_extra(open_kfid).value("console_welcome", false);
    bool recent_msg = ss.last_customer_ms >= 0 && now - ss.last_customer_ms < kWindowMs;
    bool recent_welcome = ss.last_welcome_ms >= 0 && now - ss.last_welcome_ms < kWindowMs;
    if (!console_welcome && !recent_msg && !recent_welcome && body.value("welcome_code", true)) {
      std::string code = random_alnum(43);
      std::erase_if(welcome_codes_, [now](const auto& kv) { return kv.second.expires_ms <= now; });
      welcome_codes_[code] = WelcomeCode{open_kfid, user, now + kWelcomeCodeMs, false};
      ev["welcome_code"] = code;
      out["welcome_code"] = code;
    }
    // Events carry open_kfid/external_userid inside "event" only (DOC 94670 事件消息 sample).
    wire["origin"] = 4;
    wire["msgtype"] = "event";
    wire["event"] = ev;
    ss.conversation.push_back({{"time_ms", now}, {"dir", "event"}, {"origin", 4}, {"msgtype", "event"},
                               {"msgid", wire["msgid"]}, {"content", ev}});
    out["sync_token"] = append(open_kfid, std::move(wire));
    return control_json(out);
  }

  Session& s = sessions_[{open_kfid, user}];
  wire["open_kfid"] = open_kfid;
  wire["external_userid"] = user;
  json out = {{"open_kfid", open_kfid}, {"external_userid", user}, {"msgid", wire["msgid"]}};
  std::string text;
  std::string menu_id;
  if (body.contains("menu_click")) {
    // The parent taps a click item of a menu we sent: WeChat sends the item's content as the parent's
    // text with menu_id (reference §9.4).
    auto id = body["menu_click"].is_string() ? body["menu_click"].get<std::string>()
                                             : (body["menu_click"].is_number_integer()
                                                    ? std::to_string(body["menu_click"].get<std::int64_t>())
                                                    : std::string());
    for (auto i = s.menu_items.rbegin(); i != s.menu_items.rend() && text.empty(); ++i)
      if (string_field(*i, "id") == id) text = string_field(*i, "content").value_or("");
    if (text.empty()) return control_error(404, "sandbox.unknown_menu_item", "no menu sent to this user has that click id");
    menu_id = id;
  } else if (auto t = string_field(body, "text")) {
    text = *t;
  }
  if (text.empty()) return control_error(400, "sandbox.bad_request", "give text, menu_click or enter_session");
  json content = {{"content", text}};
  if (!menu_id.empty()) content["menu_id"] = menu_id;
  wire["msgtype"] = "text";
  wire["text"] = content;
  if (auto servicer = string_field(body, "servicer_userid")) {
    // A receptionist replying from the WeCom client (origin 5): does not reopen the window.
    if (!ctx_.fixture.member(*servicer)) return control_error(404, "sandbox.unknown_member", "servicer_userid is not a member");
    wire["origin"] = 5;
    wire["servicer_userid"] = *servicer;
    s.conversation.push_back({{"time_ms", now}, {"dir", "servicer"}, {"origin", 5}, {"msgtype", "text"},
                              {"msgid", wire["msgid"]}, {"content", content}, {"servicer_userid", *servicer}});
  } else {
    wire["origin"] = 3;
    // Each customer message reopens the 48 h window and the 5-message allowance (§9.4).
    s.last_customer_ms = now;
    s.sends = 0;
    s.conversation.push_back({{"time_ms", now}, {"dir", "in"}, {"origin", 3}, {"msgtype", "text"},
                              {"msgid", wire["msgid"]}, {"content", content}});
  }
  out["sync_token"] = append(open_kfid, std::move(wire));
  return control_json(out);
}

ApiReply KfModule::control_fail(const json& body) {
  std::string open_kfid = string_field(body, "open_kfid").value_or("");
  if (open_kfid.empty() && !ctx_.fixture.kf_accounts.empty()) open_kfid = ctx_.fixture.kf_accounts.front().open_kfid;
  auto user = string_field(body, "external_userid").value_or("");
  auto it = sessions_.find({open_kfid, user});
  if (it == sessions_.end()) return control_error(404, "sandbox.not_found", "no such kf conversation");
  // fail_type: 0 unknown, 1 account deleted, 2 app closed, 4 session expired, 5 session closed,
  // 6 over the 5-message limit, 7/8/9 channels/verification, 10 user refused (reference §9.3).
  int fail_type = static_cast<int>(int_field(body, "fail_type").value_or(0));
  if (body.value("next", false)) {
    it->second.fail_next = fail_type;
    return control_json({{"fail_next", fail_type}});
  }
  std::string msgid = string_field(body, "msgid").value_or(it->second.last_sent_msgid);
  if (msgid.empty()) return control_error(409, "sandbox.nothing_sent", "nothing was sent to this user yet");
  fail_event(open_kfid, user, msgid, fail_type);
  return control_json({{"fail_msgid", msgid}, {"fail_type", fail_type}});
}

ApiReply KfModule::control_session(const json& body) {
  std::string open_kfid = string_field(body, "open_kfid").value_or("");
  if (open_kfid.empty() && !ctx_.fixture.kf_accounts.empty()) open_kfid = ctx_.fixture.kf_accounts.front().open_kfid;
  auto user = string_field(body, "external_userid").value_or("");
  auto it = sessions_.find({open_kfid, user});
  if (it == sessions_.end()) return control_error(404, "sandbox.not_found", "no such kf conversation");
  auto st = int_field(body, "service_state");
  if (!st || *st < 0 || *st > 4) return control_error(400, "sandbox.bad_request", "service_state must be 0..4");
  it->second.service_state = static_cast<int>(*st);
  it->second.servicer_userid = string_field(body, "servicer_userid").value_or("");
  return control_json(conversation_json(it->first, it->second));
}

// --- state ---

json KfModule::conversation_json(const Key& key, const Session& s) const {
  const auto now = ctx_.now_ms();
  const bool open = s.last_customer_ms >= 0 && now - s.last_customer_ms < kWindowMs;
  return {{"open_kfid", key.first},
          {"external_userid", key.second},
          {"name", user_name(key.second)},
          {"service_state", s.service_state},
          {"servicer_userid", s.servicer_userid},
          {"last_customer_ms", s.last_customer_ms},
          {"window_open_until_ms", s.last_customer_ms >= 0 ? s.last_customer_ms + kWindowMs : 0},
          {"sends_left", open ? std::max(0, kSendsPerCustomerMessage - s.sends) : 0},
          {"messages", s.conversation}};
}

json KfModule::state() const {
  json accounts = json::array();
  for (const auto& k : ctx_.fixture.kf_accounts) accounts.push_back({{"open_kfid", k.open_kfid}, {"name", k.name}});
  json convs = json::array();
  for (const auto& [key, s] : sessions_) convs.push_back(conversation_json(key, s));
  const App* app = kf_app();
  return {{"kf",
           {{"accounts", accounts},
            {"app_agent_id", app ? app->agent_id : 0},
            {"conversations", convs},
            {"log_size", log_.size()},
            {"empty_pages_pending", empty_pages_}}}};
}

json KfModule::save() const {
  json log = json::array();
  for (const auto& it : log_) log.push_back({{"time_ms", it.time_ms}, {"open_kfid", it.open_kfid}, {"wire", it.wire}});
  json cursors = json::array();  // oldest first
  for (const auto& c : cursor_order_)
    if (auto it = cursors_.find(c); it != cursors_.end()) cursors.push_back({{"cursor", c}, {"position", it->second}});
  json tokens = json::array();
  for (const auto& [tok, st] : sync_tokens_)
    tokens.push_back({{"token", tok}, {"open_kfid", st.open_kfid}, {"expires_ms", st.expires_ms}});
  json sessions = json::array();
  for (const auto& [key, s] : sessions_) {
    json j = {{"open_kfid", key.first},
              {"external_userid", key.second},
              {"last_customer_ms", s.last_customer_ms},
              {"sends", s.sends},
              {"service_state", s.service_state},
              {"servicer_userid", s.servicer_userid},
              {"last_welcome_ms", s.last_welcome_ms},
              {"last_sent_msgid", s.last_sent_msgid},
              {"menu_items", s.menu_items},
              {"conversation", s.conversation}};
    if (s.fail_next) j["fail_next"] = *s.fail_next;
    sessions.push_back(std::move(j));
  }
  json msgids = json::object();
  for (const auto& [kfid, ids] : msgids_) msgids[kfid] = ids;
  json codes = json::array();
  for (const auto& [code, wc] : welcome_codes_)
    codes.push_back({{"code", code}, {"open_kfid", wc.open_kfid}, {"external_userid", wc.external_userid},
                     {"expires_ms", wc.expires_ms}, {"used", wc.used}});
  json ways = json::array();
  for (const auto& [enc, way] : contact_ways_)
    ways.push_back({{"enc_scene", enc}, {"open_kfid", way.first}, {"scene", way.second}});
  json users = json::object();
  for (const auto& [id, name] : generated_users_) users[id] = name;
  return {{"log", log},           {"cursors", cursors},   {"sync_tokens", tokens}, {"sessions", sessions},
          {"msgids", msgids},     {"welcome_codes", codes}, {"contact_ways", ways}, {"generated_users", users},
          {"empty_pages", empty_pages_}};
}

void KfModule::restore(const json& saved) {
  if (!saved.is_object()) return;
  for (const auto& j : array_field(saved, "log"))
    if (j.is_object() && j.contains("wire") && j["wire"].is_object())
      log_.push_back(Item{int_field(j, "time_ms").value_or(0), string_field(j, "open_kfid").value_or(""), j["wire"]});
  for (const auto& j : array_field(saved, "cursors")) {
    auto c = string_field(j, "cursor");
    auto pos = int_field(j, "position");
    if (!c || !pos || *pos < 0 || cursors_.count(*c)) continue;
    cursors_[*c] = static_cast<std::size_t>(*pos);
    cursor_order_.push_back(*c);
  }
  for (const auto& j : array_field(saved, "sync_tokens"))
    if (auto tok = string_field(j, "token"))
      sync_tokens_[*tok] = SyncToken{string_field(j, "open_kfid").value_or(""), int_field(j, "expires_ms").value_or(0)};
  for (const auto& j : array_field(saved, "sessions")) {
    auto kfid = string_field(j, "open_kfid");
    auto user = string_field(j, "external_userid");
    if (!kfid || !user) continue;
    Session s;
    s.last_customer_ms = int_field(j, "last_customer_ms").value_or(-1);
    s.sends = static_cast<int>(int_field(j, "sends").value_or(0));
    s.service_state = static_cast<int>(int_field(j, "service_state").value_or(0));
    s.servicer_userid = string_field(j, "servicer_userid").value_or("");
    s.last_welcome_ms = int_field(j, "last_welcome_ms").value_or(-1);
    s.last_sent_msgid = string_field(j, "last_sent_msgid").value_or("");
    if (auto f = int_field(j, "fail_next")) s.fail_next = static_cast<int>(*f);
    s.menu_items = array_field(j, "menu_items");
    for (const auto& m : array_field(j, "conversation")) s.conversation.push_back(m);
    sessions_[{*kfid, *user}] = std::move(s);
  }
  if (saved.contains("msgids") && saved["msgids"].is_object())
    for (const auto& [kfid, ids] : saved["msgids"].items())
      for (const auto& id : ids.is_array() ? ids : json::array())
        if (id.is_string()) msgids_[kfid].insert(id.get<std::string>());
  for (const auto& j : array_field(saved, "welcome_codes"))
    if (auto code = string_field(j, "code"))
      welcome_codes_[*code] = WelcomeCode{string_field(j, "open_kfid").value_or(""),
                                          string_field(j, "external_userid").value_or(""),
                                          int_field(j, "expires_ms").value_or(0), bool_field(j, "used").value_or(false)};
  for (const auto& j : array_field(saved, "contact_ways"))
    if (auto enc = string_field(j, "enc_scene"))
      contact_ways_[*enc] = {string_field(j, "open_kfid").value_or(""), string_field(j, "scene").value_or("")};
  if (saved.contains("generated_users") && saved["generated_users"].is_object())
    for (const auto& [id, name] : saved["generated_users"].items())
      if (name.is_string()) generated_users_[id] = name.get<std::string>();
  empty_pages_ = static_cast<int>(std::clamp<std::int64_t>(int_field(saved, "empty_pages").value_or(0), 0, 1000));
}

void KfModule::reset() {
  log_.clear();
  cursors_.clear();
  cursor_order_.clear();
  sync_tokens_.clear();
  sessions_.clear();
  msgids_.clear();
  welcome_codes_.clear();
  contact_ways_.clear();
  generated_users_.clear();
  empty_pages_ = 0;
}

std::unique_ptr<Module> make_kf_module(Context& ctx) { return std::make_unique<KfModule>(ctx); }

}  // namespace yuer::sandbox
