#include "adapters/kf/kf_channel.h"

#include "adapters/wecom/errcodes.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace yuer::adapters::kf {
namespace {

using model::OutcomeKind;
using model::SendOutcome;
using nlohmann::json;

std::int64_t unix_ms(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(c.now().time_since_epoch()).count();
}

struct Check {
  Verdict verdict = Verdict::kNeverWrote;
  std::int64_t window_ms = 0;
};

// Store calls: named coroutines with by-value arguments, run on the store executor (STYLE D4).
// Judging and counting run in one hop, so nothing else touches the window in between.
awaitable<Check> judge_and_count(store::KfStore* s, Target t, std::string msgid, std::int64_t now, WindowRules rules) {
  auto w = s->window(t.open_kfid, t.external_userid, msgid);
  Check c{judge(w, now, rules), w.last_customer_ms};
  if (c.verdict == Verdict::kSend && !w.counted) s->count_send(t.open_kfid, t.external_userid, msgid, c.window_ms, now);
  co_return c;
}

awaitable<void> record_accepted(store::KfStore* s, std::string open_kfid, std::string msgid, std::int64_t now) {
  s->mark_accepted(open_kfid, msgid, now);
  co_return;
}

awaitable<void> record_refused(store::KfStore* s, Target t, std::string msgid, bool block, std::int64_t window_ms,
                               std::int64_t now) {
  s->uncount_send(t.open_kfid, msgid);
  if (block) s->block_window(t.open_kfid, t.external_userid, window_ms, now);
  co_return;
}

}  // namespace

std::string send_body(const Target& target, const std::string& msgid, const model::OutboxItem& item) {
  json j{{"touser", target.external_userid},
         {"open_kfid", target.open_kfid},
         {"msgid", msgid},
         {"msgtype", "text"},
         {"text", {{"content", item.content}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

KfChannel::KfChannel(wecom::ApiClient& api, wecom::AccessToken& token, store::KfStore& store,
                     boost::asio::any_io_executor store_ex, const Clock& clock, ChannelSettings settings)
    : api_(api), token_(token), store_(store), store_ex_(std::move(store_ex)), clock_(clock), settings_(std::move(settings)) {}

model::ChannelLimits KfChannel::limits() const {
  model::ChannelLimits l;
  // The window (5 per parent message) is the per-target limit, kept by send(); corp-wide each API
  // takes 10 000 calls a minute (reference §12): stay under it.
  l.per_route = {{9000, std::chrono::milliseconds(60000)}};
  l.text_max_bytes = 2048;      // DOC 94677: text.content ≤ 2048 bytes
  l.markdown_max_bytes = 2048;  // sent as text
  return l;
}

bool KfChannel::knows_target(const std::string& target) const {
  auto t = parse_target(target);
  return t && (settings_.open_kfids.empty() || settings_.open_kfids.count(t->open_kfid) > 0);
}

void KfChannel::target_ready(const std::string& target) {
  if (ready_) ready_(target);
}

awaitable<SendOutcome> KfChannel::send(model::OutboxItem item) {
  auto t = parse_target(item.target);
  if (!t) co_return SendOutcome::permanent(0, "客服消息目标格式应为 open_kfid/external_userid");
  const std::string msgid = msgid_for(item.idempotency_key);
  const std::int64_t now = unix_ms(clock_);
  Check c = co_await boost::asio::co_spawn(store_ex_, judge_and_count(&store_, *t, msgid, now, settings_.rules),
                                           boost::asio::use_awaitable);
  if (c.verdict != Verdict::kSend) {
    spdlog::debug("kf wait item={} target={} reason={}", item.id, item.target, wait_reason(c.verdict));
    co_return SendOutcome::wait(0, wait_reason(c.verdict));
  }

  auto reply = co_await api_.post_with_token(token_, "/cgi-bin/kf/send_msg", send_body(*t, msgid, item));
  SendOutcome o = std::move(reply.outcome);
  // A msgid WeCom already holds means an earlier attempt of this row was accepted and its answer
  // lost (network, crash): it is delivered, and a second copy was refused.
  const bool duplicate = o.kind != OutcomeKind::kDelivered && o.errcode != 0 && item.attempts > 0 &&
                         wecom::may_be_duplicate_kf_msgid(o.errcode);
  if (o.kind == OutcomeKind::kDelivered || duplicate) {
    if (duplicate)
      spdlog::warn("kf item={} errcode={} on a resend: taken as WeCom holding this msgid already (delivered once)",
                   item.id, o.errcode);
    co_await boost::asio::co_spawn(store_ex_, record_accepted(&store_, t->open_kfid, msgid, unix_ms(clock_)),
                                   boost::asio::use_awaitable);
    co_return SendOutcome::delivered(msgid);
  }
  // WeCom answered with an error: the message was not accepted and does not count. Without an
  // answer (network, 5xx: errcode 0) it may have been, so it stays counted.
  if (o.errcode != 0) {
    const bool block = o.kind == OutcomeKind::kWaitForEvent;
    co_await boost::asio::co_spawn(store_ex_, record_refused(&store_, *t, msgid, block, c.window_ms, unix_ms(clock_)),
                                   boost::asio::use_awaitable);
  }
  co_return o;
}

}  // namespace yuer::adapters::kf
