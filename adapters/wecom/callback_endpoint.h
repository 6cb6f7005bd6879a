// CallbackEndpoint: one WeCom callback URL. GET answers URL verification with the decrypted
// echostr; POST verifies, decrypts, parses, commits the event to the Inbox and only then answers
// 200. Invariant: nothing is acknowledged that is not on disk; rejected requests store nothing.
// https://developer.work.weixin.qq.com/document/path/91144 (crypto), /96466 (5 s, retries)
#pragma once

#include "adapters/wecom/callback_parse.h"
#include "adapters/wecom/crypto.h"
#include "adapters/wecom/replay_cache.h"
#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/model/inbox.h"
#include "daemon/net/asio.h"
#include "daemon/net/http_types.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace yuer::adapters::wecom {

struct ReceiverConfig {
  std::string name;     // "app", "bot/<name>": the inbox's receiver column and the metric label
  std::string channel;  // adapter name stored with each event: "app", "aibot"
  EnvelopeFormat format = EnvelopeFormat::kXml;
  std::string token;       // secret
  std::string aes_key;     // secret, 43 chars
  std::string receive_id;  // corpid, or "" for robots
  std::int64_t replay_window_s = 300;
  std::size_t replay_cache_size = 100000;
};

class CallbackEndpoint {
 public:
  // Fails with the MsgCrypt error when the token or key is unusable. `inbox`, `clock` and
  // `metrics` must outlive the endpoint.
  static Result<std::unique_ptr<CallbackEndpoint>> create(ReceiverConfig config, model::Inbox& inbox,
                                                          const Clock& clock, metrics::Registry& metrics);

  // Answers one request; never throws for bad input (4xx with a JSON error and a counted reason),
  // answers 503 when the store cannot commit (WeCom then retries). Thread-safe: called on any io
  // thread, several at once (MsgCrypt is swapped under a lock, the replay cache has one, the
  // OpenSSL contexts are per thread); `inbox` must then be thread-safe too.
  awaitable<http::Response> handle(http::Request req);

  // Replaces token and key (SIGHUP), from any thread. On error the old ones stay in force;
  // requests already past the signature check finish with the old ones.
  Result<void> rekey(const std::string& token, const std::string& aes_key);

  const std::string& name() const { return config_.name; }

 private:
  CallbackEndpoint(ReceiverConfig config, MsgCrypt crypt, model::Inbox& inbox, const Clock& clock,
                   metrics::Registry& metrics);
  http::Response reject(const http::Request& req, const Error& e);
  awaitable<http::Response> deliver(http::Request req);

  std::shared_ptr<const MsgCrypt> crypt() const;

  ReceiverConfig config_;
  mutable std::mutex crypt_mu_;
  std::shared_ptr<const MsgCrypt> crypt_;  // guarded by crypt_mu_; replaced whole by rekey()
  model::Inbox& inbox_;
  const Clock& clock_;
  metrics::Registry& metrics_;
  std::mutex replays_mu_;
  ReplayCache replays_;  // guarded by replays_mu_
  metrics::Counter& verified_;
  metrics::Counter& stored_;
  metrics::Counter& duplicates_;
  metrics::Counter& replayed_;
};

}  // namespace yuer::adapters::wecom
