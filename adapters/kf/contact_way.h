// kf/add_contact_way behind model::KfContactApi: the 微信客服 link of an account with a scene
// (https://developer.work.weixin.qq.com/document/path/94665, reference §9.5).
#pragma once

#include "adapters/wecom/api_client.h"
#include "daemon/model/kf_contact_api.h"

#include <memory>

namespace yuer::adapters::kf {

// `api` and `token` must outlive the result. Io thread only.
std::unique_ptr<model::KfContactApi> make_contact_api(wecom::ApiClient& api, wecom::AccessToken& token);

}  // namespace yuer::adapters::kf
