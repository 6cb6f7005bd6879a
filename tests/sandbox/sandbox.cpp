#include "tests/sandbox/sandbox.h"

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/callbacks.h"
#include "tests/sandbox/template_card.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace yuer::sandbox {

using nlohmann::json;
namespace chr = std::chrono;

// --- helpers ---

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;


// A validation failure: errcode plus errmsg detail (empty = the table text).
struct Reject {
  int errcode;
  std::string detail;
};

// 40058 with WeCom's own wording for over-long content, as captured from the real webhook:
// "markdown.content exceed max length 4096. invalid Request Parameter" (dromara/domain-admin#82).
Reject too_long(const std::string& field, std::size_t limit) {
  return {40058, field + " exceed max length " + std::to_string(limit) + ". invalid Request Parameter"};
}

enum class Channel { kWebhook, kApp, kAppChat };

// Validates the msgtype object of `body` for `channel`; may rewrite it (truncation). nullopt = ok.
// `media_scope`: where media_ids must be usable ("webhook:<key>" for a robot, "corp" for apps).
std::optional<Reject> validate_message(const Context& ctx, json& body, Channel channel, const std::string& msgtype,
                                       const std::string& media_scope) {
  static const std::set<std::string> webhook_types = {"text", "markdown", "markdown_v2", "image",
                                                      "news", "file",     "voice",       "template_card"};
  static const std::set<std::string> app_types = {"text", "image",  "voice",    "video",
                                                  "file", "textcard", "news", "mpnews",
                                                  "markdown", "miniprogram_notice", "template_card"};
  static const std::set<std::string> appchat_types = {"text", "image", "voice",  "video",   "file",
                                                      "textcard", "news", "mpnews", "markdown"};
  const auto& allowed = channel == Channel::kWebhook ? webhook_types
                        : channel == Channel::kApp   ? app_types
                                                     : appchat_types;
  if (msgtype.empty() || !allowed.count(msgtype)) return Reject{40008, ""};
  if (!body.contains(msgtype) || !body[msgtype].is_object())
    return Reject{40058, msgtype + " missing. invalid Request Parameter"};
  json& m = body[msgtype];

  if (msgtype == "text" || msgtype == "markdown" || msgtype == "markdown_v2") {
    auto content = string_field(m, "content");
    if (!content || content->empty()) return Reject{44004, ""};
    // Webhook: text ≤ 2048, markdown(_v2) ≤ 4096 bytes (DOC 99110). App/appchat: text ≤ 2048 and
    // "超过将截断" per DOC 90236 — cut, not rejected; markdown ≤ 2048 [UNCERTAIN 2048 vs 4096, §5.1].
    std::size_t limit = channel == Channel::kWebhook && msgtype != "text" ? 4096 : 2048;
    if (content->size() > limit) {
      if (channel != Channel::kWebhook && msgtype == "text") {
        m["content"] = utf8_cut(*content, limit);
      } else {
        return too_long(msgtype + ".content", limit);
      }
    }
    return std::nullopt;
  }
  if (msgtype == "image" && channel == Channel::kWebhook) {
    auto b64 = string_field(m, "base64");
    auto md5 = string_field(m, "md5");
    if (!b64 || !md5) return Reject{40058, "image.base64 and image.md5 required. invalid Request Parameter"};
    auto raw = adapters::wecom::base64_decode(*b64);
    if (!raw) return Reject{40058, "image.base64 invalid. invalid Request Parameter"};
    if (raw->size() > 2 * 1024 * 1024) return Reject{40009, ""};  // raw image ≤ 2 MB (DOC 99110)
    bool png = raw->rfind("\x89PNG", 0) == 0;
    bool jpg = raw->size() >= 3 && static_cast<unsigned char>((*raw)[0]) == 0xFF &&
               static_cast<unsigned char>((*raw)[1]) == 0xD8 && static_cast<unsigned char>((*raw)[2]) == 0xFF;
    if (!png && !jpg) return Reject{40058, "image must be JPG or PNG. invalid Request Parameter"};
    if (lower(*md5) != md5_hex(*raw)) return Reject{40058, "image.md5 mismatch. invalid Request Parameter"};
    // Keep the record small: the raw bytes are not needed to see that an image arrived.
    m["base64"] = "<" + std::to_string(raw->size()) + " bytes>";
    return std::nullopt;
  }
  if (msgtype == "news" || msgtype == "mpnews") {
    if (!m.contains("articles") || !m["articles"].is_array() || m["articles"].empty())
      return Reject{40058, msgtype + ".articles missing. invalid Request Parameter"};
    if (m["articles"].size() > 8) return Reject{45008, ""};
    for (auto& a : m["articles"]) {
      auto title = string_field(a, "title");
      if (!title || title->empty()) return Reject{40058, "article title missing. invalid Request Parameter"};
      // Webhook: title ≤ 128 and description ≤ 512 bytes, truncated rather than rejected (DOC 99110).
      a["title"] = utf8_cut(*title, 128);
      if (auto d = string_field(a, "description")) a["description"] = utf8_cut(*d, 512);
      if (msgtype == "news" && !string_field(a, "url"))
        return Reject{40058, "article url missing. invalid Request Parameter"};
      if (msgtype == "mpnews" && (!string_field(a, "thumb_media_id") || !string_field(a, "content")))
        return Reject{40058, "mpnews thumb_media_id and content required. invalid Request Parameter"};
    }
    return std::nullopt;
  }
  if (msgtype == "image" || msgtype == "file" || msgtype == "voice" || msgtype == "video") {
    auto media = string_field(m, "media_id");
    if (!media || media->empty()) return Reject{41006, ""};
    // Robot media_ids come only from webhook/upload_media and serve only the robot that uploaded
    // them (§3.3); app media from media/upload serve every app of the corp (§5.3). Both: 3 days.
    if (!ctx.media_usable(*media, media_scope)) return Reject{40007, ""};
    return std::nullopt;
  }
  if (msgtype == "textcard") {
    for (const char* k : {"title", "description", "url"})
      if (!string_field(m, k)) return Reject{40058, std::string("textcard.") + k + " missing. invalid Request Parameter"};
    return std::nullopt;
  }
  if (msgtype == "miniprogram_notice") {
    for (const char* k : {"appid", "title"})
      if (!string_field(m, k))
        return Reject{40058, std::string("miniprogram_notice.") + k + " missing. invalid Request Parameter"};
    return std::nullopt;
  }
  if (msgtype == "template_card") {
    auto type = string_field(m, "card_type");
    // Robots accept only the non-interactive cards (DOC 99110, reference §3.2).
    static const std::set<std::string> robot_cards = {"text_notice", "news_notice"};
    static const std::set<std::string> app_cards = {"text_notice", "news_notice", "button_interaction",
                                                    "vote_interaction", "multiple_interaction"};
    const auto& cards = channel == Channel::kWebhook ? robot_cards : app_cards;
    if (!type || !cards.count(*type)) return Reject{40058, "template_card.card_type invalid. invalid Request Parameter"};
    if (auto bad = check_interactive_card(m)) return Reject{40058, *bad + ". invalid Request Parameter"};
    return std::nullopt;
  }
  return std::nullopt;
}

json record_json(const RequestRecord& r) {
  return {{"seq", r.seq},   {"time_ms", r.time_ms},         {"method", r.method},   {"path", r.path},
          {"query", r.query}, {"body", r.body},             {"http_status", r.http_status},
          {"errcode", r.errcode}, {"detail", r.detail.is_null() ? json::object() : r.detail}};
}

json delivery_json(const Delivery& d) {
  return {{"seq", d.seq},         {"time_ms", d.time_ms}, {"channel", d.channel}, {"chat_id", d.chat_id},
          {"userid", d.userid},   {"msgtype", d.msgtype}, {"message", d.message}, {"dropped", d.dropped},
          {"from", d.from}};
}

}  // namespace

// --- Sandbox ---

Sandbox::Sandbox(Fixture fixture, const Clock& base_clock, Settings settings)
    : ctx_(std::move(fixture), base_clock, std::move(settings)), modules_(make_modules(ctx_)) {}

RequestRecord Sandbox::new_record(const ApiRequest& req, const Target& t) {
  RequestRecord rec;
  rec.seq = ctx_.next_seq();
  rec.time_ms = ctx_.now_ms();
  rec.method = req.method;
  rec.path = t.path;
  auto q = req.target.find('?');
  rec.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  rec.body = req.body;
  return rec;
}

ApiReply Sandbox::handle(const ApiRequest& req) {
  Target t = parse_target(req.target);
  std::lock_guard lock(mu_);
  if (t.path.rfind("/_sandbox/", 0) == 0) return control(req, t);
  RequestRecord rec = new_record(req, t);
  ApiReply reply = dispatch(req, t, rec);
  rec.http_status = reply.status;
  rec.errcode = reply.errcode;
  add_request(std::move(rec));
  return reply;
}

void Sandbox::add_request(RequestRecord rec) {
  requests_.push_back(std::move(rec));
  while (requests_.size() > std::max<std::size_t>(ctx_.settings.max_records, 1)) requests_.pop_front();
}

ApiReply Sandbox::dispatch(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  if (t.path == "/cgi-bin/gettoken") return gettoken(t);
  if (t.path == "/cgi-bin/webhook/send") {
    // 43002 "需要POST请求" is the code of the WeChat/WeCom global table [UNCERTAIN: not captured from WeCom].
    if (req.method != "POST") return ctx_.error(43002);
    return webhook_send(req, t, rec);
  }
  if (t.path == "/cgi-bin/message/send") return message_send(req, t, rec);
  if (t.path == "/cgi-bin/appchat/send") return appchat_send(req, t, rec);
  for (auto& m : modules_)
    if (auto reply = m->api(req, t, rec)) return std::move(*reply);
  ApiReply r;
  r.status = 404;
  r.content_type = "text/plain";
  rec.detail = {{"note", "endpoint not emulated (yet)"}};
  return r;
}

ApiReply Sandbox::gettoken(const Target& t) {
  auto corpid = t.param("corpid");
  auto secret = t.param("corpsecret");
  if (!corpid || corpid->empty()) return ctx_.error(41002);
  if (!secret || secret->empty()) return ctx_.error(41004);
  if (*corpid != ctx_.fixture.corp_id) return ctx_.error(40013);
  const App* app = nullptr;
  for (const auto& a : ctx_.fixture.apps)
    if (a.secret == *secret) app = &a;
  if (!app) return ctx_.error(40001);
  std::string token = ctx_.issue_token(*app);
  return wecom_ok({{"access_token", token}, {"expires_in", ctx_.settings.token_lifetime.count()}});
}

ApiReply Sandbox::webhook_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto key = t.param("key");
  const InternalGroup* group = nullptr;
  if (key)
    for (const auto& g : ctx_.fixture.internal_groups)
      for (const auto& r : g.robots)
        if (r.key == *key) group = &g;
  if (!group) return ctx_.error(93000);
  if (req.body.empty()) return ctx_.error(44002, "empty post data");
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return ctx_.error(40058, "invalid json. invalid Request Parameter");
  std::string msgtype = string_field(body, "msgtype").value_or("");
  if (auto bad = validate_message(ctx_, body, Channel::kWebhook, msgtype, "webhook:" + *key)) return ctx_.error(bad->errcode, bad->detail);
  // 20 per rolling 60 s per robot (DOC 99110); the errcode is WeCom's general 45009 [UNCERTAIN for the
  // webhook, §3.4]. Rejected sends do not count toward the window.
  if (!Context::admit(webhook_windows_[*key], ctx_.settings.webhook_per_minute, kMinuteMs, ctx_.now_ms())) return ctx_.error(45009);
  rec.detail = {{"chat_id", group->chat_id}, {"msgtype", msgtype}};
  Delivery d;
  d.channel = "webhook";
  d.chat_id = group->chat_id;
  d.msgtype = msgtype;
  d.message = body[msgtype];
  ctx_.add_delivery(std::move(d));
  return wecom_ok();
}

ApiReply Sandbox::message_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto begun = ctx_.begin_app_call(req, t);
  if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
  const App* app = std::get<Context::AppCall>(begun).app;
  json& body = std::get<Context::AppCall>(begun).body;
  if (!body.contains("agentid")) return ctx_.error(41011);
  std::int64_t agentid = 0;
  if (body["agentid"].is_number_integer()) {
    agentid = body["agentid"].get<std::int64_t>();
  } else if (body["agentid"].is_string()) {
    try {
      agentid = std::stoll(body["agentid"].get<std::string>());
    } catch (const std::exception&) {
      return ctx_.error(40056);
    }
  } else {
    return ctx_.error(40056);
  }
  if (!ctx_.fixture.app(agentid)) return ctx_.error(40056);
  // A token of app A used for app B (§13.1: "40014 or 48002/60011 as fits").
  if (agentid != app->agent_id) return ctx_.error(40014);
  std::string msgtype = string_field(body, "msgtype").value_or("");
  std::string touser = string_field(body, "touser").value_or("");
  std::string toparty = string_field(body, "toparty").value_or("");
  std::string totag = string_field(body, "totag").value_or("");
  if (touser.empty() && toparty.empty() && totag.empty()) return ctx_.error(82001);
  auto users = split_bar(touser);
  if (users.size() > 1000) return ctx_.error(40058, "touser exceed max count 1000. invalid Request Parameter");
  if (auto bad = validate_message(ctx_, body, Channel::kApp, msgtype, "corp")) return ctx_.error(bad->errcode, bad->detail);

  auto visible = [&](const std::string& uid) -> const Member* {
    for (const auto& m : ctx_.fixture.members) {
      if (lower(m.userid) != lower(uid)) continue;
      if (app->visible_userids.empty()) return &m;
      for (const auto& v : app->visible_userids)
        if (lower(v) == lower(uid)) return &m;
    }
    return nullptr;
  };
  std::vector<std::string> valid, invalid;
  std::vector<std::string> invalid_party, invalid_tag;
  if (touser == "@all") {
    for (const auto& m : ctx_.fixture.members)
      if (visible(m.userid)) valid.push_back(m.userid);
  } else {
    std::set<std::string> seen;
    for (const auto& u : users) {
      if (!seen.insert(lower(u)).second) continue;
      if (const Member* m = visible(u)) {
        valid.push_back(m->userid);
      } else {
        invalid.push_back(lower(u));  // "userids in the response are lower-cased" (§5.1)
      }
    }
    // The fixture has no departments or tags yet: every party and tag is invalid.
    invalid_party = split_bar(toparty);
    invalid_tag = split_bar(totag);
  }
  if (valid.empty()) return ctx_.error(81013);

  // enable_duplicate_check: an identical request body within duplicate_check_interval (default
  // 1800 s, at most 4 h [UNCERTAIN max, §5.1]) is answered with success and not delivered again.
  const auto now = ctx_.now_ms();
  bool duplicate = false;
  if (int_field(body, "enable_duplicate_check").value_or(0) == 1) {
    std::int64_t interval_s = std::clamp<std::int64_t>(int_field(body, "duplicate_check_interval").value_or(1800), 1, 4 * 3600);
    std::string key = std::to_string(app->agent_id) + "/" + req.body;
    auto it = recent_sends_.find(key);
    duplicate = it != recent_sends_.end() && now < it->second;
    if (!duplicate) recent_sends_[key] = now + interval_s * 1000;
    if (recent_sends_.size() > ctx_.settings.max_records)
      std::erase_if(recent_sends_, [&](const auto& kv) { return kv.second <= now; });
  }
  // task_id: "同一个应用任务id不能重复" (DOC 90236); the errcode is not documented [UNCERTAIN]: 40058.
  // A duplicate-checked resend of the same body is answered above, as WeCom does, not refused here.
  if (msgtype == "template_card" && !duplicate) {
    const std::string task = body["template_card"].value("task_id", "");
    if (!task.empty() && !card_tasks_.insert(std::to_string(app->agent_id) + "/" + task).second) {
      if (int_field(body, "enable_duplicate_check").value_or(0) == 1)
        recent_sends_.erase(std::to_string(app->agent_id) + "/" + req.body);
      return ctx_.error(40058, "template_card.task_id exists. invalid Request Parameter");
    }
  }
  json recipients = json::array();
  for (const auto& uid : duplicate ? std::vector<std::string>{} : valid) {
    std::string k = std::to_string(app->agent_id) + "/" + lower(uid);
    // Per app per member ≤ 30/min and 1000/h; the excess is dropped while the API answers 0 (§5.1).
    bool ok = Context::admit(member_minute_[k], ctx_.settings.member_per_minute, kMinuteMs, now);
    if (ok && !Context::admit(member_hour_[k], ctx_.settings.member_per_hour, kHourMs, now)) {
      member_minute_[k].pop_back();
      ok = false;
    }
    Delivery d;
    d.channel = "app";
    d.userid = uid;
    d.msgtype = msgtype;
    d.message = body[msgtype];
    d.dropped = !ok;
    ctx_.add_delivery(std::move(d));
    recipients.push_back({{"userid", uid}, {"dropped", !ok}});
  }
  json extra = {{"msgid", random_alnum(40)}};
  // Empty invalid* fields are left out [UNCERTAIN: the page's example shows all of them].
  if (!invalid.empty()) extra["invaliduser"] = join_bar(invalid);
  if (!invalid_party.empty()) extra["invalidparty"] = join_bar(invalid_party);
  if (!invalid_tag.empty()) extra["invalidtag"] = join_bar(invalid_tag);
  if (msgtype == "template_card") {
    auto type = body["template_card"].value("card_type", "");
    if (type == "button_interaction" || type == "vote_interaction" || type == "multiple_interaction")
      extra["response_code"] = ctx_.issue_response_code(app->agent_id, valid, type);
  }
  rec.detail = {{"recipients", recipients}, {"msgtype", msgtype}, {"duplicate", duplicate}};
  return wecom_ok(extra);
}

ApiReply Sandbox::appchat_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto begun = ctx_.begin_app_call(req, t);
  if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
  const App* app = std::get<Context::AppCall>(begun).app;
  json& body = std::get<Context::AppCall>(begun).body;
  std::string chatid = string_field(body, "chatid").value_or("");
  if (chatid.empty()) return ctx_.error(86001);
  const InternalGroup* group = nullptr;
  for (const auto& g : ctx_.fixture.internal_groups)
    if (g.chat_id == chatid) group = &g;
  // Only groups created through appchat/create exist for this API (DOC 90244).
  if (!group || group->app_agent_id == 0) return ctx_.error(86003);
  if (group->app_agent_id != app->agent_id) return ctx_.error(86008);
  std::string msgtype = string_field(body, "msgtype").value_or("");
  if (auto bad = validate_message(ctx_, body, Channel::kAppChat, msgtype, "corp")) return ctx_.error(bad->errcode, bad->detail);
  json dropped_for = json::array();
  const auto now = ctx_.now_ms();
  for (const auto& uid : group->members) {
    // ≤ 200 messages/min per member from one app; the excess is dropped without an error (DOC 90248).
    if (!Context::admit(appchat_minute_[std::to_string(app->agent_id) + "/" + lower(uid)],
               ctx_.settings.appchat_member_per_minute, kMinuteMs, now))
      dropped_for.push_back(uid);
  }
  Delivery d;
  d.channel = "appchat";
  d.chat_id = chatid;
  d.msgtype = msgtype;
  d.message = body[msgtype];
  d.dropped = !dropped_for.empty() && dropped_for.size() == group->members.size();
  ctx_.add_delivery(std::move(d));
  rec.detail = {{"chat_id", chatid}, {"msgtype", msgtype}, {"dropped_for", dropped_for}};
  return wecom_ok();
}

std::optional<Fault> Sandbox::take_fault(const std::string& path) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->path != path) continue;
    // A partial fault hits each request with probability `rate`; a miss does not count down.
    if (it->rate < 1.0 && static_cast<double>(random_u64() >> 11) * 0x1.0p-53 >= it->rate) continue;
    Fault f = *it;
    if (it->count > 0 && --it->count == 0) faults_.erase(it);
    return f;
  }
  return std::nullopt;
}

ApiReply Sandbox::fault_reply(const Fault& fault, const ApiRequest& req) {
  std::lock_guard lock(mu_);
  Target t = parse_target(req.target);
  ApiReply reply;
  if (fault.drop_connection) {
    reply.status = 0;  // no answer at all: the server resets the connection
  } else if (fault.http_status != 0) {
    reply.status = fault.http_status;
    reply.content_type = "text/plain";
  } else {
    reply = ctx_.error(fault.errcode.value_or(-1));
  }
  RequestRecord rec = new_record(req, t);
  rec.http_status = reply.status;
  rec.errcode = reply.errcode;
  rec.detail = {{"fault", true}, {"latency_ms", fault.latency_ms}, {"dropped", fault.drop_connection}};
  add_request(std::move(rec));
  return reply;
}

std::variant<CallbackJob, ApiReply> Sandbox::prepare_callback(const ApiRequest& req) {
  std::lock_guard lock(mu_);
  Target t = parse_target(req.target);
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return control_error(400, "sandbox.bad_json", "body must be a JSON object");
  const App* app = nullptr;
  if (body.contains("agent_id")) {
    if (!body["agent_id"].is_number_integer()) return control_error(400, "sandbox.bad_request", "agent_id must be an integer");
    app = ctx_.fixture.app(body["agent_id"].get<std::int64_t>());
  } else if (!ctx_.fixture.apps.empty()) {
    app = &ctx_.fixture.apps.front();
  }
  if (!app) return control_error(404, "sandbox.unknown_app", "no such app in the fixture");
  App target = *app;  // body.callback_url overrides where this one callback goes
  target.callback_url = string_field(body, "callback_url").value_or(app->callback_url);
  auto made = ctx_.app_callback(target, "", "text");
  if (!made) return control_error(409, "sandbox.no_callback_url", "the app has no callback_url");
  CallbackJob job = std::move(*made);
  if (body.contains("attempts") && body["attempts"].is_number_integer())
    job.policy.attempts = std::clamp(body["attempts"].get<int>(), 1, 10);
  if (body.contains("timeout_ms") && body["timeout_ms"].is_number_integer())
    job.policy.timeout = chr::milliseconds(std::clamp(body["timeout_ms"].get<int>(), 1, 60'000));
  if (body.contains("retry_delay_ms") && body["retry_delay_ms"].is_number_integer())
    job.policy.retry_delay = chr::milliseconds(std::clamp(body["retry_delay_ms"].get<int>(), 0, 60'000));

  if (t.path == "/_sandbox/callbacks/verify") {
    job.kind = CallbackJob::Kind::kVerify;
    job.label = "verify";
    job.policy.attempts = 1;  // saving the settings sends one GET; the admin retries by hand
    // Self-built apps get a string of digits today (§1.6), e.g. "1616140317555161061".
    job.plaintext = random_digits(19);
    return job;
  }
  job.kind = CallbackJob::Kind::kMessage;
  if (auto xml = string_field(body, "plaintext_xml")) {
    job.plaintext = *xml;
    job.label = "plaintext_xml";
    return job;
  }
  auto from = string_field(body, "from_user");
  auto text = string_field(body, "text");
  if (!from || !text) return control_error(400, "sandbox.bad_request", "give plaintext_xml, or from_user and text");
  if (!ctx_.fixture.member(*from)) return control_error(404, "sandbox.unknown_member", "from_user is not a member");
  job.msg_id = ctx_.new_msg_id();
  job.plaintext = app_text_message_xml(ctx_.fixture.corp_id, *from, *text, ctx_.now_s(), job.msg_id, app->agent_id);
  return job;
}

namespace {

// A passive reply (§6.4) as what the member sees: ToUserName is the member, MsgType one of text,
// image, voice, video, news, update_button, update_template_card. nullopt when it is not XML.
std::optional<Delivery> passive_reply_delivery(const std::string& plaintext) {
  pugi::xml_document doc;
  if (!doc.load_string(plaintext.c_str(), pugi::parse_default & ~pugi::parse_doctype)) return std::nullopt;
  auto x = doc.child("xml");
  Delivery d;
  d.channel = "app";
  d.userid = x.child_value("ToUserName");
  d.msgtype = x.child_value("MsgType");
  if (d.msgtype == "text") {
    d.message = {{"content", utf8_cut(x.child_value("Content"), 2048)}};  // "超过将截断" (§6.4)
  } else if (d.msgtype == "update_button") {
    d.message = {{"replace_name", x.child("Button").child_value("ReplaceName")}};
  } else {
    json m = json::object();
    for (auto child : x.children())
      if (std::string name = child.name(); name != "ToUserName" && name != "FromUserName" && name != "CreateTime" && name != "MsgType")
        m[name] = child.child_value();
    d.message = m;
  }
  return d;
}

}  // namespace

json Sandbox::record_callback(CallbackRecord rec, const std::function<void(const CallbackRecord&)>& on_done) {
  std::lock_guard lock(mu_);
  rec.seq = ctx_.next_seq();
  if (!rec.reply.empty()) {
    if (auto d = passive_reply_delivery(rec.reply)) {
      ctx_.add_delivery(std::move(*d));
    } else {
      rec.reply_error = "passive reply plaintext is not XML";
    }
  }
  if (on_done) on_done(rec);
  json out = to_json(rec);
  callbacks_.push_back(std::move(rec));
  while (callbacks_.size() > std::max<std::size_t>(ctx_.settings.max_records, 1)) callbacks_.pop_front();
  return out;
}

json Sandbox::save_state() const {
  std::lock_guard lock(mu_);
  json fixture = ctx_.fixture.raw.is_object() ? ctx_.fixture.raw : json::object();
  fixture.update(fixture_to_json(ctx_.fixture));
  // Join ways travel in the customer_groups module's state: after auto-created rooms or dismissed
  // groups their chat lists may no longer pass the fixture's checks (1 to 5 known groups).
  fixture["join_ways"] = json::array();
  json modules = json::object();
  for (const auto& m : modules_)
    if (!m->name().empty()) modules[std::string(m->name())] = m->save();
  json core = ctx_.save();
  json recent = json::array();
  for (const auto& [key, until_ms] : recent_sends_)
    if (until_ms > ctx_.now_ms()) recent.push_back({{"key", key}, {"until_ms", until_ms}});
  core["recent_sends"] = recent;
  core["card_tasks"] = card_tasks_;
  return {{"format", "wecom-sandbox state"}, {"version", 1}, {"saved_at_ms", ctx_.now_ms()},
          {"fixture", fixture}, {"core", core}, {"modules", modules}};
}

void Sandbox::restore_state(const json& saved) {
  std::lock_guard lock(mu_);
  if (!saved.is_object()) return;
  if (saved.contains("core")) {
    ctx_.restore(saved["core"]);
    for (const auto& r : array_field(saved["core"], "recent_sends"))
      if (auto key = string_field(r, "key"))
        if (auto until = int_field(r, "until_ms")) recent_sends_[*key] = *until;
    for (const auto& t : array_field(saved["core"], "card_tasks"))
      if (t.is_string()) card_tasks_.insert(t.get<std::string>());
  }
  if (!saved.contains("modules") || !saved["modules"].is_object()) return;
  for (auto& m : modules_) {
    if (m->name().empty()) continue;
    auto it = saved["modules"].find(std::string(m->name()));
    if (it != saved["modules"].end()) m->restore(*it);
  }
}

std::vector<RequestRecord> Sandbox::requests() const {
  std::lock_guard lock(mu_);
  return {requests_.begin(), requests_.end()};
}

std::vector<Delivery> Sandbox::deliveries() const {
  std::lock_guard lock(mu_);
  return {ctx_.deliveries().begin(), ctx_.deliveries().end()};
}

std::vector<CallbackRecord> Sandbox::callbacks() const {
  std::lock_guard lock(mu_);
  return {callbacks_.begin(), callbacks_.end()};
}

void Sandbox::set_base_url(std::string url) {
  std::lock_guard lock(mu_);
  ctx_.base_url = std::move(url);
}

std::vector<CallbackJob> Sandbox::take_callbacks() {
  std::lock_guard lock(mu_);
  return ctx_.take_callbacks();
}

void Sandbox::reset_state() {
  ctx_.reset();
  for (auto& m : modules_) m->reset();
  webhook_windows_.clear();
  member_minute_.clear();
  member_hour_.clear();
  appchat_minute_.clear();
  recent_sends_.clear();
  card_tasks_.clear();
  faults_.clear();
  requests_.clear();
  callbacks_.clear();
}

ApiReply Sandbox::control(const ApiRequest& req, const Target& t) {
  const std::string& p = t.path;
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  json body = json::object();
  if (post) {
    body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return control_error(400, "sandbox.bad_json", "body must be a JSON object");
  }
  if (p == "/_sandbox/fixture" && get) return control_json(fixture_to_json(ctx_.fixture));
  if (p == "/_sandbox/requests" && get) {
    auto path = t.param("path");
    std::int64_t since = 0;
    if (auto s = t.param("since")) since = std::atoll(s->c_str());
    json out = json::array();
    for (const auto& r : requests_)
      if ((!path || r.path == *path) && r.seq > since) out.push_back(record_json(r));
    return control_json({{"requests", out}});
  }
  if (p == "/_sandbox/messages" && get) {
    auto chat = t.param("chat_id");
    auto user = t.param("userid");
    json out = json::array();
    for (const auto& d : ctx_.deliveries())
      if ((!chat || d.chat_id == *chat) && (!user || d.userid == *user)) out.push_back(delivery_json(d));
    return control_json({{"messages", out}});
  }
  if (p == "/_sandbox/callbacks" && get) {
    json out = json::array();
    for (const auto& c : callbacks_) out.push_back(to_json(c));
    return control_json({{"callbacks", out}});
  }
  if (p == "/_sandbox/faults") {
    if (req.method == "DELETE") {
      faults_.clear();
      return control_json({{"faults", json::array()}});
    }
    if (post) {
      Fault f;
      auto path = string_field(body, "path");
      if (!path || path->rfind("/cgi-bin/", 0) != 0)
        return control_error(400, "sandbox.bad_request", "path must be a WeCom endpoint path (/cgi-bin/...)");
      f.path = *path;
      auto int_of = [&](const char* k, int dflt) {
        return body.contains(k) && body[k].is_number_integer() ? body[k].get<int>() : dflt;
      };
      f.latency_ms = std::clamp(int_of("latency_ms", 0), 0, 120'000);
      f.http_status = static_cast<unsigned>(std::clamp(int_of("http_status", 0), 0, 599));
      if (f.http_status != 0 && f.http_status < 200)
        return control_error(400, "sandbox.bad_request", "http_status must be 200..599");
      if (body.contains("errcode")) {
        if (!body["errcode"].is_number_integer()) return control_error(400, "sandbox.bad_request", "errcode must be an integer");
        f.errcode = body["errcode"].get<int>();
      }
      if (body.contains("drop_connection")) {
        if (!body["drop_connection"].is_boolean())
          return control_error(400, "sandbox.bad_request", "drop_connection must be true or false");
        f.drop_connection = body["drop_connection"].get<bool>();
      }
      f.count = std::max(0, int_of("count", 0));
      if (body.contains("rate")) {
        if (!body["rate"].is_number() || body["rate"].get<double>() <= 0 || body["rate"].get<double>() > 1)
          return control_error(400, "sandbox.bad_request", "rate must be a number in (0, 1]");
        f.rate = body["rate"].get<double>();
      }
      faults_.push_back(f);
    }
    if (post || get) {
      json out = json::array();
      for (const auto& f : faults_) {
        json j = {{"path", f.path},   {"latency_ms", f.latency_ms}, {"http_status", f.http_status},
                  {"count", f.count}, {"rate", f.rate}, {"drop_connection", f.drop_connection}};
        if (f.errcode) j["errcode"] = *f.errcode;
        out.push_back(j);
      }
      return control_json({{"faults", out}});
    }
  }
  if (p == "/_sandbox/clock" && (get || post)) {
    if (post) {
      if (body.contains("advance_ms") && body["advance_ms"].is_number_integer())
        ctx_.clock.advance(chr::milliseconds(body["advance_ms"].get<std::int64_t>()));
      if (body.contains("advance_s") && body["advance_s"].is_number_integer())
        ctx_.clock.advance(chr::seconds(body["advance_s"].get<std::int64_t>()));
      if (body.contains("freeze") && body["freeze"].is_boolean()) ctx_.clock.freeze(body["freeze"].get<bool>());
      if (body.contains("rate")) {
        if (!body["rate"].is_number() || body["rate"].get<double>() < 0 || body["rate"].get<double>() > 1e7)
          return control_error(400, "sandbox.bad_request", "rate must be a number from 0 to 10000000");
        ctx_.clock.set_rate(body["rate"].get<double>());
      }
    }
    return control_json({{"unix_ms", ctx_.now_ms()}, {"frozen", ctx_.clock.frozen()}, {"rate", ctx_.clock.rate()}});
  }
  // Where an app's callbacks go (WeCom: set in the admin console). Tests whose receiver starts after
  // the sandbox (an ephemeral port) point the app at it here.
  if (p == "/_sandbox/apps/callback_url" && post) {
    const std::int64_t agent_id = body.value("agent_id", std::int64_t{0});
    const std::string url = body.value("callback_url", std::string());
    if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://"))
      return control_error(400, "sandbox.bad_request", "callback_url must be an http(s) URL or empty");
    for (auto& a : ctx_.fixture.apps)
      if (a.agent_id == agent_id) {
        a.callback_url = url;
        return control_json({{"agent_id", agent_id}, {"callback_url", url}});
      }
    return control_error(404, "sandbox.not_found", "no app with this agent_id");
  }
  if (p == "/_sandbox/reset" && post) {
    reset_state();
    return control_json({{"reset", true}});
  }
  if (p == "/_sandbox/state" && get) {
    json out = json::object();
    for (const auto& m : modules_)
      if (auto st = m->state(); st.is_object()) out.update(st);
    return control_json(out);
  }
  for (auto& m : modules_)
    if (auto reply = m->control(req, t, body)) return std::move(*reply);
  return control_error(404, "sandbox.not_found", "no such control endpoint or method");
}

}  // namespace yuer::sandbox
