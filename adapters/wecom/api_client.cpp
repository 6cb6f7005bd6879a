#include "adapters/wecom/api_client.h"

#include "adapters/wecom/errcodes.h"

#include <boost/asio/this_coro.hpp>
#include <spdlog/spdlog.h>

namespace yuer::adapters::wecom {
namespace {

using model::OutcomeKind;
using model::SendOutcome;

// Reference §4: refresh well before expires_in (normally 7200 s) runs out.
constexpr std::chrono::seconds kRefreshMargin{300};

}  // namespace

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ApiClient::ApiClient(net::HttpsClient& http, std::string api_base) : http_(http), base_(std::move(api_base)) {}

awaitable<Reply> ApiClient::post(std::string path_and_query, std::string body) {
  return call(http::Verb::post, std::move(path_and_query), std::move(body));
}

awaitable<Reply> ApiClient::get(std::string path_and_query) {
  return call(http::Verb::get, std::move(path_and_query), {});
}

awaitable<Reply> ApiClient::call(http::Verb method, std::string path_and_query, std::string body) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (method == http::Verb::post) headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  auto res = co_await http_.request(method, base_ + path_and_query, std::move(body), std::move(headers));
  Reply r;
  if (!res) {
    r.outcome = classify_transport(res.error());
    co_return r;
  }
  if (res->status != 200) {
    r.outcome = classify_http_status(res->status);
    co_return r;
  }
  r.body = nlohmann::json::parse(res->body, nullptr, false);
  if (!r.body.is_object() || !r.body.contains("errcode") || !r.body["errcode"].is_number_integer()) {
    // A 200 without WeCom's envelope (a proxy's page, a truncated body) is treated like a 5xx.
    r.body = nullptr;
    r.outcome = SendOutcome::retry(std::chrono::milliseconds(0), 0, "企业微信应答格式异常，稍后重试");
    co_return r;
  }
  r.outcome = classify_errcode(r.body["errcode"].get<int>());
  co_return r;
}

awaitable<Reply> ApiClient::post_with_token(AccessToken& token, std::string path, std::string body) {
  for (int attempt = 0;; ++attempt) {
    auto got = co_await token.get();
    if (!got.ok) co_return Reply{got.failure, nullptr};
    Reply r = co_await post(path + "?access_token=" + url_encode(got.token), body);
    if (r.outcome.kind != OutcomeKind::kRefreshTokenAndRetry) co_return r;
    token.invalidate(got.token);
    if (attempt == 1) {
      // Refused twice in a row with fresh tokens: leave it to the outbox's backoff.
      r.outcome = SendOutcome::retry(std::chrono::milliseconds(0), r.outcome.errcode, r.outcome.reason);
      co_return r;
    }
  }
}


AccessToken::AccessToken(ApiClient& api, const Clock& clock, std::string corp_id, std::string secret)
    : api_(api), clock_(clock), corp_id_(std::move(corp_id)), secret_(std::move(secret)) {}

void AccessToken::invalidate(const std::string& stale) {
  if (token_ == stale) token_.clear();
}

void AccessToken::set_secret(std::string secret) {
  secret_ = std::move(secret);
  token_.clear();
  bad_credential_answers_ = 0;
}

awaitable<AccessToken::Got> AccessToken::get() {
  for (;;) {
    if (!token_.empty() && clock_.steady_now() < refresh_at_) co_return Got{true, token_, {}};
    if (stopped())
      co_return Got{false, {}, SendOutcome::permanent(last_failure_.errcode, last_failure_.reason)};
    if (!refreshing_) {
      co_await refresh();
      if (token_.empty()) co_return Got{false, {}, last_failure_};
      co_return Got{true, token_, {}};
    }
    // Someone else is fetching: wait until it is done, then look again.
    // The expiry is set once: re-arming a timer cancels the other waiters (they would wake each
    // other in turn for ever); cancel() at the end of a refresh wakes them all.
    if (!wake_) {
      wake_ = std::make_unique<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor);
      wake_->expires_at(boost::asio::steady_timer::time_point::max());
    }
    co_await wake_->async_wait(use_tuple);
    if (!refreshing_ && token_.empty()) co_return Got{false, {}, last_failure_};
  }
}

awaitable<void> AccessToken::refresh() {
  refreshing_ = true;
  ++fetches_;
  Reply r = co_await api_.get("/cgi-bin/gettoken?corpid=" + url_encode(corp_id_) + "&corpsecret=" + url_encode(secret_));
  if (r.outcome.kind == OutcomeKind::kDelivered && r.body.contains("access_token") &&
      r.body["access_token"].is_string() && !r.body["access_token"].get<std::string>().empty()) {
    token_ = r.body["access_token"].get<std::string>();
    std::int64_t expires_in = r.body.value("expires_in", 7200);
    if (expires_in <= 0) expires_in = 7200;
    auto lifetime = std::chrono::seconds(expires_in);
    auto margin = std::min<std::chrono::seconds>(kRefreshMargin, lifetime / 4);
    refresh_at_ = clock_.steady_now() + lifetime - margin;
    bad_credential_answers_ = 0;
  } else {
    token_.clear();
    last_failure_ = r.outcome;
    if (r.outcome.kind == OutcomeKind::kDelivered)
      last_failure_ = SendOutcome::retry(std::chrono::milliseconds(0), 0, "gettoken 应答缺少 access_token");
    if (is_bad_credential(r.outcome.errcode)) {
      ++bad_credential_answers_;
      spdlog::error("wecom gettoken refused the credentials corp={} errcode={} count={}", corp_id_, r.outcome.errcode,
                    bad_credential_answers_);
    } else if (last_failure_.kind == OutcomeKind::kRefreshTokenAndRetry) {
      last_failure_.kind = OutcomeKind::kRetryAfter;
    }
  }
  refreshing_ = false;
  if (wake_) wake_->cancel();
}

}  // namespace yuer::adapters::wecom
