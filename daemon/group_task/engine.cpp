#include "daemon/group_task/engine.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <utility>

namespace yuer::group_task {
namespace {

using boost::asio::use_awaitable;
using model::GroupResult;
using model::OutcomeKind;
using model::SendOutcome;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

constexpr std::int64_t kShanghaiOffsetMs = 8LL * 3600 * 1000;  // UTC+8 all year
constexpr std::size_t kMaxChatsPerTask = 2000;                 // chat_id_list (reference §8.6)
constexpr std::int64_t kIdleWakeMs = 60000;

std::chrono::year_month_day shanghai_day(std::int64_t ms) {
  return std::chrono::year_month_day(
      std::chrono::floor<std::chrono::days>(std::chrono::sys_time<std::chrono::milliseconds>(
          std::chrono::milliseconds(ms + kShanghaiOffsetMs))));
}

template <class F>
awaitable<std::invoke_result_t<F&, store::GroupTaskStore&>> call_store(store::GroupTaskStore* s, F f) {
  co_return f(*s);
}

std::int64_t later(std::int64_t now, std::chrono::milliseconds a, std::chrono::milliseconds b) {
  return now + std::max(a, b).count();
}

// The Chinese reason a post ends with, for a group WeCom did not post to.
std::string unsent_reason(GroupResult r) {
  switch (r) {
    case GroupResult::kOverQuota:
      return "该群本月接收群发的次数已达上限，企业微信未发送";
    case GroupResult::kFailed:
      return "企业微信未能发到该群（群可能已解散或换了群主）";
    default:
      return "群主已确认，但企业微信没有报告该群的发送结果";
  }
}

std::string result_name(GroupResult r) {
  switch (r) {
    case GroupResult::kSent:
      return "sent";
    case GroupResult::kOverQuota:
      return "over_quota";
    case GroupResult::kFailed:
      return "failed";
    default:
      return "unknown";
  }
}

// The first characters of `text` (whole UTF-8 characters), for the owner's notice.
std::string preview(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

}  // namespace

std::string shanghai_month(std::int64_t ms) {
  auto d = shanghai_day(ms);
  return fmt::format("{:04}-{:02}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()));
}

int days_in_shanghai_month(std::int64_t ms) {
  auto d = shanghai_day(ms);
  return static_cast<int>(static_cast<unsigned>(std::chrono::year_month_day_last(d.year(), std::chrono::month_day_last(d.month())).day()));
}

std::int64_t next_shanghai_month_start_ms(std::int64_t ms) {
  auto d = shanghai_day(ms);
  auto first = std::chrono::year_month_day(d.year(), d.month(), std::chrono::day(1)) + std::chrono::months(1);
  auto local = std::chrono::sys_days(first).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(local).count() - kShanghaiOffsetMs;
}

std::size_t merge_texts(const std::vector<std::string>& texts, std::size_t max_bytes, std::string& out) {
  out.clear();
  std::size_t taken = 0;
  for (const auto& t : texts) {
    const std::size_t need = out.empty() ? t.size() : out.size() + 2 + t.size();
    if (need > max_bytes) break;
    if (!out.empty()) out += "\n\n";
    out += t;
    ++taken;
  }
  return taken;
}

Engine::Engine(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::GroupTaskStore& store,
               model::GroupTaskApi& api, const Clock& clock, metrics::Registry& metrics, Settings settings,
               Notify notify)
    : io_(io),
      store_pool_(store_pool),
      store_(store),
      api_(api),
      clock_(clock),
      settings_(settings),
      notify_(std::move(notify)),
      wake_(io) {
  created_ = &metrics.counter("yuer_group_task_created_total", "Customer-group mass-message tasks created in WeCom");
  reminded_ = &metrics.counter("yuer_group_task_reminders_total", "Reminders sent to group owners");
  const char* help = "Customer-group posts ended, by result";
  posts_sent_ = &metrics.counter("yuer_group_posts_total", help, {{"result", "sent"}});
  posts_failed_ = &metrics.counter("yuer_group_posts_total", help, {{"result", "failed"}});
  posts_expired_ = &metrics.counter("yuer_group_posts_total", help, {{"result", "expired"}});
}

template <class F>
auto Engine::on_store(F f) -> awaitable<decltype(f(std::declval<store::GroupTaskStore&>()))> {
  co_return co_await boost::asio::co_spawn(store_pool_, call_store(&store_, std::move(f)), use_awaitable);
}

std::int64_t Engine::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
}

void Engine::stop() {
  stopping_ = true;
  wake_.cancel();
}

void Engine::poke() {
  poked_ = true;  // seen by run() even when it is not waiting right now
  wake_.cancel();
}

awaitable<Result<store::EnqueueResult>> Engine::enqueue(store::NewGroupPost post) {
  if (post.chat_id.empty() || post.chat_id.size() > 64)
    co_return fail("group_task.bad_chat", "客户群 chat_id 无效");
  if (post.content.empty()) co_return fail("group_task.empty", "内容为空");
  if (post.content.size() > settings_.text_max_bytes)
    co_return fail("group_task.too_long",
                   fmt::format("内容 {} 字节，超过客户群群发的上限 {} 字节，请分成多条", post.content.size(),
                               settings_.text_max_bytes));
  const std::int64_t now = now_ms();
  auto r = co_await on_store([&](store::GroupTaskStore& s) { return s.enqueue({post}, now); });
  poke();
  co_return r.at(0);
}

awaitable<std::vector<store::GroupTask>> Engine::tasks(store::GroupTaskQuery query) {
  co_return co_await on_store([&](store::GroupTaskStore& s) { return s.tasks(query); });
}

awaitable<std::optional<store::GroupPost>> Engine::post(std::int64_t id) {
  co_return co_await on_store([&](store::GroupTaskStore& s) { return s.post(id); });
}

awaitable<void> Engine::run() {
  spdlog::info("group tasks running");
  while (!stopping_) {
    const std::int64_t now = now_ms();
    next_due_ms_ = now + kIdleWakeMs;
    co_await recover();
    co_await plan();
    auto open = co_await on_store([](store::GroupTaskStore& s) { return s.open_tasks(); });
    for (auto& t : open) {
      if (stopping_) break;
      if (t.state != "waiting") continue;
      if (t.next_check_ms <= now_ms()) {
        co_await follow(std::move(t));
      } else {
        next_due_ms_ = std::min(next_due_ms_, t.next_check_ms);
      }
    }
    if (stopping_) break;
    // Until the next thing is due (enqueue pokes), at most a minute.
    if (std::exchange(poked_, false)) continue;
    const std::int64_t wait = std::clamp<std::int64_t>(next_due_ms_ - now_ms(), 0, kIdleWakeMs);
    wake_.expires_after(std::chrono::milliseconds(wait));
    co_await wake_.async_wait(use_tuple);
  }
}

// Tasks left `creating` by a crash (this process awaits every creation it starts before it looks
// at the store again): adopt the WeCom task with the same text created since, else queue the posts
// again. [UNCERTAIN] get_groupmsg_list_v2 does not name the sender of API-created tasks, so two
// owners' tasks with the same text in the same minutes cannot be told apart; msgids already ours
// are skipped, which covers the common case (one task per owner and text).
awaitable<void> Engine::recover() {
  auto open = co_await on_store([](store::GroupTaskStore& s) { return s.open_tasks(); });
  std::set<std::string> known;
  for (const auto& t : open)
    if (!t.msgid.empty()) known.insert(t.msgid);
  for (const auto& t : open) {
    if (t.state != "creating") continue;
    const std::int64_t now = now_ms();
    auto found = co_await api_.created_between(t.created_ms / 1000 - 60, now / 1000 + 60);
    if (found.outcome.kind != OutcomeKind::kDelivered) {
      spdlog::warn("group task {}: cannot look it up after a restart ({}); trying again later", t.id,
                   found.outcome.reason);
      next_due_ms_ = std::min(next_due_ms_, now + settings_.retry_after.count());
      co_return;
    }
    std::string msgid;
    for (const auto& c : found.tasks)
      if (c.text == t.content && !known.count(c.msgid)) {
        msgid = c.msgid;
        break;
      }
    if (!msgid.empty()) {
      known.insert(msgid);
      spdlog::info("group task {}: found in WeCom after a restart; following it", t.id);
      co_await on_store([&](store::GroupTaskStore& s) {
        s.task_created(t.id, msgid, now + settings_.first_check.count(), now);
      });
    } else {
      spdlog::info("group task {}: not created in WeCom before the restart; its posts are queued again", t.id);
      co_await on_store([&](store::GroupTaskStore& s) {
        s.abandon_task(t.id, now, "重启后在企业微信中没有找到该任务，将重新创建", now);
      });
    }
  }
}

awaitable<void> Engine::plan() {
  const std::int64_t now = now_ms();
  auto queued = co_await on_store([](store::GroupTaskStore& s) { return s.queued_posts(); });
  std::vector<std::int64_t> expired;
  std::map<std::string, std::vector<store::GroupPost>> by_chat;  // ready to go now, in id order
  for (auto& p : queued) {
    if (p.expire_at_ms != 0 && p.expire_at_ms <= now) {
      expired.push_back(p.id);
    } else if (p.not_before_ms > now) {
      next_due_ms_ = std::min(next_due_ms_, p.not_before_ms);
    } else {
      by_chat[p.chat_id].push_back(std::move(p));
    }
  }
  if (!expired.empty()) {
    auto n = co_await on_store([&](store::GroupTaskStore& s) {
      return s.end_posts(expired, "expired", "超过有效期仍未发出", now);
    });
    posts_expired_->inc(static_cast<std::uint64_t>(n));
  }
  // A group goes once its oldest post has waited batch_delay; newer posts ride along.
  for (auto it = by_chat.begin(); it != by_chat.end();) {
    const std::int64_t due = it->second.front().created_ms + settings_.batch_delay.count();
    if (due > now) {
      next_due_ms_ = std::min(next_due_ms_, due);
      it = by_chat.erase(it);
    } else {
      ++it;
    }
  }
  if (by_chat.empty()) co_return;

  auto ids_of = [](const std::vector<store::GroupPost>& posts) {
    std::vector<std::int64_t> ids;
    for (const auto& p : posts) ids.push_back(p.id);
    return ids;
  };
  std::map<std::string, std::string> owner;
  for (auto it = by_chat.begin(); it != by_chat.end();) {
    auto answer = co_await api_.owner_of(it->first);
    if (answer.outcome.kind == OutcomeKind::kDelivered) {
      owner[it->first] = answer.owner;
      ++it;
      continue;
    }
    auto ids = ids_of(it->second);
    if (answer.outcome.kind == OutcomeKind::kPermanent) {
      const std::string why = "无法读取该客户群：" + answer.outcome.reason;
      auto n = co_await on_store([&](store::GroupTaskStore& s) { return s.end_posts(ids, "failed", why, now); });
      posts_failed_->inc(static_cast<std::uint64_t>(n));
    } else {
      const std::int64_t at = later(now, settings_.retry_after, answer.outcome.retry_after);
      co_await on_store([&](store::GroupTaskStore& s) { s.defer_posts(ids, at, answer.outcome.reason, now); });
      next_due_ms_ = std::min(next_due_ms_, at);
    }
    it = by_chat.erase(it);
  }

  // The quota: tasks that may still reach a group, or reached it, this month.
  const std::string month = shanghai_month(now);
  const int cap = days_in_shanghai_month(now);
  std::vector<std::string> chats;
  for (const auto& [chat, posts] : by_chat) chats.push_back(chat);
  auto used = co_await on_store([&](store::GroupTaskStore& s) { return s.quota_used(chats, month); });

  // (owner, merged text) → the groups of one task; per group, the posts its text carries.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> tasks;
  std::map<std::string, std::vector<std::int64_t>> carried;
  for (const auto& [chat, posts] : by_chat) {
    if (used[chat] >= cap) {
      const std::int64_t at = next_shanghai_month_start_ms(now);
      const std::string why = fmt::format("该群本月群发次数已用完（{}/{}），下月初再发", used[chat], cap);
      auto ids = ids_of(posts);
      co_await on_store([&](store::GroupTaskStore& s) { s.defer_posts(ids, at, why, now); });
      continue;
    }
    std::vector<std::string> texts;
    for (const auto& p : posts) texts.push_back(p.content);
    std::string merged;
    const std::size_t n = merge_texts(texts, settings_.text_max_bytes, merged);
    if (n == 0) {  // longer than the limit: enqueue refuses these, so only an old or edited row
      std::vector<std::int64_t> ids{posts.front().id};
      co_await on_store([&](store::GroupTaskStore& s) {
        return s.end_posts(ids, "failed", "内容超过客户群群发的长度上限", now);
      });
      posts_failed_->inc();
      next_due_ms_ = now;
      continue;
    }
    if (n < posts.size()) next_due_ms_ = now;  // the rest go in a next task
    tasks[{owner[chat], merged}].push_back(chat);
    for (std::size_t i = 0; i < n; ++i) carried[chat].push_back(posts[i].id);
  }
  for (const auto& [key, chats_of_task] : tasks) {
    // chat_id_list holds at most 2000 groups: a larger owner gets several tasks.
    for (std::size_t from = 0; from < chats_of_task.size(); from += kMaxChatsPerTask) {
      if (stopping_) co_return;
      store::NewGroupTask part{key.first, key.second, month, {}, {}};
      const std::size_t to = std::min(chats_of_task.size(), from + kMaxChatsPerTask);
      for (std::size_t i = from; i < to; ++i) {
        part.chat_ids.push_back(chats_of_task[i]);
        const auto& ids = carried[chats_of_task[i]];
        part.post_ids.insert(part.post_ids.end(), ids.begin(), ids.end());
      }
      std::sort(part.post_ids.begin(), part.post_ids.end());
      const std::int64_t id = co_await on_store([&](store::GroupTaskStore& s) { return s.create_task(part, now_ms()); });
      if (id == 0) {
        next_due_ms_ = now;  // a post changed meanwhile: plan again
        continue;
      }
      co_await create(std::move(part), id);
    }
  }
}

awaitable<void> Engine::create(store::NewGroupTask task, std::int64_t id) {
  auto answer = co_await api_.create(task.owner, task.chat_ids, task.content);
  const std::int64_t now = now_ms();
  const auto& o = answer.outcome;
  if (o.kind == OutcomeKind::kDelivered) {
    co_await on_store([&](store::GroupTaskStore& s) {
      s.task_created(id, answer.msgid, now + settings_.first_check.count(), now);
    });
    created_->inc();
    next_due_ms_ = std::min(next_due_ms_, now + settings_.first_check.count());
    spdlog::info("group task {}: created for {} group(s), waiting for the owner's confirmation", id,
                 task.chat_ids.size());
    if (notify_) {
      co_await notify_(task.owner,
                       fmt::format("【育儿群助手】有 1 条群发等您确认：发往您的 {} 个家长群。请在企业微信"
                                   "「客户联系 → 群发助手」中核对后点「发送」。内容开头：{}",
                                   task.chat_ids.size(), preview(task.content, 120)),
                       fmt::format("group-task-{}", id));
    }
  } else if (o.kind == OutcomeKind::kPermanent) {
    spdlog::warn("group task {}: WeCom refused it: {}", id, o.reason);
    store::GroupTaskEnd end;
    end.task_id = id;
    end.state = "failed";
    end.reason = "企业微信拒绝创建群发任务：" + o.reason;
    co_await on_store([&](store::GroupTaskStore& s) { s.end_task(end, now); });
    posts_failed_->inc(task.post_ids.size());
  } else {
    const std::int64_t at = later(now, settings_.retry_after, o.retry_after);
    co_await on_store([&](store::GroupTaskStore& s) { s.abandon_task(id, at, o.reason, now); });
    next_due_ms_ = std::min(next_due_ms_, at);
  }
}

awaitable<void> Engine::follow(store::GroupTask task) {
  auto st = co_await api_.status(task.msgid, task.owner);
  const std::int64_t now = now_ms();
  const auto& o = st.outcome;
  if (o.kind == OutcomeKind::kPermanent) {
    // Cancelled or deleted in WeCom (e.g. by an admin in the client): nothing more will be sent.
    store::GroupTaskEnd end;
    end.task_id = task.id;
    end.state = "failed";
    end.reason = o.reason;
    co_await on_store([&](store::GroupTaskStore& s) { s.end_task(end, now); });
    posts_failed_->inc(task.post_ids.size());
    co_return;
  }
  if (o.kind != OutcomeKind::kDelivered) {
    const std::int64_t at = later(now, std::chrono::milliseconds(10000), o.retry_after);
    co_await on_store([&](store::GroupTaskStore& s) { s.task_checked(task.id, at, false, o.reason, now); });
    next_due_ms_ = std::min(next_due_ms_, at);
    co_return;
  }
  if (st.owner_sent) {
    store::GroupTaskEnd end;
    end.task_id = task.id;
    end.state = "done";
    int sent = 0;
    for (const auto& [chat, ignored] : task.chats) {
      auto it = st.groups.find(chat);
      const GroupResult r = it == st.groups.end() ? GroupResult::kPending : it->second;
      end.results[chat] = result_name(r);
      if (r == GroupResult::kSent) {
        ++sent;
      } else {
        end.post_reason[chat] = unsent_reason(r);
      }
    }
    end.reason = fmt::format("群主已确认：{}/{} 个群发出", sent, task.chats.size());
    co_await on_store([&](store::GroupTaskStore& s) { s.end_task(end, now); });
    spdlog::info("group task {}: confirmed; sent to {}/{} group(s)", task.id, sent, task.chats.size());
    // Per post: a group's posts share its result.
    auto posts = co_await on_store([&](store::GroupTaskStore& s) {
      std::vector<std::optional<store::GroupPost>> out;
      for (auto id : task.post_ids) out.push_back(s.post(id));
      return out;
    });
    for (const auto& p : posts) {
      if (!p) continue;
      (p->state == "sent" ? posts_sent_ : posts_failed_)->inc();
    }
    co_return;
  }
  const std::int64_t age = now - task.created_ms;
  if (age >= settings_.give_up_after.count()) {
    auto c = co_await api_.cancel(task.msgid);
    if (c.kind == OutcomeKind::kRetryAfter || c.kind == OutcomeKind::kRefreshTokenAndRetry) {
      const std::int64_t at = later(now, settings_.retry_after, c.retry_after);
      co_await on_store([&](store::GroupTaskStore& s) { s.task_checked(task.id, at, false, c.reason, now); });
      next_due_ms_ = std::min(next_due_ms_, at);
      co_return;
    }
    store::GroupTaskEnd end;
    end.task_id = task.id;
    end.state = "cancelled";
    end.reason = fmt::format("群主 {} 小时内未确认，任务已取消", settings_.give_up_after.count() / 3600000);
    end.posts_state = "expired";
    co_await on_store([&](store::GroupTaskStore& s) { s.end_task(end, now); });
    posts_expired_->inc(task.post_ids.size());
    spdlog::info("group task {}: not confirmed in time; cancelled", task.id);
    co_return;
  }
  bool reminded = false;
  std::string note;
  if (age >= settings_.remind_after.count() &&
      (task.last_remind_ms == 0 || now - task.last_remind_ms >= settings_.remind_every.count())) {
    auto r = co_await api_.remind(task.msgid);
    reminded = r.kind == OutcomeKind::kDelivered;
    if (reminded) reminded_->inc();
    else note = "；提醒未发出：" + r.reason;
  }
  const std::string why = fmt::format("等待群主确认（已等 {} 分钟，已提醒 {} 次{}）", age / 60000,
                                      task.reminds + (reminded ? 1 : 0), note);
  const std::int64_t next = now + settings_.check_every.count();
  co_await on_store([&](store::GroupTaskStore& s) { s.task_checked(task.id, next, reminded, why, now); });
  next_due_ms_ = std::min(next_due_ms_, next);
}

}  // namespace yuer::group_task
