// A real yuerd process for end-to-end tests: config, secrets (mode 0600) and store in a temp
// folder, listening on 127.0.0.1 with an ephemeral port read back from its log.
#pragma once

#include "adapters/wecom/crypto.h"
#include "daemon/net/http_client.h"
#include "tests/support/process.h"

#include <cstdint>
#include <memory>
#include <string>

namespace yuer::test {

inline constexpr const char* kCorpId = "wwe2e0000000001";

struct Secrets {
  std::string app_token = "AppToken2e2Xk9";
  std::string app_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
  std::string bot_token = "BotTokenE2e7Q";
  std::string bot_aes_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
  std::string admin_token = "admin-token-e2e-0123456789abcdef";
};

class YuerdFixture {
 public:
  // `api_base` is wecom.api_base (a wecom-sandbox URL for outbound tests). `app_secret`, when not
  // empty, is written to secrets/app_secret and configured with agent_id `app_agent_id` (the
  // "app"/"appchat" routes, customer-group tasks, kf).
  explicit YuerdFixture(std::string extra_toml = {}, std::string api_base = "http://127.0.0.1:9",
                        std::string app_secret = {}, std::int64_t app_agent_id = 1000002);
  ~YuerdFixture();

  // Starts yuerd (again, after stop()) and waits until it listens; REQUIREs success.
  void start();
  // SIGTERM and wait; returns the exit code (-1 if it did not exit in 10 s).
  int stop();
  // SIGKILL (a crash) and reap.
  void kill();

  std::string url(const std::string& path) const { return base_ + path; }
  // The running yuerd's process id (-1 when not running).
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  const TempDir& dir() const { return dir_; }
  const Secrets& secrets() const { return secrets_; }
  std::string config_path() const { return dir_.path() + "/yuerd.toml"; }
  std::string store_path() const { return dir_.path() + "/var/yuer.db"; }
  std::string log_text() const;
  adapters::wecom::MsgCrypt app_crypt() const;
  adapters::wecom::MsgCrypt bot_crypt() const;

 private:
  TempDir dir_;
  Secrets secrets_;
  std::unique_ptr<Process> proc_;
  std::string base_;
  int runs_ = 0;
  std::string all_logs_;
};

// A signed callback request: the target (path + query) and the body.
struct SignedRequest {
  std::string target;
  std::string body;
};

// Encrypts `plaintext` and signs it the way WeCom does; XML or JSON envelope.
SignedRequest sign_post(const adapters::wecom::MsgCrypt& crypt, const std::string& token, const std::string& path,
                        const std::string& plaintext, bool json, std::int64_t timestamp, const std::string& nonce);

// URL-encodes a query value (RFC 3986 unreserved characters stay).
std::string url_encode(const std::string& s);

}  // namespace yuer::test
