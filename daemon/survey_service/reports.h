// Survey reminders, coverage reports and management-group commands (issue 7): the pure parts —
// what a parent group's reminder, a kf nudge, a management group's daily report and the reply to
// 「@助手 进度」 say, how a mention's text is read, and which parents may be nudged. Every message
// carries counts and unit names only: never a parent's name, phone, external_userid or child id
// (missing-family lists are only for the township coordinator, through the admin API).
#pragma once

#include "daemon/store/org_store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/coverage.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey_service {

// What a management-group member asked the robot.
enum class BotCommand { kProgress, kCoverage, kHelp, kUnknown };

// Reads a mention's text: the leading "@名字" mentions are dropped, full-width forms folded,
// spaces and punctuation ignored. 进度 / 进展 / 完成情况 / 查进度 → progress; 覆盖率 / 覆盖 /
// 完成率 → coverage; 帮助 / help / ? / 怎么用 / 菜单 / nothing → help; anything else → unknown.
BotCommand parse_bot_command(std::string_view text);

// The help text of the management-group robot (also the answer to an unknown command, after a
// one-line "没看懂" when `unknown`).
std::string bot_help(bool unknown);

// The unit `code`'s township (level 4) code: its first 9 digits + "000" (a village's township;
// a township itself); "" for units above a township.
std::string township_of(const std::string& code, int level);

// 12.3% style, rounded DOWN to one decimal, from integers (so 89.96 % never shows as 90.0 %).
std::string percent_text(std::int64_t responded, std::int64_t eligible);

// A parent group's reminder: counts of its township (children whose parents answered, children
// still to answer) and the township's kf link ("" → ask the coordinator for it).
std::string reminder_notice(const std::string& township_name, std::int64_t responded, std::int64_t eligible,
                            const std::string& kf_url);

// The kf nudge to a parent who started the survey and has not finished.
std::string nudge_text();

// The invitation a member (app channel) gets for a round: the round's name and the survey's
// title, how to start (any reply starts; 开始 is suggested), no personal data.
std::string invitation_text(const store::SurveyRound& round, const std::string& survey_title);

// The coverage of `unit` and of the units directly under it in one round, with the flags, as a
// management group reads it. `title` heads it (「喂养调查进度日报」, 「喂养调查进度」, 「覆盖率」).
// `rows` are survey::coverage's rows of the round; a unit that is not in them reads "不在本轮调查范围".
std::string coverage_report(const std::string& title, const store::SurveyRound& round, const std::string& date,
                            const std::vector<survey::CoverageRow>& rows, const std::string& unit,
                            const survey::Thresholds& thresholds = {});

// The reply to a management-group command for the open rounds (`reports` holds one
// coverage_report per round, already built), or the help text.
std::string bot_reply(BotCommand command, const std::vector<std::string>& reports);

// Whether a parent whose conversation `c` (state JSON) was last written at `c.updated_ms` gets a
// nudge at `now_ms`: the conversation is unfinished (not done, not paused by 退出), and the kf
// window is still open for longer than `margin_ms` (48 h after the parent's last message,
// https://developer.work.weixin.qq.com/document/path/94677). The 5-messages-per-parent-message
// budget is kept by the kf route itself (a nudge over it waits and expires with the window).
bool nudge_due(const store::SurveyConversationRow& c, std::int64_t now_ms, std::int64_t margin_ms);

// Coverage rows of a round over the whole unit tree (call on the store thread). Throws StoreError.
std::vector<survey::CoverageRow> round_coverage(store::SurveyStore& surveys, const std::vector<store::OrgUnit>& units,
                                                std::int64_t round_id, const survey::Thresholds& thresholds = {});

// The row of `code` in `rows` (ordered by code), or null.
const survey::CoverageRow* find_row(const std::vector<survey::CoverageRow>& rows, const std::string& code);

}  // namespace yuer::survey_service
