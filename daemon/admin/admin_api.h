// AdminApi: the /api/v1 admin JSON API (Bearer token), /healthz and /metrics. Handlers run on
// the io thread and hop to the store executor for every store call.
#pragma once

#include "daemon/admin/access.h"
#include "daemon/base/metrics.h"
#include "daemon/base/steerable_clock.h"
#include "daemon/group_task/engine.h"
#include "daemon/groups/engine.h"
#include "daemon/lessons/lesson.h"
#include "daemon/net/http_server.h"
#include "daemon/org/phone_key.h"
#include "daemon/outbox/dispatcher.h"
#include "daemon/scheduler/scheduler.h"
#include "daemon/store/access_store.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/outbox_store.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey_service/service.h"

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace yuer::admin {

class AdminApi {
 public:
  // `store` is used only on `store_pool`'s thread. `store`, `store_pool` and `metrics` must outlive
  // this object and the routes it returns. `token` is the admin secret (kept only as a hash).
  AdminApi(store::Store& store, boost::asio::thread_pool& store_pool, metrics::Registry& metrics,
           const std::string& token);

  // /api/v1/ (prefix, token required; loopback only unless `allow_remote`), /healthz, /metrics.
  std::vector<net::Route> routes(bool allow_remote);

  // Enables /api/v1/push and /api/v1/outbox...: `dispatcher` (io thread) and `outbox` (store pool
  // thread) must outlive the routes. Without it those paths answer 404.
  void set_outbox(outbox::Dispatcher* dispatcher, store::OutboxStore* outbox) {
    dispatcher_ = dispatcher;
    outbox_ = outbox;
  }

  // Enables route "group_task" in /api/v1/push and /api/v1/group_tasks: `engine` (io thread) must
  // outlive the routes. Without it those answer 422 / 404.
  void set_group_tasks(group_task::Engine* engine) { group_tasks_ = engine; }

  // Enables /api/v1/org[/import] and /api/v1/roster[/import]: `org` (store pool thread) must
  // outlive the routes. Without `phone_key` roster imports answer 503 (no [roster] phone_key_*).
  void set_org(store::OrgStore* org, std::optional<org::PhoneKey> phone_key) {
    org_ = org;
    phone_key_ = std::move(phone_key);
  }

  // Enables /api/v1/groups[/ID], /api/v1/join_ways, /api/v1/group_alerts: `engine` (io thread) and
  // `groups` (store pool thread) must outlive the routes.
  void set_groups(groups::Engine* engine, store::GroupStore* groups) {
    groups_engine_ = engine;
    groups_ = groups;
  }
  // Enables /api/v1/lessons[/ID] (read-only; `library` must outlive the routes). Without it those
  // paths answer 503 lessons.unavailable.
  void set_lessons(const lessons::Library* library) { lessons_ = library; }

  // Enables /api/v1/schedules[...] and /api/v1/pushes (schedules_api.cpp): `scheduler` (io thread) must
  // outlive the routes. Without it those paths answer 503 schedules.unavailable.
  void set_schedules(scheduler::Scheduler* scheduler) { scheduler_ = scheduler; }
  // Enables /api/v1/clock ([time] test_clock only; else 404): `clock` must outlive the routes;
  // `moved` is called on the io thread after every change (pokes the loops that wait on the clock).
  void set_clock(SteerableClock* clock, std::function<void()> moved) {
    clock_ = clock;
    clock_moved_ = std::move(moved);
  }
  // Enables /api/v1/surveys[...] (survey rounds, coverage, indicators, exports): `service` (io
  // thread) and `surveys` (store pool thread) must outlive the routes; needs set_org first.
  void set_surveys(survey_service::Service* service, store::SurveyStore* surveys) {
    survey_service_ = service;
    survey_store_ = surveys;
  }
  // Enables scoped tokens, /api/v1/tokens and /api/v1/audit and the audit log (access_api.cpp):
  // `access` (store pool thread) must outlive the routes; `tokens` are the stored tokens at start.
  // Without it only the bootstrap token works and nothing is audited.
  void set_access(store::AccessStore* access, std::vector<store::AdminToken> tokens) {
    access_ = access;
    tokens_ = std::move(tokens);
  }

  // Replaces the admin token (SIGHUP). Call on the io thread.
  void set_token(const std::string& token);

  awaitable<http::Response> api(http::Request req);
  awaitable<http::Response> healthz(http::Request req);
  awaitable<http::Response> metrics_route(http::Request req);
  http::Response metrics_text(const http::Request& req) const;

 private:
  // access_api.cpp: the central layer. Who presents the request's token (nullopt: nobody).
  std::optional<Principal> authenticate(const http::Request& req) const;
  // Routes an already checked request to its handler.
  awaitable<http::Response> dispatch(http::Request req, std::string path, Principal who);
  // The resource a rule's resolver names (GET through dispatch as the superuser), or nullopt.
  awaitable<std::optional<nlohmann::json>> resolve(Resolver resolver, std::string id);
  awaitable<void> write_audit(store::AuditEntry entry);
  // access_api.cpp: /api/v1/tokens[/ID/revoke], /api/v1/audit
  awaitable<http::Response> access_api(http::Request req, std::string path, Principal who);
  // The web console (console_files.cpp, web/): GET / and /console/...
  awaitable<http::Response> console(http::Request req);
  awaitable<http::Response> list_inbox(http::Request req);
  // outbox_api.cpp: /api/v1/push, /api/v1/outbox[/ID[/retry|/cancel]]
  awaitable<http::Response> outbox_api(http::Request req, std::string path);
  awaitable<http::Response> push_many(http::Request req, nlohmann::json body);
  // outbox_api.cpp too: push to customer groups, /api/v1/group_tasks[?state=&owner=], /api/v1/group_posts/ID
  awaitable<http::Response> push_group_posts(http::Request req, nlohmann::json body);
  awaitable<http::Response> group_task_api(http::Request req, std::string path);
  // org_api.cpp: organisation units and the family roster (imports and listings)
  awaitable<http::Response> org_api(http::Request req, std::string path);
  // groups_api.cpp: management and parent groups, join ways, alerts
  awaitable<http::Response> groups_api(http::Request req, std::string path);
  // lessons_api.cpp: the lesson library, read-only
  awaitable<http::Response> lessons_api(http::Request req, std::string path);
  // survey_api.cpp: survey rounds, coverage, missing families, indicators, exports
  awaitable<http::Response> survey_api(http::Request req, std::string path);

  // schedules_api.cpp: schedules, their preview, pushes; and the test clock
  awaitable<http::Response> schedules_api(http::Request req, std::string path);
  awaitable<http::Response> clock_api(http::Request req);

  store::Store& store_;
  boost::asio::thread_pool& store_pool_;
  metrics::Registry& metrics_;
  std::string token_hash_;
  outbox::Dispatcher* dispatcher_ = nullptr;
  store::OutboxStore* outbox_ = nullptr;
  group_task::Engine* group_tasks_ = nullptr;
  store::OrgStore* org_ = nullptr;
  std::optional<org::PhoneKey> phone_key_;
  groups::Engine* groups_engine_ = nullptr;
  store::GroupStore* groups_ = nullptr;
  const lessons::Library* lessons_ = nullptr;
  scheduler::Scheduler* scheduler_ = nullptr;
  SteerableClock* clock_ = nullptr;
  std::function<void()> clock_moved_;
  survey_service::Service* survey_service_ = nullptr;
  store::SurveyStore* survey_store_ = nullptr;
  std::uint64_t export_seq_ = 0;
  store::AccessStore* access_ = nullptr;
  std::vector<store::AdminToken> tokens_;  // io thread; revoked ones included
  Lockout lockout_;
};

}  // namespace yuer::admin
