#include "adapters/kf/window.h"

#include "daemon/base/secure.h"

namespace yuer::adapters::kf {
namespace {

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

Verdict judge(const store::KfWindow& w, std::int64_t now_ms, const WindowRules& rules) {
  if (w.last_customer_ms <= 0) return Verdict::kNeverWrote;
  if (now_ms >= w.last_customer_ms + (rules.window - rules.margin).count()) return Verdict::kClosed;
  if (w.blocked_ms == w.last_customer_ms) return Verdict::kRefused;
  if (w.counted) return Verdict::kSend;  // a retry of a message already counted in this window
  if (w.sends >= rules.max_sends) return Verdict::kQuotaUsed;
  return Verdict::kSend;
}

std::string wait_reason(Verdict v) {
  switch (v) {
    case Verdict::kSend: return {};
    case Verdict::kNeverWrote: return "家长还没有给客服发过消息，等待家长先发消息";
    case Verdict::kClosed: return "距家长上一条消息已超过 48 小时，等待家长再次发消息";
    case Verdict::kQuotaUsed: return "已向该家长发满 5 条消息，等待家长再次发消息";
    case Verdict::kRefused: return "企业微信拒绝在本次会话窗口内继续发送，等待家长再次发消息";
  }
  return {};
}

std::optional<Target> parse_target(std::string_view target) {
  auto slash = target.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto a = target.substr(0, slash), b = target.substr(slash + 1);
  if (!is_id(a) || !is_id(b)) return std::nullopt;
  return Target{std::string(a), std::string(b)};
}

std::string format_target(const Target& t) { return t.open_kfid + "/" + t.external_userid; }

std::string msgid_for(std::string_view idempotency_key) { return sha256_hex(idempotency_key).substr(0, 32); }

}  // namespace yuer::adapters::kf
