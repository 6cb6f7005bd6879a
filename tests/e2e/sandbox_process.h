// A real wecom-sandbox process for end-to-end tests: fixture written to a temp folder, listening on
// 127.0.0.1 with an ephemeral port read back from its first line; its control API as JSON.
#pragma once

#include "tests/support/process.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace yuer::test {

class SandboxProcess {
 public:
  // Starts `wecom-sandbox --fixture <fixture>` plus `extra_args`; REQUIREs that it listens.
  explicit SandboxProcess(const nlohmann::json& fixture, std::vector<std::string> extra_args = {});

  const std::string& base() const { return base_; }
  std::string url(const std::string& path) const { return base_ + path; }
  // GET/POST a control or WeCom path; REQUIRE a response (and HTTP 200 for post()).
  nlohmann::json get(const std::string& path) const;
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const;
  std::string output() const { return proc_->output(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> proc_;
  std::string base_;
};

}  // namespace yuer::test
