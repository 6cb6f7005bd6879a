#include "daemon/survey_service/channel_rules.h"

#include <nlohmann/json.hpp>

namespace yuer::survey_service {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

class KfRules final : public ChannelRules {
 public:
  std::string name() const override { return kKfChannel; }
  bool bind_unknown_to_newest() const override { return true; }

  Message read(const model::InboxRow& r) const override {
    Message m;
    m.id = r.id;
    json j = json::parse(r.event.payload, nullptr, false);
    if (!j.is_object()) return m;
    std::string open_kfid = str(j, "open_kfid");
    m.send_time = num(j, "send_time");
    if (m.send_time == 0) m.send_time = r.event.created_at ? r.event.created_at : r.event.received_at;
    if (r.event.kind == "kf:text" && num(j, "origin") == 3) {
      m.user = str(j, "external_userid");
      auto t = j.find("text");
      if (t != j.end() && t->is_object()) m.text = str(*t, "content");
      if (!m.user.empty()) m.kind = Message::Kind::kText;
    } else if (r.event.kind == "kf:event:enter_session") {
      auto e = j.find("event");
      if (e != j.end() && e->is_object()) {
        m.user = str(*e, "external_userid");
        m.scene = str(*e, "scene");
        if (open_kfid.empty()) open_kfid = str(*e, "open_kfid");
      }
      if (!m.user.empty() && !m.scene.empty()) m.kind = Message::Kind::kBind;
    }
    m.reply_to = open_kfid + "/" + m.user;
    return m;
  }

  std::vector<Reply> replies(const TurnView& t) const override {
    std::vector<Reply> out;
    for (std::size_t k = 0; k < t.turn.replies.size() && k < survey::kMaxRepliesPerTurn; ++k)
      out.push_back(text_reply(t.message, t.turn.replies[k]));
    return out;
  }

  Reply text_reply(const Message& m, std::string text) const override {
    // Expires with the parent's 48 h window (DOC 94677).
    return Reply{kKfChannel, m.reply_to, model::ContentKind::kText, std::move(text), "", m.send_time * 1000 + kKfWindowMs};
  }
};

}  // namespace

std::unique_ptr<ChannelRules> make_kf_rules() { return std::make_unique<KfRules>(); }

}  // namespace yuer::survey_service
