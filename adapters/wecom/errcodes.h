// The one table that turns WeCom answers into model::SendOutcome (STYLE D3, D7.4): errcodes, HTTP
// statuses and transport failures. No errcode number appears anywhere else in yuer's adapters or
// core. Reasons are Chinese, for admins; they never quote keys, tokens or personal data.
#pragma once

#include "daemon/base/result.h"
#include "daemon/model/outbox_item.h"

namespace yuer::adapters::wecom {

// The outcome of a JSON reply carrying `errcode` (0 = delivered). Unknown codes are permanent:
// WeCom's own advice is that only system failures deserve a retry (reference §11).
model::SendOutcome classify_errcode(int errcode);

// The outcome of an HTTP status when the body is not a WeCom JSON reply: 5xx and 429 are
// transient, other statuses permanent.
model::SendOutcome classify_http_status(unsigned status);

// The outcome of a failed exchange (an Error from net::HttpsClient): network and timeouts are
// transient; bad URLs and plain http to a public host are configuration errors (permanent).
model::SendOutcome classify_transport(const Error& e);

// gettoken answers that mean the corp id or secret is wrong (repeated calls ban the IP for 1 h).
bool is_bad_credential(int errcode);

// kf/sync_msg refused the callback's token (expired after 10 min): pull again without it.
bool is_bad_kf_sync_token(int errcode);

// kf/send_msg answers that may mean "this msgid was already accepted" (a resend of a message whose
// first answer was lost). Only meaningful for a message that was attempted before.
bool may_be_duplicate_kf_msgid(int errcode);

}  // namespace yuer::adapters::wecom
