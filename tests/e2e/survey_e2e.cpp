// The feeding survey end to end (issue 7): a real yuerd against a real wecom-sandbox. Units and a
// roster are imported, a round is opened (yuerctl) with one 微信客服 link per township; 500
// simulated parents open their township's link (enter_session through the sandbox) and answer
// the survey in chat the way parents type: half- and full-width digits, Chinese numerals, option
// numbers wrapped in words, out-of-range and unreadable answers (re-asked), 上一题, corrections at
// the summary (改N), a finished survey started again (the stored response is replaced, revision 2),
// parents who vanish for a while and come back, two-child households (each child answered), 20
// parents the roster does not know (kept as unmatched), and yuerd killed (SIGKILL) in the middle
// of a wave and started again (CI: once, in wave 6, 300 ms after the doorbell; issue 9's full
// crash mode: YUER_SURVEY_KILLS=20 kills in waves 1..20, each at a moment 0..800 ms after the
// doorbell drawn from YUER_SURVEY_KILL_SEED). Each parent reads what yuerd sent and answers the question it
// finds there from its child's profile, so the test follows the conversation rather than a script.
//
// Expected values come from the test's own data and simple rules (below), never from yuerd's
// indicator or coverage code: the coverage of every unit (numerators and denominators summed up,
// the 90 %/80 % flags), 12 IYCF indicators of the province, the unmatched list, the revisions.
// The sandbox's kf record proves no parent ever got more than 5 messages after one message of
// theirs, and no answer was sent twice beyond the sends in flight at a kill (the crash replays
// the consumer's page; the outbox's idempotency keys drop what was queued already).
//
// As in kf_e2e.cpp, the doorbell (kf_msg_or_event) is built by the test and delivered to yuerd by
// the sandbox (POST /_sandbox/callbacks/app): one doorbell per wave of parent messages, as WeCom
// coalesces them; yuerd then pulls every message with kf/sync_msg.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include "daemon/store/survey_store.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eSurveyAppSecret0123456789abcdefABCD";
constexpr const char* kKf = "wkE2eSurveyKf01";
constexpr const char* kPhoneKey = "e2e-survey-phone-key-0123456789ab";
constexpr int kParents = 500;     // parents who write (kParents - kStrangers are in the roster)
constexpr int kStrangers = 20;    // the last 20 are not in the roster
constexpr int kSilent = 40;       // roster households who never answer

const std::vector<std::string> kTownships = {"440103001000", "440103002000", "440103003000", "440104001000",
                                             "440104002000"};

json make_fixture(const Secrets& s) {
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret},
                                 {"token", s.app_token}, {"aes_key", s.app_aes_key}, {"callback_url", ""},
                                 {"visible_userids", json::array()}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "甲"}}}},
          {"kf", {{"agent_id", 1000002}}},
          {"kf_accounts", json::array({{{"open_kfid", kKf}, {"name", "喂养调查"}}})}};
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- The test's own date arithmetic (Shanghai dates, completed months). ----
struct Ymd {
  int y, m, d;
};
Ymd today_cn() {
  using namespace std::chrono;
  const year_month_day t{floor<days>(system_clock::now() + hours(8))};
  return {static_cast<int>(t.year()), static_cast<int>(static_cast<unsigned>(t.month())),
          static_cast<int>(static_cast<unsigned>(t.day()))};
}
Ymd days_ago(int n) {
  using namespace std::chrono;
  const year_month_day t{floor<days>(system_clock::now() + hours(8)) - days(n)};
  return {static_cast<int>(t.year()), static_cast<int>(static_cast<unsigned>(t.month())),
          static_cast<int>(static_cast<unsigned>(t.day()))};
}
std::string iso(Ymd d) { return fmt::format("{:04d}-{:02d}-{:02d}", d.y, d.m, d.d); }
int months_between(Ymd b, Ymd t) {
  int m = (t.y - b.y) * 12 + (t.m - b.m);
  if (t.d < b.d) --m;  // 满N月: the day of the month must be reached
  return m;
}

// ---- The test's data: children, households, profiles. ----
struct Child {
  std::string id;
  Ymd birth;
  int age = 0;  // completed months today
  int seed = 0;
  // Profile (the true answers).
  bool ever_bf, first_lt1h, prelacteal, bf, bottle;
  std::set<std::string> liquids, plant, other;
};

struct Household {
  int p = 0;
  std::string township;
  std::string phone;
  std::vector<Child> kids;  // oldest first (the engine's order)
  bool in_roster = true;
};

Child make_child(const std::string& id, int age_days, int seed) {
  Child c;
  c.id = id;
  c.birth = days_ago(age_days);
  c.age = months_between(c.birth, today_cn());
  c.seed = seed;
  const int s = seed;
  c.ever_bf = s % 7 != 0;
  c.first_lt1h = s % 3 == 0;
  c.prelacteal = s % 2 == 0;
  c.bf = c.ever_bf && (c.age < 12 || s % 2 == 0);
  c.bottle = s % 4 == 0;
  if (c.age < 6) {
    if (s % 5 == 0) c.liquids = {"formula"};
  } else {
    c.liquids = {"water"};
    if (s % 3 == 0) c.liquids.insert("formula");
    if (s % 4 == 1) c.liquids.insert("juice");
    c.plant = {"grains"};
    if (s % 3 == 1) c.plant.insert("leafy_veg");
    if (s % 2 == 0) c.other.insert("egg");
    if (s % 5 == 2) c.other.insert("sweets");
  }
  return c;
}

std::vector<Household> make_households() {
  std::vector<Household> out;
  for (int p = 0; p < kParents + kSilent; ++p) {
    Household h;
    h.p = p;
    h.township = kTownships[static_cast<std::size_t>(p) % kTownships.size()];
    // A township that answers less: most silent households are in the 5th township.
    if (p >= kParents) h.township = p % 4 == 0 ? kTownships[0] : kTownships[4];
    h.phone = fmt::format("139{:08d}", 20000000 + p);
    h.in_roster = p < kParents - kStrangers || p >= kParents;
    const bool two = p % 12 == 1 && p < kParents - kStrangers;
    const int first_days = two ? 15 + (p * 37) % 600 : 15 + (p * 37) % 1075;
    if (two) h.kids.push_back(make_child(fmt::format("S{:04d}B", p), first_days + 450, p * 7 + 1));
    h.kids.push_back(make_child(fmt::format("S{:04d}A", p), first_days, p * 7));
    // A stranger types a birth date the roster does not have (2 days off an existing child's).
    out.push_back(std::move(h));
  }
  return out;
}

std::string org_csv() {
  return "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n440104000000,西区\n"
         "440103001000,东一镇\n440103002000,东二镇\n440103003000,东三镇\n440104001000,西一镇\n440104002000,西二镇\n";
}

std::string roster_csv(const std::vector<Household>& hs) {
  std::string csv = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  for (const auto& h : hs) {
    if (!h.in_roster) continue;
    for (const auto& c : h.kids)
      csv += fmt::format("{},{},{},{},家长{},{},,\n", c.id, iso(c.birth), c.seed % 2 ? "男" : "女", h.township, h.p,
                         h.phone);
  }
  return csv;
}

// ---- How a parent answers. ----
// Option numbers of the shipped survey (templates/surveys/feeding.toml), as the parent sees them.
const std::map<std::string, std::map<std::string, int>> kOptions = {
    {"liquids", {{"water", 1}, {"formula", 2}, {"juice", 6}, {"none", 11}}},
    {"foods_plant", {{"grains", 1}, {"leafy_veg", 4}, {"none", 8}}},
    {"foods_other", {{"egg", 5}, {"sweets", 9}, {"none", 12}}},
};
// Prompt fragments → question id (the newest one in a message is the question being asked).
const std::vector<std::pair<std::string, std::string>> kPrompts = {
    {"宝宝出生以后吃过妈妈的奶吗", "ever_bf"},
    {"宝宝出生后多久第一次吃妈妈的奶", "first_bf"},
    {"宝宝出生后头两天，除了母乳，喂过别的吗", "prelacteal"},
    {"昨天白天或夜里，宝宝吃过母乳吗", "bf_yesterday"},
    {"昨天宝宝有没有用带奶嘴的奶瓶喝过东西", "bottle"},
    {"昨天宝宝喝过下面哪些", "liquids"},
    {"昨天宝宝一共喝了几次婴儿奶粉", "formula_n"},
    {"昨天宝宝吃过下面哪些", "foods_plant"},
    {"昨天宝宝还吃过下面哪些", "foods_other"},
    {"昨天宝宝吃过任何固体、半固体或软的食物吗", "any_solid"},
    {"宝宝一共吃了几次固体、半固体或软的食物", "meals_n"},
    {"请先回复孩子的出生日期", "birth"},
    {"重新回复孩子的出生日期", "birth"},
    {"请再回复登记时留的手机号的后4位数字", "phone"},
    {"请回复手机号的后4位数字", "phone"},
    {"都填完了，请核对", "summary"},
};

const char* kFull[] = {"０", "１", "２", "３", "４", "５", "６", "７", "８", "９"};
const char* kCn[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"};

std::string full_width(const std::string& s) {
  std::string out;
  for (char c : s) out += c >= '0' && c <= '9' ? kFull[c - '0'] : (c == '-' ? "－" : std::string(1, c));
  return out;
}

// One number typed in `style`.
std::string number(int n, int style) {
  switch (style % 5) {
    case 0: return std::to_string(n);
    case 1: return full_width(std::to_string(n));
    case 2: return n <= 12 ? kCn[n] : std::to_string(n);
    case 3: return "选" + std::to_string(n) + "吧";
    default: return std::to_string(n) + "。";
  }
}

struct Parent {
  Household h;
  std::string user;   // external_userid
  std::size_t child = 0;
  int step = 0;        // answers given (drives the typing style)
  bool done = false;   // the last child confirmed
  bool restarted = false;
  bool corrected = false;
  bool went_back = false;
  bool typo_pending = false;
  int birth_tries = 0;
  int vanish_until = -1;  // silent until this wave
  std::size_t seen = 0;   // messages from yuerd read so far
  std::vector<std::string> inbox;  // what yuerd sent, in order
  // Traits.
  bool restarts() const { return h.p % 25 == 5; }  // 重新开始 after finishing
  bool corrects() const { return h.p % 10 == 3; }
  bool goes_back() const { return h.p % 11 == 6; }
  bool typos() const { return h.p % 4 == 2; }
  bool vanishes() const { return h.p % 9 == 4; }
  bool stranger() const { return !h.in_roster; }
};

std::string single(bool yes, int style) { return number(yes ? 1 : 2, style); }

std::string multi(const std::string& q, const std::set<std::string>& codes, int style) {
  std::vector<int> nums;
  if (codes.empty()) nums.push_back(kOptions.at(q).at("none"));
  for (const auto& c : codes) nums.push_back(kOptions.at(q).at(c));
  std::sort(nums.begin(), nums.end());
  std::string out;
  for (std::size_t i = 0; i < nums.size(); ++i) {
    if (i) out += style % 3 == 0 ? "，" : (style % 3 == 1 ? " " : "、");
    out += style % 2 ? full_width(std::to_string(nums[i])) : (nums[i] <= 12 && style % 3 == 2 ? kCn[nums[i]] : std::to_string(nums[i]));
  }
  return out;
}

// The answer to question `q` for child `c` (the truth), typed in `style`. `wrong`: the opposite
// (for a later correction).
std::string answer(const std::string& q, const Child& c, int style, bool wrong = false) {
  if (q == "ever_bf") return single(c.ever_bf, style);
  if (q == "first_bf") return number(c.first_lt1h ? 1 : 2, style);
  if (q == "prelacteal") return single(c.prelacteal, style);
  if (q == "bf_yesterday") return single(c.bf, style);
  if (q == "bottle") return single(wrong ? !c.bottle : c.bottle, style);
  if (q == "liquids") return multi(q, c.liquids, style);
  if (q == "formula_n") return style % 2 ? "三次" : "3";
  if (q == "foods_plant") return multi(q, c.plant, style);
  if (q == "foods_other") return multi(q, c.other, style);
  if (q == "any_solid") return number(2, style);
  if (q == "meals_n") return std::to_string(2 + c.seed % 2) + (style % 2 ? "次" : "");
  return "？";
}

// The newest question in `text` (the rightmost prompt), or "", and where it starts.
std::string question_in(const std::string& text, std::size_t& at) {
  std::string best;
  at = 0;
  bool found = false;
  for (const auto& [frag, id] : kPrompts) {
    auto pos = text.rfind(frag);
    if (pos != std::string::npos && (!found || pos >= at)) {
      at = pos;
      best = id;
      found = true;
    }
  }
  return best;
}

// The number of the summary line whose label is `label` ("3. 昨天用过奶瓶：用过"), or 0.
int summary_line(const std::string& text, const std::string& label) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto dot = line.find(". ");
    if (dot == std::string::npos || line.find(label) == std::string::npos) continue;
    try {
      return std::stoi(line.substr(0, dot));
    } catch (...) {
    }
  }
  return 0;
}

// What the parent writes next, given everything yuerd sent since its last message ("" = nothing to say).
std::string next_message(Parent& pa, const std::string& text) {
  const int style = pa.h.p + pa.step++;
  if (auto k = text.rfind("下面填第"); k != std::string::npos) {
    // "下面填第2个孩子（…）": the 2nd child (oldest first).
    auto digit = text.substr(k + std::string("下面填第").size(), 1);
    if (!digit.empty() && digit[0] >= '1' && digit[0] <= '9') pa.child = static_cast<std::size_t>(digit[0] - '1');
  }
  std::size_t q_at = 0;
  const std::string q = question_in(text, q_at);
  const auto outro_at = text.rfind("问卷已提交，谢谢您");
  if (outro_at != std::string::npos && (q.empty() || q_at < outro_at)) {
    if (pa.restarts() && !pa.restarted) {
      pa.restarted = true;
      pa.child = 0;
      return "重新开始";
    }
    pa.done = true;
    return "";
  }
  if (q.empty()) return "在吗";  // e.g. after 退出 or an unexpected message: any message resumes
  const Child& c = pa.h.kids[std::min(pa.child, pa.h.kids.size() - 1)];
  if (q == "birth") {
    ++pa.birth_tries;
    // A stranger gives their child's real birth date; the roster has no such child with their phone.
    const Child& first = pa.h.kids.front();
    switch (pa.h.p % 3) {
      case 0: return fmt::format("{}-{}-{}", first.birth.y, first.birth.m, first.birth.d);
      case 1: return fmt::format("{}年{}月{}日", first.birth.y, first.birth.m, first.birth.d);
      default: return full_width(iso(first.birth));
    }
  }
  if (q == "phone") return pa.h.p % 2 ? "尾号" + full_width(pa.h.phone.substr(7)) : pa.h.phone.substr(7);
  if (q == "summary") {
    if (pa.corrects() && !pa.corrected) {
      pa.corrected = true;
      const int n = summary_line(text, "昨天用过奶瓶");
      if (n > 0) return "改" + std::to_string(n);
    }
    return pa.h.p % 2 ? "确认" : "确认。";
  }
  if (pa.typos() && !pa.typo_pending && pa.step % 7 == 3) {
    pa.typo_pending = true;
    if (q.ends_with("_n")) return "100";  // out of range
    if (q == "liquids" || q.starts_with("foods_")) return "嗯嗯";  // unreadable
    return pa.step % 2 ? "9" : "嗯嗯";  // no such option / unreadable: re-asked
  }
  pa.typo_pending = false;
  if (pa.goes_back() && !pa.went_back && q == "bottle") {
    pa.went_back = true;
    return "上一题";
  }
  // A parent who corrects at the summary first answers the bottle question wrongly; so does a
  // parent who will start again after finishing (the replaced response keeps that wrong answer in
  // its history).
  const bool wrong = q == "bottle" && ((pa.corrects() && !pa.corrected) || (pa.restarts() && !pa.restarted));
  return answer(q, c, style, wrong);
}

// ---- The test's own indicator rules (WHO 2021, as the test reads them). ----
struct Expect {
  std::map<std::string, std::pair<int, int>> ind;  // id → (num, den)
  void count(const std::string& id, bool in_den, bool num) {
    if (!in_den) return;
    auto& r = ind[id];
    r.second += 1;
    r.first += num ? 1 : 0;
  }
};

void expect_child(Expect& e, const Child& c) {
  const int a = c.age;
  const bool food = !c.plant.empty() || !c.other.empty();
  e.count("EvBF", a < 24, c.ever_bf);
  e.count("EIBF", a < 24, c.ever_bf && c.first_lt1h);
  e.count("EBF", a < 6, c.bf && c.liquids.empty() && !food);
  e.count("MixMF", a < 6, c.bf && c.liquids.contains("formula"));
  e.count("CBF", a >= 12 && a < 24, c.bf);
  e.count("ISSSF", a >= 6 && a <= 8, food);
  e.count("BoF", a < 24, c.bottle);
  const bool mid = a >= 6 && a < 24;
  int groups = (c.bf ? 1 : 0) + (c.plant.contains("grains") ? 1 : 0) + (c.liquids.contains("formula") ? 1 : 0) +
               (c.other.contains("egg") ? 1 : 0) + (c.plant.contains("leafy_veg") ? 1 : 0);
  e.count("MDD", mid, groups >= 5);
  e.count("EFF", mid, c.other.contains("egg"));
  e.count("SwB", mid, c.liquids.contains("juice"));
  e.count("UFC", mid, c.other.contains("sweets"));
  e.count("ZVF", mid, !c.plant.contains("leafy_veg"));
}

struct Run {
  Secrets secrets;
  SandboxProcess sandbox{make_fixture(secrets), {"--max-records", "200000"}};
  std::unique_ptr<YuerdFixture> yuerd;
  std::string token_file;
  int ctl_runs = 0;
  std::int64_t send_seq = 0;
  std::map<std::string, Parent*> by_user;

  Run() {
    yuerd = std::make_unique<YuerdFixture>(
        std::string("\n[wecom.kf]\nopen_kfids = [\"") + kKf + "\"]\n\n[roster]\nphone_key_file = \"secrets/phone_key\"\n" +
            "\n[survey]\ndir = \"" + YUER_SOURCE_DIR + "/templates/surveys\"\npoll_ms = 50\n",
        sandbox.base(), kAppSecret);
    yuerd->dir().write("secrets/phone_key", kPhoneKey);
    // WAL with synchronous = normal: durable against a process crash (the SIGKILL below), not
    // against power loss, and a few thousand fsyncs cheaper on a loaded test machine.
    std::ifstream in(yuerd->config_path());
    std::stringstream cfg;
    cfg << in.rdbuf();
    std::string text = cfg.str();
    const std::string at = "path = \"var/yuer.db\"\n";
    REQUIRE(text.find(at) != std::string::npos);
    text.replace(text.find(at), at.size(), at + "synchronous = \"normal\"\n");
    yuerd->dir().write("yuerd.toml", text);
    token_file = yuerd->dir().path() + "/secrets/admin_token";
    yuerd->start();
  }

  RunResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", yuerd->url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 120s, yuerd->dir().path() + fmt::format("/yuerctl-{}.log", ++ctl_runs));
  }

  json ctl_json(std::vector<std::string> args) {
    auto r = ctl(std::move(args));
    INFO(r.output);
    REQUIRE(r.code == 0);
    return json::parse(r.output);
  }

  json admin(http::Verb verb, const std::string& path, const json& body = nullptr, int want = 200) {
    auto r = net::http_request(verb, yuerd->url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 60s);
    REQUIRE(r.has_value());
    INFO(path << " → " << r->body.substr(0, 2000));
    REQUIRE(static_cast<int>(r->status) == want);
    return json::parse(r->body, nullptr, false);
  }

  std::string raw(const std::string& path) {
    auto r = net::http_request(http::Verb::get, yuerd->url(path), "",
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 60s);
    REQUIRE(r.has_value());
    REQUIRE(r->status == 200);
    return r->body;
  }

  void ring() {
    // The sync token of the newest write is not needed: yuerd syncs without one too, but the
    // doorbell carries one as WeCom's does.
    const std::string xml = "<xml><ToUserName><![CDATA[" + std::string(kCorpId) + "]]></ToUserName><CreateTime>" +
                            std::to_string(now_ms() / 1000) +
                            "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]>"
                            "</Event><Token><![CDATA[" + last_token + "]]></Token><OpenKfId><![CDATA[" + kKf +
                            "]]></OpenKfId></xml>";
    json sent = sandbox.post("/_sandbox/callbacks/app",
                             {{"plaintext_xml", xml}, {"callback_url", yuerd->url("/wecom/callback/app")}});
    INFO(sent.dump());
    REQUIRE(sent["delivered"] == true);
  }
  std::string last_token;

  json write(const json& body) {
    json w = sandbox.post("/_sandbox/kf/write", body);
    last_token = w.value("sync_token", last_token);
    return w;
  }

  // New accepted kf/send_msg calls → each parent's inbox. Returns how many arrived.
  std::size_t collect() {
    const json all = sandbox.get("/_sandbox/requests?path=/cgi-bin/kf/send_msg&since=" + std::to_string(send_seq));
    std::size_t n = 0;
    for (const auto& r : all["requests"]) {
      send_seq = std::max<std::int64_t>(send_seq, r.value("seq", 0));
      if (r.value("errcode", -1) != 0) continue;
      json body = json::parse(r.value("body", ""), nullptr, false);
      if (!body.is_object()) continue;
      auto it = by_user.find(body.value("touser", ""));
      if (it == by_user.end()) continue;
      it->second->inbox.push_back(body["text"].value("content", ""));
      ++n;
    }
    return n;
  }

  std::int64_t open_kf_rows() {
    json stats = admin(http::Verb::get, "/api/v1/outbox?stats=1");
    std::int64_t n = 0;
    for (const auto& r : stats.value("routes", json::array()))
      if (r.value("route", "") == "kf") n += r.value("open", 0);
    return n;
  }
};

bool eventually(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

}  // namespace

// Once a flake (issue 7: a parent's kf reply left queued for good, seen in wave 0 and in wave 28
// after the crash): the kf route answered "wait" to a reply judged before KfSync had moved that
// parent's window, and the dispatcher lost the wake that came while it committed the wait. Both are
// fixed (windows move before the inbox gets the messages; wakes are counted until memory is
// updated), so this case fails again when a parent is left without an answer.
TEST_CASE("survey: 500 parents answer over 微信客服, responses, coverage per level and indicators are right",
          "[e2e][survey]") {
  const auto started = std::chrono::steady_clock::now();
  Run run;
  auto households = make_households();

  // Units and roster (yuerctl, as a coordinator does).
  REQUIRE(run.ctl({"org", "import", run.yuerd->dir().write("org.csv", org_csv()), "--apply"}).code == 0);
  auto roster = run.ctl({"roster", "import", run.yuerd->dir().write("roster.csv", roster_csv(households)), "--apply"});
  INFO(roster.output);
  REQUIRE(roster.code == 0);

  // Open the round: the whole city, today to a month ahead.
  const std::string opens = iso(today_cn());
  const std::string closes = iso(days_ago(-30));
  json opened = run.ctl_json({"surveys", "open", "--name", "2026年第1轮", "--unit", "440103000000", "--unit",
                              "440104000000", "--opens", opens, "--closes", closes, "--json"});
  const json round = opened["round"];
  const std::int64_t rid = round["id"].get<std::int64_t>();
  int eligible_total = 0;
  std::map<std::string, int> eligible_by_township, responded_by_township;
  for (const auto& h : households)
    if (h.in_roster)
      for (const auto& c : h.kids)
        if (c.age <= 36) ++eligible_by_township[h.township], ++eligible_total;
  CHECK(round["eligible"] == eligible_total);  // the snapshot (the roster refuses children over 36 months)
  CHECK(round["state"] == "open");
  CHECK(round["units"] == json::array({"440103000000", "440104000000"}));
  REQUIRE(round["kf_links"].size() == kTownships.size());
  std::map<std::string, std::string> link_of;
  for (const auto& l : round["kf_links"]) link_of[l["unit"].get<std::string>()] = l["url"].get<std::string>();
  // The list (with a unit filter) shows the same round.
  json listed = run.admin(http::Verb::get, "/api/v1/surveys?unit=440104");
  REQUIRE(listed["rounds"].size() == 1);
  CHECK(listed["rounds"][0]["kf_links"].size() == 2);  // only 西区's townships
  CHECK(listed["rounds"][0]["eligible"] == eligible_by_township[kTownships[3]] + eligible_by_township[kTownships[4]]);
  // Bad input is refused in Chinese.
  json refused = run.admin(http::Verb::post, "/api/v1/surveys",
                           {{"survey", "feeding"}, {"name", "x"}, {"units", {"449999000000"}}, {"opens", opens},
                            {"closes", closes}},
                           422);
  CHECK(refused["error"]["message"].get<std::string>().find("没有这个单位") != std::string::npos);

  // Every parent opens their township's link (enter_session with the link's scene).
  std::vector<Parent> parents;
  parents.reserve(kParents);
  for (int p = 0; p < kParents; ++p) {
    Parent pa;
    pa.h = households[static_cast<std::size_t>(p)];
    parents.push_back(std::move(pa));
  }
  for (auto& pa : parents) {
    json w = run.write({{"open_kfid", kKf}, {"enter_session", {{"url", link_of.at(pa.h.township)}}}});
    pa.user = w["external_userid"].get<std::string>();
    run.by_user[pa.user] = &pa;
  }

  // Waves: every parent with something to say writes once, one doorbell, then everyone waits for
  // yuerd's answers. Wave 0: the first message ("你好").
  std::map<std::string, std::string> pending;  // user → message to write this wave
  for (auto& pa : parents) pending[pa.user] = pa.h.p % 2 ? "你好" : "在吗，我来填调查";
  // Kills (header comment): which waves, and how long after the doorbell.
  const char* kills_env = std::getenv("YUER_SURVEY_KILLS");
  const int kills = kills_env && *kills_env ? std::atoi(kills_env) : 1;
  const char* seed_env = std::getenv("YUER_SURVEY_KILL_SEED");
  std::mt19937_64 kill_rng(seed_env && *seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261206);
  const auto kill_in = [&](int w) { return kills == 1 ? w == 6 : w >= 1 && w <= kills; };
  int killed = 0;
  std::size_t resent_after_kills = 0;  // outbox rows found in flight (sending) at the restarts
  std::vector<int> kill_delays_ms;
  int wave = 0;
  for (; wave < 80 && !pending.empty(); ++wave) {
    std::set<std::string> writers;
    std::vector<std::pair<std::string, std::string>> jobs;
    for (auto& [user, text] : pending) {
      Parent& pa = *run.by_user[user];
      if (pa.vanish_until > wave) continue;
      pa.seen = pa.inbox.size();
      writers.insert(user);
      jobs.emplace_back(user, text);
    }
    // Parents write at the same time (8 at once); the last one through write() for the doorbell's token.
    if (!jobs.empty()) {
      std::atomic<std::size_t> next{0};
      std::atomic<int> failed{0};
      std::vector<std::thread> pool;
      for (int t = 0; t < 8; ++t)
        pool.emplace_back([&] {
          for (std::size_t i; (i = next++) + 1 < jobs.size();) {
            json w{{"open_kfid", kKf}, {"external_userid", jobs[i].first}, {"text", jobs[i].second}};
            auto r = net::http_request(http::Verb::post, run.sandbox.url("/_sandbox/kf/write"), w.dump(),
                                       {{"Content-Type", "application/json"}}, 30s);
            if (!r || r->status != 200) ++failed;
          }
        });
      for (auto& t : pool) t.join();
      REQUIRE(failed == 0);
      run.write({{"open_kfid", kKf}, {"external_userid", jobs.back().first}, {"text", jobs.back().second}});
    }
    for (const auto& u : writers) pending.erase(u);
    if (writers.empty()) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    run.ring();
    if (kill_in(wave)) {
      // A crash in the middle of a wave: yuerd dies while it syncs, answers and sends.
      const int delay_ms = kills == 1 ? 300 : static_cast<int>(kill_rng() % 801);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      run.yuerd->kill();
      ++killed;
      kill_delays_ms.push_back(delay_ms);
      run.yuerd->start();
      resent_after_kills += run.admin(http::Verb::get, "/api/v1/outbox?stats=1")["resent_after_crash"].get<std::size_t>();
      run.ring();
    }
    // Every writer gets at least one answer, and nothing is left to send. The bound is on progress
    // (a minute without one fails), not on the whole wave: a loaded CI machine sends more slowly.
    const auto done = [&] {
      run.collect();
      for (const auto& u : writers)
        if (run.by_user[u]->inbox.size() <= run.by_user[u]->seen) return false;
      return run.open_kf_rows() == 0;
    };
    bool answered = eventually(done, 60s);
    for (int more = 0; !answered && more < 4; ++more) {
      const auto open_before = run.open_kf_rows();
      answered = eventually(done, 60s);
      if (!answered && run.open_kf_rows() >= open_before) break;  // no progress in a minute
    }
    if (!answered) {
      std::size_t missing = 0;
      for (const auto& u : writers) missing += run.by_user[u]->inbox.size() <= run.by_user[u]->seen;
      FAIL("wave " << wave << ": " << missing << " of " << writers.size() << " parents got no answer; kf rows open "
                   << run.open_kf_rows());
    }
    std::this_thread::sleep_for(100ms);
    run.collect();
    for (const auto& u : writers) {
      Parent& pa = *run.by_user[u];
      std::string text;
      for (std::size_t i = pa.seen; i < pa.inbox.size(); ++i) text += pa.inbox[i] + "\n";
      std::string next = next_message(pa, text);
      if (pa.vanishes() && wave == 3) pa.vanish_until = wave + 5;  // gone for 5 waves, then back
      if (!next.empty()) pending[u] = next;
    }
  }
  INFO("waves " << wave);
  for (const auto& pa : parents) {
    INFO("parent " << pa.h.p << " last: " << (pa.inbox.empty() ? "" : pa.inbox.back()));
    CHECK(pa.done);
  }

  // Stored responses: every roster child of a parent who answered, and the strangers unmatched.
  Expect expect;
  int responded_total = 0;
  for (const auto& pa : parents) {
    if (pa.stranger()) continue;
    for (const auto& c : pa.h.kids) {
      expect_child(expect, c);
      ++responded_by_township[pa.h.township];
      ++responded_total;
    }
  }
  json unmatched = run.ctl_json({"surveys", "unmatched", std::to_string(rid), "--json"});
  CHECK(unmatched["responses"].size() == static_cast<std::size_t>(kStrangers));
  for (const auto& u : unmatched["responses"]) CHECK(std::find(kTownships.begin(), kTownships.end(), u["unit"]) != kTownships.end());

  // Coverage per level, by the test's own sums.
  auto check_unit = [&](const json& u, int eligible, int responded, bool flag) {
    INFO(u.dump());
    CHECK(u["eligible"] == eligible);
    CHECK(u["responded"] == responded);
    CHECK(u["below_target"] == flag);
  };
  json city = run.ctl_json({"surveys", "coverage", std::to_string(rid), "--json"});
  CHECK(city["unit"]["code"] == "440100000000");
  check_unit(city["unit"], eligible_total, responded_total, false);
  for (const std::string county : {"440103000000", "440104000000"}) {
    int e = 0, r = 0;
    for (const auto& t : kTownships)
      if (t.starts_with(county.substr(0, 6))) e += eligible_by_township[t], r += responded_by_township[t];
    json cov = run.ctl_json({"surveys", "coverage", std::to_string(rid), "--unit", county, "--json"});
    check_unit(cov["unit"], e, r, r * 100 < e * 80);
    for (const auto& child : cov["children"]) {
      const std::string t = child["code"];
      check_unit(child, eligible_by_township[t], responded_by_township[t],
                 responded_by_township[t] * 100 < eligible_by_township[t] * 90);
    }
    CHECK(cov["children"].size() == (county == "440103000000" ? 3u : 2u));
  }
  // The 5th township is below 90 % (its silent households), so its flag is up.
  CHECK(responded_by_township[kTownships[4]] * 100 < eligible_by_township[kTownships[4]] * 90);

  // Missing families of a township: exactly its silent households' children.
  json missing = run.ctl_json({"surveys", "missing", std::to_string(rid), "--unit", kTownships[4], "--json"});
  CHECK(static_cast<int>(missing["families"].size()) ==
        eligible_by_township[kTownships[4]] - responded_by_township[kTownships[4]]);
  for (const auto& f : missing["families"]) CHECK(f["phone_masked"].get<std::string>().find("****") != std::string::npos);

  // Indicators of the city (= everyone), against the test's own rules.
  json ind = run.ctl_json({"surveys", "indicators", std::to_string(rid), "--json"});
  std::map<std::string, json> got;
  for (const auto& i : ind["indicators"]) got[i["id"].get<std::string>()] = i;
  for (const auto& [id, nd] : expect.ind) {
    INFO(id);
    REQUIRE(got.contains(id));
    CHECK(got[id]["numerator"] == nd.first);
    CHECK(got[id]["denominator"] == nd.second);
  }
  CHECK(expect.ind.size() == 12);

  // Exports: CSV with BOM and Chinese headers; identifying columns only when asked; revisions.
  const std::string csv = run.raw("/api/v1/surveys/" + std::to_string(rid) + "/export?format=csv");
  CHECK(csv.starts_with("\xEF\xBB\xBF"));
  CHECK(csv.find("单位代码") != std::string::npos);
  CHECK(csv.find("【乡镇级】") != std::string::npos);
  CHECK(csv.find("S0002A") == std::string::npos);
  const std::string ident = run.raw("/api/v1/surveys/" + std::to_string(rid) + "/export?format=csv&identifying=1");
  CHECK(ident.find("S0002A") != std::string::npos);
  int restarted = 0;
  for (const auto& pa : parents) restarted += pa.restarted ? static_cast<int>(pa.h.kids.size()) : 0;
  CHECK(restarted > 0);
  // Corrections keep history: read through the store layer (a second, read-only connection next
  // to the running yuerd). A parent who started again replaced each child's response: revision 2
  // with the true bottle answer, and one history row, revision 1, with the wrong answer replaced.
  {
    store::Settings ss;
    ss.path = run.yuerd->dir().path() + "/var/yuer.db";
    ss.read_only = true;
    auto opened_store = store::open_sqlite_survey_store(ss);
    REQUIRE(opened_store.has_value());
    auto& sstore = **opened_store;
    std::map<std::string, store::SurveyResponse> by_child;
    for (auto& r : sstore.responses(rid))
      if (!r.child_id.empty()) by_child[r.child_id] = r;
    CHECK(static_cast<int>(by_child.size()) == responded_total);
    const auto bottle_code = [](const std::string& answers) {
      json a = json::parse(answers, nullptr, false);
      return a.is_object() && a.contains("bottle") ? a["bottle"].value("code", "") : std::string("?");
    };
    int checked = 0, revised = 0, restarted_known = 0;
    for (const auto& pa : parents) {
      if (pa.stranger()) continue;
      restarted_known += pa.restarted ? static_cast<int>(pa.h.kids.size()) : 0;
      for (const auto& c : pa.h.kids) {
        INFO("parent " << pa.h.p << " child " << c.id);
        auto it = by_child.find(c.id);
        REQUIRE(it != by_child.end());
        const auto& r = it->second;
        CHECK(bottle_code(r.answers) == (c.bottle ? "yes" : "no"));
        auto hist = sstore.history(r.id);
        revised += r.revision > 1;
        if (!pa.restarted) {
          CHECK(r.revision == 1);
          CHECK(hist.empty());
          continue;
        }
        ++checked;
        CHECK(r.revision == 2);
        REQUIRE(hist.size() == 1);
        CHECK(hist[0].revision == 1);
        CHECK(bottle_code(hist[0].answers) == (c.bottle ? "no" : "yes"));  // the replaced (wrong) answer
        CHECK(hist[0].channel == "kf");
        CHECK(hist[0].user_id == pa.user);
      }
    }
    CHECK(restarted_known > 0);
    CHECK(checked == restarted_known);
    CHECK(revised == restarted_known);
  }
  auto export_file = run.yuerd->dir().path() + "/round.xlsx";
  auto x = run.ctl({"surveys", "export", std::to_string(rid), "--format", "xlsx", "-o", export_file});
  INFO(x.output);
  CHECK(x.code == 0);

  // kf limits in the sandbox's own record, and no answer sent twice (the crash replayed a page).
  std::size_t duplicates = 0;
  for (const auto& pa : parents) {
    const json c = run.sandbox.get(std::string("/_sandbox/kf/conversation?open_kfid=") + kKf + "&external_userid=" + pa.user);
    int run_len = 0, most = 0;
    std::set<std::string> since_in;
    for (const auto& m : c["messages"]) {
      if (m["dir"] == "in") {
        run_len = 0;
        since_in.clear();
      } else if (m["dir"] == "out") {
        most = std::max(most, ++run_len);
        if (!since_in.insert(m["content"].value("content", "")).second) ++duplicates;
      }
    }
    INFO("parent " << pa.h.p);
    CHECK(most <= 5);
  }
  // A reply can reach a parent twice only when its send was in flight at a kill.
  CHECK(duplicates <= resent_after_kills);
  CHECK(killed == kills);
  // Close the round.
  json closed = run.ctl_json({"surveys", "close", std::to_string(rid), "--json"});
  CHECK(closed["round"]["state"] == "closed");
  std::string delays;
  for (int d : kill_delays_ms) delays += (delays.empty() ? "" : ",") + std::to_string(d);
  WARN("survey e2e: " << wave << " waves, " << killed << " kill(s) at " << delays << " ms after the doorbell, "
                      << resent_after_kills << " sends in flight at the kills, " << duplicates << " duplicated replies, "
                      << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()
                      << " s");
}

}  // namespace yuer::test
