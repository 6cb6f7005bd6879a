// The organisation part of the admin API: CSV imports of units and of the family roster (a dry
// run unless dry_run=0), and their listings. Family listings never carry phone numbers (only the
// masked form) nor caregivers' names; nothing here logs personal data.
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/org/importer.h"
#include "daemon/survey_service/service.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

namespace yuer::admin {
namespace {

using nlohmann::json;

// Store calls on the store thread: named coroutines with by-value arguments (STYLE C2, D4).
awaitable<org::ImportReport> import_units(store::OrgStore* s, std::string body, org::ImportOptions o, std::int64_t now) {
  co_return org::run_org_import(*s, body, o, now);
}
awaitable<org::ImportReport> import_families(store::OrgStore* s, std::string body, org::ImportOptions o,
                                             org::PhoneKey key, std::int64_t now) {
  co_return org::run_roster_import(*s, body, o, key, now);
}
awaitable<std::vector<store::OrgUnit>> list_units(store::OrgStore* s, std::string prefix) { co_return s->units(prefix); }
awaitable<std::pair<std::vector<store::Family>, std::int64_t>> list_families(store::OrgStore* s, store::FamilyQuery q) {
  auto rows = s->families(q);
  co_return std::make_pair(std::move(rows), s->count_families(q.unit_prefix));
}

json report_json(const org::ImportReport& r, const org::ImportOptions& o) {
  json invalid = json::array();
  for (const auto& i : r.invalid) invalid.push_back({{"row", i.row}, {"column", i.column}, {"reason", i.reason}});
  return {{"rows", r.rows},       {"valid", r.valid},         {"invalid", std::move(invalid)},
          {"created", r.created}, {"updated", r.updated},     {"unchanged", r.unchanged},
          {"applied", r.applied}, {"dry_run", o.dry_run},     {"skip_invalid", o.skip_invalid},
          {"encoding", r.encoding}};
}

bool digits_only(std::string_view s) {
  return s.size() <= 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

awaitable<http::Response> AdminApi::org_api(http::Request req, std::string path) {
  auto url = boost::urls::parse_origin_form(req.target());
  const bool import = path.ends_with("/import");
  if (import != (req.method() == http::Verb::post))
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", import ? "use POST" : "use GET");

  if (import) {
    org::ImportOptions options;
    for (auto p : url->params()) {
      if (p.key == "dry_run" && (p.value == "0" || p.value == "1")) options.dry_run = p.value == "1";
      else if (p.key == "skip_invalid" && (p.value == "0" || p.value == "1")) options.skip_invalid = p.value == "1";
      else
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   "unknown parameter or value: " + std::string(p.key) + " (dry_run=0|1, skip_invalid=0|1)");
    }
    const bool roster = path == "/api/v1/roster/import";
    if (roster && !phone_key_)
      co_return http::make_error(req, http::Status::service_unavailable, "roster.no_phone_key",
                                 "未配置手机号密钥（[roster] phone_key_file），不能导入花名册");
    org::ImportReport report;
    if (roster)
      report = co_await net::co_spawn(store_pool_, import_families(org_, std::move(req.body()), options, *phone_key_, now_ms()),
                                      net::use_awaitable);
    else
      report = co_await net::co_spawn(store_pool_, import_units(org_, std::move(req.body()), options, now_ms()),
                                      net::use_awaitable);
    // Counts only: rows may hold names and phone numbers.
    spdlog::info("{} import: rows={} valid={} invalid={} created={} updated={} unchanged={} applied={} encoding={}",
                 roster ? "roster" : "org", report.rows, report.valid, report.invalid.size(), report.created,
                 report.updated, report.unchanged, report.applied, report.encoding.empty() ? "-" : report.encoding);
    // The survey consumer's per-round rosters are read again (identification sees the new roster).
    if (roster && report.applied && survey_service_) survey_service_->roster_changed();
    co_return reply(req, report_json(report, options));
  }

  if (path == "/api/v1/org") {
    std::string prefix;
    for (auto p : url->params()) {
      if (p.key == "prefix" && digits_only(p.value)) prefix = std::string(p.value);
      else co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "expected prefix=DIGITS");
    }
    auto units = co_await net::co_spawn(store_pool_, list_units(org_, prefix), net::use_awaitable);
    json items = json::array();
    for (const auto& u : units)
      items.push_back({{"code", u.code}, {"name", u.name}, {"level", u.level}, {"parent", u.parent}});
    json body = {{"units", std::move(items)}};
    co_return reply(req, body);
  }

  store::FamilyQuery q;
  for (auto p : url->params()) {
    int n = 0;
    if (p.key == "unit" && digits_only(p.value)) q.unit_prefix = std::string(p.value);
    else if (p.key == "after") q.after_child_id = std::string(p.value);
    else if (p.key == "limit") {
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (ec != std::errc() || end != p.value.data() + p.value.size() || n < 1 || n > 10000)
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "limit must be 1 to 10000");
      q.limit = n;
    } else {
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "expected unit=CODE_PREFIX, after=CHILD_ID, limit=N");
    }
  }
  auto [families, total] = co_await net::co_spawn(store_pool_, list_families(org_, q), net::use_awaitable);
  json items = json::array();
  for (const auto& f : families)
    items.push_back({{"child_id", f.child_id},
                     {"birth_date", f.birth_date},
                     {"sex", f.sex},
                     {"unit_code", f.unit_code},
                     {"phone_masked", f.phone_masked},
                     {"external_userid", f.external_userid},
                     {"tags", f.tags},
                     {"updated_ms", f.updated_ms}});
  json body = {{"families", std::move(items)}, {"total", total}};
  co_return reply(req, body);
}

}  // namespace yuer::admin
