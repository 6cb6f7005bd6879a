#include "adapters/kf/contact_way.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::kf {
namespace {

using nlohmann::json;

class ContactApi final : public model::KfContactApi {
 public:
  ContactApi(wecom::ApiClient& api, wecom::AccessToken& token) : api_(api), token_(token) {}

  awaitable<model::KfContactAnswer> add_contact_way(std::string open_kfid, std::string scene) override {
    json body{{"open_kfid", open_kfid}, {"scene", scene}};
    auto r = co_await api_.post_with_token(token_, "/cgi-bin/kf/add_contact_way",
                                           body.dump(-1, ' ', false, json::error_handler_t::replace));
    model::KfContactAnswer a{r.outcome, {}};
    if (a.outcome.kind != model::OutcomeKind::kDelivered) co_return a;
    auto url = r.body.find("url");
    if (url == r.body.end() || !url->is_string() || url->get<std::string>().empty()) {
      a.outcome = model::SendOutcome::retry(std::chrono::milliseconds(0), 0, "企业微信应答缺少字段 url，稍后重试");
      co_return a;
    }
    a.url = url->get<std::string>();
    co_return a;
  }

 private:
  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
};

}  // namespace

std::unique_ptr<model::KfContactApi> make_contact_api(wecom::ApiClient& api, wecom::AccessToken& token) {
  return std::make_unique<ContactApi>(api, token);
}

}  // namespace yuer::adapters::kf
