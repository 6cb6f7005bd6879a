#include "tests/sandbox/template_card.h"

#include "tests/sandbox/callbacks.h"

#include <algorithm>
#include <set>

namespace yuer::sandbox {
namespace {

using nlohmann::json;

class TemplateCardModule final : public Module {
 public:
  explicit TemplateCardModule(Context& ctx) : ctx_(ctx) {}

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override {
    if (t.path != "/cgi-bin/message/update_template_card") return std::nullopt;
    auto begun = ctx_.begin_app_call(req, t);
    if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
    const App* app = std::get<Context::AppCall>(begun).app;
    const json& body = std::get<Context::AppCall>(begun).body;
    auto agentid = int_field(body, "agentid");
    if (!agentid) return ctx_.error(41011);
    if (*agentid != app->agent_id) return ctx_.error(40056);
    auto code = string_field(body, "response_code");
    if (!code || code->empty()) return ctx_.error(40058, "response_code missing. invalid Request Parameter");
    // Unknown, used, expired or another app's code: the errcode is not documented [UNCERTAIN, §7.3];
    // 40058 "invalid Request Parameter" as for other bad fields.
    auto it = ctx_.response_codes.find(*code);
    if (it == ctx_.response_codes.end() || it->second.used || ctx_.now_ms() >= it->second.expires_ms ||
        it->second.agent_id != app->agent_id)
      return ctx_.error(40058, "invalid response_code. invalid Request Parameter");
    const bool button = body.contains("button");
    const bool card = body.contains("template_card");
    if (button == card) return ctx_.error(40058, "give button or template_card. invalid Request Parameter");
    if (button && !string_field(body["button"], "replace_name"))
      return ctx_.error(40058, "button.replace_name missing. invalid Request Parameter");
    if (card && (!body["template_card"].is_object() || !string_field(body["template_card"], "card_type")))
      return ctx_.error(40058, "template_card.card_type missing. invalid Request Parameter");
    auto list = [&](const char* k) { return body.contains(k) && body[k].is_array() ? body[k] : json::array(); };
    json userids = list("userids");
    // userids ≤ 1000, partyids ≤ 100, tagids ≤ 100 (DOC 94945).
    if (userids.size() > 1000 || list("partyids").size() > 100 || list("tagids").size() > 100)
      return ctx_.error(40058, "too many receivers. invalid Request Parameter");

    ResponseCode& rc = it->second;
    std::vector<std::string> targets;
    std::vector<std::string> invalid;
    if (int_field(body, "atall").value_or(0) == 1) {
      targets = rc.userids;
    } else {
      for (const auto& u : userids) {
        if (!u.is_string()) continue;
        auto found = std::find_if(rc.userids.begin(), rc.userids.end(),
                                  [&](const std::string& r) { return lower(r) == lower(u.get<std::string>()); });
        if (found != rc.userids.end()) {
          targets.push_back(*found);
        } else {
          invalid.push_back(lower(u.get<std::string>()));
        }
      }
    }
    rc.used = true;
    for (const auto& uid : targets) {
      Delivery d;
      d.channel = "app";
      d.userid = uid;
      d.msgtype = button ? "update_button" : "update_template_card";
      d.message = button ? body["button"] : body["template_card"];
      ctx_.add_delivery(std::move(d));
    }
    rec.detail = {{"updated", targets}, {"card_type", rc.card_type}};
    json extra = json::object();
    if (!invalid.empty()) extra["invaliduser"] = invalid;  // an array on this page (DOC 94945) [UNCERTAIN]
    return wecom_ok(extra);
  }

  std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const json& body) override {
    if (t.path != "/_sandbox/cards/click") return std::nullopt;
    if (req.method != "POST") return control_error(405, "sandbox.method", "use POST");
    auto userid = string_field(body, "userid");
    auto task_id = string_field(body, "task_id");
    if (!userid || !task_id)
      return control_error(400, "sandbox.bad_request", "give userid, task_id, and event_key or selected_items");
    const Member* m = ctx_.fixture.member(*userid);
    if (!m) return control_error(404, "sandbox.unknown_member", "userid is not a member");
    const App* app = nullptr;
    if (auto a = int_field(body, "agent_id")) {
      app = ctx_.fixture.app(*a);
    } else if (!ctx_.fixture.apps.empty()) {
      app = &ctx_.fixture.apps.front();
    }
    if (!app) return control_error(404, "sandbox.unknown_app", "no such app in the fixture");
    std::string card_type = string_field(body, "card_type").value_or("button_interaction");
    std::string code = ctx_.issue_response_code(app->agent_id, {m->userid}, card_type);
    std::string xml = "<xml><ToUserName>" + cdata(ctx_.fixture.corp_id) + "</ToUserName><FromUserName>" +
                      cdata(m->userid) + "</FromUserName><CreateTime>" + std::to_string(ctx_.now_s()) +
                      "</CreateTime><MsgType>" + cdata("event") + "</MsgType><Event>" + cdata("template_card_event") +
                      "</Event><EventKey>" + cdata(string_field(body, "event_key").value_or("")) + "</EventKey><TaskId>" +
                      cdata(*task_id) + "</TaskId><CardType>" + cdata(card_type) + "</CardType><ResponseCode>" +
                      cdata(code) + "</ResponseCode><AgentID>" + std::to_string(app->agent_id) + "</AgentID>";
    // selected_items: [{"question_key": K, "option_ids": [..]}] for vote/multiple cards (§6.3 sample).
    if (body.contains("selected_items") && body["selected_items"].is_array()) {
      xml += "<SelectedItems>";
      for (const auto& item : body["selected_items"]) {
        xml += "<SelectedItem><QuestionKey>" + cdata(string_field(item, "question_key").value_or("")) +
               "</QuestionKey><OptionIds>";
        if (item.contains("option_ids") && item["option_ids"].is_array())
          for (const auto& o : item["option_ids"])
            if (o.is_string()) xml += "<OptionId>" + cdata(o.get<std::string>()) + "</OptionId>";
        xml += "</OptionIds></SelectedItem>";
      }
      xml += "</SelectedItems>";
    }
    xml += "</xml>";
    auto job = ctx_.app_callback(*app, xml, "template_card_event");
    if (!job) return control_error(409, "sandbox.no_callback_url", "the app has no callback_url");
    ctx_.emit_callback(std::move(*job));
    return control_json({{"response_code", code}, {"plaintext", xml}});
  }

 private:
  Context& ctx_;
};

bool non_empty(const json& o, const char* k, std::size_t max = 0) {
  auto v = string_field(o, k);
  return v && !v->empty() && (max == 0 || v->size() <= max);
}

std::optional<std::string> check_options(const json& holder, std::size_t most, const char* where) {
  if (!holder.is_object() || !non_empty(holder, "question_key", 1024))
    return std::string(where) + ".question_key missing or over 1024 bytes";
  const json& list = holder.contains("option_list") ? holder["option_list"] : json();
  if (!list.is_array() || list.empty() || list.size() > most)
    return std::string(where) + ".option_list must have 1 to " + std::to_string(most) + " options";
  std::set<std::string> ids;
  for (const auto& o : list) {
    if (!o.is_object() || !non_empty(o, "id", 128) || !non_empty(o, "text"))
      return std::string(where) + ".option_list needs id (≤ 128 bytes) and text";
    if (!ids.insert(o["id"].get<std::string>()).second) return std::string(where) + ".option_list ids repeat";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_interactive_card(const json& card) {
  const std::string type = string_field(card, "card_type").value_or("");
  if (type != "button_interaction" && type != "vote_interaction" && type != "multiple_interaction") return std::nullopt;
  auto task = string_field(card, "task_id");
  if (!task || task->empty() || task->size() > 128 ||
      task->find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-@") != std::string::npos)
    return "template_card.task_id invalid";
  const bool title = card.contains("main_title") && card["main_title"].is_object() && non_empty(card["main_title"], "title");
  if (!title && !(type == "button_interaction" && non_empty(card, "sub_title_text")))
    return "template_card.main_title.title missing";
  if (type == "button_interaction") {
    const json& list = card.contains("button_list") ? card["button_list"] : json();
    // DOC 90236: "按钮列表，列表长度不超过6".
    if (!list.is_array() || list.empty() || list.size() > 6) return "template_card.button_list must have 1 to 6 buttons";
    std::set<std::string> keys;
    for (const auto& b : list) {
      if (!b.is_object() || !non_empty(b, "text") || !non_empty(b, "key", 1024))
        return "template_card.button_list needs text and key (≤ 1024 bytes)";
      if (!keys.insert(b["key"].get<std::string>()).second) return "template_card.button_list keys repeat";
    }
    return std::nullopt;
  }
  if (type == "vote_interaction") {
    if (!card.contains("checkbox")) return "template_card.checkbox missing";
    if (auto bad = check_options(card["checkbox"], 20, "template_card.checkbox")) return bad;
    auto mode = int_field(card["checkbox"], "mode").value_or(0);
    if (mode != 0 && mode != 1) return "template_card.checkbox.mode must be 0 or 1";
  } else {
    const json& list = card.contains("select_list") ? card["select_list"] : json();
    if (!list.is_array() || list.empty() || list.size() > 3) return "template_card.select_list must have 1 to 3 items";
    for (const auto& sel : list)
      if (auto bad = check_options(sel, 10, "template_card.select_list")) return bad;
  }
  const json& submit = card.contains("submit_button") ? card["submit_button"] : json();
  if (!submit.is_object() || !non_empty(submit, "text") || !non_empty(submit, "key", 1024))
    return "template_card.submit_button needs text and key";
  return std::nullopt;
}

std::unique_ptr<Module> make_template_card_module(Context& ctx) { return std::make_unique<TemplateCardModule>(ctx); }

}  // namespace yuer::sandbox
