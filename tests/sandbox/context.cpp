#include "tests/sandbox/module.h"

#include "tests/sandbox/callbacks.h"

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

void Context::add_delivery(Delivery d) {
  d.seq = next_seq();
  d.time_ms = now_ms();
  deliveries_.push_back(std::move(d));
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
  clock.reset();
}

}  // namespace yuer::sandbox
