#include "adapters/kf/kf_sync.h"

#include "adapters/kf/window.h"
#include "adapters/wecom/errcodes.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace yuer::adapters::kf {
namespace {

using model::OutcomeKind;
using nlohmann::json;

constexpr int kTransientTries = 3;

std::int64_t unix_ms(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(c.now().time_since_epoch()).count();
}

awaitable<std::optional<std::string>> load_cursor(store::KfStore* s, std::string open_kfid) {
  co_return s->cursor(open_kfid);
}

awaitable<std::vector<store::KfParent>> store_page(store::KfStore* s, std::string open_kfid, std::string next_cursor,
                                                   std::vector<store::KfCustomerMessage> messages, std::int64_t now) {
  co_return s->apply_page(open_kfid, next_cursor, messages, now);
}

}  // namespace

KfSync::KfSync(boost::asio::any_io_executor io, wecom::ApiClient& api, wecom::AccessToken& token, model::Inbox& inbox,
               store::KfStore& store, boost::asio::any_io_executor store_ex, const Clock& clock, SyncSettings settings,
               WindowMoved moved)
    : io_(std::move(io)),
      api_(api),
      token_(token),
      inbox_(inbox),
      store_(store),
      store_ex_(std::move(store_ex)),
      clock_(clock),
      settings_(std::move(settings)),
      moved_(std::move(moved)) {}

void KfSync::start() {
  for (const auto& id : settings_.open_kfids) ring(id, {});
}

void KfSync::stop() { stopping_ = true; }

bool KfSync::busy() const {
  return std::any_of(accounts_.begin(), accounts_.end(), [](const auto& a) { return a.second.running; });
}

void KfSync::ring(std::string open_kfid, std::string token) {
  if (stopping_) return;
  if (!settings_.open_kfids.empty() && !settings_.open_kfids.count(open_kfid)) {
    spdlog::debug("kf doorbell for an account not configured ignored open_kfid={}", open_kfid);
    return;
  }
  Account& a = accounts_[open_kfid];
  if (!token.empty()) a.token = std::move(token);
  if (a.running) {
    a.again = true;
    return;
  }
  a.running = true;
  boost::asio::co_spawn(io_, run_account(open_kfid), [this, open_kfid](std::exception_ptr e) {
    Account& done = accounts_[open_kfid];
    done.running = false;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        // A store failure: the cursor did not move, the next doorbell pulls the same page again.
        spdlog::error("kf sync open_kfid={} failed: {}", open_kfid, ex.what());
      }
      return;
    }
    // A doorbell that rang between the last check and this handler is not lost.
    if (done.again) ring(open_kfid, {});
  });
}

awaitable<void> KfSync::run_account(std::string open_kfid) {
  do {
    Account& a = accounts_[open_kfid];
    a.again = false;
    std::string token = std::exchange(a.token, {});
    co_await sync_pages(open_kfid, std::move(token));
  } while (accounts_[open_kfid].again && !stopping_);
}

awaitable<bool> KfSync::sync_pages(std::string open_kfid, std::string token) {
  int transient = 0;
  std::uint64_t stored = 0;
  for (int page = 0; page < settings_.max_pages_per_sync && !stopping_;) {
    auto cursor = co_await boost::asio::co_spawn(store_ex_, load_cursor(&store_, open_kfid), boost::asio::use_awaitable);
    json req{{"limit", 1000}, {"open_kfid", open_kfid}};
    if (cursor) req["cursor"] = *cursor;
    if (!token.empty()) req["token"] = token;
    auto reply = co_await api_.post_with_token(token_, "/cgi-bin/kf/sync_msg", req.dump());
    if (reply.outcome.kind != OutcomeKind::kDelivered) {
      if (!token.empty() && wecom::is_bad_kf_sync_token(reply.outcome.errcode)) {
        token.clear();  // the doorbell's token expired (10 min): pull without it
        continue;
      }
      if (reply.outcome.kind == OutcomeKind::kRetryAfter && ++transient < kTransientTries) {
        boost::asio::steady_timer t(io_);
        t.expires_after(std::clamp(reply.outcome.retry_after, std::chrono::milliseconds(500 << transient),
                                   std::chrono::milliseconds(5000)));
        co_await t.async_wait(use_tuple);
        continue;
      }
      spdlog::warn("kf sync_msg open_kfid={} stopped errcode={} outcome={} reason={}", open_kfid,
                   reply.outcome.errcode, model::to_string(reply.outcome.kind), reply.outcome.reason);
      co_return false;
    }
    transient = 0;
    ++page;
    SyncPage parsed = parse_sync_page(reply.body, open_kfid, clock_.unix_seconds());
    // The parents' windows move BEFORE their messages reach the inbox. The survey consumer reads
    // the inbox as soon as a message is there and queues its answer at once; judged against the
    // parent's previous window (or none: a first message), that answer would wait for a window move
    // that raced with it, or be counted against the wrong window (issue 7, the survey e2e flake).
    // Moving early is safe: WeCom has the message, so its window is open. A crash before the inbox
    // has the messages replays the page (the cursor moves last), and windows never move back.
    if (!parsed.customer.empty()) {
      std::string keep_cursor;  // empty: the cursor is not moved yet
      const std::int64_t now = unix_ms(clock_);
      auto moved = co_await boost::asio::co_spawn(
          store_ex_, store_page(&store_, open_kfid, std::move(keep_cursor), std::move(parsed.customer), now),
          boost::asio::use_awaitable);
      for (const auto& p : moved)
        if (moved_) moved_(format_target({p.open_kfid, p.external_userid}));
    }
    for (auto& e : parsed.events) {
      auto accepted = co_await inbox_.accept(std::move(e));
      if (!accepted) {
        spdlog::error("kf sync open_kfid={} stopped: inbox refused a message ({})", open_kfid, accepted.error().code);
        co_return false;
      }
      if (!accepted->duplicate) ++stored;
    }
    // Then the cursor (the windows of this page are already where they belong).
    std::vector<store::KfCustomerMessage> none;
    const std::int64_t now = unix_ms(clock_);
    co_await boost::asio::co_spawn(store_ex_, store_page(&store_, open_kfid, std::move(parsed.next_cursor), std::move(none), now),
                                   boost::asio::use_awaitable);
    if (!parsed.has_more) break;  // has_more can be 1 with an empty msg_list (§9.3)
  }
  messages_stored_ += stored;
  spdlog::info("kf synced open_kfid={} new_messages={}", open_kfid, stored);
  co_return true;
}

awaitable<Result<model::Accepted>> DoorbellInbox::accept(model::InboundEvent event) {
  const bool doorbell = event.kind == "event:kf_msg_or_event";
  std::optional<Doorbell> d;
  if (doorbell) d = parse_doorbell(event.payload);
  auto r = co_await inner_.accept(std::move(event));
  if (r && d) sync_.ring(std::move(d->open_kfid), std::move(d->token));
  co_return r;
}

}  // namespace yuer::adapters::kf
