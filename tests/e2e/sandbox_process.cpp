#include "tests/e2e/sandbox_process.h"

#include "daemon/net/http_client.h"

#include <catch2/catch.hpp>

namespace yuer::test {

using namespace std::chrono_literals;

SandboxProcess::SandboxProcess(const nlohmann::json& fixture, std::vector<std::string> extra_args) {
  std::string path = dir_.write("fixture.json", fixture.dump());
  std::vector<std::string> argv{WECOM_SANDBOX_BIN, "--listen", "127.0.0.1:0", "--fixture", path};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<Process>(argv, dir_.path() + "/sandbox.log");
  auto out = proc_->wait_for_output("listening on http://", 20s);
  INFO(proc_->output());
  REQUIRE(out);
  auto at = out->find("http://", out->find("listening on"));
  auto end = out->find_first_of(" \r\n", at);
  base_ = out->substr(at, end - at);
}

nlohmann::json SandboxProcess::get(const std::string& path) const {
  auto r = net::http_request(http::Verb::get, base_ + path, {}, {}, 60s);
  REQUIRE(r.has_value());
  return nlohmann::json::parse(r->body);
}

nlohmann::json SandboxProcess::post(const std::string& path, const nlohmann::json& body) const {
  auto r = net::http_request(http::Verb::post, base_ + path, body.dump(), {}, 60s);
  REQUIRE(r.has_value());
  INFO(r->body);
  REQUIRE(r->status == 200);
  return r->body.empty() ? nlohmann::json() : nlohmann::json::parse(r->body);
}

}  // namespace yuer::test
