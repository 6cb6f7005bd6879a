// A headless Chromium session driven through chromedriver's W3C WebDriver JSON protocol with our
// own HTTP client (the approach of tests/sandbox/web_browser_test.cpp). chromedriver runs on an
// ephemeral loopback port in its own process group, killed at the end with the browsers it started.
#pragma once

#include "daemon/net/http_client.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

namespace yuer::test {

inline constexpr const char* kChromedriver = "/usr/bin/chromedriver";
inline constexpr const char* kChromium = "/usr/bin/chromium";

// Polls `ok` every 100 ms until it holds or `bound` passes.
inline bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds bound = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (ok()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

class Browser {
 public:
  using json = nlohmann::json;

  Browser() {
    INFO("the browser test needs Debian's chromium and chromium-driver (scripts/install-deps.sh installs them)");
    REQUIRE(std::filesystem::exists(kChromedriver));
    REQUIRE(std::filesystem::exists(kChromium));
    proc_ = std::make_unique<Process>(std::vector<std::string>{kChromedriver, "--port=0"}, dir_.path() + "/chromedriver.log");
    killer_.pgid = proc_->pid();
    const std::string started = "started successfully on port ";
    auto out = proc_->wait_for_output(started, std::chrono::seconds(20));
    INFO(proc_->output());
    REQUIRE(out);
    base_ = "http://127.0.0.1:" + std::to_string(std::atoi(out->c_str() + out->find(started) + started.size()));
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions",
                      {{"binary", kChromium},
                       {"args", {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--disable-crash-reporter", "--no-first-run", "--window-size=1280,900",
                                 "--user-data-dir=" + dir_.path() + "/profile"}},
                       {"prefs", {{"download.default_directory", downloads()}, {"download.prompt_for_download", false}}}}}}}}}};
    auto s = call(http::Verb::post, "/session", caps);
    INFO(s.dump());
    REQUIRE(s["value"].contains("sessionId"));
    session_ = "/session/" + s["value"]["sessionId"].get<std::string>();
  }
  ~Browser() {
    if (!session_.empty()) (void)net::http_request(http::Verb::delete_, base_ + session_, {}, {}, std::chrono::seconds(10));
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Where the browser saves downloads.
  std::string downloads() const { return dir_.path() + "/downloads"; }

  json call(http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, base_ + path, body.is_null() ? std::string() : body.dump(),
                               {{"Content-Type", "application/json; charset=utf-8"}}, std::chrono::seconds(60));
    INFO(path);
    REQUIRE(r.has_value());
    auto j = json::parse(r->body, nullptr, false);
    INFO(r->body);
    REQUIRE(j.is_object());
    return j;
  }
  void go(const std::string& url) { call(http::Verb::post, session_ + "/url", {{"url", url}}); }
  json run(const std::string& script, const json& args = json::array()) {
    return call(http::Verb::post, session_ + "/execute/sync", {{"script", script}, {"args", args}})["value"];
  }
  json find(const std::string& css) {
    auto r = call(http::Verb::post, session_ + "/element", {{"using", "css selector"}, {"value", css}});
    if (!r["value"].is_object() || r["value"].contains("error")) return nullptr;
    return r["value"];
  }
  bool click(const json& el) { return ok(call(http::Verb::post, session_ + "/element/" + id(el) + "/click", json::object())); }
  bool type(const json& el, const std::string& text) {
    return ok(call(http::Verb::post, session_ + "/element/" + id(el) + "/value", {{"text", text}}));
  }
  // Clicks the first element matching `css` whose text contains `label` (looked up afresh each try).
  bool click_text(const std::string& css, const std::string& label, std::chrono::milliseconds bound = std::chrono::seconds(20)) {
    return eventually(
        [&] {
          json el = run("var all = document.querySelectorAll(arguments[0]);"
                        "for (var i = 0; i < all.length; i++) if (all[i].textContent.indexOf(arguments[1]) >= 0) return all[i];"
                        "return null;",
                        {css, label});
          return el.is_object() && click(el);
        },
        bound);
  }
  // The text of the element with this id ('' when absent).
  std::string text(const std::string& element_id) {
    json t = run("var e = document.getElementById(arguments[0]); return e ? e.innerText : '';", {element_id});
    return t.is_string() ? t.get<std::string>() : std::string();
  }
  void window_size(int width, int height) {
    call(http::Verb::post, session_ + "/window/rect", {{"width", width}, {"height", height}});
  }
  // Saves a PNG screenshot of the page to `path` (folders created).
  void screenshot(const std::string& path) {
    const std::string b64 = call(http::Verb::get, session_ + "/screenshot")["value"];
    std::string png(b64.size() / 4 * 3 + 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    REQUIRE(n > 0);
    std::size_t pad = 0;
    while (pad < 2 && pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    png.resize(static_cast<std::size_t>(n) - pad);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << png;
  }

 private:
  struct GroupKiller {
    pid_t pgid = -1;
    ~GroupKiller() {
      if (pgid > 0) ::kill(-pgid, SIGKILL);
    }
  };
  static std::string id(const json& el) { return el.begin().value().get<std::string>(); }
  static bool ok(const json& r) { return !(r["value"].is_object() && r["value"].contains("error")); }

  TempDir dir_;
  std::unique_ptr<Process> proc_;
  GroupKiller killer_;  // after proc_: runs first, while chromedriver is not yet reaped
  std::string base_;
  std::string session_;
};

}  // namespace yuer::test
