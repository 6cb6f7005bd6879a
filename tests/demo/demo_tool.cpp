// yuer-demo: the sample county's CSVs and simulated parents for scripts/demo.sh (README.md here).
// Everything it makes up is fictional: names, phone numbers (1390000xxxx), division codes (the made-up prefecture 5399…).
#include "daemon/net/http_client.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace {

using nlohmann::json;
using yuer::http::Verb;
using namespace std::chrono_literals;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
// Sleeps up to `d`, waking at once after SIGINT/SIGTERM.
void nap(std::chrono::milliseconds d) {
  for (auto end = std::chrono::steady_clock::now() + d; !g_stop && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(100ms);
}

struct Township {
  const char* code;
  const char* name;
  const char* villages[3];
  // The sandbox fixture's generated parents of its two groups: id prefix and count.
  const char* prefixes[2];
  int counts[2];
};

constexpr Township kTownships[] = {
    {"539901100000", "青禾镇", {"青禾村", "杏花村", "上坝村"}, {"wmDemoQh1P", "wmDemoQh2P"}, {52, 47}},
    {"539901200000", "石桥乡", {"石桥村", "河湾村", "松林村"}, {"wmDemoSq1P", "wmDemoSq2P"}, {55, 41}},
    {"539901300000", "柳溪镇", {"柳溪村", "新田村", "白岩村"}, {"wmDemoLx1P", "wmDemoLx2P"}, {58, 44}},
};

std::string date_days_ago(int days) {
  std::time_t t = std::time(nullptr) + 8 * 3600 - static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int write_county(const std::string& out_dir, int families) {
  std::ofstream org(out_dir + "/org.csv");
  org << "区划代码,名称\n530000000000,云南省\n539900000000,演示州\n539901000000,云川县\n";
  for (const auto& t : kTownships) {
    org << t.code << "," << t.name << "\n";
    for (int v = 0; v < 3; ++v) org << std::string(t.code).substr(0, 9) << "2" << v + 1 << "1" << "," << t.villages[v] << "\n";
  }
  std::ofstream roster(out_dir + "/roster.csv");
  roster << "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  std::mt19937 rng(20261204);
  const char* surnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"};
  const char* given[] = {"秀兰", "桂英", "丽", "敏", "静", "艳", "娟", "霞", "芳", "燕", "建华", "志强", "海燕", "春梅"};
  // Ages: slightly more young babies (births spread over 0-36 months, a few a day).
  std::uniform_int_distribution<int> age(0, 36 * 30);  // under 36 months (1,096 days)
  int used[3][2] = {};
  for (int i = 0; i < families; ++i) {
    const int ti = i % 3;
    const auto& t = kTownships[ti];
    const int v = static_cast<int>(rng() % 3);
    int days = age(rng);
    if (rng() % 4 == 0) days /= 2;
    std::string ext;
    const int g = (i / 3) % 2;
    if (used[ti][g] < t.counts[g]) {
      char id[32];
      std::snprintf(id, sizeof id, "%s%04d", t.prefixes[g], ++used[ti][g]);
      ext = id;
    }
    char line[256];
    std::snprintf(line, sizeof line, "D%05d,%s,%s,%s2%d1,%s%s,1390000%04d,%s,%s\n", i + 1, date_days_ago(days).c_str(),
                  rng() % 2 ? "男" : "女", std::string(t.code).substr(0, 9).c_str(), v + 1, surnames[rng() % 16],
                  given[rng() % 14], i + 1, ext.c_str(), rng() % 12 == 0 ? "低保" : "");
    roster << line;
  }
  std::cout << "wrote " << out_dir << "/org.csv and " << out_dir << "/roster.csv (" << families << " families)\n";
  return 0;
}

struct Family {
  std::string child_id, birth_date, unit, phone, external_userid;
};

std::vector<Family> read_roster(const std::string& path) {
  std::vector<Family> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (f.size() < 7) continue;
    out.push_back({f[0], f[1], f[3], f[5], f[6]});
  }
  return out;
}

class Parents {
 public:
  Parents(std::string sandbox, std::string yuerd, std::string token) : sandbox_(sandbox), yuerd_(yuerd), token_(token) {}

  std::optional<json> get(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto r = yuer::net::http_request(Verb::get, url, "", headers, 10s);
    if (!r || r->status != 200) return std::nullopt;
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }
  bool post_sandbox(const std::string& path, const json& body) {
    auto r = yuer::net::http_request(Verb::post, sandbox_ + path, body.dump(), {{"Content-Type", "application/json"}}, 10s);
    return r && r->status == 200;
  }
  std::optional<json> rounds() { return get(yuerd_ + "/api/v1/surveys", {{"Authorization", "Bearer " + token_}}); }

  // What yuer last sent this parent after `seen` messages, waiting up to `bound`.
  std::optional<json> next_out(const std::string& kfid, const std::string& user, std::size_t& seen,
                               std::chrono::milliseconds bound) {
    const auto end = std::chrono::steady_clock::now() + bound;
    while (!g_stop && std::chrono::steady_clock::now() < end) {
      auto conv = get(sandbox_ + "/_sandbox/kf/conversation?open_kfid=" + kfid + "&external_userid=" + user);
      if (conv && conv->contains("messages")) {
        const auto& msgs = (*conv)["messages"];
        std::optional<json> last;
        for (std::size_t i = seen; i < msgs.size(); ++i)
          if (msgs[i].value("dir", "") == "out") last = msgs[i];
        if (last) {
          seen = msgs.size();
          // Several parts may arrive; give them a moment.
          std::this_thread::sleep_for(300ms);
          auto again = get(sandbox_ + "/_sandbox/kf/conversation?open_kfid=" + kfid + "&external_userid=" + user);
          if (again && (*again)["messages"].size() > seen) {
            for (std::size_t i = seen; i < (*again)["messages"].size(); ++i)
              if ((*again)["messages"][i].value("dir", "") == "out") last = (*again)["messages"][i];
            seen = (*again)["messages"].size();
          }
          return last;
        }
      }
      std::this_thread::sleep_for(250ms);
    }
    return std::nullopt;
  }

  // One parent answers until yuer thanks them or stops asking.
  bool answer(const Family& f, const std::string& url, std::mt19937& rng) {
    const std::string user = f.external_userid.empty() ? "wmDemoKf" + f.child_id : f.external_userid;
    std::string kfid;
    if (auto m = std::smatch(); std::regex_search(url, m, std::regex("open_kfid=([A-Za-z0-9_-]+)"))) kfid = m[1];
    if (!post_sandbox("/_sandbox/kf/write", {{"external_userid", user}, {"enter_session", {{"url", url}}}})) return false;
    if (kfid.empty()) kfid = "wkDemoHeHVlLB5o7NBNCti";
    // yuer never speaks first (WeCom's kf rules): the parent opens the link and says hello.
    if (!post_sandbox("/_sandbox/kf/write", {{"external_userid", user}, {"text", "你好，我来填调查"}})) return false;
    std::size_t seen = 0;
    for (int turn = 0; turn < 40 && !g_stop; ++turn) {
      auto out = next_out(kfid, user, seen, 8s);
      if (!out) return turn > 0;
      const json& c = (*out)["content"];
      std::string text = c.value("content", "");
      if (out->value("msgtype", "") == "msgmenu") {
        text = c.value("head_content", "");
        std::vector<std::string> ids;
        if (c.contains("list"))
          for (const auto& item : c["list"])
            if (item.value("type", "") == "click") ids.push_back(item["click"].value("id", ""));
        if (!ids.empty()) {
          post_sandbox("/_sandbox/kf/write", {{"external_userid", user}, {"menu_click", ids[pick(rng, ids.size())]}});
          continue;
        }
      }
      if (text.find("谢谢") != std::string::npos || text.find("已完成") != std::string::npos ||
          text.find("已记录") != std::string::npos)
        return true;
      post_sandbox("/_sandbox/kf/write", {{"external_userid", user}, {"text", reply(text, f, rng)}});
    }
    return true;
  }

 private:
  static std::size_t pick(std::mt19937& rng, std::size_t n) {
    // Earlier options a little more often (the usual answers come first).
    std::size_t a = rng() % n, b = rng() % n;
    return std::min(a, b);
  }
  static std::string reply(const std::string& q, const Family& f, std::mt19937& rng) {
    if (q.find("回复“确认”") != std::string::npos) return "确认";  // the summary
    // Numbered options, one per line ("\n1. 吃过"): answer one of them. Checked before the words
    // below, which also appear in option questions (宝宝出生以后吃过妈妈的奶吗？).
    int max_option = 0;
    for (int n = 1; n <= 9; ++n)
      for (const char* sep : {".", "、", "．", ")", "）"})
        if (q.find("\n" + std::to_string(n) + sep) != std::string::npos) max_option = std::max(max_option, n);
    if (max_option > 0) return std::to_string(1 + pick(rng, static_cast<std::size_t>(max_option)));
    if (q.find("手机") != std::string::npos || q.find("电话") != std::string::npos) return f.phone.size() >= 4 ? f.phone.substr(f.phone.size() - 4) : f.phone;
    if (q.find("出生") != std::string::npos || q.find("生日") != std::string::npos) return f.birth_date;
    if (q.find("编号") != std::string::npos) return f.child_id;
    if (q.find("是") != std::string::npos && q.find("否") != std::string::npos) return rng() % 3 ? "是" : "否";
    if (q.find("次") != std::string::npos) return std::to_string(rng() % 6);
    return "1";
  }

  std::string sandbox_, yuerd_, token_;
};

int run_parents(const std::string& sandbox, const std::string& yuerd, const std::string& token_file,
                const std::string& roster_path, double share, int pause_ms) {
  std::ifstream tf(token_file);
  std::string token;
  std::getline(tf, token);
  auto families = read_roster(roster_path);
  std::mt19937 rng(7);
  std::shuffle(families.begin(), families.end(), rng);
  Parents p(sandbox, yuerd, token);
  bool said_absent = false;
  std::set<std::string> done;
  while (!g_stop) {
    auto rounds = p.rounds();
    if (!rounds || !rounds->contains("rounds")) {
      if (!said_absent) std::cout << "yuer-demo parents: no survey API on " << yuerd << " yet (GET /api/v1/surveys); waiting\n";
      said_absent = true;
      nap(10s);
      continue;
    }
    int answered = 0;
    for (const auto& r : (*rounds)["rounds"]) {
      if (r.value("state", "") != "open" || !r.contains("kf_links")) continue;
      for (const auto& f : families) {
        if (g_stop) break;
        const std::string key = r["id"].dump() + "/" + f.child_id;
        if (done.count(key)) continue;
        done.insert(key);
        if ((rng() % 1000) / 1000.0 >= share) continue;  // this family does not answer
        std::string url;
        for (const auto& l : r["kf_links"])
          if (f.unit.starts_with(std::string(l.value("unit", "")).substr(0, 9)) || url.empty()) url = l.value("url", "");
        if (url.empty()) continue;
        if (p.answer(f, url, rng)) ++answered;
        if (answered % 25 == 0 && answered > 0) std::cout << "yuer-demo parents: " << answered << " families answered\n" << std::flush;
        nap(std::chrono::milliseconds(pause_ms));
      }
    }
    nap(5s);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"yuer-demo: the sample county for scripts/demo.sh"};
  cli.require_subcommand(1);
  std::string out_dir = ".";
  int families = 1200;
  auto* county = cli.add_subcommand("county", "write org.csv and roster.csv of the sample county");
  county->add_option("--out", out_dir, "folder")->required();
  county->add_option("--families", families, "families")->check(CLI::Range(3, 100000));
  std::string sandbox, yuerd, token_file, roster;
  double share = 0.88;
  int pause_ms = 200;
  auto* parents = cli.add_subcommand("parents", "simulated parents answer open survey rounds through the sandbox's kf");
  parents->add_option("--sandbox", sandbox, "wecom-sandbox base URL")->required();
  parents->add_option("--yuerd", yuerd, "yuerd base URL")->required();
  parents->add_option("--token-file", token_file, "admin token file")->required();
  parents->add_option("--roster", roster, "roster.csv from `county`")->required();
  parents->add_option("--share", share, "share of families that answer")->check(CLI::Range(0.0, 1.0));
  parents->add_option("--pause-ms", pause_ms, "pause between families")->check(CLI::Range(0, 60000));
  CLI11_PARSE(cli, argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (*county) return write_county(out_dir, families);
  return run_parents(sandbox, yuerd, token_file, roster, share, pause_ms);
}
