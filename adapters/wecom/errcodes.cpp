#include "adapters/wecom/errcodes.h"

#include <fmt/format.h>

#include <array>

namespace yuer::adapters::wecom {
namespace {

using model::OutcomeKind;
using model::SendOutcome;
using std::chrono::milliseconds;

struct Row {
  int errcode;
  OutcomeKind kind;
  milliseconds retry_after;
  const char* reason;
};

// Reference §3.5, §4, §5, §11 (https://developer.work.weixin.qq.com/document/path/90313).
constexpr std::array kTable{
    Row{0, OutcomeKind::kDelivered, milliseconds(0), ""},
    Row{-1, OutcomeKind::kRetryAfter, milliseconds(0), "企业微信系统繁忙，稍后重试"},
    Row{6000, OutcomeKind::kRetryAfter, milliseconds(1000), "企业微信数据版本冲突，稍后重试"},
    // Minute-level blocks last 60 s (reference §11, 45009).
    Row{45009, OutcomeKind::kRetryAfter, milliseconds(60000), "触发企业微信接口频率限制，一分钟后重试"},
    Row{45033, OutcomeKind::kRetryAfter, milliseconds(5000), "企业微信接口并发超限，稍后重试"},
    Row{40014, OutcomeKind::kRefreshTokenAndRetry, milliseconds(0), "access_token 无效，需重新获取"},
    Row{42001, OutcomeKind::kRefreshTokenAndRetry, milliseconds(0), "access_token 已过期，需重新获取"},
    Row{40001, OutcomeKind::kPermanent, milliseconds(0), "应用 Secret 无效：请检查配置（已停止调用，避免服务器 IP 被封禁）"},
    Row{40013, OutcomeKind::kPermanent, milliseconds(0), "企业 CorpID 无效：请检查配置"},
    Row{41001, OutcomeKind::kPermanent, milliseconds(0), "请求缺少 access_token（程序错误）"},
    Row{60020, OutcomeKind::kPermanent, milliseconds(0), "服务器 IP 不在企业可信 IP 列表中"},
    Row{48001, OutcomeKind::kPermanent, milliseconds(0), "接口未授权给本企业或应用"},
    Row{48002, OutcomeKind::kPermanent, milliseconds(0), "应用无权调用该接口（应用类型或可见范围不符）"},
    Row{60011, OutcomeKind::kPermanent, milliseconds(0), "应用对该成员没有权限（不在可见范围内）"},
    Row{40003, OutcomeKind::kPermanent, milliseconds(0), "成员 userid 无效（已离职、已删除或不可见）"},
    Row{60111, OutcomeKind::kPermanent, milliseconds(0), "成员 userid 不存在"},
    Row{81013, OutcomeKind::kPermanent, milliseconds(0), "接收人全部无效或不在应用可见范围内"},
    Row{82001, OutcomeKind::kPermanent, milliseconds(0), "没有指定接收人"},
    Row{93000, OutcomeKind::kPermanent, milliseconds(0), "机器人 webhook 地址无效，或机器人已被移出群聊"},
    Row{93004, OutcomeKind::kPermanent, milliseconds(0), "机器人已被停用"},
    Row{93006, OutcomeKind::kPermanent, milliseconds(0), "群聊 ID 无效"},
    Row{93008, OutcomeKind::kPermanent, milliseconds(0), "机器人不在该群聊中"},
    Row{86001, OutcomeKind::kPermanent, milliseconds(0), "群聊 chatid 无效"},
    Row{86003, OutcomeKind::kPermanent, milliseconds(0), "群聊不存在"},
    Row{86008, OutcomeKind::kPermanent, milliseconds(0), "群聊不是本应用创建的"},
    Row{40008, OutcomeKind::kPermanent, milliseconds(0), "消息类型无效（程序错误）"},
    Row{44004, OutcomeKind::kPermanent, milliseconds(0), "消息内容为空"},
    Row{45002, OutcomeKind::kPermanent, milliseconds(0), "消息内容超过长度限制"},
    Row{40035, OutcomeKind::kPermanent, milliseconds(0), "请求参数无效"},
    Row{40058, OutcomeKind::kPermanent, milliseconds(0), "请求参数无效或内容超过长度限制"},
    // Customer-group mass messages (reference §8.6, DOC 92135).
    Row{41063, OutcomeKind::kRetryAfter, milliseconds(10000), "群发任务仍在派发中，稍后再查询"},
    Row{41093, OutcomeKind::kPermanent, milliseconds(0), "群发任务已被取消"},
    Row{41094, OutcomeKind::kRetryAfter, milliseconds(3600000), "提醒过于频繁（每个任务 24 小时内最多 3 次）"},
    Row{41046, OutcomeKind::kPermanent, milliseconds(0), "缺少群发任务 msgid（程序错误）"},
    Row{41047, OutcomeKind::kPermanent, milliseconds(0), "群发任务 msgid 无效"},
    Row{41048, OutcomeKind::kPermanent, milliseconds(0), "群发没有可发送的客户或客户群"},
    // 微信客服 (kf), reference §9.4, §9.6, §11: a closed window is not an error to retry; the row
    // waits until the parent writes again (https://developer.work.weixin.qq.com/document/path/94677).
    Row{95001, OutcomeKind::kWaitForEvent, milliseconds(0), "已向该家长发满 5 条消息，等待家长再次发消息"},
    Row{95002, OutcomeKind::kWaitForEvent, milliseconds(0), "距家长上一条消息已超过 48 小时，等待家长再次发消息"},
    Row{95013, OutcomeKind::kWaitForEvent, milliseconds(0), "会话已结束，等待家长再次发消息"},
    Row{95018, OutcomeKind::kWaitForEvent, milliseconds(0), "会话状态不允许接口发送（已转人工或已结束），等待家长再次发消息"},
    Row{95031, OutcomeKind::kWaitForEvent, milliseconds(0), "家长 48 小时内没有发过消息，等待家长先发消息"},
    Row{95000, OutcomeKind::kPermanent, milliseconds(0), "客服账号 open_kfid 无效：请检查配置"},
    Row{95004, OutcomeKind::kPermanent, milliseconds(0), "客服账号不存在：请检查配置"},
    Row{95007, OutcomeKind::kPermanent, milliseconds(0), "拉取客服消息的 token 无效或已过期"},
    Row{95017, OutcomeKind::kPermanent, milliseconds(0), "客服账号未开启 API 管理"},
    Row{41035, OutcomeKind::kPermanent, milliseconds(0), "缺少外部联系人 userid（程序错误）"},
};

}  // namespace

model::SendOutcome classify_errcode(int errcode) {
  for (const auto& row : kTable)
    if (row.errcode == errcode) {
      if (row.kind == OutcomeKind::kDelivered) return SendOutcome::delivered();
      return {row.kind, row.retry_after, errcode, row.reason, {}};
    }
  return SendOutcome::permanent(errcode, fmt::format("企业微信返回错误码 {}（未知错误，不重试）", errcode));
}

model::SendOutcome classify_http_status(unsigned status) {
  if (status >= 500 || status == 429)
    return SendOutcome::retry(milliseconds(0), 0, fmt::format("企业微信服务暂时不可用（HTTP {}），稍后重试", status));
  return SendOutcome::permanent(0, fmt::format("企业微信返回 HTTP {}，不是有效应答", status));
}

model::SendOutcome classify_transport(const Error& e) {
  if (e.code == "http.bad_url" || e.code == "http.insecure")
    return SendOutcome::permanent(0, "企业微信接口地址配置错误（wecom.api_base）");
  if (e.code == "http.tls")
    return SendOutcome::retry(milliseconds(60000), 0, "与企业微信的 TLS 连接校验失败，稍后重试");
  if (e.code == "http.timeout") return SendOutcome::retry(milliseconds(0), 0, "连接企业微信超时，稍后重试");
  return SendOutcome::retry(milliseconds(0), 0, "网络错误，稍后重试");
}

bool is_bad_credential(int errcode) { return errcode == 40001 || errcode == 40013; }

bool is_bad_kf_sync_token(int errcode) { return errcode == 95007; }

// Reference §9.4: a msgid must be unique within the kf account, "duplicate → error", with the
// errcode UNCERTAIN; wecom-sandbox answers 40058 (tests/sandbox/kf.cpp, same uncertainty noted).
bool may_be_duplicate_kf_msgid(int errcode) { return errcode == 40058; }

}  // namespace yuer::adapters::wecom
