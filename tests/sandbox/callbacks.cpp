#include "tests/sandbox/callbacks.h"

#include "daemon/net/http_client.h"
#include "tests/sandbox/wire.h"

#include <pugixml.hpp>

#include <thread>

namespace yuer::sandbox {

using adapters::wecom::MsgCrypt;

std::string cdata(std::string_view s) {
  std::string out = "<![CDATA[";
  std::size_t pos = 0;
  for (auto hit = s.find("]]>"); hit != std::string_view::npos; hit = s.find("]]>", pos)) {
    out.append(s.substr(pos, hit + 2 - pos));
    out += "]]><![CDATA[";
    pos = hit + 2;
  }
  out.append(s.substr(pos));
  out += "]]>";
  return out;
}

std::string app_text_message_xml(std::string_view corp_id, std::string_view from_user, std::string_view content,
                                 std::int64_t create_time, std::string_view msg_id, std::int64_t agent_id) {
  // Element order and CDATA-vs-bare as in the official sample of DOC 90239 (numbers are bare).
  return "<xml><ToUserName>" + cdata(corp_id) + "</ToUserName><FromUserName>" + cdata(from_user) +
         "</FromUserName><CreateTime>" + std::to_string(create_time) + "</CreateTime><MsgType>" + cdata("text") +
         "</MsgType><Content>" + cdata(content) + "</Content><MsgId>" + std::string(msg_id) + "</MsgId><AgentID>" +
         std::to_string(agent_id) + "</AgentID></xml>";
}

SignedCallback sign_app_callback(const MsgCrypt& crypt, std::string_view corp_id, std::int64_t agent_id,
                                 std::string_view plaintext, std::string_view timestamp, std::string_view nonce) {
  std::string encrypted = crypt.encrypt(plaintext);
  SignedCallback s;
  s.query = "msg_signature=" + crypt.signature(timestamp, nonce, encrypted) + "&timestamp=" + std::string(timestamp) +
            "&nonce=" + std::string(nonce);
  // Envelope as in DOC 91144 举例说明 (AgentID as CDATA there, §1.9 item 7).
  s.body = "<xml><ToUserName>" + cdata(corp_id) + "</ToUserName><Encrypt>" + cdata(encrypted) +
           "</Encrypt><AgentID>" + cdata(std::to_string(agent_id)) + "</AgentID></xml>";
  return s;
}

SignedCallback sign_json_callback(const MsgCrypt& crypt, std::string_view plaintext, std::string_view timestamp,
                                  std::string_view nonce) {
  std::string encrypted = crypt.encrypt(plaintext);
  SignedCallback s;
  s.query = "msg_signature=" + crypt.signature(timestamp, nonce, encrypted) + "&timestamp=" + std::string(timestamp) +
            "&nonce=" + std::string(nonce);
  s.body = nlohmann::json{{"encrypt", encrypted}}.dump();
  return s;
}

std::string sign_verify_query(const MsgCrypt& crypt, std::string_view echo_plaintext, std::string_view timestamp,
                              std::string_view nonce) {
  std::string echostr = crypt.encrypt(echo_plaintext);
  return "msg_signature=" + crypt.signature(timestamp, nonce, echostr) + "&timestamp=" + std::string(timestamp) +
         "&nonce=" + std::string(nonce) + "&echostr=" + url_encode(echostr);
}

std::string with_query(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

namespace {

// Checks a passive reply to an XML callback as WeCom does (§6.4, §13.5): the envelope
// <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>, the signature over its own timestamp,
// nonce and Encrypt, then decryption with receiveid = corp id. Sets rec.reply or rec.reply_error.
void check_passive_reply(const MsgCrypt& crypt, const std::string& body, CallbackRecord& rec) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size(), pugi::parse_default & ~pugi::parse_doctype)) {
    rec.reply_error = "passive reply is not XML";
    return;
  }
  auto xml = doc.child("xml");
  std::string encrypted = xml.child_value("Encrypt");
  if (encrypted.empty()) {
    rec.reply_error = "passive reply has no Encrypt";
    return;
  }
  auto plain = crypt.verify_and_decrypt(xml.child_value("MsgSignature"), xml.child_value("TimeStamp"),
                                        xml.child_value("Nonce"), encrypted);
  if (!plain) {
    rec.reply_error = plain.error().code + ": " + plain.error().message;
    return;
  }
  rec.reply = std::move(*plain);
}

}  // namespace

CallbackRecord deliver_callback(const CallbackJob& job, const Clock& clock) {
  CallbackRecord rec;
  rec.kind = job.kind == CallbackJob::Kind::kVerify ? "verify" : job.kind == CallbackJob::Kind::kJson ? "json" : "message";
  rec.label = job.label;
  rec.agent_id = job.agent_id;
  rec.url = job.url;
  rec.plaintext = job.plaintext;
  rec.msg_id = job.msg_id;
  // The JSON variant (intelligent robot) has no receiveid in its plaintext (§1.7).
  auto crypt = MsgCrypt::create(job.token, job.aes_key, job.kind == CallbackJob::Kind::kJson ? "" : job.corp_id);
  if (!crypt) {
    CallbackAttempt a;
    a.error = crypt.error().code + ": " + crypt.error().message;
    rec.attempts.push_back(std::move(a));
    return rec;
  }
  const int attempts = std::max(1, job.policy.attempts);
  for (int n = 1; n <= attempts; ++n) {
    if (n > 1 && job.policy.retry_delay.count() > 0) std::this_thread::sleep_for(job.policy.retry_delay);
    CallbackAttempt a;
    a.number = n;
    a.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
    std::string timestamp = std::to_string(clock.unix_seconds());
    std::string nonce = random_digits(10);
    std::string url;
    std::string body;
    http::Verb verb = http::Verb::post;
    std::vector<std::pair<std::string, std::string>> headers;
    if (job.kind == CallbackJob::Kind::kVerify) {
      verb = http::Verb::get;
      url = with_query(job.url, sign_verify_query(*crypt, job.plaintext, timestamp, nonce));
    } else if (job.kind == CallbackJob::Kind::kJson) {
      auto s = sign_json_callback(*crypt, job.plaintext, timestamp, nonce);
      url = with_query(job.url, s.query);
      body = std::move(s.body);
      headers.emplace_back("Content-Type", "application/json");
    } else {
      auto s = sign_app_callback(*crypt, job.corp_id, job.agent_id, job.plaintext, timestamp, nonce);
      url = with_query(job.url, s.query);
      body = std::move(s.body);
      headers.emplace_back("Content-Type", "text/xml");
    }
    auto scheme_end = url.find("://");
    auto path_start = scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
    a.target = path_start == std::string::npos ? url : url.substr(path_start);
    auto res = net::http_request(verb, url, std::move(body), std::move(headers), job.policy.timeout);
    if (!res) {
      a.error = res.error().code + ": " + res.error().message;
    } else {
      a.status = res->status;
      a.body = res->body.substr(0, 64 * 1024);  // passive replies (streams, cards) can be long
    }
    bool ok = a.status == 200 && (job.kind != CallbackJob::Kind::kVerify || a.body == job.plaintext);
    rec.attempts.push_back(std::move(a));
    if (ok) {
      rec.delivered = true;
      if (job.kind == CallbackJob::Kind::kMessage && !rec.attempts.back().body.empty())
        check_passive_reply(*crypt, res->body, rec);
      break;
    }
    // A verification that got a 200 with the wrong answer is a failure of the receiver, not of the
    // transport: WeCom shows an error to the admin and does not retry.
    if (job.kind == CallbackJob::Kind::kVerify && rec.attempts.back().status == 200) break;
  }
  return rec;
}

nlohmann::json to_json(const CallbackRecord& r) {
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& a : r.attempts)
    attempts.push_back({{"number", a.number}, {"time_ms", a.time_ms}, {"status", a.status}, {"error", a.error},
                        {"body", a.body}, {"target", a.target}});
  return {{"seq", r.seq},           {"kind", r.kind},         {"label", r.label}, {"agent_id", r.agent_id},
          {"url", r.url},           {"plaintext", r.plaintext}, {"msg_id", r.msg_id},
          {"delivered", r.delivered}, {"attempts", attempts}, {"reply", r.reply}, {"reply_error", r.reply_error}};
}

}  // namespace yuer::sandbox
