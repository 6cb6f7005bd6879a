// ApiClient: WeCom's JSON API over net::HttpsClient. Every answer becomes a Reply whose outcome
// comes from errcodes.cpp; calls that need an access token get it from an AccessToken cache and
// are retried once with a fresh token on 40014/42001. Never throws for remote or network failures.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/model/outbox_item.h"
#include "daemon/net/asio.h"
#include "daemon/net/https_client.h"

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace yuer::adapters::wecom {

struct Reply {
  model::SendOutcome outcome;
  nlohmann::json body;  // the parsed JSON answer (null when there was none)
};

class ApiClient;

// The access token of one (corp_id, secret): fetched on demand, refreshed before it expires, one
// refresh at a time (others wait for it). Repeated bad-credential answers stop gettoken calls
// until set_secret() (WeCom bans the IP for an hour after many). Use on the io thread only.
class AccessToken {
 public:
  // `api` and `clock` must outlive this object.
  AccessToken(ApiClient& api, const Clock& clock, std::string corp_id, std::string secret);

  struct Got {
    bool ok = false;
    std::string token;
    model::SendOutcome failure;  // when !ok: why there is no token
  };
  // A valid token, fetching one if none is cached or the cached one is near expiry.
  awaitable<Got> get();
  // Drops `stale` if it is still the cached token (after WeCom refused it).
  void invalidate(const std::string& stale);
  // New secret (reload): clears the cache and the bad-credential stop.
  void set_secret(std::string secret);

  std::uint64_t fetches() const { return fetches_; }
  bool stopped() const { return bad_credential_answers_ >= kStopAfterBadCredentials; }

  static constexpr int kStopAfterBadCredentials = 2;

 private:
  awaitable<void> refresh();

  ApiClient& api_;
  const Clock& clock_;
  std::string corp_id_;
  std::string secret_;
  std::string token_;
  std::chrono::steady_clock::time_point refresh_at_{};  // our clock; refresh from then on
  bool refreshing_ = false;
  std::unique_ptr<boost::asio::steady_timer> wake_;  // waiters of an in-flight refresh
  model::SendOutcome last_failure_;
  int bad_credential_answers_ = 0;
  std::uint64_t fetches_ = 0;
};

class ApiClient {
 public:
  // `http` must outlive this object. `api_base` is "https://qyapi.weixin.qq.com" (no trailing /).
  ApiClient(net::HttpsClient& http, std::string api_base);

  // POST `body` (JSON) to api_base + `path_and_query`. The query may hold a secret (webhook key):
  // it is never logged.
  awaitable<Reply> post(std::string path_and_query, std::string body);
  awaitable<Reply> get(std::string path_and_query);
  // POST with "?access_token=" from `token`; on a refused token, one fresh token and one retry.
  awaitable<Reply> post_with_token(AccessToken& token, std::string path, std::string body);


 private:
  awaitable<Reply> call(http::Verb method, std::string path_and_query, std::string body);

  net::HttpsClient& http_;
  std::string base_;
};

// Percent-encodes a query value.
std::string url_encode(std::string_view s);

}  // namespace yuer::adapters::wecom
