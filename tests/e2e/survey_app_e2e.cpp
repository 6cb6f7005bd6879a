// The survey over the self-built app (issue 7: members, e.g. village doctors) end to end: a real
// yuerd against a real wecom-sandbox. A short survey (written here: a yes/no question → a button
// card, an 8-option question → a vote card, a number → text) is opened for one township; 20
// members are invited (yuerctl; inviting again sends nothing), identify themselves with the
// child's birth date and the phone's last 4 digits (members have no external_userid), and answer:
// even members click the cards (/_sandbox/cards/click → template_card_event), odd ones type
// (full-width digits, Chinese numerals). One member types a wrong number first (re-asked), one
// clicks an old card (told so), one member who was not invited writes (no answer), and yuerd is
// killed (SIGKILL) and started again in the middle. Stored responses and the township's coverage
// are compared with the values the test's own data gives.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include "daemon/store/survey_store.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eSurveyAppChannelSecret0123456789abcd";
constexpr const char* kPhoneKey = "e2e-survey-app-phone-key-0123456789";
constexpr const char* kTownship = "440103001000";
constexpr int kMembers = 20;
constexpr int kRosterOnly = 3;  // roster children whose caregivers are not invited (coverage < 90 %)

const char* kSurvey = R"(id = "mini"
version = 1
title = "村医喂养小调查"
intro = "您好！这是宝宝喂养小调查，一共3题。"
outro = "问卷已提交，谢谢您！"
min_age_months = 0
max_age_months = 36

[[question]]
id = "bf"
type = "single"
label = "吃过母乳"
prompt = "昨天宝宝吃过母乳吗？"
options = [ { code = "yes", text = "吃过" }, { code = "no", text = "没吃过" } ]

[[question]]
id = "food"
type = "single"
label = "主食"
prompt = "昨天宝宝主要吃的是什么？"
options = [
  { code = "rice", text = "米饭" }, { code = "noodle", text = "面条" }, { code = "congee", text = "粥" },
  { code = "bun", text = "馒头" }, { code = "potato", text = "红薯土豆" }, { code = "corn", text = "玉米" },
  { code = "milk", text = "只喝奶" }, { code = "other", text = "别的" },
]

[[question]]
id = "meals"
type = "integer"
label = "吃饭次数"
prompt = "昨天宝宝一共吃了几顿饭？"
min = 0
max = 10
unit = "次"
)";

const std::vector<std::string> kFoods = {"rice", "noodle", "congee", "bun", "potato", "corn", "milk", "other"};
const char* kFull[] = {"０", "１", "２", "３", "４", "５", "６", "７", "８", "９"};
const char* kCn[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"};

std::string userid(int i) { return fmt::format("Doc{:02d}", i + 1); }

struct Member {
  int i = 0;
  std::string birth;   // YYYY-MM-DD
  std::string phone;
  bool bf = false;     // true answers
  int food = 1;        // option number
  int meals = 0;
  bool clicks = false;
  // Progress.
  std::size_t seen = 0;
  bool done = false;
  bool typo_done = false;
  bool old_click_done = false;
  std::string bf_task;  // the first bf card (clicked again later by member 5)
  std::string bf_key;
};

std::string typed(int n, int style) {
  switch (style % 3) {
    case 0: return std::to_string(n);
    case 1: return kFull[n];
    default: return kCn[n];
  }
}

json make_fixture(const Secrets& s) {
  json members = json::array();
  for (int i = 0; i <= kMembers; ++i) members.push_back({{"userid", userid(i)}, {"name", fmt::format("村医{}", i + 1)}});
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret},
                                 {"token", s.app_token}, {"aes_key", s.app_aes_key}, {"callback_url", ""},
                                 {"visible_userids", json::array()}}})},
          {"members", members}};
}

std::string birth_of(int i) {
  using namespace std::chrono;
  const year_month_day d{floor<days>(system_clock::now() + hours(8)) - days(40 + i * 29)};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

struct Run {
  Secrets secrets;
  SandboxProcess sandbox{make_fixture(secrets)};
  std::unique_ptr<YuerdFixture> yuerd;
  std::string token_file;
  int ctl_runs = 0;

  Run() {
    yuerd = std::make_unique<YuerdFixture>(std::string("\n[roster]\nphone_key_file = \"secrets/phone_key\"\n") +
                                               "\n[survey]\ndir = \"surveys\"\npoll_ms = 50\n",
                                           sandbox.base(), kAppSecret);
    yuerd->dir().write("secrets/phone_key", kPhoneKey);
    yuerd->dir().write("surveys/mini.toml", kSurvey);
    token_file = yuerd->dir().path() + "/secrets/admin_token";
    yuerd->start();
    sandbox.post("/_sandbox/apps/callback_url", {{"agent_id", 1000002}, {"callback_url", yuerd->url("/wecom/callback/app")}});
  }

  RunResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", yuerd->url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s, yuerd->dir().path() + fmt::format("/yuerctl-{}.log", ++ctl_runs));
  }
  json ctl_json(std::vector<std::string> args) {
    auto r = ctl(std::move(args));
    INFO(r.output);
    REQUIRE(r.code == 0);
    return json::parse(r.output);
  }
  json admin(http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, yuerd->url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    return json::parse(r->body, nullptr, false);
  }
  void say(const std::string& user, const std::string& text) {
    json sent = sandbox.post("/_sandbox/callbacks/app", {{"from_user", user}, {"text", text}});
    INFO(sent.dump());
    REQUIRE(sent["delivered"] == true);
  }
  void click(const std::string& user, const std::string& task, const std::string& key, const std::string& type,
             json selected = nullptr) {
    json body = {{"userid", user}, {"task_id", task}, {"event_key", key}, {"card_type", type}};
    if (!selected.is_null()) body["selected_items"] = std::move(selected);
    sandbox.post("/_sandbox/cards/click", body);
  }
  json messages(const std::string& user) { return sandbox.get("/_sandbox/messages?userid=" + user)["messages"]; }
  std::int64_t open_rows() {
    json stats = admin(http::Verb::get, "/api/v1/outbox?stats=1");
    std::int64_t n = 0;
    for (const auto& r : stats.value("routes", json::array())) n += r.value("open", 0);
    return n;
  }
};

bool eventually(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

std::string text_of(const json& m) {
  return m.value("msgtype", "") == "text" && m["message"].is_object() ? m["message"].value("content", "") : "";
}

// The member's next step from what yuerd sent since its last message.
void act(Run& run, Member& m, const json& all) {
  const std::string u = userid(m.i);
  // The newest message that asks something: a card, or a text that is not the old-card notice.
  const json* last = nullptr;
  for (std::size_t k = m.seen; k < all.size(); ++k) {
    const auto& d = all[k];
    if (d.value("msgtype", "") == "template_card" || (d.value("msgtype", "") == "text" &&
                                                      text_of(d).find("已经回答过了") == std::string::npos))
      last = &d;
  }
  m.seen = all.size();
  if (!last) return;
  if ((*last)["msgtype"] == "template_card") {
    const json& card = (*last)["message"];
    const std::string task = card.value("task_id", "");
    if (card["card_type"] == "button_interaction") {
      REQUIRE(card["button_list"][0]["key"] == "q:0:bf:1");  // the yes/no question
      if (m.i == 5 && m.bf_task.empty()) {
        m.bf_task = task;
        m.bf_key = card["button_list"][1]["key"].get<std::string>();
      }
      if (m.i == 3 && !m.typo_done) {
        m.typo_done = true;
        return run.say(u, "５");  // there is no option 5: re-asked
      }
      const int n = m.bf ? 1 : 2;
      if (m.clicks)
        return run.click(u, task, card["button_list"][static_cast<std::size_t>(n - 1)]["key"].get<std::string>(),
                         "button_interaction");
      return run.say(u, typed(n, m.i / 2));
    }
    REQUIRE(card["card_type"] == "vote_interaction");
    REQUIRE(card["checkbox"]["option_list"].size() == 8u);
    if (m.i == 5 && !m.old_click_done) {
      m.old_click_done = true;
      run.click(u, m.bf_task, m.bf_key, "button_interaction");  // the answered card again
    }
    if (m.clicks)
      return run.click(u, task, card["submit_button"]["key"].get<std::string>(), "vote_interaction",
                       json::array({{{"question_key", card["checkbox"]["question_key"]},
                                     {"option_ids", json::array({std::to_string(m.food)})}}}));
    return run.say(u, typed(m.food, m.i / 2 + 1));
  }
  const std::string t = text_of(*last);
  if (t.find("问卷已提交") != std::string::npos) {
    m.done = true;
    return;
  }
  if (t.find("出生日期") != std::string::npos) {
    const std::string b = m.birth;
    const int y = std::stoi(b.substr(0, 4)), mo = std::stoi(b.substr(5, 2)), d = std::stoi(b.substr(8, 2));
    return run.say(u, m.i % 2 ? fmt::format("{}年{}月{}日", y, mo, d) : fmt::format("{}-{}-{}", y, mo, d));
  }
  if (t.find("后4位") != std::string::npos) {
    std::string last4 = m.phone.substr(7);
    if (m.i % 3 == 1) {
      std::string full;
      for (char c : last4) full += kFull[c - '0'];
      last4 = full;
    }
    return run.say(u, last4);
  }
  if (t.find("几顿饭") != std::string::npos) return run.say(u, m.i % 2 ? typed(m.meals, m.i) + "次" : typed(m.meals, m.i));
  if (t.find("请核对") != std::string::npos) return run.say(u, "确认");
  FAIL("member " << u << " cannot read: " << t);
}

}  // namespace

TEST_CASE("survey over the app: 20 members answer by card clicks and typing, across a restart", "[e2e][survey][app]") {
  const auto started = std::chrono::steady_clock::now();
  Run run;

  std::vector<Member> members(kMembers);
  std::string roster = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  for (int i = 0; i < kMembers + kRosterOnly; ++i) {
    const std::string phone = fmt::format("1390000{:04d}", 1000 + i);
    roster += fmt::format("A{:02d},{},{},{},照护人{},{},,\n", i, birth_of(i), i % 2 ? "男" : "女", kTownship, i, phone);
    if (i >= kMembers) continue;
    Member& m = members[static_cast<std::size_t>(i)];
    m.i = i;
    m.birth = birth_of(i);
    m.phone = phone;
    m.bf = i % 3 != 0;
    m.food = i % 8 + 1;
    m.meals = i % 5 + 1;
    m.clicks = i % 2 == 0;
  }
  REQUIRE(run.ctl({"org", "import",
                   run.yuerd->dir().write("org.csv", "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n"
                                                     "440103000000,东区\n440103001000,东一镇\n"),
                   "--apply"})
              .code == 0);
  auto imported = run.ctl({"roster", "import", run.yuerd->dir().write("roster.csv", roster), "--apply"});
  INFO(imported.output);
  REQUIRE(imported.code == 0);

  using namespace std::chrono;
  const year_month_day today{floor<days>(system_clock::now() + hours(8))};
  const year_month_day later{sys_days(today) + days(30)};
  auto iso = [](year_month_day d) {
    return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                       static_cast<unsigned>(d.day()));
  };
  json opened = run.ctl_json({"surveys", "open", "--survey", "mini", "--name", "村医第1轮", "--unit", kTownship,
                              "--opens", iso(today), "--closes", iso(later), "--json"});
  const std::int64_t rid = opened["round"]["id"].get<std::int64_t>();
  REQUIRE(opened["round"]["eligible"] == kMembers + kRosterOnly);

  // Invite every member (yuerctl), then Doc01 again through the API: one invitation each.
  std::vector<std::string> args = {"surveys", "invite", std::to_string(rid), "--json"};
  for (int i = 0; i < kMembers; ++i) args.insert(args.end(), {"--userid", userid(i)});
  json invited = run.ctl_json(args);
  CHECK(invited["invited"] == kMembers);
  json again = run.admin(http::Verb::post, "/api/v1/surveys/" + std::to_string(rid) + "/invite",
                         {{"userids", json::array({userid(0)})}});
  CHECK(again["invited"] == 1);
  json bad = run.admin(http::Verb::post, "/api/v1/surveys/" + std::to_string(rid) + "/invite", {{"userids", json::array({"a b"})}});
  CHECK(bad["error"]["code"] == "survey.bad_request");
  REQUIRE(eventually([&] { return run.open_rows() == 0; }, 20s));
  for (int i = 0; i < kMembers; ++i) {
    json msgs = run.messages(userid(i));
    REQUIRE(msgs.size() == 1u);
    CHECK(text_of(msgs[0]).find("村医第1轮") != std::string::npos);
    members[static_cast<std::size_t>(i)].seen = 1;
  }

  // A member who was not invited writes: no answer.
  run.say(userid(kMembers), "你好");

  // Waves: every member who is not done writes once; then everyone waits for yuerd's answers.
  for (auto& m : members) run.say(userid(m.i), m.i % 2 ? "开始" : "你好，我来填");
  int wave = 0;
  for (; wave < 15; ++wave) {
    std::vector<Member*> writers;
    for (auto& m : members)
      if (!m.done) writers.push_back(&m);
    if (writers.empty()) break;
    const bool answered = eventually(
        [&] {
          for (auto* m : writers)
            if (run.messages(userid(m->i)).size() <= m->seen) return false;
          return run.open_rows() == 0;
        },
        20s);
    REQUIRE(answered);
    if (wave == 3) {
      // A crash mid-conversation: every member's state is on disk; the next answers resume it.
      run.yuerd->kill();
      run.yuerd->start();
      run.sandbox.post("/_sandbox/apps/callback_url", {{"agent_id", 1000002}, {"callback_url", run.yuerd->url("/wecom/callback/app")}});
    }
    for (auto* m : writers) act(run, *m, run.messages(userid(m->i)));
  }
  INFO("waves " << wave);
  for (const auto& m : members) {
    INFO(userid(m.i));
    CHECK(m.done);
  }
  CHECK(run.messages(userid(kMembers)).empty());

  // What the members saw: a re-ask for the typo, the old-card notice, the clicked cards updated.
  bool reasked = false, told_old = false;
  for (const auto& d : run.messages(userid(3))) reasked |= text_of(d).find("没有第5项") != std::string::npos;
  for (const auto& d : run.messages(userid(5))) told_old |= text_of(d).find("已经回答过了") != std::string::npos;
  CHECK(reasked);
  CHECK(told_old);
  int updates = 0;
  for (const auto& m : members) {
    for (const auto& d : run.messages(userid(m.i))) {
      if (d.value("msgtype", "") != "update_button") continue;
      ++updates;
      CHECK(d["message"]["replace_name"] == (m.bf ? "已选择：吃过" : "已选择：没吃过"));
    }
  }
  CHECK(updates == kMembers / 2);  // one per clicked button card (vote cards are not updated)
  // message/send never refused a card (task ids unique, cards within the limits).
  int cards = 0;
  const json sends = run.sandbox.get("/_sandbox/requests?path=/cgi-bin/message/send");
  for (const auto& r : sends["requests"]) {
    if (json::parse(r.value("body", ""), nullptr, false).value("msgtype", "") != "template_card") continue;
    ++cards;
    CHECK(r["errcode"] == 0);
  }
  CHECK(cards >= 2 * kMembers);

  // Stored responses equal the members' answers; coverage of the township: 20 of 23.
  {
    store::Settings ss;
    ss.path = run.yuerd->store_path();
    ss.read_only = true;
    auto opened_store = store::open_sqlite_survey_store(ss);
    REQUIRE(opened_store.has_value());
    auto responses = (*opened_store)->responses(rid);
    REQUIRE(responses.size() == static_cast<std::size_t>(kMembers));
    std::map<std::string, store::SurveyResponse> by_child;
    for (const auto& r : responses) by_child[r.child_id] = r;
    for (const auto& m : members) {
      INFO(userid(m.i));
      const auto it = by_child.find(fmt::format("A{:02d}", m.i));
      REQUIRE(it != by_child.end());
      CHECK(it->second.channel == "app");
      CHECK(it->second.user_id == userid(m.i));
      CHECK(it->second.revision == 1);
      CHECK(json::parse(it->second.answers) ==
            json({{"bf", {{"code", m.bf ? "yes" : "no"}}},
                  {"food", {{"code", kFoods[static_cast<std::size_t>(m.food - 1)]}}},
                  {"meals", {{"int", m.meals}}}}));
    }
  }
  json cov = run.ctl_json({"surveys", "coverage", std::to_string(rid), "--unit", kTownship, "--json"});
  CHECK(cov["unit"]["responded"] == kMembers);
  CHECK(cov["unit"]["eligible"] == kMembers + kRosterOnly);
  CHECK(cov["unit"]["below_target"] == true);  // 20 / 23 = 87 % < 90 %

  // Logs carry ids, never the roster's people.
  const std::string logs = run.yuerd->log_text();
  CHECK(logs.find("照护人") == std::string::npos);
  for (const auto& m : members) CHECK(logs.find(m.phone) == std::string::npos);

  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  WARN("survey app e2e: " << wave << " waves, " << secs << " s");
  CHECK(secs < 60);
}

}  // namespace yuer::test
