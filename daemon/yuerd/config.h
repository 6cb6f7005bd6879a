// Settings of yuerd, read from TOML (the only place that sees toml++). Every part's settings are
// plain structs owned by that part; this file gathers them and resolves secrets.
// Invariant: a Settings value that load_config() returned is complete and valid.
#pragma once

#include "daemon/base/result.h"
#include "daemon/group_task/engine.h"
#include "daemon/groups/engine.h"
#include "daemon/inbox/group_commit_inbox.h"
#include "daemon/net/http_server.h"
#include "daemon/outbox/dispatcher.h"
#include "daemon/scheduler/scheduler.h"
#include "daemon/store/store.h"
#include "daemon/yuerd/survey_reports_settings.h"

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace yuer::yuerd {

// One callback receiver: the self-built app ([wecom.app], XML) or an intelligent robot
// ([[wecom.bot]], JSON).
struct ReceiverSettings {
  std::string name;        // "app" or "bot/<name>"
  std::string path;        // "/wecom/callback/app" or "/wecom/callback/bot/<name>"
  bool json = false;       // JSON envelope (robots) instead of XML
  std::string token;       // secret: callback Token
  std::string aes_key;     // secret: EncodingAESKey, 43 chars of [A-Za-z0-9]
  std::string receive_id;  // corp_id for the app, "" for robots
};

struct CallbackSettings {
  std::vector<ReceiverSettings> receivers;
  int replay_window_s = 300;            // |now - timestamp| beyond this is refused
  std::size_t replay_cache_size = 100000;
  std::size_t max_body_bytes = 64 * 1024;
};

// Outbound delivery through WeCom ([wecom] timeouts, [wecom.robots], [wecom.app] agent_id/secret).
struct OutboundSettings {
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 15000;
  std::string extra_ca_file;                      // PEM trust anchors besides the system store
  std::map<std::string, std::string> robot_keys;  // secret: group → webhook key
  int robot_per_key_per_window = 18;
  int robot_window_ms = 60000;
  int robot_route_per_minute = 18000;
  std::int64_t app_agent_id = 0;
  std::string app_secret;  // secret
  bool kf = false;                     // [wecom.kf] present: the "kf" route (needs the app's secret)
  std::vector<std::string> kf_open_kfids;  // [wecom.kf] open_kfids
  int kf_window_margin_s = 600;            // [wecom.kf] window_margin_s
};

// [retention] (docs/privacy.md "Retention"): 0 = keep (no purge of that kind).
struct RetentionSettings {
  int identifying_after_days = 0;     // closed rounds: identifying fields purged this long after closing
  int inbox_payload_after_days = 0;   // inbox payloads (what parents wrote) blanked this long after receipt
  std::chrono::milliseconds purge_every{3'600'000};  // purge_every_s
  bool enabled() const { return identifying_after_days > 0 || inbox_payload_after_days > 0; }
};

struct Settings {
  std::string source_file;  // the file these settings came from
  net::ServerSettings server;
  store::Settings store;
  inbox::Settings inbox;
  std::string api_base;  // wecom.api_base: https://qyapi.weixin.qq.com, or http://127.0.0.1:… (sandbox)
  std::string corp_id;   // wecom.corp_id
  CallbackSettings callback;
  OutboundSettings outbound;
  outbox::Settings outbox;
  bool group_task_enabled = true;  // [group_task] enabled (needs [wecom.app] with its secret)
  group_task::Settings group_task;
  bool groups_enabled = false;  // [groups] enabled (needs [wecom.app] with its secret)
  groups::Settings groups;
  std::string time_zone = "Asia/Shanghai";
  // [time] test_clock / clock_rate (tests only, refused unless wecom.api_base is loopback): yuerd's
  // clock is a SteerableClock moved by /api/v1/clock, running at clock_rate.
  bool test_clock = false;
  double clock_rate = 1.0;
  // [scheduler] and [[schedule]] (scheduled pushes, issue 6).
  scheduler::Settings scheduler;
  std::string admin_token;        // secret
  std::string roster_phone_key;   // secret: [roster] phone_key_* (HMAC key for phone numbers); '' = roster imports off
  bool admin_allow_remote = false;  // admin API answers non-loopback peers only when true
  // [content] lessons_dir: the lesson library. Given: resolved against the config file's folder and
  // required to load. Absent: "templates/lessons" from the working directory, skipped if missing.
  std::string lessons_dir = "templates/lessons";
  bool lessons_dir_configured = false;
  spdlog::level::level_enum log_level = spdlog::level::info;
  // [survey] (issue 7): definitions folder (like lessons_dir: given = required to load; absent =
  // "templates/surveys" from the working directory, survey API off when missing), the kf account
  // of the survey links ('' = the first of wecom.kf open_kfids) and the inbox poll interval.
  std::string surveys_dir = "templates/surveys";
  bool surveys_dir_configured = false;
  std::string survey_open_kfid;
  std::int64_t survey_poll_ms = 200;
  // [survey.reminders], [survey.reports] (issue 7): survey_reports_settings.h.
  SurveyReportSettings survey_reports;
  // [privacy] (issue 9): field_key_* sets store.field_cipher (personal fields sealed at rest);
  // require_field_key refuses to load without it (production).
  bool privacy_require_field_key = false;
  RetentionSettings retention;
};

// Reads the environment; a seam so tests can supply variables without touching the process.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

// Loads and validates `path`. On any problem returns Error{"config.<what>", message} whose
// message names the file, the line and the key ("yuerd.toml:12: server.listen: ..."), so main()
// can print it and exit 2. Secrets come from `<key>_file` (path, relative to the config file's
// folder; refused when readable by group or other), `<key>_env` (an environment variable) or
// `<key>_credential` (a file in $CREDENTIALS_DIRECTORY); exactly one per secret. Secret values
// never appear in error messages.
Result<Settings> load_config(const std::string& path, const EnvLookup& env = process_env());

}  // namespace yuer::yuerd
