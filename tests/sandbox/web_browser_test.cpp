// The chat view (web/) in a real browser: the wecom-sandbox binary on 127.0.0.1, headless Chromium
// driven through chromedriver's W3C WebDriver JSON protocol with our own HTTP client. Checks what
// a person sees and does: a group's messages (markdown rendered, Chinese, newest at the bottom),
// typing as a parent (the kf callback reaches a receiver, decrypted with MsgCrypt), and confirming
// a pending mass-message task (verified through the control API). Every wait is bounded; every
// process started here (sandbox, chromedriver and the browsers it starts) is killed at the end.
// Also, without a browser: the served files are complete and every control call app.js makes exists.
#include "adapters/wecom/crypto.h"
#include "daemon/net/http_client.h"
#include "daemon/net/http_test_support.h"
#include "tests/sandbox/binary_test_support.h"
#include "tests/sandbox/wire.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using adapters::wecom::MsgCrypt;

const char* kCorp = "wwweb00001";
const char* kToken = "WebTok1";
const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const char* kChromedriver = "/usr/bin/chromedriver";
const char* kChromium = "/usr/bin/chromium";

json web_fixture(const std::string& callback_url) {
  return {{"corp", {{"corp_id", kCorp}, {"name", "城关县"}}},
          {"apps", {{{"agent_id", 1000002}, {"name", "育儿助手"}, {"secret", "web-secret"}, {"token", kToken},
                     {"aes_key", kAesKey}, {"callback_url", callback_url}}}},
          {"customer_contact_agent_ids", {1000002}},
          {"members", {{{"userid", "Alice"}, {"name", "李医生"}}, {{"userid", "Bob"}, {"name", "王主任"}}}},
          {"internal_groups", {{{"chat_id", "wrmgmt"}, {"name", "城关镇管理群"}, {"owner", "Alice"},
                                {"members", {"Alice", "Bob"}}, {"robots", {{{"key", "web-robot"}}, {{"key", "web-robot-2"}}}}}}},
          {"customer_groups", {{{"chat_id", "wrP1"}, {"name", "城关镇家长1群"}, {"owner", "Alice"},
                                {"members", {{{"userid", "wmParent1"}, {"name", "张妈妈"}}}}}}},
          {"kf_accounts", {{{"open_kfid", "wkA"}, {"name", "育儿小助手"}}}},
          {"kf", {{"agent_id", 1000002}}}};
}

// Polls `ok` every 100 ms until it holds or `bound` passes.
bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds bound = 20s) {
  const auto end = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (ok()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// --- the callback receiver: verifies and decrypts like the daemon, answers 200 ---

struct Received {
  std::mutex mu;
  std::vector<std::string> plaintexts;
  std::vector<std::string> failures;
  std::vector<std::string> all() {
    std::lock_guard lock(mu);
    return plaintexts;
  }
};

awaitable<http::Response> receive(Received* rx, http::Request req) {
  auto crypt = MsgCrypt::create(kToken, kAesKey, kCorp).value();
  Target t = parse_target(req.target());
  pugi::xml_document doc;
  std::optional<std::string> plain;
  std::string why = "envelope is not XML";
  if (doc.load_buffer(req.body().data(), req.body().size())) {
    auto r = crypt.verify_and_decrypt(t.param("msg_signature").value_or(""), t.param("timestamp").value_or(""),
                                      t.param("nonce").value_or(""), doc.child("xml").child_value("Encrypt"));
    if (r) plain = *r;
    else why = r.error().code;
  }
  {
    std::lock_guard lock(rx->mu);
    if (plain) rx->plaintexts.push_back(*plain);
    else rx->failures.push_back(why);
  }
  co_return http::make_response(req, plain ? http::Status::ok : http::Status::forbidden, "");
}

net::Route receiver_route(Received* rx) {
  net::Route r;
  r.path = "/wecom/callback/app";
  r.label = "receiver";
  r.handler = [rx](http::Request req) { return receive(rx, std::move(req)); };
  return r;
}

// --- processes ---

// A child process whose whole process group (it leads one: test::Process calls setpgid) is killed
// at the end, so browsers started by chromedriver go with it.
struct GroupKiller {
  pid_t pgid = -1;
  ~GroupKiller() {
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
};

using testing::SandboxBinary;

// Callbacks are answered at once here: a short timeout and retry delay keep a failure quick.
const std::vector<std::string> kFastCallbacks = {"--callback-timeout-ms", "3000", "--callback-retry-delay-ms", "100"};

std::string app_token(const SandboxBinary& sandbox) { return sandbox.token(kCorp, "web-secret"); }

// chromedriver on an ephemeral loopback port and one headless Chromium session. The destructor
// ends the session (closing the browser) and then kills chromedriver's process group, where the
// browser's processes live; Chromium's crashpad handlers (own process groups) exit with the browser.
// (--disable-crashpad-for-testing would keep them away, but page loads then never finish.)
class Browser {
 public:
  Browser() {
    INFO("the browser test needs Debian's chromium and chromium-driver (scripts/install-deps.sh installs them)");
    REQUIRE(std::filesystem::exists(kChromedriver));
    REQUIRE(std::filesystem::exists(kChromium));
    proc_ = std::make_unique<test::Process>(std::vector<std::string>{kChromedriver, "--port=0"},
                                            dir_.path() + "/chromedriver.log");
    killer_.pgid = proc_->pid();
    const std::string started = "started successfully on port ";
    auto out = proc_->wait_for_output(started, 20s);
    INFO(proc_->output());
    REQUIRE(out);
    base_ = "http://127.0.0.1:" + std::to_string(std::atoi(out->c_str() + out->find(started) + started.size()));
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions",
                      {{"binary", kChromium},
                       {"args", {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--disable-crash-reporter", "--no-first-run", "--window-size=1280,800",
                                 "--user-data-dir=" + dir_.path() + "/profile"}}}}}}}}};
    auto s = call(http::Verb::post, "/session", caps);
    INFO(s.dump());
    REQUIRE(s["value"].contains("sessionId"));
    session_ = "/session/" + s["value"]["sessionId"].get<std::string>();
  }
  ~Browser() {
    if (!session_.empty()) (void)net::http_request(http::Verb::delete_, base_ + session_, {}, {}, 10s);
  }

  // One WebDriver command; the decoded answer ({"value": …}).
  json call(http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, base_ + path, body.is_null() ? std::string() : body.dump(),
                               {{"Content-Type", "application/json; charset=utf-8"}}, 60s);
    INFO(path);
    REQUIRE(r.has_value());
    auto j = json::parse(r->body, nullptr, false);
    INFO(r->body);
    REQUIRE(j.is_object());
    return j;
  }
  void go(const std::string& url) { call(http::Verb::post, session_ + "/url", {{"url", url}}); }
  // Runs `script` (a function body; `arguments` holds `args`) in the page; its return value.
  json run(const std::string& script, const json& args = json::array()) {
    auto r = call(http::Verb::post, session_ + "/execute/sync", {{"script", script}, {"args", args}});
    return r["value"];
  }
  // The first element matching `css` (WebDriver element reference), or null.
  json find(const std::string& css) {
    auto r = call(http::Verb::post, session_ + "/element", {{"using", "css selector"}, {"value", css}});
    if (!r["value"].is_object() || r["value"].contains("error")) return nullptr;
    return r["value"];
  }
  // WebDriver click / type on an element reference; false when the page replaced it meanwhile.
  bool click(const json& el) { return ok(call(http::Verb::post, session_ + "/element/" + id(el) + "/click", json::object())); }
  bool type(const json& el, const std::string& text) {
    return ok(call(http::Verb::post, session_ + "/element/" + id(el) + "/value", {{"text", text}}));
  }
  // Clicks the button whose text contains `label` inside `container` (the page re-renders every
  // 1.5 s, so the element is looked up right before the click, with retries). False after `bound`.
  bool click_button(const std::string& container, const std::string& label, std::chrono::milliseconds bound = 20s) {
    return eventually(
        [&] {
          json el = run("for (const b of document.querySelectorAll(arguments[0] + ' button'))"
                        "  if (b.textContent.includes(arguments[1])) return b;"
                        "return null;",
                        {container, label});
          return el.is_object() && click(el);
        },
        bound);
  }

 private:
  static std::string id(const json& el) { return el.begin().value().get<std::string>(); }
  static bool ok(const json& r) { return !(r["value"].is_object() && r["value"].contains("error")); }

  test::TempDir dir_;
  std::unique_ptr<test::Process> proc_;
  GroupKiller killer_;  // declared after proc_: runs first, while chromedriver is not yet reaped
  std::string base_;
  std::string session_;
};

std::string js_messages =
    "return [...document.querySelectorAll('#messages li')].map(li => {"
    "  const r = li.getBoundingClientRect();"
    "  return {text: li.innerText, html: li.querySelector('.bubble').innerHTML, mine: li.classList.contains('mine'),"
    "          top: r.top, bottom: r.bottom};"
    "});";

TEST_CASE("sandbox web page in a browser: group messages, a parent typing, confirming a task",
          "[sandbox][web][browser]") {
  Received rx;
  net::testing::TestServer receiver({}, {receiver_route(&rx)});
  test::TempDir dir;
  SandboxBinary sandbox(dir, web_fixture(receiver.url("/wecom/callback/app")), kFastCallbacks);

  // 30 robot messages into the management group: the first in markdown, the newest last. Two
  // robots of the group share them (20 messages per minute per robot).
  int sent = 0;
  auto send = [&](const json& body) {
    const std::string key = sent++ % 2 == 0 ? "web-robot" : "web-robot-2";
    REQUIRE(sandbox.post("/cgi-bin/webhook/send?key=" + key, body)["errcode"] == 0);
  };
  send({{"msgtype", "markdown"},
        {"markdown", {{"content", "# 今日育儿知识\n**母乳喂养**好处多\n> 六个月内纯母乳\n<font color=\"info\">已推送</font>"}}}});
  for (int i = 2; i < 30; ++i) send({{"msgtype", "text"}, {"text", {{"content", "第" + std::to_string(i) + "条通知"}}}});
  send({{"msgtype", "text"}, {"text", {{"content", "最新：明天上午九点体检"}}}});

  Browser browser;
  browser.go(sandbox.base() + "/");
  CHECK(browser.run("return document.documentElement.lang;") == "zh-CN");
  CHECK(eventually([&] { return browser.run("return document.getElementById('corp').textContent;") == "城关县"; }));
  CHECK(browser.run("return document.title;") == "企业微信沙箱");

  SECTION("a group's messages: markdown rendered, Chinese, newest at the bottom") {
    REQUIRE(browser.click_button("#chats", "城关镇管理群"));
    json msgs;
    REQUIRE(eventually([&] {
      msgs = browser.run(js_messages);
      return msgs.is_array() && msgs.size() == 30;
    }));
    CHECK(browser.run("return document.getElementById('chat-title').textContent;") == "城关镇管理群");
    const std::string first_html = msgs[0]["html"];
    const std::string first_text = msgs[0]["text"];
    CAPTURE(first_html);
    CHECK(first_html.find("<h1>今日育儿知识</h1>") != std::string::npos);
    CHECK(first_html.find("<b>母乳喂养</b>") != std::string::npos);
    CHECK(first_html.find("<blockquote>六个月内纯母乳</blockquote>") != std::string::npos);
    CHECK(first_html.find("<span class=\"font-info\">已推送</span>") != std::string::npos);
    CHECK(first_text.find("**") == std::string::npos);
    CHECK(first_text.find("群机器人") != std::string::npos);  // who sent it, in Chinese
    const json& last = msgs[29];
    CHECK(last["text"].get<std::string>().find("最新：明天上午九点体检") != std::string::npos);
    for (std::size_t i = 1; i < msgs.size(); ++i) CHECK(msgs[i]["top"].get<double>() > msgs[i - 1]["top"].get<double>());
    // The list scrolled to the newest message: it is inside the visible part of the list.
    json view = browser.run(
        "const ol = document.getElementById('messages'); const r = ol.getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, scrolled: ol.scrollTop, scrollable: ol.scrollHeight > ol.clientHeight};");
    CHECK(view["scrollable"] == true);
    CHECK(view["scrolled"].get<double>() > 0);
    CHECK(last["bottom"].get<double>() <= view["bottom"].get<double>() + 1);
    CHECK(last["top"].get<double>() >= view["top"].get<double>());
  }

  SECTION("typing as a parent delivers the kf callback, and the chat shows it") {
    REQUIRE(browser.click_button("#chats", "以新家长身份联系客服"));
    REQUIRE(eventually([&] { return sandbox.get("/_sandbox/state")["kf"]["conversations"].size() == 1; }));
    const json conv = sandbox.get("/_sandbox/state")["kf"]["conversations"][0];
    const std::string user = conv["external_userid"];
    REQUIRE(browser.click_button("#chats", conv["name"].get<std::string>()));
    REQUIRE(eventually([&] { return browser.run("return !document.getElementById('compose').hidden;") == true; }));
    json input = browser.find("#compose-text");
    REQUIRE(input.is_object());
    REQUIRE(browser.type(input, "宝宝七个月，可以吃鸡蛋吗？"));
    REQUIRE(browser.click_button("#compose", "发送"));

    // The sandbox recorded the parent's message and delivered the doorbell callback with a 200.
    REQUIRE(eventually([&] {
      const json conversation = sandbox.get("/_sandbox/kf/conversation?open_kfid=wkA&external_userid=" + user);
      for (const auto& m : conversation["messages"])
        if (m["dir"] == "in" && m["content"]["content"] == "宝宝七个月，可以吃鸡蛋吗？") return true;
      return false;
    }));
    std::string token;
    REQUIRE(eventually([&] {
      auto texts = rx.all();
      if (texts.size() < 2) return false;  // "你好" from the button, then the typed message
      pugi::xml_document doc;
      if (!doc.load_string(texts.back().c_str())) return false;
      token = doc.child("xml").child_value("Token");
      return std::string(doc.child("xml").child_value("Event")) == "kf_msg_or_event";
    }));
    {
      std::lock_guard lock(rx.mu);
      CHECK(rx.failures.empty());
    }
    REQUIRE(eventually([&] {
      int delivered = 0;
      const json callbacks = sandbox.get("/_sandbox/callbacks");
      for (const auto& c : callbacks["callbacks"])
        delivered += c["label"] == "kf_msg_or_event" && c["delivered"] == true;
      return delivered == 2;
    }));
    // What the daemon would do next: sync_msg with the callback's Token returns the typed text.
    auto synced = sandbox.post("/cgi-bin/kf/sync_msg?access_token=" + app_token(sandbox), {{"token", token}, {"open_kfid", "wkA"}});
    REQUIRE(synced["errcode"] == 0);
    std::vector<std::string> texts;
    for (const auto& m : synced["msg_list"])
      if (m["msgtype"] == "text") texts.push_back(m["text"]["content"]);
    CHECK(texts == std::vector<std::string>{"你好", "宝宝七个月，可以吃鸡蛋吗？"});
    // The page shows it as the parent's own message (right side), newest last.
    json msgs;
    REQUIRE(eventually([&] {
      msgs = browser.run(js_messages);
      return msgs.is_array() && msgs.size() == 2;
    }));
    CHECK(msgs[1]["mine"] == true);
    CHECK(msgs[1]["text"].get<std::string>().find("宝宝七个月，可以吃鸡蛋吗？") != std::string::npos);
    CHECK(browser.run("return document.getElementById('compose-text').value;") == "");
  }

  SECTION("clicking confirm on a pending mass-message task confirms it") {
    auto task = sandbox.post("/cgi-bin/externalcontact/add_msg_template?access_token=" + app_token(sandbox),
                             {{"chat_type", "group"}, {"sender", "Alice"}, {"chat_id_list", {"wrP1"}},
                              {"text", {{"content", "明日课程：科学添加辅食"}}}});
    REQUIRE(task["errcode"] == 0);
    const std::string msgid = task["msgid"];
    REQUIRE(eventually([&] {
      return browser.run("return document.getElementById('tasks').innerText;").get<std::string>().find(
                 "明日课程：科学添加辅食") != std::string::npos;
    }));
    CHECK(browser.run("return document.getElementById('tasks').innerText;").get<std::string>().find("城关镇家长1群") !=
          std::string::npos);
    REQUIRE(browser.click_button("#tasks", "确认发送"));
    REQUIRE(eventually([&] {
      const json state = sandbox.get("/_sandbox/group_msg");
      for (const auto& t : state["group_msg"]["tasks"])
        if (t["msgid"] == msgid) return t["senders"][0]["state"] == "sent";
      return false;
    }));
    auto result = sandbox.post("/cgi-bin/externalcontact/get_groupmsg_send_result?access_token=" + app_token(sandbox),
                               {{"msgid", msgid}, {"userid", "Alice"}});
    REQUIRE(result["send_list"].size() == 1);
    CHECK(result["send_list"][0]["chat_id"] == "wrP1");
    CHECK(result["send_list"][0]["status"] == 1);
    auto in_group = sandbox.get("/_sandbox/messages?chat_id=wrP1")["messages"];
    REQUIRE(in_group.size() == 1);
    CHECK(in_group[0]["channel"] == "groupmsg");
    CHECK(in_group[0]["message"]["content"] == "明日课程：科学添加辅食");
    // The task leaves the panel.
    CHECK(eventually([&] {
      return browser.run("return document.getElementById('tasks').innerText;").get<std::string>().find("暂无") !=
             std::string::npos;
    }));
  }
}

// --- without a browser ---

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every quoted "/_sandbox/…" path in `js` (template strings included; `${x}` parts kept as written).
std::set<std::string> control_paths(const std::string& js) {
  std::set<std::string> out;
  for (std::size_t at = js.find("/_sandbox/"); at != std::string::npos; at = js.find("/_sandbox/", at + 1)) {
    char quote = at > 0 ? js[at - 1] : 0;
    if (quote != '"' && quote != '`' && quote != '\'') continue;
    out.insert(js.substr(at, js.find(quote, at) - at));
  }
  return out;
}

TEST_CASE("sandbox web page files are served complete and every control call of app.js exists",
          "[sandbox][web]") {
  test::TempDir dir;
  SandboxBinary sandbox(dir, web_fixture("http://127.0.0.1:9/cb"));
  const std::string web = std::string(YUER_SOURCE_DIR) + "/tests/sandbox/web";
  struct File {
    std::string path, source, type;
  };
  for (const auto& f : {File{"/", "/index.html", "text/html"}, File{"/web/app.js", "/app.js", "javascript"},
                        File{"/web/style.css", "/style.css", "text/css"}}) {
    CAPTURE(f.path);
    auto r = net::http_request(http::Verb::get, sandbox.base() + f.path, {}, {}, 10s);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == read_file(web + f.source));
    std::string type;
    for (const auto& [k, v] : r->headers)
      if (lower(k) == "content-type") type = v;
    CHECK(type.find(f.type) != std::string::npos);
  }
  const std::string html = read_file(web + "/index.html");
  const std::string js = read_file(web + "/app.js");
  CHECK(html.find("href=\"/web/style.css\"") != std::string::npos);
  CHECK(html.find("src=\"/web/app.js\"") != std::string::npos);
  // Every element app.js looks up by id is in the page.
  for (std::size_t at = js.find("$(\""); at != std::string::npos; at = js.find("$(\"", at + 1)) {
    std::string id = js.substr(at + 3, js.find('"', at + 3) - at - 3);
    CAPTURE(id);
    CHECK(html.find("id=\"" + id + "\"") != std::string::npos);
  }
  // Every control call app.js makes answers 2xx with JSON (the template one for both its values).
  const auto paths = control_paths(js);
  const std::set<std::string> expected = {"/_sandbox/fixture", "/_sandbox/clock", "/_sandbox/messages",
                                          "/_sandbox/state", "/_sandbox/kf/write", "/_sandbox/group_msg/${what}"};
  CHECK(paths == expected);
  for (const char* p : {"/_sandbox/fixture", "/_sandbox/clock", "/_sandbox/messages", "/_sandbox/state"}) {
    CAPTURE(p);
    auto r = sandbox.request(http::Verb::get, p);
    CHECK(r.status == 200);
    CHECK(json::parse(r.body, nullptr, false).is_object());
  }
  auto wrote = sandbox.request(http::Verb::post, "/_sandbox/kf/write", json{{"text", "你好"}}.dump());
  CHECK(wrote.status == 200);
  auto token = app_token(sandbox);
  for (const char* what : {"confirm", "ignore"}) {
    CAPTURE(what);
    auto task = sandbox.post("/cgi-bin/externalcontact/add_msg_template?access_token=" + token,
                             {{"chat_type", "group"}, {"sender", "Alice"}, {"text", {{"content", "x"}}}});
    REQUIRE(task["errcode"] == 0);
    auto r = sandbox.request(http::Verb::post, std::string("/_sandbox/group_msg/") + what,
                             json{{"msgid", task["msgid"]}, {"sender", "Alice"}}.dump());
    CHECK(r.status == 200);
  }
}

}  // namespace
}  // namespace yuer::sandbox
