#include "tests/sandbox/sandbox.h"

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/callbacks.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace yuer::sandbox {

using nlohmann::json;
namespace chr = std::chrono;

// --- ControlledClock ---

chr::system_clock::time_point ControlledClock::now() const {
  std::lock_guard lock(mu_);
  if (frozen_at_) return *frozen_at_;
  return base_.now() + offset_;
}

chr::steady_clock::time_point ControlledClock::steady_now() const {
  std::lock_guard lock(mu_);
  return base_.steady_now() + offset_;
}

void ControlledClock::advance(chr::milliseconds d) {
  std::lock_guard lock(mu_);
  offset_ += d;
  if (frozen_at_) *frozen_at_ += d;
}

void ControlledClock::freeze(bool on) {
  std::lock_guard lock(mu_);
  if (on && !frozen_at_) frozen_at_ = base_.now() + offset_;
  if (!on && frozen_at_) {
    // Time resumes from where it stood.
    offset_ = chr::duration_cast<chr::milliseconds>(*frozen_at_ - base_.now());
    frozen_at_.reset();
  }
}

bool ControlledClock::frozen() const {
  std::lock_guard lock(mu_);
  return frozen_at_.has_value();
}

void ControlledClock::reset() {
  std::lock_guard lock(mu_);
  offset_ = chr::milliseconds(0);
  frozen_at_.reset();
}

// --- helpers ---

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split_bar(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto bar = s.find('|', pos);
    if (bar == std::string::npos) bar = s.size();
    if (bar > pos) out.push_back(s.substr(pos, bar - pos));
    pos = bar + 1;
  }
  return out;
}

std::string join_bar(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "|") + s;
  return out;
}

// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
std::string utf8_cut(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string md5_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// A validation failure: errcode plus errmsg detail (empty = the table text).
struct Reject {
  int errcode;
  std::string detail;
};

std::optional<std::string> string_field(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return std::nullopt;
  return obj[key].get<std::string>();
}

// 40058 with WeCom's own wording for over-long content, as captured from the real webhook:
// "markdown.content exceed max length 4096. invalid Request Parameter" (dromara/domain-admin#82).
Reject too_long(const std::string& field, std::size_t limit) {
  return {40058, field + " exceed max length " + std::to_string(limit) + ". invalid Request Parameter"};
}

enum class Channel { kWebhook, kApp, kAppChat };

// Validates the msgtype object of `body` for `channel`; may rewrite it (truncation). nullopt = ok.
std::optional<Reject> validate_message(json& body, Channel channel, const std::string& msgtype) {
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
    // Robot media_ids come only from webhook/upload_media, which the sandbox does not have yet:
    // none is valid (40007). App media (media/upload) is not emulated yet either; any id passes.
    if (channel == Channel::kWebhook) return Reject{40007, ""};
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
          {"userid", d.userid},   {"msgtype", d.msgtype}, {"message", d.message}, {"dropped", d.dropped}};
}

}  // namespace

// --- Sandbox ---

Sandbox::Sandbox(Fixture fixture, const Clock& base_clock, Settings settings)
    : fixture_(std::move(fixture)), settings_(std::move(settings)), clock_(base_clock) {
  if (!settings_.callback_url_override.empty())
    for (auto& a : fixture_.apps)
      if (a.callback_url.empty()) a.callback_url = settings_.callback_url_override;
}

std::int64_t Sandbox::now_ms() const {
  return chr::duration_cast<chr::milliseconds>(clock_.now().time_since_epoch()).count();
}

ApiReply Sandbox::error(int errcode, std::string_view detail) {
  return wecom_error(errcode, detail, now_ms() / 1000);
}

bool Sandbox::admit(std::deque<std::int64_t>& window, int limit, std::int64_t window_ms, std::int64_t now) {
  while (!window.empty() && window.front() <= now - window_ms) window.pop_front();
  if (static_cast<int>(window.size()) >= limit) return false;
  window.push_back(now);
  return true;
}

void Sandbox::add_delivery(Delivery d) {
  d.seq = next_seq_++;
  d.time_ms = now_ms();
  deliveries_.push_back(std::move(d));
}

ApiReply Sandbox::handle(const ApiRequest& req) {
  Target t = parse_target(req.target);
  if (t.path.rfind("/_sandbox/", 0) == 0) {
    std::lock_guard lock(mu_);
    return control(req);
  }
  std::lock_guard lock(mu_);
  RequestRecord rec;
  rec.seq = next_seq_++;
  rec.time_ms = now_ms();
  rec.method = req.method;
  rec.path = t.path;
  auto q = req.target.find('?');
  rec.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  rec.body = req.body;
  ApiReply reply = dispatch(req, rec);
  rec.http_status = reply.status;
  rec.errcode = reply.errcode;
  requests_.push_back(std::move(rec));
  return reply;
}

ApiReply Sandbox::dispatch(const ApiRequest& req, RequestRecord& rec) {
  Target t = parse_target(req.target);
  if (t.path == "/cgi-bin/gettoken") return gettoken(t);
  const bool post_only = t.path == "/cgi-bin/webhook/send" || t.path == "/cgi-bin/message/send" ||
                         t.path == "/cgi-bin/appchat/send";
  if (!post_only) {
    ApiReply r;
    r.status = 404;
    r.body = "";
    r.content_type = "text/plain";
    rec.detail = {{"note", "endpoint not emulated (yet)"}};
    return r;
  }
  // 43002 "需要POST请求" is the code of the WeChat/WeCom global table [UNCERTAIN: not captured from WeCom].
  if (req.method != "POST") return error(43002);
  if (t.path == "/cgi-bin/webhook/send") return webhook_send(req, t, rec);
  if (t.path == "/cgi-bin/message/send") return message_send(req, t, rec);
  return appchat_send(req, t, rec);
}

ApiReply Sandbox::gettoken(const Target& t) {
  auto corpid = t.param("corpid");
  auto secret = t.param("corpsecret");
  if (!corpid || corpid->empty()) return error(41002);
  if (!secret || secret->empty()) return error(41004);
  if (*corpid != fixture_.corp_id) return error(40013);
  const App* app = nullptr;
  for (const auto& a : fixture_.apps)
    if (a.secret == *secret) app = &a;
  if (!app) return error(40001);
  // A fresh token per call; earlier ones stay valid until they expire. Whether WeCom returns the
  // same token within validity is [UNCERTAIN] (§4), so clients must not depend on either.
  std::string token = random_alnum(128);
  tokens_[token] = TokenInfo{app->agent_id, clock_.now() + settings_.token_lifetime};
  return wecom_ok({{"access_token", token}, {"expires_in", settings_.token_lifetime.count()}});
}

std::variant<const App*, ApiReply> Sandbox::check_token(const Target& t) {
  auto token = t.param("access_token");
  if (!token || token->empty()) return error(41001);
  auto it = tokens_.find(*token);
  if (it == tokens_.end()) return error(40014);
  if (clock_.now() >= it->second.expires_at) return error(42001);
  const App* app = fixture_.app(it->second.agent_id);
  if (!app) return error(40014);
  return app;
}

ApiReply Sandbox::webhook_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto key = t.param("key");
  const InternalGroup* group = nullptr;
  if (key)
    for (const auto& g : fixture_.internal_groups)
      for (const auto& r : g.robots)
        if (r.key == *key) group = &g;
  if (!group) return error(93000);
  if (req.body.empty()) return error(44002, "empty post data");
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error(40058, "invalid json. invalid Request Parameter");
  std::string msgtype = string_field(body, "msgtype").value_or("");
  if (auto bad = validate_message(body, Channel::kWebhook, msgtype)) return error(bad->errcode, bad->detail);
  // 20 per rolling 60 s per robot (DOC 99110); the errcode is WeCom's general 45009 [UNCERTAIN for the
  // webhook, §3.4]. Rejected sends do not count toward the window.
  if (!admit(webhook_windows_[*key], settings_.webhook_per_minute, kMinuteMs, now_ms())) return error(45009);
  rec.detail = {{"chat_id", group->chat_id}, {"msgtype", msgtype}};
  Delivery d;
  d.channel = "webhook";
  d.chat_id = group->chat_id;
  d.msgtype = msgtype;
  d.message = body[msgtype];
  add_delivery(std::move(d));
  return wecom_ok();
}

ApiReply Sandbox::message_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto checked = check_token(t);
  if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
  const App* app = std::get<const App*>(checked);
  if (req.body.empty()) return error(44002, "empty post data");
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error(40058, "invalid json. invalid Request Parameter");
  if (!body.contains("agentid")) return error(41011);
  std::int64_t agentid = 0;
  if (body["agentid"].is_number_integer()) {
    agentid = body["agentid"].get<std::int64_t>();
  } else if (body["agentid"].is_string()) {
    try {
      agentid = std::stoll(body["agentid"].get<std::string>());
    } catch (const std::exception&) {
      return error(40056);
    }
  } else {
    return error(40056);
  }
  if (!fixture_.app(agentid)) return error(40056);
  // A token of app A used for app B (§13.1: "40014 or 48002/60011 as fits").
  if (agentid != app->agent_id) return error(40014);
  std::string msgtype = string_field(body, "msgtype").value_or("");
  std::string touser = string_field(body, "touser").value_or("");
  std::string toparty = string_field(body, "toparty").value_or("");
  std::string totag = string_field(body, "totag").value_or("");
  if (touser.empty() && toparty.empty() && totag.empty()) return error(82001);
  auto users = split_bar(touser);
  if (users.size() > 1000) return error(40058, "touser exceed max count 1000. invalid Request Parameter");
  if (auto bad = validate_message(body, Channel::kApp, msgtype)) return error(bad->errcode, bad->detail);

  auto visible = [&](const std::string& uid) -> const Member* {
    for (const auto& m : fixture_.members) {
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
    for (const auto& m : fixture_.members)
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
  if (valid.empty()) return error(81013);

  json recipients = json::array();
  const auto now = now_ms();
  for (const auto& uid : valid) {
    std::string k = std::to_string(app->agent_id) + "/" + lower(uid);
    // Per app per member ≤ 30/min and 1000/h; the excess is dropped while the API answers 0 (§5.1).
    bool ok = admit(member_minute_[k], settings_.member_per_minute, kMinuteMs, now);
    if (ok && !admit(member_hour_[k], settings_.member_per_hour, kHourMs, now)) {
      member_minute_[k].pop_back();
      ok = false;
    }
    Delivery d;
    d.channel = "app";
    d.userid = uid;
    d.msgtype = msgtype;
    d.message = body[msgtype];
    d.dropped = !ok;
    add_delivery(std::move(d));
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
      extra["response_code"] = random_alnum(43);
  }
  rec.detail = {{"recipients", recipients}, {"msgtype", msgtype}};
  return wecom_ok(extra);
}

ApiReply Sandbox::appchat_send(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  auto checked = check_token(t);
  if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
  const App* app = std::get<const App*>(checked);
  if (req.body.empty()) return error(44002, "empty post data");
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error(40058, "invalid json. invalid Request Parameter");
  std::string chatid = string_field(body, "chatid").value_or("");
  if (chatid.empty()) return error(86001);
  const InternalGroup* group = nullptr;
  for (const auto& g : fixture_.internal_groups)
    if (g.chat_id == chatid) group = &g;
  // Only groups created through appchat/create exist for this API (DOC 90244).
  if (!group || group->app_agent_id == 0) return error(86003);
  if (group->app_agent_id != app->agent_id) return error(86008);
  std::string msgtype = string_field(body, "msgtype").value_or("");
  if (auto bad = validate_message(body, Channel::kAppChat, msgtype)) return error(bad->errcode, bad->detail);
  json dropped_for = json::array();
  const auto now = now_ms();
  for (const auto& uid : group->members) {
    // ≤ 200 messages/min per member from one app; the excess is dropped without an error (DOC 90248).
    if (!admit(appchat_minute_[std::to_string(app->agent_id) + "/" + lower(uid)],
               settings_.appchat_member_per_minute, kMinuteMs, now))
      dropped_for.push_back(uid);
  }
  Delivery d;
  d.channel = "appchat";
  d.chat_id = chatid;
  d.msgtype = msgtype;
  d.message = body[msgtype];
  d.dropped = !dropped_for.empty() && dropped_for.size() == group->members.size();
  add_delivery(std::move(d));
  rec.detail = {{"chat_id", chatid}, {"msgtype", msgtype}, {"dropped_for", dropped_for}};
  return wecom_ok();
}

std::optional<Fault> Sandbox::take_fault(const std::string& path) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->path != path) continue;
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
  if (fault.http_status != 0) {
    reply.status = fault.http_status;
    reply.content_type = "text/plain";
  } else {
    reply = error(fault.errcode.value_or(-1));
  }
  RequestRecord rec;
  rec.seq = next_seq_++;
  rec.time_ms = now_ms();
  rec.method = req.method;
  rec.path = t.path;
  auto q = req.target.find('?');
  rec.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  rec.body = req.body;
  rec.http_status = reply.status;
  rec.errcode = reply.errcode;
  rec.detail = {{"fault", true}, {"latency_ms", fault.latency_ms}};
  requests_.push_back(std::move(rec));
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
    app = fixture_.app(body["agent_id"].get<std::int64_t>());
  } else if (!fixture_.apps.empty()) {
    app = &fixture_.apps.front();
  }
  if (!app) return control_error(404, "sandbox.unknown_app", "no such app in the fixture");
  CallbackJob job;
  job.url = string_field(body, "callback_url").value_or(app->callback_url);
  if (job.url.empty()) return control_error(409, "sandbox.no_callback_url", "the app has no callback_url");
  job.corp_id = fixture_.corp_id;
  job.agent_id = app->agent_id;
  job.token = app->token;
  job.aes_key = app->aes_key;
  job.policy = settings_.callback;
  if (body.contains("attempts") && body["attempts"].is_number_integer())
    job.policy.attempts = std::clamp(body["attempts"].get<int>(), 1, 10);
  if (body.contains("timeout_ms") && body["timeout_ms"].is_number_integer())
    job.policy.timeout = chr::milliseconds(std::clamp(body["timeout_ms"].get<int>(), 1, 60'000));
  if (body.contains("retry_delay_ms") && body["retry_delay_ms"].is_number_integer())
    job.policy.retry_delay = chr::milliseconds(std::clamp(body["retry_delay_ms"].get<int>(), 0, 60'000));

  if (t.path == "/_sandbox/callbacks/verify") {
    job.kind = CallbackJob::Kind::kVerify;
    job.policy.attempts = 1;  // saving the settings sends one GET; the admin retries by hand
    // Self-built apps get a string of digits today (§1.6), e.g. "1616140317555161061".
    job.plaintext = random_digits(19);
    return job;
  }
  job.kind = CallbackJob::Kind::kMessage;
  if (auto xml = string_field(body, "plaintext_xml")) {
    job.plaintext = *xml;
    return job;
  }
  auto from = string_field(body, "from_user");
  auto text = string_field(body, "text");
  if (!from || !text) return control_error(400, "sandbox.bad_request", "give plaintext_xml, or from_user and text");
  if (!fixture_.member(*from)) return control_error(404, "sandbox.unknown_member", "from_user is not a member");
  // MsgId is 64-bit (§14); unique per sandbox run: time-based high bits plus a counter.
  job.msg_id = std::to_string((static_cast<std::uint64_t>(now_ms()) << 12) + (++next_msg_id_ & 0xFFF));
  job.plaintext = app_text_message_xml(fixture_.corp_id, *from, *text, now_ms() / 1000, job.msg_id, app->agent_id);
  return job;
}

json Sandbox::record_callback(CallbackRecord rec) {
  std::lock_guard lock(mu_);
  rec.seq = next_seq_++;
  callbacks_.push_back(std::move(rec));
  return to_json(callbacks_.back());
}

std::vector<RequestRecord> Sandbox::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<Delivery> Sandbox::deliveries() const {
  std::lock_guard lock(mu_);
  return deliveries_;
}

void Sandbox::reset_state() {
  tokens_.clear();
  webhook_windows_.clear();
  member_minute_.clear();
  member_hour_.clear();
  appchat_minute_.clear();
  faults_.clear();
  requests_.clear();
  deliveries_.clear();
  callbacks_.clear();
  clock_.reset();
}

ApiReply Sandbox::control(const ApiRequest& req) {
  Target t = parse_target(req.target);
  const std::string& p = t.path;
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  json body;
  if (post) {
    body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return control_error(400, "sandbox.bad_json", "body must be a JSON object");
  }
  if (p == "/_sandbox/fixture" && get) return control_json(fixture_to_json(fixture_));
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
    for (const auto& d : deliveries_)
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
      f.drop_connection = body.value("drop_connection", false);
      if (f.drop_connection)
        return control_error(501, "sandbox.unsupported",
                             "drop_connection is not supported yet (HttpServer cannot abort a connection)");
      f.count = std::max(0, int_of("count", 0));
      faults_.push_back(f);
    }
    if (post || get) {
      json out = json::array();
      for (const auto& f : faults_) {
        json j = {{"path", f.path}, {"latency_ms", f.latency_ms}, {"http_status", f.http_status}, {"count", f.count}};
        if (f.errcode) j["errcode"] = *f.errcode;
        out.push_back(j);
      }
      return control_json({{"faults", out}});
    }
  }
  if (p == "/_sandbox/clock" && (get || post)) {
    if (post) {
      if (body.contains("advance_ms") && body["advance_ms"].is_number_integer())
        clock_.advance(chr::milliseconds(body["advance_ms"].get<std::int64_t>()));
      if (body.contains("advance_s") && body["advance_s"].is_number_integer())
        clock_.advance(chr::seconds(body["advance_s"].get<std::int64_t>()));
      if (body.contains("freeze") && body["freeze"].is_boolean()) clock_.freeze(body["freeze"].get<bool>());
    }
    return control_json({{"unix_ms", now_ms()}, {"frozen", clock_.frozen()}});
  }
  if (p == "/_sandbox/reset" && post) {
    reset_state();
    return control_json({{"reset", true}});
  }
  return control_error(404, "sandbox.not_found", "no such control endpoint or method");
}

}  // namespace yuer::sandbox
