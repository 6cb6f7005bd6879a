// KfContactApi: the seam through which the survey service asks WeCom for a 微信客服 link
// (kf/add_contact_way, https://developer.work.weixin.qq.com/document/path/94665, reference §9.5):
// the link opens the chat with `open_kfid`, and the enter_session event of a parent who tapped
// it carries `scene` back. adapters/kf implements it; the service never sees a URL path or errcode.
#pragma once

#include "daemon/model/outbox_item.h"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace yuer::model {

struct KfContactAnswer {
  SendOutcome outcome;  // delivered = `url` is WeCom's answer
  std::string url;
};

class KfContactApi {
 public:
  virtual ~KfContactApi() = default;
  // `scene`: at most 32 bytes of [0-9a-zA-Z_-].
  virtual boost::asio::awaitable<KfContactAnswer> add_contact_way(std::string open_kfid, std::string scene) = 0;
};

}  // namespace yuer::model
