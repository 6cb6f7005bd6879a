// Shared by customer_groups_test.cpp, group_msg_test.cpp and state_restore_test.cpp: a small corp with
// customer groups, its Env (testing::SandboxEnv plus externalcontact calls), and decryption of
// emitted callbacks with the project's MsgCrypt (the official-vector-checked crypto).
#pragma once

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/callbacks.h"
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <string>
#include <vector>

namespace yuer::sandbox::groups_testing {

using nlohmann::json;

inline constexpr const char* kCorp = "wwgrp0001";
inline constexpr const char* kToken = "GrpTok1";
inline constexpr const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

// Alice owns wrA1 (full: cap 5) and wrA2; Bob owns wrB1. App 1000002 has customer-contact permission
// and a callback URL; 1000003 has not; 1000004 has it but sees only Alice.
inline std::string groups_fixture(const std::string& callback_url = "http://127.0.0.1:9/cb",
                                  const json& extra = json::object()) {
  json f = {
      {"corp", {{"corp_id", kCorp}, {"name", "群测试"}}},
      {"apps",
       {{{"agent_id", 1000002}, {"secret", "cc-secret"}, {"token", kToken}, {"aes_key", kAesKey},
         {"callback_url", callback_url}},
        {{"agent_id", 1000003}, {"secret", "plain-secret"}, {"token", "T3"}, {"aes_key", kAesKey}},
        {{"agent_id", 1000004}, {"secret", "narrow-secret"}, {"token", "T4"}, {"aes_key", kAesKey},
         {"visible_userids", {"Alice"}}}}},
      {"customer_contact_agent_ids", {1000002, 1000004}},
      {"customer_group_member_cap", 5},
      {"members", {{{"userid", "Alice"}, {"name", "甲"}}, {{"userid", "Bob"}, {"name", "乙"}}, {{"userid", "Carol"}}}},
      {"internal_groups", {{{"chat_id", "wrmgmt"}, {"owner", "Alice"}, {"members", {"Alice", "Bob"}}}}},
      {"external_contacts",
       {{{"external_userid", "wmP1"}, {"name", "P1妈妈"}, {"follow_users", {"Alice"}}},
        {{"external_userid", "wmLonely"}, {"name", "独自"}, {"follow_users", {"Carol"}}}}},
      {"customer_groups",
       {{{"chat_id", "wrA1"},
         {"name", "甲1群"},
         {"owner", "Alice"},
         {"create_time", 1'690'000'000},
         {"notice", "群公告"},
         {"admins", {"Bob"}},
         {"members",
          {{{"userid", "Bob"}, {"type", 1}, {"join_time", 1'690'000'100}, {"join_scene", 1}, {"invitor", "Alice"}},
           {{"userid", "wmP1"}, {"type", 2}, {"name", "P1妈妈"}, {"join_time", 1'690'000'200}, {"join_scene", 3},
            {"state", "qr1"}, {"group_nickname", "小P"}, {"unionid", "oUnion1"}}}},
         {"generate", {{"count", 2}, {"id_prefix", "wmGenA"}, {"first_join_time", 1'690'001'000}, {"state", "gen"}}}},
        {{"chat_id", "wrA2"}, {"name", "甲2群"}, {"owner", "Alice"}, {"members", {{{"userid", "wmP2"}, {"name", "P2"}}}}},
        {{"chat_id", "wrB1"}, {"name", "乙群"}, {"owner", "Bob"}, {"members", {{{"userid", "wmP3"}}}}}}},
      {"join_ways",
       {{{"config_id", "cfgseed1"}, {"chat_id_list", {"wrA1", "wrA2"}}, {"room_base_name", "甲新群"},
         {"room_base_id", 7}, {"state", "seedstate"}}}},
  };
  f.update(extra);
  return f.dump();
}

struct Env : testing::SandboxEnv {
  explicit Env(const json& extra = json::object(), std::int64_t unix_s = 1'700'000'000)
      : SandboxEnv(groups_fixture("http://127.0.0.1:9/cb", extra), {}, unix_s) {}

  std::string token(const std::string& secret = "cc-secret") { return SandboxEnv::token(secret); }
  // POST /cgi-bin/externalcontact/<path> with a token of the app holding `secret`.
  json call(const std::string& path, const json& body, const std::string& secret = "cc-secret") {
    return post_json("/cgi-bin/externalcontact/" + path + "?access_token=" + token(secret), body);
  }
};

// Decrypts a callback job's envelope as the daemon would: sign it like WeCom, parse the XML
// envelope, verify the signature and decrypt with MsgCrypt. Returns the plaintext ("" on failure).
inline std::string decrypt_job(const CallbackJob& job) {
  auto crypt = adapters::wecom::MsgCrypt::create(job.token, job.aes_key, job.corp_id).value();
  auto signed_cb = sign_app_callback(crypt, job.corp_id, job.agent_id, job.plaintext, "1700000000", "nonce123");
  pugi::xml_document env;
  if (!env.load_string(signed_cb.body.c_str())) return "";
  Target t = parse_target("/cb?" + signed_cb.query);
  auto plain = crypt.verify_and_decrypt(t.param("msg_signature").value_or(""), t.param("timestamp").value_or(""),
                                        t.param("nonce").value_or(""), env.child("xml").child_value("Encrypt"));
  return plain ? *plain : "";
}

// Child element names of <xml>, in order.
inline std::vector<std::string> element_names(const pugi::xml_node& xml) {
  std::vector<std::string> out;
  for (auto n : xml.children()) out.push_back(n.name());
  return out;
}

}  // namespace yuer::sandbox::groups_testing
