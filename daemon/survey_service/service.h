// The survey service: wires the pure survey core (daemon/survey) to rounds, 微信客服 and the outbox.
//
// Rounds: open_round snapshots the eligible roster (children 0..max_age months on the opening
// date in the round's units: the coverage denominator) and asks WeCom for one kf link per
// township whose scene ("s<round>_<township code>") names round and township; close_round ends it.
//
// Conversations: one durable inbox consumer per chat channel (consumer.h, channel_rules.h): kf
// always, app when Settings::app is set. Members (app) take part when invited: invite() binds them
// to a round and queues one invitation each (key "survey:invite:<round>:<userid>").
// Everything runs on the io thread; store calls hop to the store pool (STYLE D4).
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "daemon/model/kf_contact_api.h"
#include "daemon/store/org_store.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/definition.h"
#include "daemon/survey/engine.h"
#include "daemon/survey/roster.h"
#include "daemon/survey_service/channel_rules.h"
#include "daemon/survey_service/consumer.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::survey_service {

using boost::asio::awaitable;

struct Settings {
  std::string open_kfid;                          // the kf account of the links ('' : no links)
  std::chrono::milliseconds poll{200};            // inbox poll when idle
  std::chrono::milliseconds retry_after{2000};    // after a failed page (store or outbox refused)
  int page = 200;                                 // inbox rows per page
  bool app = false;                               // also consume the app's rows (members; route "app")
};

// What invite() did.
struct Invited {
  std::size_t members = 0;  // bound to the round (again, for those invited before)
};

struct OpenRequest {
  std::string survey;              // definition id ("feeding")
  std::string name;
  std::vector<std::string> units;  // 12-digit codes
  std::string opens, closes;       // YYYY-MM-DD
};

// The YYYY-MM-DD of a unix time in China (UTC+8, no daylight saving).
std::chrono::year_month_day china_date(std::int64_t unix_seconds);
// The digits of a code that every unit below it starts with (level 1 → 2, 2 → 4, 3 → 6, 4 → 9, 5 → 12).
std::string unit_prefix(const std::string& code, int level);
// The link scene of a round's township, and back (nullopt when `scene` is not one of ours).
std::string scene_of(std::int64_t round_id, const std::string& township);
std::optional<std::pair<std::int64_t, std::string>> parse_scene(const std::string& scene);

class Service {
 public:
  // `inbox`, `surveys` and `org` are used only on `store_pool`'s thread; `links` (may be null: no
  // kf links) on the io thread. Everything passed must outlive the service.
  Service(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
          store::SurveyStore& surveys, store::OrgStore& org, std::vector<survey::Survey> definitions,
          model::KfContactApi* links, const Clock& clock, Settings settings, SendReplies send);
  ~Service();

  // Consume the kf (run) and the app (run_app, a no-op without Settings::app) inbox rows until
  // stop(). Throw nothing a restart would not repeat: store errors are logged and the page is
  // tried again after `retry_after`.
  awaitable<void> run();
  awaitable<void> run_app();
  void stop();
  // New inbox rows may be there (shortens the poll).
  void poke();
  // The roster changed (an import was applied): the rounds' cached rosters are read again before
  // the next page is handled. Io thread.
  void roster_changed();

  // Binds members (userids; channel "app") to an open round and queues one invitation each
  // through route "app" (key "survey:invite:<round>:<userid>": inviting again sends nothing new).
  // Fails with Error{"survey.not_found" | "survey.closed" | "survey.bad_request" (userids: 1..1000
  // of [0-9A-Za-z_.@-], ≤ 64 bytes) | "survey.no_app" | the outbox's error}; on an outbox error the
  // bindings stay and inviting again completes it.
  awaitable<Result<Invited>> invite(std::int64_t round_id, std::vector<std::string> userids);

  // Admin. Fails with Error{"survey.bad_request" | "survey.unknown_survey" | "survey.unknown_unit",
  // Chinese message}.
  awaitable<Result<store::SurveyRound>> open_round(OpenRequest request);
  // Fails with Error{"survey.not_found"}.
  awaitable<Result<store::SurveyRound>> close_round(std::int64_t id);
  // Asks WeCom again for the links a round lacks (after a WeCom failure at open).
  awaitable<void> ensure_links(std::int64_t round_id);

  const survey::Survey* definition(const std::string& id) const;
  const std::vector<survey::Survey>& definitions() const { return definitions_; }
  std::int64_t cursor() const { return kf_->cursor(); }
  std::uint64_t turns() const { return kf_->turns() + (app_ ? app_->turns() : 0); }

 private:

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::InboxStore& inbox_;
  store::SurveyStore& surveys_;
  store::OrgStore& org_;
  std::vector<survey::Survey> definitions_;
  std::map<std::string, std::unique_ptr<survey::Engine>> engines_;
  model::KfContactApi* links_;
  const Clock& clock_;
  Settings settings_;
  SendReplies send_;
  std::unique_ptr<Consumer> kf_;
  std::unique_ptr<Consumer> app_;  // null without Settings::app
};

}  // namespace yuer::survey_service
