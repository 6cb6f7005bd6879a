// The lesson library in the admin API: GET /api/v1/lessons[?age_months=N|age_days=N] lists lessons
// (without bodies), GET /api/v1/lessons/ID returns one with its body, sources and the source line.
// The library is immutable after start, so nothing here goes to the store thread.
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/lessons/lesson.h"

#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace yuer::admin {
namespace {

using nlohmann::json;

std::optional<int> to_int(std::string_view s, int lo, int hi) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

json summary(const lessons::Lesson& l) {
  return {{"id", l.id},
          {"title", l.title},
          {"age_days", {l.from_day, l.to_day}},
          {"age_months", {lessons::month_of_day(l.from_day), lessons::month_of_day(l.to_day)}},
          {"topics", l.topics},
          {"sources", l.sources},
          {"body_bytes", l.body.size()}};
}

}  // namespace

awaitable<http::Response> AdminApi::lessons_api(http::Request req, std::string path) {
  if (req.method() != http::Verb::get)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
  if (!lessons_)
    co_return http::make_error(req, http::Status::service_unavailable, "lessons.unavailable",
                               "课程库没有加载（见 yuerd 日志和 [content] lessons_dir）");
  auto url = boost::urls::parse_origin_form(req.target());

  if (path != "/api/v1/lessons") {
    const std::string id = path.substr(std::string_view("/api/v1/lessons/").size());
    const auto* l = lessons_->find(id);
    if (!l) co_return http::make_error(req, http::Status::not_found, "lessons.not_found", "没有这个课程编号: " + id);
    json sources = json::array();
    for (const auto& s : l->sources) {
      const auto& src = lessons_->sources().find(s)->second;
      sources.push_back({{"id", src.id},
                         {"title", src.title},
                         {"publisher", src.publisher},
                         {"year", src.year},
                         {"url", src.url},
                         {"citation", src.citation}});
    }
    json body = summary(*l);
    body["sources"] = std::move(sources);
    body["note"] = l->note;
    body["body"] = l->body;
    body["source_line"] = lessons_->source_line(*l);
    co_return reply(req, body);
  }

  std::optional<int> day, month;
  for (auto p : url->params()) {
    if (p.key == "age_months" && !day && !month) month = to_int(p.value, 0, lessons::kMaxMonth);
    else if (p.key == "age_days" && !day && !month) day = to_int(p.value, 0, 100'000);
    else
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "expected one of age_months=0..36 or age_days=N");
    if (!day && !month)
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "age_months must be 0 to 36, age_days a number ≥ 0");
  }
  std::vector<const lessons::Lesson*> found;
  if (month) found = lessons_->lessons_for_month(*month);
  else if (day) found = lessons_->lessons_for_age(*day);
  else
    for (const auto& l : lessons_->lessons()) found.push_back(&l);
  json items = json::array();
  for (const auto* l : found) items.push_back(summary(*l));
  json body = {{"lessons", std::move(items)}, {"total", lessons_->lessons().size()}};
  co_return reply(req, body);
}

}  // namespace yuer::admin
