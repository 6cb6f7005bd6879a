// Test-only: reads the WeCom crypto vectors kept as data under tests/vectors/wecom/.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace yuer::adapters::wecom::testing {

// Parses tests/vectors/wecom/<name>; REQUIREs that it exists and is JSON.
inline nlohmann::json load_vector(const std::string& name) {
  const std::string path = std::string(YUER_SOURCE_DIR) + "/tests/vectors/wecom/" + name;
  CAPTURE(path);
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json v = nlohmann::json::parse(ss.str(), nullptr, false);
  REQUIRE_FALSE(v.is_discarded());
  return v;
}

}  // namespace yuer::adapters::wecom::testing
