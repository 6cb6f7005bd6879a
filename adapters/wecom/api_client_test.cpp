// ApiClient and AccessToken against a scripted WeCom stand-in on 127.0.0.1:0 (real sockets, real
// HttpsClient). The stand-in records every request so the tests assert on what was sent.
#include "adapters/wecom/api_client.h"

#include "adapters/wecom/errcodes.h"
#include "daemon/net/http_test_support.h"

#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>

#include <deque>
#include <mutex>

namespace yuer::adapters::wecom {
namespace {

using namespace net::testing;
using model::OutcomeKind;
using nlohmann::json;

struct Script {
  std::mutex mu;
  std::deque<std::string> send_answers;  // bodies for /cgi-bin/message/send, then {"errcode":0}
  int gettoken_errcode = 0;
  int gettokens = 0;
  int sends = 0;
  std::vector<std::string> send_tokens;
};

awaitable<http::Response> fake_wecom(http::Request req, Script* s) {
  // One gettoken answer after a short delay, so concurrent callers overlap with the refresh.
  std::string target(req.target());
  if (target.starts_with("/cgi-bin/gettoken")) {
    asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
    co_await t.async_wait(use_tuple);
    std::lock_guard lock(s->mu);
    ++s->gettokens;
    json body = s->gettoken_errcode ? json{{"errcode", s->gettoken_errcode}, {"errmsg", "invalid credential"}}
                                    : json{{"errcode", 0}, {"errmsg", "ok"},
                                           {"access_token", "tok" + std::to_string(s->gettokens)},
                                           {"expires_in", 7200}};
    co_return http::make_response(req, http::Status::ok, body.dump(), "application/json");
  }
  std::lock_guard lock(s->mu);
  ++s->sends;
  s->send_tokens.push_back(target.substr(target.find("access_token=") + 13));
  std::string body = R"({"errcode":0,"errmsg":"ok","msgid":"m1"})";
  if (!s->send_answers.empty()) {
    body = s->send_answers.front();
    s->send_answers.pop_front();
  }
  co_return http::make_response(req, http::Status::ok, body, "application/json");
}

struct Harness {
  Script script;
  TestServer server{{}, {[this] {
                      net::Route r;
                      r.path = "/cgi-bin/";
                      r.match = net::Route::Match::kPrefix;
                      r.label = "wecom";
                      r.handler = [s = &script](http::Request req) { return fake_wecom(std::move(req), s); };
                      return r;
                    }()}};
  ManualClock clock;
  asio::io_context ioc;
  net::HttpsClient http{ioc.get_executor(), {}};
  ApiClient api{http, "http://127.0.0.1:" + std::to_string(server.port())};
  AccessToken token{api, clock, "wwcorp", "secret-value"};
};

awaitable<void> send_n(ApiClient* api, AccessToken* token, int n, std::vector<Reply>* out) {
  for (int i = 0; i < n; ++i) out->push_back(co_await api->post_with_token(*token, "/cgi-bin/message/send", "{}"));
}

std::vector<Reply> run_parallel(Harness& h, int callers, int each = 1) {
  std::vector<std::vector<Reply>> per(static_cast<std::size_t>(callers));
  for (auto& v : per) asio::co_spawn(h.ioc, send_n(&h.api, &h.token, each, &v), asio::detached);
  h.ioc.restart();
  h.ioc.run();
  std::vector<Reply> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  return all;
}

TEST_CASE("access token: one fetch for concurrent callers, reused until near expiry", "[wecom][token]") {
  Harness h;
  auto replies = run_parallel(h, 5);
  REQUIRE(replies.size() == 5);
  for (auto& r : replies) CHECK(r.outcome.kind == OutcomeKind::kDelivered);
  CHECK(h.script.gettokens == 1);
  CHECK(h.token.fetches() == 1);

  h.clock.advance(std::chrono::seconds(7200 - 301));
  run_parallel(h, 1);
  CHECK(h.script.gettokens == 1);
  h.clock.advance(std::chrono::seconds(2));  // inside the 300 s margin: refreshed before expiry
  run_parallel(h, 1);
  CHECK(h.script.gettokens == 2);
  CHECK(h.script.send_tokens.back() == "tok2");
}

TEST_CASE("access token: 42001 and 40014 refresh and retry once", "[wecom][token]") {
  auto [first, second, expect, sends] = GENERATE(table<std::string, std::string, OutcomeKind, int>({
      {R"({"errcode":42001,"errmsg":"expired"})", "", OutcomeKind::kDelivered, 2},
      {R"({"errcode":40014,"errmsg":"invalid"})", "", OutcomeKind::kDelivered, 2},
      // Refused again with a fresh token: no third call; the outbox backs off.
      {R"({"errcode":40014,"errmsg":"invalid"})", R"({"errcode":40014,"errmsg":"invalid"})",
       OutcomeKind::kRetryAfter, 2},
  }));
  CAPTURE(first, second);
  Harness h;
  h.script.send_answers.push_back(first);
  if (!second.empty()) h.script.send_answers.push_back(second);
  auto replies = run_parallel(h, 1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].outcome.kind == expect);
  CHECK(h.script.sends == sends);
  CHECK(h.script.gettokens == 2);
  REQUIRE(h.script.send_tokens.size() == 2);
  CHECK(h.script.send_tokens[0] == "tok1");
  CHECK(h.script.send_tokens[1] == "tok2");
}

TEST_CASE("access token: repeated bad secret stops gettoken calls", "[wecom][token]") {
  Harness h;
  h.script.gettoken_errcode = 40001;
  auto replies = run_parallel(h, 1, 5);
  REQUIRE(replies.size() == 5);
  for (auto& r : replies) {
    CHECK(r.outcome.kind == OutcomeKind::kPermanent);
    CHECK(r.outcome.errcode == 40001);
    CHECK(r.outcome.reason.find("secret-value") == std::string::npos);
  }
  CHECK(h.script.gettokens == AccessToken::kStopAfterBadCredentials);
  CHECK(h.script.sends == 0);
  CHECK(h.token.stopped());
  h.script.gettoken_errcode = 0;
  h.token.set_secret("fixed");
  auto after = run_parallel(h, 1);
  CHECK(after[0].outcome.kind == OutcomeKind::kDelivered);
}

TEST_CASE("errcode table: WeCom answers map to outbox outcomes", "[wecom][errcodes]") {
  auto [errcode, kind] = GENERATE(table<int, OutcomeKind>({
      {0, OutcomeKind::kDelivered},
      {-1, OutcomeKind::kRetryAfter},
      {45009, OutcomeKind::kRetryAfter},
      {45033, OutcomeKind::kRetryAfter},
      {6000, OutcomeKind::kRetryAfter},
      {40014, OutcomeKind::kRefreshTokenAndRetry},
      {42001, OutcomeKind::kRefreshTokenAndRetry},
      {40001, OutcomeKind::kPermanent},
      {93000, OutcomeKind::kPermanent},
      {93004, OutcomeKind::kPermanent},
      {81013, OutcomeKind::kPermanent},
      {40058, OutcomeKind::kPermanent},
      {86003, OutcomeKind::kPermanent},
      {123456, OutcomeKind::kPermanent},
  }));
  CAPTURE(errcode);
  auto o = classify_errcode(errcode);
  CHECK(o.kind == kind);
  if (kind == OutcomeKind::kPermanent) {
    CHECK(o.errcode == errcode);
    CHECK_FALSE(o.reason.empty());
  }
  if (errcode == 45009) CHECK(o.retry_after >= std::chrono::seconds(60));
}

TEST_CASE("errcode table: HTTP statuses and transport failures", "[wecom][errcodes]") {
  auto [status, kind] = GENERATE(table<unsigned, OutcomeKind>({{500, OutcomeKind::kRetryAfter},
                                                               {502, OutcomeKind::kRetryAfter},
                                                               {503, OutcomeKind::kRetryAfter},
                                                               {429, OutcomeKind::kRetryAfter},
                                                               {404, OutcomeKind::kPermanent},
                                                               {403, OutcomeKind::kPermanent}}));
  CAPTURE(status);
  CHECK(classify_http_status(status).kind == kind);
  auto [code, tkind] = GENERATE(table<std::string, OutcomeKind>({{"http.timeout", OutcomeKind::kRetryAfter},
                                                                 {"http.unreachable", OutcomeKind::kRetryAfter},
                                                                 {"http.protocol", OutcomeKind::kRetryAfter},
                                                                 {"http.tls", OutcomeKind::kRetryAfter},
                                                                 {"http.insecure", OutcomeKind::kPermanent},
                                                                 {"http.bad_url", OutcomeKind::kPermanent}}));
  CAPTURE(code);
  CHECK(classify_transport(Error{code, "x"}).kind == tkind);
}

}  // namespace
}  // namespace yuer::adapters::wecom
