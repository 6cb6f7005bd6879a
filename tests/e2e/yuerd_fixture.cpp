#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <ctime>
#include <regex>

namespace yuer::test {

YuerdFixture::YuerdFixture(std::string extra_toml, std::string api_base, std::string app_secret,
                           std::int64_t app_agent_id) {
  std::string app_outbound;
  if (!app_secret.empty()) {
    dir_.write("secrets/app_secret", app_secret);
    app_outbound = "agent_id = " + std::to_string(app_agent_id) + "\nsecret_file = \"secrets/app_secret\"\n";
  }
  dir_.write("secrets/app_token", secrets_.app_token + "\n");
  dir_.write("secrets/app_aes_key", secrets_.app_aes_key);
  dir_.write("secrets/bot_token", secrets_.bot_token);
  dir_.write("secrets/bot_aes_key", secrets_.bot_aes_key);
  dir_.write("secrets/admin_token", secrets_.admin_token);
  dir_.write("yuerd.toml", std::string(R"([server]
listen = "127.0.0.1:0"

[store]
path = "var/yuer.db"

[wecom]
api_base = ")") + api_base + R"("
corp_id = ")" + kCorpId + R"("

[wecom.app]
token_file = "secrets/app_token"
aes_key_file = "secrets/app_aes_key"
)" + app_outbound + R"(
[[wecom.bot]]
name = "county"
token_file = "secrets/bot_token"
aes_key_file = "secrets/bot_aes_key"

[time]
zone = "Asia/Shanghai"

[admin]
token_file = "secrets/admin_token"

[log]
level = "info"
)" + extra_toml);
}

YuerdFixture::~YuerdFixture() = default;

void YuerdFixture::start() {
  std::string log = dir_.path() + "/yuerd." + std::to_string(++runs_) + ".log";
  proc_ = std::make_unique<Process>(std::vector<std::string>{YUERD_BIN, "--config", config_path()}, log);
  auto out = proc_->wait_for_output("yuerd listening on http://", std::chrono::seconds(20));
  INFO(proc_->output());
  REQUIRE(out);
  std::smatch m;
  REQUIRE(std::regex_search(*out, m, std::regex("listening on (http://[0-9.]+:[0-9]+)")));
  base_ = m[1];
}

int YuerdFixture::stop() {
  if (!proc_) return -1;
  proc_->signal(SIGTERM);
  auto code = proc_->wait(std::chrono::seconds(10));
  all_logs_ += proc_->output();
  proc_.reset();
  return code ? *code : -1;
}

void YuerdFixture::kill() {
  if (!proc_) return;
  proc_->signal(SIGKILL);
  proc_->wait(std::chrono::seconds(10));
  all_logs_ += proc_->output();
  proc_.reset();
}

std::string YuerdFixture::log_text() const { return all_logs_ + (proc_ ? proc_->output() : std::string()); }

adapters::wecom::MsgCrypt YuerdFixture::app_crypt() const {
  return adapters::wecom::MsgCrypt::create(secrets_.app_token, secrets_.app_aes_key, kCorpId).value();
}

adapters::wecom::MsgCrypt YuerdFixture::bot_crypt() const {
  return adapters::wecom::MsgCrypt::create(secrets_.bot_token, secrets_.bot_aes_key, "").value();
}

std::string url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

SignedRequest sign_post(const adapters::wecom::MsgCrypt& crypt, const std::string&, const std::string& path,
                        const std::string& plaintext, bool json, std::int64_t timestamp, const std::string& nonce) {
  std::string ts = std::to_string(timestamp);
  std::string enc = crypt.encrypt(plaintext);
  std::string sig = crypt.signature(ts, nonce, enc);
  SignedRequest r;
  r.target = path + "?msg_signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce;
  if (json) {
    r.body = R"({"encrypt":")" + enc + R"("})";
  } else {
    r.body = std::string("<xml><ToUserName><![CDATA[") + kCorpId + "]]></ToUserName><Encrypt><![CDATA[" + enc +
             "]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>";
  }
  return r;
}

}  // namespace yuer::test
