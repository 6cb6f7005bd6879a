#include "adapters/customer_group/customer_group_api.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::customer_group {
namespace {

using model::OutcomeKind;
using model::SendOutcome;
using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::vector<std::string> strings_at(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& s : *it)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

SendOutcome malformed(const char* what) {
  return SendOutcome::retry(std::chrono::milliseconds(0), 0, std::string("企业微信应答缺少字段 ") + what + "，稍后重试");
}

// errcode 40050: chatid does not exist (the group was dismissed); as the sandbox and WeCom's
// global code table name it (https://developer.work.weixin.qq.com/document/path/90313).
constexpr int kNoSuchChat = 40050;

json join_way_body(const model::JoinWaySpec& s) {
  return {{"scene", 2},
          {"remark", s.remark},
          {"auto_create_room", s.auto_create_room ? 1 : 0},
          {"room_base_name", s.room_base_name},
          {"room_base_id", s.room_base_id},
          {"chat_id_list", s.chat_ids},
          {"state", s.state}};
}

class Api final : public model::CustomerGroupApi {
 public:
  Api(wecom::ApiClient& api, wecom::AccessToken& token) : api_(api), token_(token) {}

  awaitable<model::CustomerGroupAnswer> get(std::string chat_id) override {
    // need_name 0: members' names are not needed (PIPL: minimal collection).
    json body{{"chat_id", chat_id}, {"need_name", 0}};
    auto r = co_await call("/cgi-bin/externalcontact/groupchat/get", std::move(body));
    model::CustomerGroupAnswer a{r.outcome, false, {}};
    if (a.outcome.kind != OutcomeKind::kDelivered && a.outcome.errcode == kNoSuchChat) {
      a.gone = true;
      co_return a;
    }
    if (a.outcome.kind != OutcomeKind::kDelivered) co_return a;
    auto g = r.body.find("group_chat");
    if (g == r.body.end() || !g->is_object() || string_at(*g, "chat_id").empty()) {
      a.outcome = malformed("group_chat");
      co_return a;
    }
    a.group.chat_id = string_at(*g, "chat_id");
    a.group.name = string_at(*g, "name");
    a.group.owner = string_at(*g, "owner");
    a.group.create_time = int_at(*g, "create_time");
    a.group.member_version = string_at(*g, "member_version");
    for (const auto& m : g->value("member_list", json::array())) {
      if (!m.is_object() || string_at(m, "userid").empty()) continue;
      a.group.members.push_back({string_at(m, "userid"), static_cast<int>(int_at(m, "type")), int_at(m, "join_time"),
                                 string_at(m, "state")});
    }
    co_return a;
  }

  awaitable<model::CustomerGroupListAnswer> list(std::vector<std::string> owners) override {
    model::CustomerGroupListAnswer a;
    // owner_filter takes ≤ 100 userids (§8.1): one pass per slice of owners.
    for (std::size_t at = 0; at < owners.size() || (owners.empty() && at == 0); at += 100) {
      std::string cursor;
      do {
        json body{{"status_filter", 0}, {"limit", 1000}};
        if (!owners.empty()) {
          std::vector<std::string> slice(owners.begin() + static_cast<std::ptrdiff_t>(at),
                                         owners.begin() + static_cast<std::ptrdiff_t>(std::min(owners.size(), at + 100)));
          body["owner_filter"] = {{"userid_list", slice}};
        }
        if (!cursor.empty()) body["cursor"] = cursor;
        auto r = co_await call("/cgi-bin/externalcontact/groupchat/list", std::move(body));
        a.outcome = r.outcome;
        if (r.outcome.kind != OutcomeKind::kDelivered) {
          a.chat_ids.clear();
          co_return a;
        }
        for (const auto& g : r.body.value("group_chat_list", json::array()))
          if (g.is_object() && !string_at(g, "chat_id").empty()) a.chat_ids.push_back(string_at(g, "chat_id"));
        cursor = string_at(r.body, "next_cursor");
      } while (!cursor.empty());
      if (owners.empty()) break;
    }
    co_return a;
  }

  awaitable<model::JoinWayAnswer> add_join_way(model::JoinWaySpec spec) override {
    auto r = co_await call("/cgi-bin/externalcontact/groupchat/add_join_way", join_way_body(spec));
    model::JoinWayAnswer a{r.outcome, {}, {}, {}};
    if (a.outcome.kind != OutcomeKind::kDelivered) co_return a;
    a.config_id = string_at(r.body, "config_id");
    if (a.config_id.empty()) a.outcome = malformed("config_id");
    co_return a;
  }

  awaitable<SendOutcome> update_join_way(std::string config_id, model::JoinWaySpec spec) override {
    json body = join_way_body(spec);
    body["config_id"] = config_id;
    co_return (co_await call("/cgi-bin/externalcontact/groupchat/update_join_way", std::move(body))).outcome;
  }

  awaitable<model::JoinWayAnswer> get_join_way(std::string config_id) override {
    json body{{"config_id", config_id}};
    auto r = co_await call("/cgi-bin/externalcontact/groupchat/get_join_way", std::move(body));
    model::JoinWayAnswer a{r.outcome, config_id, {}, {}};
    if (a.outcome.kind != OutcomeKind::kDelivered) co_return a;
    auto w = r.body.find("join_way");
    if (w == r.body.end() || !w->is_object()) {
      a.outcome = malformed("join_way");
      co_return a;
    }
    a.qr_code = string_at(*w, "qr_code");
    a.chat_ids = strings_at(*w, "chat_id_list");
    co_return a;
  }

 private:
  awaitable<wecom::Reply> call(std::string path, json body) {
    co_return co_await api_.post_with_token(token_, std::move(path), dump(body));
  }

  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
};

}  // namespace

std::unique_ptr<model::CustomerGroupApi> make_api(wecom::ApiClient& api, wecom::AccessToken& token) {
  return std::make_unique<Api>(api, token);
}

boost::asio::awaitable<Result<model::Accepted>> ChangeDoorbell::accept(model::InboundEvent event) {
  std::optional<ChatChange> change;
  if (event.kind == "event:change_external_chat") change = parse_chat_change(event.payload);
  auto r = co_await inner_.accept(std::move(event));
  if (r && change) on_change_(std::move(*change));
  co_return r;
}

}  // namespace yuer::adapters::customer_group
