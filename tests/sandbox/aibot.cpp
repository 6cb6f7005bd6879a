#include "tests/sandbox/aibot.h"

#include "adapters/wecom/crypto.h"

#include <algorithm>
#include <set>

namespace yuer::sandbox {

using adapters::wecom::MsgCrypt;
using nlohmann::json;

namespace {

// Default base of response_url when none is configured: the address the README's examples run
// the sandbox on. Real WeCom uses https://qyapi.weixin.qq.com (DOC 101138); the sandbox must point
// the robot back at itself, and a module cannot see the port it listens on.
constexpr const char* kDefaultResponseBase = "http://127.0.0.1:8090";

// msgid of aibot callbacks looks like base64 of ~20 bytes ("CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", §10.2).
std::string aibot_msgid() {
  std::string raw;
  for (int i = 0; i < 3; ++i) {
    std::uint64_t v = random_u64();
    for (int k = 0; k < 7; ++k, v >>= 8) raw += static_cast<char>(v & 0xFF);
  }
  return adapters::wecom::base64_encode(raw.substr(0, 20));
}

std::string crypto_words(const std::string& code) {
  if (code == "crypto.bad_signature") return "msgsignature does not match (-40001)";
  if (code == "crypto.bad_base64") return "encrypt is not base64 (-40010)";
  if (code == "crypto.bad_ciphertext") return "encrypt does not decrypt (-40007)";
  if (code == "crypto.bad_buffer") return "decrypted buffer malformed (-40008)";
  if (code == "crypto.bad_receiveid") return "receiveid is not empty (-40005)";
  return code;
}

bool known_card(const std::string& type) {
  static const std::set<std::string> cards = {"text_notice", "news_notice", "button_interaction",
                                              "vote_interaction", "multiple_interaction"};
  return cards.count(type) > 0;
}

bool interactive_card(const std::string& type) {
  return type == "button_interaction" || type == "vote_interaction" || type == "multiple_interaction";
}

}  // namespace

PassiveReply read_passive_reply(const Aibot& bot, const CallbackRecord& rec) {
  PassiveReply out;
  const CallbackAttempt* got = nullptr;
  for (const auto& a : rec.attempts)
    if (a.status == 200) got = &a;
  if (!got) {
    out.error = "callback not delivered (no HTTP 200)";
    return out;
  }
  // An empty body ("空包") is always allowed (DOC 101033).
  if (got->body.find_first_not_of(" \t\r\n") == std::string::npos) {
    out.empty = true;
    return out;
  }
  auto j = json::parse(got->body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    out.error = got->body.size() >= 4096 ? "reply is not JSON (the sandbox keeps only the first 4 KiB of an answer)"
                                         : "reply is not a JSON object";
    return out;
  }
  auto encrypt = string_field(j, "encrypt");
  auto sig = string_field(j, "msgsignature");
  auto nonce = string_field(j, "nonce");
  // timestamp: a number on the aibot page, a string in the official samples; accept both (§1.7).
  std::string ts;
  if (j.contains("timestamp") && j["timestamp"].is_number_integer()) ts = std::to_string(j["timestamp"].get<std::int64_t>());
  else if (auto s = string_field(j, "timestamp")) ts = *s;
  if (!encrypt || !sig || !nonce || ts.empty()) {
    out.error = "reply lacks encrypt, msgsignature, timestamp or nonce";
    return out;
  }
  // "nonce 必须是回调 URL 中的 nonce" (DOC 101033, reference §1.7).
  auto sent_nonce = parse_target(got->target).param("nonce").value_or("");
  if (*nonce != sent_nonce) {
    out.error = "reply nonce \"" + *nonce + "\" is not the callback's nonce \"" + sent_nonce + "\"";
    return out;
  }
  auto crypt = MsgCrypt::create(bot.token, bot.aes_key, "");
  if (!crypt) {
    out.error = "robot key invalid: " + crypt.error().message;
    return out;
  }
  auto plain = crypt->verify_and_decrypt(*sig, ts, *nonce, *encrypt);
  if (!plain) {
    out.error = crypto_words(plain.error().code);
    return out;
  }
  auto msg = json::parse(*plain, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    out.error = "decrypted reply is not a JSON object";
    return out;
  }
  out.message = std::move(msg);
  return out;
}

AibotModule::AibotModule(Context& ctx) : ctx_(ctx) {
  const json& raw = ctx_.fixture.raw;
  if (!raw.is_object() || !raw.contains("aibots")) return;
  if (!raw["aibots"].is_array()) {
    fixture_errors_.push_back("$.aibots: must be an array");
    return;
  }
  for (std::size_t i = 0; i < raw["aibots"].size(); ++i) {
    const json& e = raw["aibots"][i];
    const std::string p = "$.aibots[" + std::to_string(i) + "]";
    Aibot b;
    b.aibotid = string_field(e, "aibotid").value_or("");
    b.name = string_field(e, "name").value_or("");
    b.token = string_field(e, "token").value_or("");
    b.aes_key = string_field(e, "aes_key").value_or("");
    b.callback_url = string_field(e, "callback_url").value_or("");
    if (b.aibotid.empty() || b.token.empty() || !MsgCrypt::create(b.token, b.aes_key, "")) {
      fixture_errors_.push_back(p + ": needs aibotid, token and a 43-character aes_key");
      continue;
    }
    if (b.name.empty()) b.name = b.aibotid;
    if (e.contains("chat_ids") && e["chat_ids"].is_array())
      for (const auto& c : e["chat_ids"])
        if (c.is_string()) b.chat_ids.push_back(c.get<std::string>());
    if (bot(b.aibotid)) {
      fixture_errors_.push_back(p + ".aibotid: duplicate");
      continue;
    }
    bots_.push_back(std::move(b));
  }
  if (raw.contains("aibot_response_base") && raw["aibot_response_base"].is_string())
    response_base_ = raw["aibot_response_base"].get<std::string>();
}

const Aibot* AibotModule::bot(const std::string& aibotid) const {
  for (const auto& b : bots_)
    if (b.aibotid == aibotid) return &b;
  return nullptr;
}

std::string AibotModule::response_base() const {
  if (!response_base_.empty()) return response_base_;
  return ctx_.base_url.empty() ? kDefaultResponseBase : ctx_.base_url;
}

std::string AibotModule::new_response_url(const std::string& turn) {
  std::string code = random_alnum(43);
  responses_[code] = Response{turn, ctx_.now_ms() + kResponseUrlMs, false};
  turns_[turn].response_code = code;
  // Same path and parameter as WeCom's: /cgi-bin/aibot/response?response_code=… (DOC 101138).
  return response_base() + "/cgi-bin/aibot/response?response_code=" + code;
}

void AibotModule::emit(const Aibot& b, const std::string& turn, const json& plaintext, const std::string& label,
                       int attempts) {
  if (b.callback_url.empty()) {
    fail(turns_[turn], "robot has no callback_url");
    return;
  }
  CallbackJob job;
  job.kind = CallbackJob::Kind::kJson;
  job.url = b.callback_url;
  job.token = b.token;
  job.aes_key = b.aes_key;
  job.plaintext = plaintext.dump();
  job.label = label;
  job.policy = ctx_.settings.callback;
  if (attempts > 0) job.policy.attempts = attempts;
  job.on_done = [this, gen = generation_, turn](const CallbackRecord& rec) { on_reply(gen, turn, rec); };
  ctx_.emit_callback(std::move(job));
}

void AibotModule::fail(Turn& t, std::string why) {
  t.status = "error";
  t.errors.push_back(std::move(why));
}

void AibotModule::deliver(const Turn& t, const std::string& msgtype, json message) {
  Delivery d;
  d.channel = "aibot";
  if (t.chattype == "group") d.chat_id = t.chatid;
  else d.userid = t.userid;
  d.msgtype = msgtype;
  d.message = std::move(message);
  ctx_.add_delivery(std::move(d));
}

void AibotModule::on_reply(std::uint64_t generation, const std::string& turn_id, const CallbackRecord& rec) {
  if (generation != generation_) return;  // the sandbox was reset meanwhile
  auto it = turns_.find(turn_id);
  if (it == turns_.end()) return;
  Turn& t = it->second;
  const Aibot* b = bot(t.aibotid);
  if (!b) return;
  PassiveReply r = read_passive_reply(*b, rec);
  if (!r.error.empty()) {
    if (rec.delivered) return fail(t, r.error);
    t.status = "undelivered";
    t.errors.push_back(r.error);
    return;
  }
  if (r.empty) {
    if (t.status == "pending") t.status = "empty";
    // A stream answered empty on a refresh keeps being refreshed, as WeCom does, within the limits.
  } else if (t.kind == "click") {
    // Only the card update is a reply to template_card_event (DOC 101031 回复消息更新模板卡片).
    const json& m = r.message;
    if (string_field(m, "response_type") != "update_template_card" || !m.contains("template_card") ||
        !m["template_card"].is_object()) {
      fail(t, "a template_card_event accepts only {\"response_type\":\"update_template_card\",…}");
      return;
    }
    if (string_field(m["template_card"], "task_id") != t.task_id) {
      fail(t, "update_template_card must keep the clicked card's task_id \"" + t.task_id + "\"");
      return;
    }
    t.status = "delivered";
    deliver(t, "update_template_card", m);
    return;
  } else {
    const json& m = r.message;
    const std::string msgtype = string_field(m, "msgtype").value_or("");
    // Replies to a user message: stream, template_card, stream_with_template_card (DOC 101031).
    if (msgtype == "text") return fail(t, "a text reply is allowed only to enter_chat (DOC 101031)");
    if (msgtype == "markdown") return fail(t, "markdown is not a passive reply: use response_url (DOC 101138)");
    if (msgtype == "template_card") {
      if (t.card_sent) return fail(t, "the template card was already sent for this message");
      const json& card = m.contains("template_card") ? m["template_card"] : json();
      auto type = card.is_object() ? string_field(card, "card_type").value_or("") : "";
      if (!known_card(type)) return fail(t, "template_card.card_type invalid");
      t.card_sent = true;
      if (interactive_card(type)) cards_[string_field(card, "task_id").value_or("")] = {t.aibotid, t.msgid};
      t.status = "delivered";
      deliver(t, "template_card", card);
      return;
    }
    if (msgtype != "stream" && msgtype != "stream_with_template_card")
      return fail(t, "unknown reply msgtype \"" + msgtype + "\"");
    const json& st = m.contains("stream") ? m["stream"] : json();
    auto id = st.is_object() ? string_field(st, "id").value_or("") : "";
    if (id.empty()) return fail(t, "stream.id missing");
    if (!t.stream_id.empty() && id != t.stream_id)
      return fail(t, "stream.id \"" + id + "\" differs from the first reply's \"" + t.stream_id + "\"");
    t.stream_id = id;
    auto content = string_field(st, "content").value_or("");
    if (content.size() > kStreamMaxBytes) return fail(t, "stream.content over 20480 bytes");
    t.stream_content = content;  // the full text so far: replaces, not appends (§10.4)
    if (msgtype == "stream_with_template_card" && m.contains("template_card") && m["template_card"].is_object() &&
        !t.card_sent) {
      auto type = string_field(m["template_card"], "card_type").value_or("");
      if (!known_card(type)) return fail(t, "template_card.card_type invalid");
      t.card_sent = true;
      if (interactive_card(type))
        cards_[string_field(m["template_card"], "task_id").value_or("")] = {t.aibotid, t.msgid};
      deliver(t, "template_card", m["template_card"]);
    }
    if (st.value("finish", false)) {
      t.status = "delivered";
      deliver(t, "stream", st);
      return;
    }
    t.status = "streaming";
  }
  if (t.status != "streaming") return;
  // Stream refresh (DOC 100719 流式消息刷新): WeCom calls back until finish, ≤ 6 min after the message.
  if (ctx_.now_ms() - t.time_ms >= kStreamMs || t.refreshes >= kMaxRefreshes) {
    t.status = "stream_expired";
    t.errors.push_back("stream not finished within 6 minutes: the user sees the last content");
    deliver(t, "stream", {{"id", t.stream_id}, {"content", t.stream_content}, {"finish", false}});
    return;
  }
  ++t.refreshes;
  json refresh = {{"msgid", aibot_msgid()}, {"aibotid", t.aibotid}, {"chattype", t.chattype},
                  {"from", {{"userid", t.userid}}}, {"msgtype", "stream"}, {"stream", {{"id", t.stream_id}}}};
  if (t.chattype == "group") refresh["chatid"] = t.chatid;
  emit(*b, turn_id, refresh, "aibot_stream_refresh", 0);
}

// --- response_url ---

std::optional<ApiReply> AibotModule::api(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  if (t.path != "/cgi-bin/aibot/response") return std::nullopt;
  return response(req, t, rec);
}

ApiReply AibotModule::response(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  if (req.method != "POST") return ctx_.error(43002);
  // Codes are single use and valid 1 h (DOC 101138). The errcodes for a bad, used or expired code
  // are not documented: 40058 with a telling errmsg [UNCERTAIN].
  auto code = t.param("response_code").value_or("");
  auto it = responses_.find(code);
  if (code.empty() || it == responses_.end()) return ctx_.error(40058, "invalid response_code. invalid Request Parameter");
  Response& r = it->second;
  if (r.used) return ctx_.error(40058, "response_code already used. invalid Request Parameter");
  if (ctx_.now_ms() >= r.expires_ms) return ctx_.error(40058, "response_code expired. invalid Request Parameter");
  if (req.body.empty()) return ctx_.error(44002, "empty post data");
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return ctx_.error(40058, "invalid json. invalid Request Parameter");
  Turn& turn = turns_[r.turn];
  auto msgtype = string_field(body, "msgtype").value_or("");
  json message;
  if (msgtype == "markdown") {
    if (!body.contains("markdown") || !body["markdown"].is_object())
      return ctx_.error(40058, "markdown missing. invalid Request Parameter");
    auto content = string_field(body["markdown"], "content");
    if (!content || content->empty()) return ctx_.error(44004);
    if (content->size() > kStreamMaxBytes)
      return ctx_.error(40058, "markdown.content exceed max length 20480. invalid Request Parameter");
    message = body["markdown"];
  } else if (msgtype == "template_card") {
    // "模板卡片消息仅支持单聊" (DOC 101138).
    if (turn.chattype != "single")
      return ctx_.error(40058, "template_card only in single chats. invalid Request Parameter");
    if (!body.contains("template_card") || !body["template_card"].is_object() ||
        !known_card(string_field(body["template_card"], "card_type").value_or("")))
      return ctx_.error(40058, "template_card.card_type invalid. invalid Request Parameter");
    message = body["template_card"];
    if (interactive_card(string_field(message, "card_type").value_or("")))
      cards_[string_field(message, "task_id").value_or("")] = {turn.aibotid, turn.msgid};
  } else {
    return ctx_.error(40008);
  }
  r.used = true;
  if (turn.chattype == "group") message["quote_of"] = turn.msgid;  // the async reply quotes the message (§10.5)
  rec.detail = {{"turn", turn.msgid}, {"aibotid", turn.aibotid}, {"chatid", turn.chatid}, {"msgtype", msgtype}};
  deliver(turn, msgtype, message);
  return wecom_ok();
}

// --- control ---

std::optional<ApiReply> AibotModule::control(const ApiRequest& req, const Target& t, const json& body) {
  if (t.path.rfind("/_sandbox/aibot/", 0) != 0) return std::nullopt;
  const bool post = req.method == "POST";
  if (t.path == "/_sandbox/aibot/mention" && post) return control_mention(body);
  if (t.path == "/_sandbox/aibot/click" && post) return control_click(body);
  if (t.path == "/_sandbox/aibot/config" && (post || req.method == "GET")) {
    if (post && body.contains("response_base")) {
      auto base = string_field(body, "response_base");
      if (!base || (base->rfind("http://", 0) != 0 && base->rfind("https://", 0) != 0))
        return control_error(400, "sandbox.bad_request", "response_base must be an http(s) URL without a path");
      response_base_ = *base;
      while (!response_base_.empty() && response_base_.back() == '/') response_base_.pop_back();
    }
    return control_json({{"response_base", response_base()}});
  }
  return control_error(404, "sandbox.not_found", "no such aibot control endpoint or method");
}

ApiReply AibotModule::control_mention(const json& body) {
  std::string aibotid = string_field(body, "aibotid").value_or(bots_.empty() ? "" : bots_.front().aibotid);
  const Aibot* b = bot(aibotid);
  if (!b) return control_error(404, "sandbox.unknown_aibot", "no such intelligent robot in the fixture's aibots");
  const std::string chattype = string_field(body, "chattype").value_or("group");
  if (chattype != "group" && chattype != "single")
    return control_error(400, "sandbox.bad_request", "chattype must be group or single");
  auto from = string_field(body, "from_userid").value_or("");
  if (!ctx_.fixture.member(from)) return control_error(404, "sandbox.unknown_member", "from_userid is not a member");
  auto text = string_field(body, "text").value_or("");
  if (text.empty()) return control_error(400, "sandbox.bad_request", "text required");
  std::string chatid;
  if (chattype == "group") {
    chatid = string_field(body, "chat_id").value_or(b->chat_ids.empty() ? "" : b->chat_ids.front());
    if (std::find(b->chat_ids.begin(), b->chat_ids.end(), chatid) == b->chat_ids.end())
      return control_error(404, "sandbox.not_in_chat", "the robot is not in that chat (aibots[].chat_ids)");
    // Documented for internal groups only (§10.6 [UNCERTAIN] for customer groups).
    const InternalGroup* g = nullptr;
    for (const auto& ig : ctx_.fixture.internal_groups)
      if (ig.chat_id == chatid) g = &ig;
    if (!g) return control_error(404, "sandbox.unknown_chat", "chat_id is not an internal group of the fixture");
    if (std::find(g->members.begin(), g->members.end(), from) == g->members.end() && g->owner != from)
      return control_error(409, "sandbox.not_a_member", "from_userid is not in that group");
  }
  Turn t;
  t.msgid = aibot_msgid();
  t.kind = "message";
  t.aibotid = b->aibotid;
  t.chatid = chatid;
  t.chattype = chattype;
  t.userid = from;
  // In groups text.content includes the "@RobotName" prefix (§10.2).
  t.text = chattype == "group" && text.rfind("@", 0) != 0 ? "@" + b->name + " " + text : text;
  t.time_ms = ctx_.now_ms();
  const std::string id = t.msgid;
  turns_[id] = std::move(t);
  order_.push_back(id);
  const Turn& turn = turns_[id];
  json plaintext = {{"msgid", id}, {"aibotid", turn.aibotid}};
  if (chattype == "group") plaintext["chatid"] = chatid;
  plaintext["chattype"] = chattype;
  plaintext["from"] = {{"userid", from}};
  plaintext["response_url"] = new_response_url(id);
  plaintext["msgtype"] = "text";
  plaintext["text"] = {{"content", turn.text}};
  if (body.contains("quote") && body["quote"].is_string())
    plaintext["quote"] = {{"msgtype", "text"}, {"text", {{"content", body["quote"].get<std::string>()}}}};
  emit(*b, id, plaintext, "aibot_text", 0);
  return control_json({{"msgid", id}, {"response_url", plaintext["response_url"]}, {"plaintext", plaintext}});
}

ApiReply AibotModule::control_click(const json& body) {
  auto task_id = string_field(body, "task_id").value_or("");
  auto card = cards_.find(task_id);
  if (card == cards_.end())
    return control_error(404, "sandbox.unknown_card", "no interactive template card with that task_id was delivered");
  const Turn& origin = turns_[card->second.second];
  const Aibot* b = bot(origin.aibotid);
  if (!b) return control_error(404, "sandbox.unknown_aibot", "robot gone");
  auto from = string_field(body, "from_userid").value_or(origin.userid);
  if (!ctx_.fixture.member(from)) return control_error(404, "sandbox.unknown_member", "from_userid is not a member");
  Turn t;
  t.msgid = aibot_msgid();
  t.kind = "click";
  t.aibotid = origin.aibotid;
  t.chatid = origin.chatid;
  t.chattype = origin.chattype;
  t.userid = from;
  t.task_id = task_id;
  t.time_ms = ctx_.now_ms();
  const std::string id = t.msgid;
  turns_[id] = std::move(t);
  order_.push_back(id);
  json ev = {{"card_type", string_field(body, "card_type").value_or("button_interaction")},
             {"event_key", string_field(body, "event_key").value_or("")},
             {"task_id", task_id}};
  if (body.contains("selected_items")) ev["selected_items"] = body["selected_items"];
  // Event shape of DOC 101027 (reference §10.3).
  json plaintext = {{"msgid", id}, {"create_time", ctx_.now_s()}, {"aibotid", origin.aibotid}};
  if (origin.chattype == "group") plaintext["chatid"] = origin.chatid;
  plaintext["chattype"] = origin.chattype;
  plaintext["from"] = {{"corpid", ctx_.fixture.corp_id}, {"userid", from}};
  plaintext["response_url"] = new_response_url(id);
  plaintext["msgtype"] = "event";
  plaintext["event"] = {{"eventtype", "template_card_event"}, {"template_card_event", ev}};
  // Sent once: no answer within 5 s → discarded, no retry (DOC 101027, reference §1.8).
  emit(*b, id, plaintext, "aibot_template_card_event", 1);
  return control_json({{"msgid", id}, {"response_url", plaintext["response_url"]}, {"plaintext", plaintext}});
}

// --- state ---

json AibotModule::state() const {
  json bots = json::array();
  for (const auto& b : bots_)
    bots.push_back({{"aibotid", b.aibotid}, {"name", b.name}, {"callback_url", b.callback_url}, {"chat_ids", b.chat_ids}});
  json turns = json::array();
  for (const auto& id : order_) {
    auto it = turns_.find(id);
    if (it == turns_.end()) continue;
    const Turn& t = it->second;
    auto r = responses_.find(t.response_code);
    turns.push_back({{"msgid", t.msgid},
                     {"kind", t.kind},
                     {"aibotid", t.aibotid},
                     {"chatid", t.chatid},
                     {"chattype", t.chattype},
                     {"from_userid", t.userid},
                     {"text", t.text},
                     {"time_ms", t.time_ms},
                     {"status", t.status},
                     {"errors", t.errors},
                     {"stream_id", t.stream_id},
                     {"stream_content", t.stream_content},
                     {"refreshes", t.refreshes},
                     {"task_id", t.task_id},
                     {"response_url_used", r != responses_.end() && r->second.used}});
  }
  return {{"aibot",
           {{"bots", bots}, {"turns", turns}, {"fixture_errors", fixture_errors_}, {"response_base", response_base()}}}};
}

json AibotModule::save() const {
  json turns = json::array();
  for (const auto& id : order_) {
    auto it = turns_.find(id);
    if (it == turns_.end()) continue;
    const Turn& t = it->second;
    turns.push_back({{"msgid", t.msgid},
                     {"kind", t.kind},
                     {"aibotid", t.aibotid},
                     {"chatid", t.chatid},
                     {"chattype", t.chattype},
                     {"userid", t.userid},
                     {"text", t.text},
                     {"time_ms", t.time_ms},
                     {"response_code", t.response_code},
                     {"status", t.status},
                     {"errors", t.errors},
                     {"stream_id", t.stream_id},
                     {"stream_content", t.stream_content},
                     {"card_sent", t.card_sent},
                     {"refreshes", t.refreshes},
                     {"task_id", t.task_id}});
  }
  json responses = json::array();
  for (const auto& [code, r] : responses_)
    responses.push_back({{"code", code}, {"turn", r.turn}, {"expires_ms", r.expires_ms}, {"used", r.used}});
  json cards = json::array();
  for (const auto& [task_id, c] : cards_) cards.push_back({{"task_id", task_id}, {"aibotid", c.first}, {"turn", c.second}});
  return {{"turns", turns}, {"responses", responses}, {"cards", cards}, {"response_base", response_base_}};
}

void AibotModule::restore(const json& saved) {
  for (const auto& j : array_field(saved, "turns")) {
    Turn t;
    t.msgid = string_field(j, "msgid").value_or("");
    if (t.msgid.empty() || turns_.count(t.msgid)) continue;
    t.kind = string_field(j, "kind").value_or("message");
    t.aibotid = string_field(j, "aibotid").value_or("");
    t.chatid = string_field(j, "chatid").value_or("");
    t.chattype = string_field(j, "chattype").value_or("group");
    t.userid = string_field(j, "userid").value_or("");
    t.text = string_field(j, "text").value_or("");
    t.time_ms = int_field(j, "time_ms").value_or(0);
    t.response_code = string_field(j, "response_code").value_or("");
    t.status = string_field(j, "status").value_or("pending");
    t.errors = string_list(j, "errors");
    t.stream_id = string_field(j, "stream_id").value_or("");
    t.stream_content = string_field(j, "stream_content").value_or("");
    t.card_sent = bool_field(j, "card_sent").value_or(false);
    t.refreshes = static_cast<int>(int_field(j, "refreshes").value_or(0));
    t.task_id = string_field(j, "task_id").value_or("");
    if (t.status == "pending" || t.status == "streaming") {
      t.status = "interrupted";
      t.errors.push_back("the sandbox stopped before the robot's answer to this turn came back");
    }
    order_.push_back(t.msgid);
    turns_[t.msgid] = std::move(t);
  }
  for (const auto& j : array_field(saved, "responses"))
    if (auto code = string_field(j, "code"))
      responses_[*code] = Response{string_field(j, "turn").value_or(""), int_field(j, "expires_ms").value_or(0),
                                   bool_field(j, "used").value_or(false)};
  for (const auto& j : array_field(saved, "cards"))
    if (auto task_id = string_field(j, "task_id"))
      cards_[*task_id] = {string_field(j, "aibotid").value_or(""), string_field(j, "turn").value_or("")};
  if (auto base = string_field(saved, "response_base"); base && !base->empty()) response_base_ = *base;
}

void AibotModule::reset() {
  turns_.clear();
  order_.clear();
  responses_.clear();
  cards_.clear();
  ++generation_;
}

std::unique_ptr<Module> make_aibot_module(Context& ctx) { return std::make_unique<AibotModule>(ctx); }

}  // namespace yuer::sandbox
