// model::GroupTaskApi over WeCom's customer-contact APIs (reference §8.1, §8.6): groupchat/get for a
// group's owner, add_msg_template (chat_type "group") to create a task, get_groupmsg_task +
// get_groupmsg_send_result for its progress, remind_groupmsg_send, cancel_groupmsg_send, and
// get_groupmsg_list_v2 to find a task after a restart. Uses the access token of an app with the
// customer-contact permission. https://developer.work.weixin.qq.com/document/path/92135
#pragma once

#include "adapters/wecom/api_client.h"
#include "daemon/model/group_task_api.h"

#include <memory>

namespace yuer::adapters::group_task {

// `api` and `token` must outlive the result.
std::unique_ptr<model::GroupTaskApi> make_api(wecom::ApiClient& api, wecom::AccessToken& token);

}  // namespace yuer::adapters::group_task
