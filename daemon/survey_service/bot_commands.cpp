#include "daemon/survey_service/bot_commands.h"

#include "daemon/survey_service/reports.h"
#include "daemon/survey_service/service.h"
#include "daemon/survey/text.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <utility>

namespace yuer::survey_service {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

awaitable<void> store_cursor(store::SurveyStore* s, std::string name, std::int64_t id) {
  s->set_cursor(name, id);
  co_return;
}

// The reply to one management-group message, computed on the store thread.
awaitable<std::string> answer(store::SurveyStore* surveys, store::OrgStore* org, store::GroupStore* groups,
                              BotMessage m, survey::Thresholds th, std::string date) {
  const BotCommand cmd = parse_bot_command(m.text);
  if (cmd == BotCommand::kHelp || cmd == BotCommand::kUnknown) co_return bot_reply(cmd, {});
  if (m.chattype != "group" || m.chatid.empty()) co_return std::string("请在管理群里 @我 并发送「进度」查询本单位的调查进度。");
  auto g = groups->group_by_chat(m.chatid);
  if (!g || g->kind != "management")
    co_return std::string("本群还没有登记为管理群，查不到所属单位。请联系管理员在后台登记本群（管理群、所属单位）。");
  auto units = org->units("");
  std::vector<std::string> reports;
  for (const auto& r : surveys->rounds(true)) {
    auto rows = round_coverage(*surveys, units, r.id, th);
    const auto* own = find_row(rows, g->unit_code);
    if (!own || own->eligible == 0) continue;  // the round does not cover this unit
    reports.push_back(coverage_report(cmd == BotCommand::kCoverage ? "喂养调查覆盖率" : "喂养调查进度", r, date, rows,
                                      g->unit_code, th));
  }
  co_return bot_reply(cmd, reports);
}

}  // namespace

BotMessage read_bot_message(const std::string& payload) {
  BotMessage m;
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object()) return m;
  m.msgid = str(j, "msgid");
  m.chatid = str(j, "chatid");
  m.chattype = str(j, "chattype");
  m.response_url = str(j, "response_url");
  if (auto t = j.find("text"); t != j.end() && t->is_object()) m.text = str(*t, "content");
  // mixed (text + image): the text items, in order (DOC 100719).
  if (auto mx = j.find("mixed"); mx != j.end() && mx->is_object())
    if (auto items = mx->find("msg_item"); items != mx->end() && items->is_array())
      for (const auto& it : *items)
        if (it.is_object() && str(it, "msgtype") == "text" && it.contains("text") && it["text"].is_object())
          m.text += str(it["text"], "content");
  return m;
}

BotCommands::BotCommands(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
                         store::SurveyStore& surveys, store::OrgStore& org, store::GroupStore& groups, const Clock& clock,
                         BotSettings settings, SendBotReply send)
    : io_(io),
      store_pool_(store_pool),
      inbox_(inbox),
      surveys_(surveys),
      org_(org),
      groups_(groups),
      clock_(clock),
      settings_(std::move(settings)),
      send_(std::move(send)),
      timer_(io) {}

void BotCommands::stop() {
  stopping_ = true;
  timer_.cancel();
}

void BotCommands::poke() {
  poked_ = true;
  timer_.cancel();
}

awaitable<void> BotCommands::run() {
  std::map<std::string, std::int64_t> cursors;
  spdlog::info("survey: robot commands of {} robots", settings_.receivers.size());
  while (!stopping_) {
    bool ok = true, busy = false;
    for (const auto& receiver : settings_.receivers) {
      try {
        if (!cursors.contains(receiver))
          cursors[receiver] =
              co_await asio::co_spawn(store_pool_, load_cursor(&surveys_, receiver), asio::use_awaitable);
        const std::int64_t before = cursors[receiver];
        if (!co_await handle(receiver, cursors[receiver])) ok = false;
        if (cursors[receiver] != before) busy = true;
      } catch (const store::StoreError& e) {
        spdlog::error("survey: robot {} commands after inbox row {} not handled ({}): {}", receiver,
                      cursors.contains(receiver) ? cursors[receiver] : 0, e.code(), e.what());
        ok = false;
      }
      if (stopping_) co_return;
    }
    if (ok && busy) continue;
    if (std::exchange(poked_, false) && ok) continue;
    timer_.expires_after(ok ? settings_.poll : settings_.retry_after);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

awaitable<bool> BotCommands::handle(const std::string& receiver, std::int64_t& cursor) {
  auto rows = co_await asio::co_spawn(store_pool_, load_rows(&inbox_, receiver, cursor, settings_.page),
                                      asio::use_awaitable);
  for (const auto& row : rows) {
    if (stopping_) co_return true;
    const bool message = row.event.kind == "aibot:text" || row.event.kind == "aibot:mixed";
    BotMessage m = message ? read_bot_message(row.event.payload) : BotMessage{};
    if (message && !m.response_url.empty()) {
      const std::string date = survey::format_date(china_date(clock_.unix_seconds()));
      std::string text = co_await asio::co_spawn(
          store_pool_, answer(&surveys_, &org_, &groups_, m, settings_.thresholds, date), asio::use_awaitable);
      BotReply reply{m.response_url, std::move(text), "survey:bot:" + std::to_string(row.id)};
      auto sent = co_await send_(std::move(reply));
      if (!sent) {
        spdlog::error("survey: robot {} inbox row {}: reply not queued ({}): {}; tried again", receiver, row.id,
                      sent.error().code, sent.error().message);
        co_return false;
      }
      ++replies_;
      spdlog::info("survey: robot {} inbox row {}: command answered", receiver, row.id);
    }
    co_await asio::co_spawn(store_pool_, store_cursor(&surveys_, receiver, row.id), asio::use_awaitable);
    cursor = row.id;
  }
  co_return true;
}

}  // namespace yuer::survey_service
