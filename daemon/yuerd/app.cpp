#include "daemon/yuerd/app.h"

#include "adapters/registry.h"
#include "daemon/admin/admin_api.h"
#include "daemon/base/clock.h"
#include "daemon/base/steerable_clock.h"
#include "daemon/lessons/templates.h"
#include "daemon/scheduler/scheduler.h"
#include "daemon/store/schedule_store.h"
#include "daemon/yuerd/retention.h"
#include "daemon/yuerd/schedule_delivery.h"
#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "daemon/group_task/engine.h"
#include "daemon/groups/engine.h"
#include "daemon/inbox/executor_inbox.h"
#include "daemon/inbox/group_commit_inbox.h"
#include "daemon/lessons/lesson.h"
#include "daemon/net/http_server.h"
#include "daemon/org/phone_key.h"
#include "daemon/outbox/dispatcher.h"
#include "daemon/store/access_store.h"
#include "daemon/store/group_store.h"
#include "daemon/store/kf_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/outbox_store.h"
#include "daemon/store/field_cipher.h"
#include "daemon/store/retention_store.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/definition.h"
#include "daemon/survey_service/bot_commands.h"
#include "daemon/survey_service/service.h"
#include "daemon/yuerd/survey_notices.h"

#include <boost/asio/post.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <exception>

namespace yuer::yuerd {
namespace {

constexpr std::chrono::milliseconds kStopGrace{4000};  // in-flight requests; the whole stop stays < 5 s

std::vector<adapters::CallbackReceiver> receivers_of(const Settings& s) {
  std::vector<adapters::CallbackReceiver> out;
  for (const auto& r : s.callback.receivers)
    out.push_back({r.name, r.path, r.json, r.token, r.aes_key, r.receive_id});
  return out;
}

awaitable<int> store_ping(store::Store* store) { co_return store->schema_version(); }

adapters::OutboundConfig outbound_of(const Settings& s) {
  adapters::OutboundConfig c;
  c.api_base = s.api_base;
  c.corp_id = s.corp_id;
  c.http.connect_timeout = std::chrono::milliseconds(s.outbound.connect_timeout_ms);
  c.http.request_timeout = std::chrono::milliseconds(s.outbound.request_timeout_ms);
  c.http.extra_ca_file = s.outbound.extra_ca_file;
  c.robot_keys = s.outbound.robot_keys;
  c.robot_per_key_per_window = s.outbound.robot_per_key_per_window;
  c.robot_window = std::chrono::milliseconds(s.outbound.robot_window_ms);
  c.robot_route_per_minute = s.outbound.robot_route_per_minute;
  c.app_agent_id = s.outbound.app_agent_id;
  c.app_secret = s.outbound.app_secret;
  c.group_tasks = s.group_task_enabled;
  c.customer_groups = s.groups_enabled;
  c.kf = s.outbound.kf;
  c.kf_open_kfids = s.outbound.kf_open_kfids;
  c.kf_window_margin = std::chrono::seconds(s.outbound.kf_window_margin_s);
  for (const auto& r : s.callback.receivers)
    if (r.json && s.survey_reports.bot_commands) c.aibot_replies = true;  // 「@助手 进度」 replies
  return c;
}

// Queues a notice (to a member through the app route, or to a management group through its robot
// or app chat) in the outbox, once per key.
awaitable<void> notify_route(outbox::Dispatcher* d, std::string route, std::string target, std::string text,
                             std::string key) {
  outbox::EnqueueRequest r;
  r.route = std::move(route);
  r.target = std::move(target);
  r.content = std::move(text);
  r.idempotency_key = "notice:" + key;
  try {
    auto done = co_await d->enqueue(std::move(r));
    if (!done) spdlog::warn("{}: the notice cannot be queued: {}", key, done.error().message);
  } catch (const std::exception& e) {
    spdlog::error("{}: cannot queue the notice: {}", key, e.what());
  }
}

// A group owner is told through the app route that a mass-message task waits for them.
awaitable<void> notify_owner(outbox::Dispatcher* d, std::string owner, std::string text, std::string key) {
  co_await notify_route(d, "app", std::move(owner), std::move(text), std::move(key));
}

// Survey replies (routes kf, app, app_card) in one outbox transaction; a repeated key is not queued again.
awaitable<Result<void>> queue_survey_replies(outbox::Dispatcher* d, std::vector<survey_service::Reply> replies) {
  std::vector<outbox::EnqueueRequest> batch;
  for (auto& r : replies) {
    outbox::EnqueueRequest e;
    e.route = std::move(r.route);
    e.kind = r.kind;
    e.target = std::move(r.target);
    e.content = std::move(r.text);
    e.idempotency_key = std::move(r.key);
    e.expire_at_ms = r.expire_at_ms;
    batch.push_back(std::move(e));
  }
  try {
    auto done = co_await d->enqueue_batch(std::move(batch));
    if (!done) co_return done.error();
  } catch (const std::exception& e) {
    co_return Error{"outbox.store", e.what()};
  }
  co_return Result<void>{};
}

// A management-group robot reply (route aibot, the callback's response_url). A refused reply (an
// unknown response_url) is logged and dropped; only a store failure is an error (tried again).
awaitable<Result<void>> queue_bot_reply(outbox::Dispatcher* d, survey_service::BotReply r) {
  outbox::EnqueueRequest e;
  e.route = survey_service::kBotRoute;
  e.target = std::move(r.response_url);
  e.kind = model::ContentKind::kMarkdown;
  e.content = std::move(r.text);
  e.idempotency_key = r.key;
  try {
    auto done = co_await d->enqueue(std::move(e));
    if (!done) spdlog::warn("{}: the robot reply cannot be queued: {}", r.key, done.error().message);
  } catch (const std::exception& ex) {
    co_return Error{"outbox.store", ex.what()};
  }
  co_return Result<void>{};
}

class Daemon {
 public:
  Daemon(Settings settings, std::string config_path)
      : settings_(std::move(settings)), config_path_(std::move(config_path)) {}

  int run();

 private:
  awaitable<void> handle_signals();
  awaitable<void> watchdog(std::chrono::microseconds interval);
  awaitable<void> shutdown();
  void reload();
  // Completion handler for long-lived tasks: an exception ends the daemon with exit code 1.
  auto task_end(const char* name) {
    return [this, name](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("task {} failed: {}", name, ex.what());
      }
      exit_code_ = kExitRuntime;
      ioc_.stop();
    };
  }

  Settings settings_;
  std::string config_path_;
  int exit_code_ = kExitOk;
  boost::asio::io_context ioc_{1};
  boost::asio::thread_pool store_pool_{1};
  boost::asio::signal_set signals_{ioc_, SIGINT, SIGTERM, SIGHUP};
  boost::asio::steady_timer watchdog_timer_{ioc_};
  bool stopping_ = false;
  // [time] test_clock: the steerable clock (moved by /api/v1/clock), else the system clock.
  SystemClock system_clock_;
  SteerableClock steerable_clock_{settings_.clock_rate};
  Clock& clock_ = settings_.test_clock ? static_cast<Clock&>(steerable_clock_) : static_cast<Clock&>(system_clock_);
  metrics::Registry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<inbox::GroupCommitInbox> inbox_;
  std::unique_ptr<inbox::ExecutorInbox> main_thread_inbox_;  // with kf: the doorbell, on the main thread
  std::unique_ptr<adapters::CallbackRoutes> callbacks_;
  std::unique_ptr<store::OutboxStore> outbox_store_;
  std::unique_ptr<store::KfStore> kf_store_;
  std::unique_ptr<adapters::OutboundChannels> outbound_;
  std::unique_ptr<outbox::Dispatcher> dispatcher_;
  std::unique_ptr<store::GroupTaskStore> group_task_store_;
  std::unique_ptr<group_task::Engine> group_tasks_;
  std::unique_ptr<store::OrgStore> org_store_;
  std::unique_ptr<store::GroupStore> group_store_;
  std::unique_ptr<groups::Engine> groups_;
  std::optional<lessons::Library> lessons_;
  std::unique_ptr<store::AccessStore> access_store_;
  std::unique_ptr<admin::AdminApi> admin_;
  std::unique_ptr<store::SurveyStore> survey_store_;
  std::unique_ptr<survey_service::Service> surveys_;
  // Survey reminders, daily reports and robot commands (issue 7): wired by start_survey_notices().
  int start_survey_notices();
  std::unique_ptr<store::GroupStore> survey_groups_;  // when neither [groups] nor the scheduler opened one
  std::unique_ptr<ScheduleDelivery> survey_delivery_;
  std::unique_ptr<SurveyNotices> survey_notices_;
  std::unique_ptr<survey_service::BotCommands> bot_commands_;
  std::unique_ptr<net::HttpServer> server_;
  // Scheduled pushes (issue 6): wired by start_scheduler().
  int start_scheduler();
  std::unique_ptr<store::GroupStore> scheduler_groups_;  // when [groups] is off: the scheduler's own connection
  std::unique_ptr<store::ScheduleStore> schedule_store_;
  std::optional<lessons::Templates> templates_;
  std::unique_ptr<ScheduleDelivery> schedule_delivery_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  // [retention] (issue 9): the periodic purge, when configured.
  std::unique_ptr<store::RetentionStore> retention_store_;
  std::unique_ptr<Retention> retention_;
};

// The scheduler needs the lesson library; without it there are no scheduled pushes (API: 503).
int Daemon::start_scheduler() {
  if (settings_.test_clock) {
    spdlog::warn("time.test_clock is on: yuerd's clock is moved by /api/v1/clock (rate {})", settings_.clock_rate);
    admin_->set_clock(&steerable_clock_, [this] {
      if (scheduler_) scheduler_->poke();
      dispatcher_->poke();
      if (group_tasks_) group_tasks_->poke();
      if (survey_notices_) survey_notices_->poke();
    });
  }
  if (!lessons_) {
    if (!settings_.scheduler.config_schedules.empty()) {
      spdlog::critical("[[schedule]] needs the lesson library ([content] lessons_dir)");
      return kExitUsage;
    }
    return kExitOk;
  }
  auto zone = scheduler::Zone::load(settings_.time_zone);
  if (!zone) {
    spdlog::critical("{}", zone.error().message);
    return kExitUsage;
  }
  auto ss = store::open_sqlite_schedule_store(settings_.store);
  if (!ss) {
    spdlog::critical("cannot open the schedules: {} ({})", ss.error().message, ss.error().code);
    return kExitRuntime;
  }
  schedule_store_ = std::move(*ss);
  store::GroupStore* groups = group_store_.get();
  if (!groups) {
    auto gs = store::open_sqlite_group_store(settings_.store);
    if (!gs) {
      spdlog::critical("cannot open the groups: {} ({})", gs.error().message, gs.error().code);
      return kExitRuntime;
    }
    scheduler_groups_ = std::move(*gs);
    groups = scheduler_groups_.get();
  }
  // Message templates live beside the lessons (templates/messages); without them lessons are wrapped plainly.
  const auto messages = std::filesystem::path(settings_.lessons_dir).parent_path() / "messages";
  std::error_code ec;
  if (std::filesystem::is_directory(messages, ec)) {
    auto t = lessons::Templates::load(messages);
    if (!t) {
      spdlog::critical("{}: {} ({})", messages.string(), t.error().message, t.error().code);
      return kExitUsage;
    }
    templates_ = std::move(*t);
  }
  schedule_delivery_ = std::make_unique<ScheduleDelivery>(*dispatcher_, group_tasks_.get());
  scheduler_ = std::make_unique<scheduler::Scheduler>(ioc_.get_executor(), store_pool_, *schedule_store_, *groups,
                                                      *org_store_, *lessons_, templates_ ? &*templates_ : nullptr,
                                                      std::move(*zone), clock_, metrics_, *schedule_delivery_,
                                                      settings_.scheduler);
  admin_->set_schedules(scheduler_.get());
  return kExitOk;
}

// [survey.reminders], [survey.reports] and the robots' 「@助手 进度」 (issue 7), once the survey
// service runs.
int Daemon::start_survey_notices() {
  const auto& cfg = settings_.survey_reports;
  std::vector<std::string> bots;
  for (const auto& r : settings_.callback.receivers)
    if (r.json) bots.push_back(r.name);
  const bool commands = cfg.bot_commands && !bots.empty();
  if (!cfg.reminders && !cfg.reports && !commands) return kExitOk;
  store::GroupStore* groups = group_store_ ? group_store_.get() : scheduler_groups_.get();
  if (!groups) {
    auto gs = store::open_sqlite_group_store(settings_.store);
    if (!gs) {
      spdlog::critical("cannot open the groups: {} ({})", gs.error().message, gs.error().code);
      return kExitRuntime;
    }
    survey_groups_ = std::move(*gs);
    groups = survey_groups_.get();
  }
  if (commands) {
    survey_service::BotSettings bs;
    bs.receivers = bots;
    bs.thresholds = {cfg.township_percent, cfg.county_percent};
    // Not a capturing coroutine lambda (GCC 12): the lambda only forwards to a coroutine.
    survey_service::SendBotReply send = [d = dispatcher_.get()](survey_service::BotReply r) {
      return queue_bot_reply(d, std::move(r));
    };
    bot_commands_ = std::make_unique<survey_service::BotCommands>(ioc_.get_executor(), store_pool_, *store_, *survey_store_,
                                                                  *org_store_, *groups, clock_, bs, std::move(send));
  }
  if (cfg.reminders || cfg.reports) {
    auto zone = scheduler::Zone::load(settings_.time_zone);
    if (!zone) {
      spdlog::critical("{}", zone.error().message);
      return kExitUsage;
    }
    survey_delivery_ = std::make_unique<ScheduleDelivery>(*dispatcher_, group_tasks_.get());
    std::string kfid = settings_.survey_open_kfid;
    if (kfid.empty() && !settings_.outbound.kf_open_kfids.empty()) kfid = settings_.outbound.kf_open_kfids.front();
    if (!settings_.outbound.kf) kfid.clear();
    survey_notices_ = std::make_unique<SurveyNotices>(ioc_.get_executor(), store_pool_, *survey_store_, *org_store_,
                                                      *groups, std::move(*zone), clock_, *survey_delivery_,
                                                      *dispatcher_, kfid, cfg);
  }
  return kExitOk;
}

int Daemon::run() {
  auto opened = store::open_sqlite_store(settings_.store);
  if (!opened) {
    spdlog::critical("cannot open store: {} ({})", opened.error().message, opened.error().code);
    const std::string& why = opened.error().message;
    if (why.find("is not a SQLite database") != std::string::npos || why.find("malformed") != std::string::npos) {
      spdlog::critical("存储文件已损坏，请停止服务并从备份恢复 (store file is damaged; restore a backup): {}",
                       settings_.store.path);
      return kExitCorruptStore;
    }
    return opened.error().code == "store.key" ? kExitUsage : kExitRuntime;
  }
  store_ = std::move(*opened);
  // A damaged file is refused before anything reads or writes it (README "Reliability").
  try {
    const std::string check = store_->quick_check();
    if (check != "ok") {
      spdlog::critical("存储文件已损坏，请停止服务并从备份恢复 (store file is damaged; restore a backup): {}: "
                       "quick_check: {}",
                       settings_.store.path, check);
      return kExitCorruptStore;
    }
  } catch (const store::StoreError& e) {
    spdlog::critical("存储文件已损坏，请停止服务并从备份恢复 (store file is damaged; restore a backup): {} ({})",
                     e.what(), e.code());
    return e.code() == "store.corrupt" ? kExitCorruptStore : kExitRuntime;
  }
  const std::int64_t rows_at_start = store_->count_inbox();
  spdlog::info("store open path={} schema={} inbox_rows={}", settings_.store.path, store_->schema_version(),
               rows_at_start);
  // docs/privacy.md "Encryption at rest".
  if (settings_.store.field_cipher)
    spdlog::info("personal fields sealed at rest under field key \"{}\" ({} values sealed at start, {} keys)",
                 settings_.store.field_cipher->current_id(), store_->sealed_at_open(),
                 settings_.store.field_cipher->key_ids().size());
  else
    spdlog::warn("personal fields (names, birth dates, answers, inbox payloads) are stored in plain text: set "
                 "[privacy] field_key_file (docs/privacy.md)");
  metrics_.gauge("yuer_privacy_fields_sealed", "1 when personal fields are sealed at rest ([privacy] field_key_*)",
                 [on = settings_.store.field_cipher != nullptr] { return on ? 1.0 : 0.0; });

  inbox_ = std::make_unique<inbox::GroupCommitInbox>(ioc_.get_executor(), store_pool_, *store_, metrics_,
                                                     settings_.inbox);
  try {
    outbound_ = std::make_unique<adapters::OutboundChannels>(ioc_.get_executor(), clock_, outbound_of(settings_));
  } catch (const std::exception& e) {
    spdlog::critical("cannot set up outbound channels: {}", e.what());
    return kExitRuntime;
  }
  // With kf, the app's callback endpoint writes through the kf doorbell (it starts kf/sync_msg).
  // The callback endpoints run on every io thread; the doorbell belongs to the main one, so it is
  // reached through an ExecutorInbox. The group-commit inbox itself is thread-safe.
  model::Inbox* callback_inbox = inbox_.get();
  if (settings_.outbound.kf) {
    auto kf_store = store::open_sqlite_kf_store(settings_.store);
    if (!kf_store) {
      spdlog::critical("cannot open the kf state: {} ({})", kf_store.error().message, kf_store.error().code);
      return kExitRuntime;
    }
    kf_store_ = std::move(*kf_store);
    callback_inbox = &outbound_->attach_kf(*inbox_, *kf_store_, store_pool_.get_executor());
    if (callback_inbox != inbox_.get()) {
      main_thread_inbox_ = std::make_unique<inbox::ExecutorInbox>(*callback_inbox, ioc_.get_executor());
      callback_inbox = main_thread_inbox_.get();
    }
  }
  // With [groups], committed change_external_chat events reach the groups engine.
  if (settings_.groups_enabled)
    callback_inbox = &outbound_->attach_groups(
        *callback_inbox, [this](std::string chat, std::string type, std::string last, std::string cur) {
          // The callback may run on any io thread; the groups engine lives on the main one.
          groups::Change c{std::move(chat), std::move(type), std::move(last), std::move(cur)};
          boost::asio::post(ioc_, [this, c = std::move(c)]() mutable {
            if (groups_) groups_->on_change(std::move(c));
          });
        });
  adapters::CallbackOptions options{settings_.callback.replay_window_s, settings_.callback.replay_cache_size,
                                    settings_.callback.max_body_bytes};
  auto callbacks =
      adapters::CallbackRoutes::create(receivers_of(settings_), options, *callback_inbox, clock_, metrics_);
  if (!callbacks) {
    spdlog::critical("cannot set up callbacks: {}", callbacks.error().message);
    return kExitRuntime;
  }
  callbacks_ = std::move(*callbacks);
  admin_ = std::make_unique<admin::AdminApi>(*store_, store_pool_, metrics_, settings_.admin_token);
  // Scoped tokens and the audit log (README "Access control"); read once here, before the pool runs.
  auto access_store = store::open_sqlite_access_store(settings_.store);
  if (!access_store) {
    spdlog::critical("cannot open the admin tokens: {} ({})", access_store.error().message, access_store.error().code);
    return kExitRuntime;
  }
  access_store_ = std::move(*access_store);
  admin_->set_access(access_store_.get(), access_store_->tokens());

  auto outbox_store = store::open_sqlite_outbox_store(settings_.store);
  if (!outbox_store) {
    spdlog::critical("cannot open the outbox: {} ({})", outbox_store.error().message, outbox_store.error().code);
    return kExitRuntime;
  }
  outbox_store_ = std::move(*outbox_store);
  dispatcher_ = std::make_unique<outbox::Dispatcher>(ioc_.get_executor(), store_pool_, *outbox_store_, clock_, metrics_,
                                                     settings_.outbox);
  for (auto* channel : outbound_->channels()) dispatcher_->add_channel(*channel);
  admin_->set_outbox(dispatcher_.get(), outbox_store_.get());
  if (auto* api = outbound_->group_task_api()) {
    auto gts = store::open_sqlite_group_task_store(settings_.store);
    if (!gts) {
      spdlog::critical("cannot open the group tasks: {} ({})", gts.error().message, gts.error().code);
      return kExitRuntime;
    }
    group_task_store_ = std::move(*gts);
    // Not a capturing coroutine lambda (GCC 12): the lambda only forwards to a coroutine.
    group_task::Notify notify = [d = dispatcher_.get()](std::string owner, std::string text, std::string key) {
      return notify_owner(d, std::move(owner), std::move(text), std::move(key));
    };
    group_tasks_ = std::make_unique<group_task::Engine>(ioc_.get_executor(), store_pool_, *group_task_store_, *api,
                                                        clock_, metrics_, settings_.group_task, std::move(notify));
    admin_->set_group_tasks(group_tasks_.get());
  }

  auto org_store = store::open_sqlite_org_store(settings_.store);
  if (!org_store) {
    spdlog::critical("cannot open the organisation store: {} ({})", org_store.error().message, org_store.error().code);
    return kExitRuntime;
  }
  org_store_ = std::move(*org_store);
  std::optional<org::PhoneKey> phone_key;
  if (!settings_.roster_phone_key.empty()) phone_key.emplace(settings_.roster_phone_key);
  admin_->set_org(org_store_.get(), std::move(phone_key));

  if (auto* api = outbound_->customer_group_api()) {
    auto gs = store::open_sqlite_group_store(settings_.store);
    if (!gs) {
      spdlog::critical("cannot open the groups: {} ({})", gs.error().message, gs.error().code);
      return kExitRuntime;
    }
    group_store_ = std::move(*gs);
    // Not a capturing coroutine lambda (GCC 12): the lambda only forwards to a coroutine.
    groups::Notify notify = [d = dispatcher_.get()](std::string route, std::string target, std::string text,
                                                     std::string key) {
      return notify_route(d, std::move(route), std::move(target), std::move(text), std::move(key));
    };
    groups_ = std::make_unique<groups::Engine>(ioc_.get_executor(), store_pool_, *group_store_, *org_store_, *api, clock_,
                                               metrics_, settings_.groups, std::move(notify));
    admin_->set_groups(groups_.get(), group_store_.get());
  }

  // A configured or present library must load; only an absent default folder is skipped.
  std::error_code ec;
  if (settings_.lessons_dir_configured || std::filesystem::exists(settings_.lessons_dir, ec)) {
    auto library = lessons::Library::load(settings_.lessons_dir);
    if (!library) {
      spdlog::critical("[content] lessons_dir {}: {} ({})", settings_.lessons_dir, library.error().message,
                       library.error().code);
      return kExitUsage;
    }
    lessons_ = std::move(*library);
    admin_->set_lessons(&*lessons_);
    spdlog::info("lessons: {} loaded from {}", lessons_->lessons().size(), settings_.lessons_dir);
  } else {
    spdlog::warn("lessons: no library at {} ([content] lessons_dir not set); /api/v1/lessons answers 503",
                 settings_.lessons_dir);
  }

  if (int rc = start_scheduler(); rc != kExitOk) return rc;
  // [survey] (issue 7): definitions, rounds and the kf conversations.
  if (settings_.surveys_dir_configured || std::filesystem::exists(settings_.surveys_dir, ec)) {
    auto defs = survey::load_survey_dir(settings_.surveys_dir);
    if (!defs) {
      spdlog::critical("[survey] dir {}: {} ({})", settings_.surveys_dir, defs.error().message, defs.error().code);
      return kExitUsage;
    }
    auto ss = store::open_sqlite_survey_store(settings_.store);
    if (!ss) {
      spdlog::critical("cannot open the surveys: {} ({})", ss.error().message, ss.error().code);
      return kExitRuntime;
    }
    survey_store_ = std::move(*ss);
    survey_service::Settings sv;
    sv.open_kfid = settings_.survey_open_kfid;
    if (sv.open_kfid.empty() && !settings_.outbound.kf_open_kfids.empty()) sv.open_kfid = settings_.outbound.kf_open_kfids.front();
    sv.poll = std::chrono::milliseconds(settings_.survey_poll_ms);
    // Members answer through the self-built app (invited by POST /api/v1/surveys/ID/invite).
    sv.app = settings_.outbound.app_agent_id != 0 && !settings_.outbound.app_secret.empty();
    // Not a capturing coroutine lambda (GCC 12): the lambda only forwards to a coroutine.
    survey_service::SendReplies send = [d = dispatcher_.get()](std::vector<survey_service::Reply> r) {
      return queue_survey_replies(d, std::move(r));
    };
    const std::size_t n = defs->size();
    surveys_ = std::make_unique<survey_service::Service>(ioc_.get_executor(), store_pool_, *store_, *survey_store_,
                                                         *org_store_, std::move(*defs), outbound_->kf_contact_api(),
                                                         clock_, sv, std::move(send));
    admin_->set_surveys(surveys_.get(), survey_store_.get());
    spdlog::info("surveys: {} loaded from {}", n, settings_.surveys_dir);
    if (int rc = start_survey_notices(); rc != kExitOk) return rc;
  }

  if (settings_.retention.enabled()) {
    auto rs = store::open_sqlite_retention_store(settings_.store);
    if (!rs) {
      spdlog::critical("cannot open the retention purge: {} ({})", rs.error().message, rs.error().code);
      return kExitRuntime;
    }
    retention_store_ = std::move(*rs);
    retention_ = std::make_unique<Retention>(ioc_, store_pool_, *retention_store_, clock_, metrics_, settings_.retention);
    spdlog::info("retention: closed rounds' identifying fields after {} days, inbox payloads after {} days (0 = kept)",
                 settings_.retention.identifying_after_days, settings_.retention.inbox_payload_after_days);
  }

  server_ = std::make_unique<net::HttpServer>(ioc_, settings_.server, metrics_);
  for (auto& r : callbacks_->routes()) server_->add_route(std::move(r));
  for (auto& r : admin_->routes(settings_.admin_allow_remote)) server_->add_route(std::move(r));

  std::vector<metrics::Counter*> stored;
  for (const auto& r : settings_.callback.receivers)
    stored.push_back(&metrics_.counter("yuer_callback_accepted_total", "Callbacks committed and acknowledged",
                                       {{"receiver", r.name}, {"result", "stored"}}));
  metrics_.gauge("yuer_inbox_rows", "Rows in the inbox table", [rows_at_start, stored] {
    double n = static_cast<double>(rows_at_start);
    for (auto* c : stored) n += static_cast<double>(c->value());
    return n;
  });

  auto bound = server_->listen();
  if (!bound) {
    spdlog::critical("{}", bound.error().message);
    return kExitRuntime;
  }
  server_->start();
  // Tests and scripts read the port from this line (server.listen may ask for port 0).
  spdlog::info("yuerd listening on http://{}:{} receivers={} io_threads={}", bound->address().to_string(),
               bound->port(), settings_.callback.receivers.size(), settings_.server.io_threads);

  net::co_spawn(ioc_, handle_signals(), task_end("signals"));
  net::co_spawn(ioc_, dispatcher_->run(), task_end("outbox"));
  outbound_->start();
  if (group_tasks_) net::co_spawn(ioc_, group_tasks_->run(), task_end("group tasks"));
  if (groups_) net::co_spawn(ioc_, groups_->run(), task_end("groups"));
  if (scheduler_) net::co_spawn(ioc_, scheduler_->run(), task_end("scheduler"));
  if (surveys_) net::co_spawn(ioc_, surveys_->run(), task_end("surveys"));
  if (surveys_) net::co_spawn(ioc_, surveys_->run_app(), task_end("survey app"));
  if (survey_notices_) net::co_spawn(ioc_, survey_notices_->run(), task_end("survey notices"));
  if (bot_commands_) net::co_spawn(ioc_, bot_commands_->run(), task_end("robot commands"));
  if (retention_) retention_->start();
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0)
    net::co_spawn(ioc_, watchdog(std::chrono::microseconds(usec / 2)), task_end("watchdog"));
  sd_notify(0, "READY=1\nSTATUS=accepting callbacks");

  try {
    ioc_.run();
  } catch (const std::exception& e) {
    spdlog::critical("io loop failed: {}", e.what());
    exit_code_ = kExitRuntime;
  }
  // Reverse order: nothing is left on the io thread. The server joins its extra io threads (after
  // a fatal error it stops them first, so they stop feeding the store thread); wait for the store
  // thread, then close.
  server_.reset();
  store_pool_.join();
  retention_.reset();
  retention_store_.reset();
  admin_.reset();
  scheduler_.reset();
  schedule_delivery_.reset();
  schedule_store_.reset();
  scheduler_groups_.reset();
  bot_commands_.reset();
  survey_notices_.reset();
  survey_delivery_.reset();
  survey_groups_.reset();
  surveys_.reset();
  survey_store_.reset();
  org_store_.reset();
  group_tasks_.reset();
  group_task_store_.reset();
  dispatcher_.reset();
  outbound_.reset();
  outbox_store_.reset();
  kf_store_.reset();
  callbacks_.reset();
  main_thread_inbox_.reset();
  inbox_.reset();
  store_.reset();
  spdlog::info("yuerd stopped code={}", exit_code_);
  spdlog::default_logger()->flush();
  return exit_code_;
}

awaitable<void> Daemon::handle_signals() {
  for (;;) {
    auto [ec, signo] = co_await signals_.async_wait(use_tuple);
    if (ec) co_return;  // cancelled at shutdown
    if (signo == SIGHUP) {
      reload();
      continue;
    }
    spdlog::info("signal {} received, stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    co_await shutdown();
    co_return;
  }
}

awaitable<void> Daemon::shutdown() {
  if (stopping_) co_return;
  stopping_ = true;
  sd_notify(0, "STOPPING=1");
  co_await server_->stop(kStopGrace);
  if (scheduler_) scheduler_->stop();
  if (group_tasks_) group_tasks_->stop();
  if (groups_) groups_->stop();
  if (surveys_) surveys_->stop();
  if (survey_notices_) survey_notices_->stop();
  if (bot_commands_) bot_commands_->stop();
  dispatcher_->stop();  // attempts in flight end within wecom.request_timeout_ms
  outbound_->stop();
  watchdog_timer_.cancel();
  signals_.cancel();
}

// Pings the store through its executor before each keep-alive, so a stuck store lets systemd's
// watchdog restart us rather than hide behind a live io thread.
awaitable<void> Daemon::watchdog(std::chrono::microseconds interval) {
  while (!stopping_) {
    co_await net::co_spawn(store_pool_, store_ping(store_.get()), net::use_awaitable);
    sd_notify(0, "WATCHDOG=1");
    watchdog_timer_.expires_after(interval);
    auto [ec] = co_await watchdog_timer_.async_wait(use_tuple);
    if (ec) co_return;
  }
}

void Daemon::reload() {
  auto fresh = load_config(config_path_);
  if (!fresh) {
    spdlog::error("reload refused, keeping the running settings: {}", fresh.error().message);
    return;
  }
  log::setup(fresh->log_level);
  admin_->set_token(fresh->admin_token);
  outbound_->set_app_secret(fresh->outbound.app_secret);
  if (auto ok = callbacks_->rekey(receivers_of(*fresh)); !ok)
    spdlog::error("reload: {}", ok.error().message);
  if (fresh->server.listen != settings_.server.listen || fresh->store.path != settings_.store.path)
    spdlog::warn("reload: server.listen and store.path changes take effect after a restart");
  spdlog::info("reloaded {}: log level, admin token and callback secrets", config_path_);
}

}  // namespace

int run_daemon(Settings settings, const std::string& config_path) {
  log::setup(settings.log_level);
  Daemon daemon(std::move(settings), config_path);
  return daemon.run();
}

}  // namespace yuer::yuerd
