#include "tests/sandbox/module.h"

#include "tests/sandbox/callbacks.h"

#include <algorithm>

namespace yuer::sandbox {

using nlohmann::json;
namespace chr = std::chrono;

// --- ControlledClock ---

chr::milliseconds ControlledClock::extra_locked(chr::system_clock::time_point base_now) const {
  if (rate_ == 1.0) return chr::milliseconds(0);
  const double elapsed = static_cast<double>(chr::duration_cast<chr::milliseconds>(base_now - anchor_).count());
  return chr::milliseconds(static_cast<std::int64_t>(elapsed * (rate_ - 1.0)));
}

chr::system_clock::time_point ControlledClock::now() const {
  std::lock_guard lock(mu_);
  if (frozen_at_) return *frozen_at_;
  const auto b = base_.now();
  return b + offset_ + extra_locked(b);
}

chr::steady_clock::time_point ControlledClock::steady_now() const {
  std::lock_guard lock(mu_);
  return base_.steady_now() + offset_ + extra_locked(base_.now());
}

void ControlledClock::advance(chr::milliseconds d) {
  std::lock_guard lock(mu_);
  offset_ += d;
  if (frozen_at_) *frozen_at_ += d;
}

void ControlledClock::freeze(bool on) {
  std::lock_guard lock(mu_);
  const auto b = base_.now();
  if (on && !frozen_at_) frozen_at_ = b + offset_ + extra_locked(b);
  if (!on && frozen_at_) {
    // Time resumes from where it stood.
    offset_ = chr::duration_cast<chr::milliseconds>(*frozen_at_ - b);
    anchor_ = b;
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
  rate_ = 1.0;
  frozen_at_.reset();
}

void ControlledClock::set_rate(double rate) {
  std::lock_guard lock(mu_);
  const auto b = base_.now();
  offset_ += extra_locked(b);
  anchor_ = b;
  rate_ = rate;
}

double ControlledClock::rate() const {
  std::lock_guard lock(mu_);
  return frozen_at_ ? 0.0 : rate_;
}

// --- Context ---

Context::Context(Fixture f, const Clock& base_clock, Settings s)
    : fixture(std::move(f)), settings(std::move(s)), clock(base_clock) {
  if (!settings.callback_url_override.empty())
    for (auto& a : fixture.apps)
      if (a.callback_url.empty()) a.callback_url = settings.callback_url_override;
}

std::int64_t Context::now_ms() const {
  return chr::duration_cast<chr::milliseconds>(clock.now().time_since_epoch()).count();
}

ApiReply Context::error(int errcode, std::string_view detail) const { return wecom_error(errcode, detail, now_s()); }

std::variant<const App*, ApiReply> Context::check_token(const Target& t) const {
  auto token = t.param("access_token");
  if (!token || token->empty()) return error(41001);
  auto it = tokens_.find(*token);
  if (it == tokens_.end()) return error(40014);
  if (clock.now() >= it->second.expires_at) return error(42001);
  const App* app = fixture.app(it->second.agent_id);
  if (!app) return error(40014);
  return app;
}

std::string Context::issue_token(const App& app) {
  // A fresh token per call; earlier ones stay valid until they expire. Whether WeCom returns the
  // same token within validity is [UNCERTAIN] (§4), so clients must not depend on either.
  std::string token = random_alnum(128);
  tokens_[token] = TokenInfo{app.agent_id, clock.now() + settings.token_lifetime};
  return token;
}

std::variant<Context::AppCall, ApiReply> Context::begin_app_call(
    const ApiRequest& req, const Target& t, const std::function<std::optional<ApiReply>(const App&)>& check) const {
  // 43002 "需要POST请求" is the code of the WeChat/WeCom global table [UNCERTAIN: not captured from WeCom].
  if (req.method != "POST") return error(43002);
  auto checked = check_token(t);
  if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
  const App* app = std::get<const App*>(checked);
  if (check)
    if (auto refused = check(*app)) return *refused;
  if (req.body.empty()) return error(44002, "empty post data");
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error(40058, "invalid json. invalid Request Parameter");
  return AppCall{app, std::move(body)};
}

void Context::add_delivery(Delivery d) {
  d.seq = next_seq();
  d.time_ms = now_ms();
  deliveries_.push_back(std::move(d));
  while (deliveries_.size() > std::max<std::size_t>(settings.max_records, 1)) deliveries_.pop_front();
}

std::optional<CallbackJob> Context::app_callback(const App& app, std::string plaintext_xml, std::string label) const {
  if (app.callback_url.empty()) return std::nullopt;
  CallbackJob job;
  job.kind = CallbackJob::Kind::kMessage;
  job.url = app.callback_url;
  job.corp_id = fixture.corp_id;
  job.agent_id = app.agent_id;
  job.token = app.token;
  job.aes_key = app.aes_key;
  job.plaintext = std::move(plaintext_xml);
  job.label = std::move(label);
  job.policy = settings.callback;
  return job;
}

std::vector<CallbackJob> Context::take_callbacks() {
  std::vector<CallbackJob> out;
  out.swap(pending_callbacks_);
  return out;
}

std::string Context::new_msg_id() {
  // MsgId is 64-bit (§14); unique per sandbox run: time-based high bits plus a counter.
  return std::to_string((static_cast<std::uint64_t>(now_ms()) << 12) + (++next_msg_id_ & 0xFFF));
}

bool Context::media_usable(const std::string& media_id, const std::string& scope) const {
  auto it = media.find(media_id);
  if (it == media.end()) return false;
  constexpr std::int64_t kThreeDays = 3 * 24 * 3600;
  if (now_s() >= it->second.created_at_s + kThreeDays) return false;
  return it->second.scope == scope;
}

std::string Context::issue_response_code(std::int64_t agent_id, std::vector<std::string> userids,
                                         std::string card_type) {
  constexpr std::int64_t k72h = 72LL * 3600 * 1000;
  std::string code = random_alnum(43);
  response_codes[code] = ResponseCode{agent_id, std::move(userids), std::move(card_type), now_ms() + k72h, false};
  return code;
}

bool Context::admit(std::deque<std::int64_t>& window, int limit, std::int64_t window_ms, std::int64_t now) {
  while (!window.empty() && window.front() <= now - window_ms) window.pop_front();
  if (static_cast<int>(window.size()) >= limit) return false;
  window.push_back(now);
  return true;
}

void Context::reset() {
  tokens_.clear();
  deliveries_.clear();
  pending_callbacks_.clear();
  media.clear();
  response_codes.clear();
  clock.reset();
}

json Context::save() const {
  json deliveries = json::array();
  for (const auto& d : deliveries_)
    deliveries.push_back({{"seq", d.seq},         {"time_ms", d.time_ms}, {"channel", d.channel}, {"chat_id", d.chat_id},
                          {"userid", d.userid},   {"msgtype", d.msgtype}, {"message", d.message}, {"dropped", d.dropped},
                          {"from", d.from}});
  json media_out = json::array();
  for (const auto& [id, m] : media)
    media_out.push_back({{"media_id", id}, {"type", m.type}, {"filename", m.filename}, {"size", m.size},
                         {"scope", m.scope}, {"created_at", m.created_at_s}});
  json codes = json::array();
  for (const auto& [code, rc] : response_codes)
    codes.push_back({{"code", code}, {"agent_id", rc.agent_id}, {"userids", rc.userids}, {"card_type", rc.card_type},
                     {"expires_ms", rc.expires_ms}, {"used", rc.used}});
  return {{"next_seq", next_seq_}, {"next_msg_id", next_msg_id_}, {"deliveries", deliveries},
          {"media", media_out}, {"response_codes", codes}};
}

void Context::restore(const json& saved) {
  if (!saved.is_object()) return;
  for (const auto& j : array_field(saved, "deliveries")) {
    if (!j.is_object()) continue;
    Delivery d;
    d.seq = int_field(j, "seq").value_or(0);
    d.time_ms = int_field(j, "time_ms").value_or(0);
    d.channel = string_field(j, "channel").value_or("");
    d.chat_id = string_field(j, "chat_id").value_or("");
    d.userid = string_field(j, "userid").value_or("");
    d.msgtype = string_field(j, "msgtype").value_or("");
    d.message = j.contains("message") ? j["message"] : json::object();
    d.dropped = bool_field(j, "dropped").value_or(false);
    d.from = string_field(j, "from").value_or("");
    deliveries_.push_back(std::move(d));
  }
  while (deliveries_.size() > std::max<std::size_t>(settings.max_records, 1)) deliveries_.pop_front();
  for (const auto& j : array_field(saved, "media")) {
    auto id = string_field(j, "media_id");
    if (!id) continue;
    media[*id] = Media{*id,
                       string_field(j, "type").value_or(""),
                       string_field(j, "filename").value_or(""),
                       static_cast<std::size_t>(std::max<std::int64_t>(0, int_field(j, "size").value_or(0))),
                       string_field(j, "scope").value_or(""),
                       int_field(j, "created_at").value_or(0)};
  }
  for (const auto& j : array_field(saved, "response_codes")) {
    auto code = string_field(j, "code");
    if (!code) continue;
    response_codes[*code] = ResponseCode{int_field(j, "agent_id").value_or(0), string_list(j, "userids"),
                                         string_field(j, "card_type").value_or(""), int_field(j, "expires_ms").value_or(0),
                                         bool_field(j, "used").value_or(false)};
  }
  next_seq_ = std::max(next_seq_, int_field(saved, "next_seq").value_or(1));
  next_msg_id_ = std::max<std::uint64_t>(
      next_msg_id_, static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_field(saved, "next_msg_id").value_or(0))));
}

}  // namespace yuer::sandbox
