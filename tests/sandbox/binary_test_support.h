// For sandbox tests that start the real `wecom-sandbox` binary (WECOM_SANDBOX_BIN, from
// tests/support/paths.h): on 127.0.0.1:0 with a fixture written to a
// temporary folder, its address read from the first line, killed when the handle goes away.
#pragma once

#include "daemon/net/http_client.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace yuer::sandbox::testing {

class SandboxBinary {
 public:
  // Starts `wecom-sandbox --listen 127.0.0.1:0 --fixture <fixture> <extra_args…>` and REQUIREs that
  // it listens within 20 s. `dir` holds the fixture and the log (and whatever the args put there).
  SandboxBinary(const test::TempDir& dir, const nlohmann::json& fixture, std::vector<std::string> extra_args = {})
      : dir_(dir) {
    REQUIRE(std::filesystem::exists(WECOM_SANDBOX_BIN));
    const std::string path = dir_.write("fixture.json", fixture.dump());
    std::vector<std::string> argv{WECOM_SANDBOX_BIN, "--listen", "127.0.0.1:0", "--fixture", path};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    proc_ = std::make_unique<test::Process>(argv, dir_.path() + "/sandbox-" + std::to_string(++starts_) + ".log");
    auto out = proc_->wait_for_output("listening on http://", std::chrono::seconds(20));
    INFO(proc_->output());
    REQUIRE(out);
    auto at = out->find("http://", out->find("listening on"));
    base_ = out->substr(at, out->find_first_of(" \r\n", at) - at);
  }

  const std::string& base() const { return base_; }
  // One request; REQUIREs an HTTP answer within 30 s.
  net::ClientResponse request(http::Verb verb, const std::string& path, const std::string& body = {}) const {
    auto r = net::http_request(verb, base_ + path, body, {{"Content-Type", "application/json"}}, std::chrono::seconds(30));
    INFO(path);
    REQUIRE(r.has_value());
    return *r;
  }
  nlohmann::json get(const std::string& path) const { return nlohmann::json::parse(request(http::Verb::get, path).body); }
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const {
    return nlohmann::json::parse(request(http::Verb::post, path, body.dump()).body);
  }
  // An access_token from gettoken for `corp_id` and `secret` (REQUIREs success).
  std::string token(const std::string& corp_id, const std::string& secret) const {
    auto r = get("/cgi-bin/gettoken?corpid=" + corp_id + "&corpsecret=" + secret);
    INFO(r.dump());
    REQUIRE(r.value("errcode", -1) == 0);
    return r["access_token"].get<std::string>();
  }
  // SIGTERM and wait (≤ 20 s) for a clean exit; the exit code, or -1 if it did not stop.
  int stop() {
    proc_->signal(SIGTERM);
    return proc_->wait(std::chrono::seconds(20)).value_or(-1);
  }
  std::string output() const { return proc_->output(); }

 private:
  const test::TempDir& dir_;
  std::unique_ptr<test::Process> proc_;
  std::string base_;
  static inline int starts_ = 0;
};

}  // namespace yuer::sandbox::testing
