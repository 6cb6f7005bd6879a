#include "daemon/survey_service/reports.h"

#include "daemon/survey/text.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace yuer::survey_service {
namespace {

bool is_space_or_punct(char32_t c) {
  if (c <= 0x20) return true;
  if (c < 0x80) return std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(static_cast<char>(c)) !=
                       std::string_view::npos;
  // CJK punctuation and spaces: 　、。〈〉《》「」『』【】〔〕…, full-width forms fold to ASCII first.
  return (c >= 0x3000 && c <= 0x303F) || c == 0x2026 || c == 0x00B7 || c == 0x2014 || c == 0x2018 || c == 0x2019 ||
         c == 0x201C || c == 0x201D || c == 0xFF5E;
}

bool has(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

}  // namespace

BotCommand parse_bot_command(std::string_view text) {
  std::u32string t = survey::fold(survey::to_u32(text));
  // Drop the leading mentions ("@助手 ", possibly several); a mention runs to the next space.
  std::size_t i = 0;
  for (;;) {
    while (i < t.size() && (t[i] <= 0x20 || t[i] == 0x3000)) ++i;
    if (i < t.size() && t[i] == U'@') {
      while (i < t.size() && !(t[i] <= 0x20 || t[i] == 0x3000)) ++i;
      continue;
    }
    break;
  }
  std::u32string kept;
  for (; i < t.size(); ++i) {
    char32_t c = t[i];
    if (is_space_or_punct(c)) continue;
    if (c >= U'A' && c <= U'Z') c = c - U'A' + U'a';
    kept.push_back(c);
  }
  const std::string s = survey::to_utf8(kept);
  if (s.empty()) return BotCommand::kHelp;
  if (has(s, "帮助") || has(s, "help") || has(s, "怎么用") || has(s, "菜单") || has(s, "说明") || has(s, "命令"))
    return BotCommand::kHelp;
  if (has(s, "覆盖") || has(s, "完成率")) return BotCommand::kCoverage;
  if (has(s, "进度") || has(s, "进展") || has(s, "完成情况") || has(s, "多少") || s == "jd")
    return BotCommand::kProgress;
  return BotCommand::kUnknown;
}

std::string bot_help(bool unknown) {
  std::string out = unknown ? "没看懂这条指令。\n" : "";
  out +=
      "我是喂养调查助手，可以在本群 @我 并发送：\n"
      "· 进度 —— 本单位及下属单位的调查完成情况\n"
      "· 覆盖率 —— 同上，并标出低于目标的单位（乡镇 90%，县 80%）\n"
      "· 帮助 —— 显示本说明\n"
      "每天还会在本群发一次进度日报。未完成家庭名单只向乡镇负责人提供，不在群里发。";
  return out;
}

std::string township_of(const std::string& code, int level) {
  if (code.size() != 12 || level < 4) return "";
  return code.substr(0, 9) + "000";
}

std::string percent_text(std::int64_t responded, std::int64_t eligible) {
  if (eligible <= 0) return "—";
  const std::int64_t tenths = responded * 1000 / eligible;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

std::string reminder_notice(const std::string& township_name, std::int64_t responded, std::int64_t eligible,
                            const std::string& kf_url) {
  const std::int64_t missing = std::max<std::int64_t>(eligible - responded, 0);
  std::string out = "【喂养调查提醒】" + (township_name.empty() ? std::string("本乡镇") : "本乡镇（" + township_name + "）") +
                    "已有 " + std::to_string(responded) + " 户完成喂养调查，还差 " + std::to_string(missing) +
                    " 户（按孩子计，共 " + std::to_string(eligible) + " 个孩子）。\n";
  if (!kf_url.empty())
    out += "还没填写的家长，请点击链接，按提示回答（用手机就能填，大约 5 分钟）：\n" + kf_url + "\n";
  else
    out += "还没填写的家长，请向村医或乡镇妇幼专干要调查链接，按提示回答（大约 5 分钟）。\n";
  out += "已经填好的家长请忽略本消息，谢谢配合！";
  return out;
}

std::string nudge_text() {
  return "您好！您的喂养情况调查还没有填完。直接回复上一题的答案（发数字就行）就能接着填；"
         "想暂停请回复「退出」。谢谢！";
}

std::string invitation_text(const store::SurveyRound& round, const std::string& survey_title) {
  return "您好！诚邀您参加「" + round.name + "」" + survey_title + "，大约5分钟，结束日期 " + round.closes_on +
         "。\n请回复「开始」开始答题；选择题可以直接点卡片上的选项。";
}

const survey::CoverageRow* find_row(const std::vector<survey::CoverageRow>& rows, const std::string& code) {
  auto it = std::lower_bound(rows.begin(), rows.end(), code,
                             [](const survey::CoverageRow& r, const std::string& c) { return r.code < c; });
  return it != rows.end() && it->code == code ? &*it : nullptr;
}

namespace {

std::string line_of(const survey::CoverageRow& r, const survey::Thresholds& th) {
  std::string out = r.name + "：" + std::to_string(r.responded) + "/" + std::to_string(r.eligible) + "（" +
                    percent_text(r.responded, r.eligible) + "）";
  if (r.flagged) out += " ⚠低于" + std::to_string(r.level == 4 ? th.township_percent : th.county_percent) + "%";
  return out;
}

}  // namespace

std::string coverage_report(const std::string& title, const store::SurveyRound& round, const std::string& date,
                            const std::vector<survey::CoverageRow>& rows, const std::string& unit,
                            const survey::Thresholds& th) {
  std::string out = "【" + title + "】" + (round.name.empty() ? "第 " + std::to_string(round.id) + " 轮" : round.name);
  if (!date.empty()) out += "（截至 " + date + "）";
  out += "\n";
  const survey::CoverageRow* own = find_row(rows, unit);
  if (!own || own->eligible == 0) {
    out += (own ? own->name : unit) + "：不在本轮调查范围（没有应调查的孩子）";
    return out;
  }
  out += line_of(*own, th) + "\n";
  std::vector<const survey::CoverageRow*> below;
  for (const auto& r : rows)
    if (r.parent == unit && r.eligible > 0) below.push_back(&r);
  if (!below.empty()) {
    int flagged = 0;
    out += "下属单位：\n";
    for (const auto* r : below) {
      out += "· " + line_of(*r, th) + "\n";
      if (r->flagged) ++flagged;
    }
    if (flagged) out += std::to_string(flagged) + " 个单位低于目标。\n";
  }
  out += "（已完成/应调查，按孩子计；目标：乡镇 ≥" + std::to_string(th.township_percent) + "%，县 ≥" +
         std::to_string(th.county_percent) + "%）";
  return out;
}

std::string bot_reply(BotCommand command, const std::vector<std::string>& reports) {
  if (command == BotCommand::kHelp || command == BotCommand::kUnknown) return bot_help(command == BotCommand::kUnknown);
  if (reports.empty()) return "目前没有进行中的喂养调查。";
  std::string out;
  for (const auto& r : reports) out += (out.empty() ? "" : "\n\n") + r;
  return out;
}

bool nudge_due(const store::SurveyConversationRow& c, std::int64_t now_ms, std::int64_t margin_ms) {
  constexpr std::int64_t kWindowMs = 48LL * 3600 * 1000;
  if (c.updated_ms <= 0 || now_ms < c.updated_ms) return false;
  if (now_ms + margin_ms >= c.updated_ms + kWindowMs) return false;
  auto j = nlohmann::json::parse(c.state, nullptr, false);
  if (!j.is_object() || !j.contains("phase") || !j["phase"].is_string()) return false;
  const std::string phase = j["phase"].get<std::string>();
  return phase != "done" && phase != "paused";
}

std::vector<survey::CoverageRow> round_coverage(store::SurveyStore& surveys, const std::vector<store::OrgUnit>& units,
                                                std::int64_t round_id, const survey::Thresholds& thresholds) {
  std::map<std::string, survey::Ratio> counts;
  for (const auto& [code, c] : surveys.coverage_counts(round_id)) counts[code] = survey::Ratio{c.responded, c.eligible};
  return survey::coverage(units, counts, thresholds);
}

}  // namespace yuer::survey_service
