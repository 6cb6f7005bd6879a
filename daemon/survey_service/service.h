// The survey service: wires the pure survey core (daemon/survey) to rounds, 微信客服 and the outbox.
//
// Rounds: open_round snapshots the eligible roster (children 0..max_age months on the opening
// date in the round's units: the coverage denominator) and asks WeCom for one kf link per
// township whose scene ("s<round>_<township code>") names round and township; close_round ends it.
//
// Conversations: a durable consumer of the inbox rows of receiver "kf" (KfSync's messages). Its
// cursor lives in the survey store and moves in the SAME transaction as the conversation states and
// responses of the rows it handled. A page of rows is handled as: read (bindings, states, rosters)
// → engine turns in memory → replies enqueued in the outbox in one transaction with idempotency
// keys "survey:kf:<inbox row id>" → states, responses, bindings and cursor in one transaction.
// A crash anywhere replays the page from the old states: the engine gives the same replies (it is
// pure and takes the date from the message), the outbox drops the repeated keys, so no turn is
// lost and none is answered twice. The engine never speaks first and gives 1..5 replies per parent
// message; the kf route itself keeps the 48 h / 5-message window (a reply that would break it waits
// and expires 48 h after the parent's message).
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

inline constexpr const char* kKfChannel = "kf";        // inbox receiver, conversation channel, outbox route
inline constexpr const char* kKfCursor = "kf";         // survey_cursor name
inline constexpr std::int64_t kKfWindowMs = 48LL * 3600 * 1000;

struct Settings {
  std::string open_kfid;                          // the kf account of the links ('' : no links)
  std::chrono::milliseconds poll{200};            // inbox poll when idle
  std::chrono::milliseconds retry_after{2000};    // after a failed page (store or outbox refused)
  int page = 200;                                 // inbox rows per page
};

// One reply to queue in the outbox (route kf).
struct Reply {
  std::string target;  // "<open_kfid>/<external_userid>"
  std::string text;
  std::string key;     // idempotency key
  std::int64_t expire_at_ms = 0;
};
// Queues all replies in ONE outbox transaction (a repeated key is not queued again). Must not throw.
using SendReplies = std::function<awaitable<Result<void>>(std::vector<Reply>)>;

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

  // Consumes kf inbox rows until stop(). Throws nothing a restart would not repeat: store errors
  // are logged and the page is tried again after `retry_after`.
  awaitable<void> run();
  void stop();
  // New inbox rows may be there (shortens the poll).
  void poke();
  // The roster changed (an import was applied): the rounds' cached rosters are read again before
  // the next page is handled. Io thread.
  void roster_changed() { ++roster_gen_; }

  // Admin. Fails with Error{"survey.bad_request" | "survey.unknown_survey" | "survey.unknown_unit",
  // Chinese message}.
  awaitable<Result<store::SurveyRound>> open_round(OpenRequest request);
  // Fails with Error{"survey.not_found"}.
  awaitable<Result<store::SurveyRound>> close_round(std::int64_t id);
  // Asks WeCom again for the links a round lacks (after a WeCom failure at open).
  awaitable<void> ensure_links(std::int64_t round_id);

  const survey::Survey* definition(const std::string& id) const;
  const std::vector<survey::Survey>& definitions() const { return definitions_; }
  std::int64_t cursor() const { return cursor_; }
  std::uint64_t turns() const { return turns_; }

 private:
  struct Page;
  awaitable<bool> handle_page(std::vector<model::InboxRow> rows);

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
  boost::asio::steady_timer timer_;
  std::map<std::int64_t, std::shared_ptr<const survey::VectorRoster>> rosters_;  // per round, indexed
  std::uint64_t roster_gen_ = 0;         // roster_changed() calls
  std::uint64_t rosters_loaded_gen_ = 0;  // roster_gen_ when rosters_ was last emptied
  std::int64_t cursor_ = 0;
  std::uint64_t turns_ = 0;
  bool stopping_ = false;
  bool poked_ = false;
};

}  // namespace yuer::survey_service
