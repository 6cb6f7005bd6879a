// 微信客服 (kf): kf/account/list, kf/add_contact_way, kf/sync_msg, kf/send_msg, kf/send_msg_on_event,
// the kf_msg_or_event doorbell callback, and a control API that lets a parent (WeChat user) write.
// Reference §9. Invariant: every message a parent writes (origin 3), every system event (origin 4)
// and every receptionist message (origin 5) is appended to one ordered log that sync_msg pages
// through by opaque cursor; messages sent by the API are never in that log (DOC 94670), they are
// Deliveries (channel "kf", userid = external_userid).
#pragma once

#include "tests/sandbox/module.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace yuer::sandbox {

class KfModule final : public Module {
 public:
  static constexpr std::int64_t kSyncTokenMs = 10 * 60'000;            // callback Token valid 10 min (§9.2)
  static constexpr std::int64_t kWindowMs = 48LL * 3'600'000;           // 48 h after the customer's last message
  static constexpr int kSendsPerCustomerMessage = 5;                    // §9.4
  static constexpr std::int64_t kHistoryMs = 3LL * 24 * 3'600'000;      // sync_msg sees the last 3 days
  static constexpr std::int64_t kWelcomeCodeMs = 20'000;                // welcome_code valid 20 s (DOC 96428)
  static constexpr std::size_t kMaxSyncLimit = 1000;

  // `ctx` must outlive the module.
  explicit KfModule(Context& ctx) : ctx_(ctx) {}

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override;
  std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const nlohmann::json& body) override;
  void reset() override;
  nlohmann::json state() const override;
  // --state FILE: the message log, issued cursors and sync tokens, every conversation (48 h window,
  // sends left, menus), used msgids, welcome codes, contact-way scenes and generated parents.
  std::string_view name() const override { return "kf"; }
  nlohmann::json save() const override;
  void restore(const nlohmann::json& saved) override;

 private:
  struct Item {  // one entry of sync_msg's msg_list
    std::int64_t time_ms = 0;
    std::string open_kfid;
    nlohmann::json wire;
  };
  struct Session {  // one (open_kfid, external_userid) pair
    std::int64_t last_customer_ms = -1;  // last origin-3 message; -1 = never wrote
    int sends = 0;                       // send_msg accepted since that message
    int service_state = 0;               // 0 new, 1 smart assistant, 2 queue, 3 human, 4 ended (§9.5)
    std::string servicer_userid;
    std::int64_t last_welcome_ms = -1;
    std::optional<int> fail_next;        // the next accepted send fails with this fail_type
    std::string last_sent_msgid;
    nlohmann::json menu_items = nlohmann::json::array();  // click items of every msgmenu sent, newest last
    std::vector<nlohmann::json> conversation;             // for the web page
  };
  struct WelcomeCode {
    std::string open_kfid, external_userid;
    std::int64_t expires_ms = 0;
    bool used = false;
  };
  struct SyncToken {
    std::string open_kfid;
    std::int64_t expires_ms = 0;
  };
  using Key = std::pair<std::string, std::string>;  // open_kfid, external_userid

  ApiReply account_list(const ApiRequest& req);
  ApiReply add_contact_way(const nlohmann::json& body, RequestRecord& rec);
  ApiReply sync_msg(const nlohmann::json& body, RequestRecord& rec);
  ApiReply send_msg(const nlohmann::json& body, RequestRecord& rec);
  ApiReply send_msg_on_event(const nlohmann::json& body, RequestRecord& rec);

  ApiReply control_write(const nlohmann::json& body);
  ApiReply control_fail(const nlohmann::json& body);
  ApiReply control_session(const nlohmann::json& body);

  // The app whose callback URL receives kf events and whose token may call kf APIs: fixture
  // "kf": {"agent_id": N}; without it the first app (and every app's token is accepted).
  const App* kf_app() const;
  bool app_restricted() const;
  const KfAccount* account(const std::string& open_kfid) const;
  nlohmann::json account_extra(const std::string& open_kfid) const;  // raw fixture entry
  std::string user_name(const std::string& external_userid) const;
  // Appends to the log and rings the doorbell (a fresh Token valid 10 min). Returns the Token.
  std::string append(const std::string& open_kfid, nlohmann::json wire);
  std::string ring(const std::string& open_kfid);
  void fail_event(const std::string& open_kfid, const std::string& external_userid, const std::string& msgid,
                  int fail_type);
  std::string issue_cursor(std::size_t position);
  nlohmann::json conversation_json(const Key& key, const Session& s) const;

  Context& ctx_;
  std::vector<Item> log_;
  std::map<std::string, std::size_t> cursors_;
  std::deque<std::string> cursor_order_;  // cursors_ keys, oldest first: the newest settings.max_records kept
  std::map<std::string, SyncToken> sync_tokens_;
  std::map<Key, Session> sessions_;
  std::map<std::string, std::set<std::string>> msgids_;  // open_kfid → msgids used by send_msg*
  std::map<std::string, WelcomeCode> welcome_codes_;
  std::map<std::string, std::pair<std::string, std::string>> contact_ways_;  // enc_scene → open_kfid, scene
  std::map<std::string, std::string> generated_users_;                       // external_userid → name
  int empty_pages_ = 0;  // control: the next N sync_msg pages come back empty with has_more 1
};

std::unique_ptr<Module> make_kf_module(Context& ctx);

}  // namespace yuer::sandbox
