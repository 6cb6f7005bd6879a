// wecom-sandbox: the WeCom emulator as a process (PRODUCT.md "Interfaces").
//   wecom-sandbox --listen HOST:PORT [--fixture FILE] [--callback-url URL] [--state FILE] [--max-records N] [--clock-rate R]
// Prints "wecom-sandbox listening on http://HOST:PORT" once it accepts; SIGINT/SIGTERM stop it.
// Exit codes: 0 stopped by a signal, 1 runtime failure (cannot bind), 2 usage or fixture error.
#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "tests/sandbox/fixture.h"
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/server.h"
#include "tests/sandbox/state_file.h"

#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>

int main(int argc, char** argv) {
  using namespace yuer;
  CLI::App cli{"wecom-sandbox — a local emulator of the WeCom (企业微信) server API"};
  std::string listen = "127.0.0.1:0";
  std::string fixture_path = YUER_SANDBOX_DEFAULT_FIXTURE;
  std::string callback_url;
  int token_lifetime = 7200;
  int callback_attempts = 4;
  int callback_timeout_ms = 5000;
  int retry_delay_ms = 1000;
  std::string state_path;
  int state_interval_s = 10;
  std::size_t max_records = 100'000;
  double clock_rate = 1.0;
  cli.add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free port)");
  cli.add_option("--fixture", fixture_path, "fixture JSON (default: the demo county)");
  cli.add_option("--callback-url", callback_url, "callback URL for apps whose fixture entry has none");
  cli.add_option("--token-lifetime", token_lifetime, "expires_in of gettoken, seconds")->check(CLI::Range(1, 86400));
  cli.add_option("--callback-attempts", callback_attempts, "deliveries per callback (1 + retries)")
      ->check(CLI::Range(1, 10));
  cli.add_option("--callback-timeout-ms", callback_timeout_ms, "wait for the receiver's answer")
      ->check(CLI::Range(1, 60000));
  cli.add_option("--callback-retry-delay-ms", retry_delay_ms, "pause between attempts")->check(CLI::Range(0, 60000));
  cli.add_option("--state", state_path,
                 "keep the state in this JSON file: resumed from it at start when it exists, saved while running and at stop");
  cli.add_option("--state-interval-s", state_interval_s, "save the state this often")->check(CLI::Range(1, 3600));
  cli.add_option("--max-records", max_records,
                 "keep the newest N requests, messages and callbacks each in the record (older ones are dropped)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  cli.add_option("--clock-rate", clock_rate, "the sandbox clock runs this many times real time (1440 = a day a minute)")
      ->check(CLI::Range(0.0, 1e7));
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }

  // A state file that exists wins over --fixture: the run resumes where the last one stopped.
  nlohmann::json saved;
  Result<sandbox::Fixture> fixture = fail("fixture.unset", "");
  if (!state_path.empty() && std::filesystem::exists(state_path)) {
    auto state = sandbox::read_state_file(state_path);
    if (!state) {
      std::cerr << "wecom-sandbox: " << state.error().message << "\n";
      return 2;
    }
    saved = std::move(*state);
    fixture = sandbox::parse_fixture(saved["fixture"].dump());
    if (!fixture) {
      std::cerr << "wecom-sandbox: " << state_path << ": " << fixture.error().message << "\n";
      return 2;
    }
  } else {
    fixture = sandbox::load_fixture(fixture_path);
    if (!fixture) {
      std::cerr << "wecom-sandbox: " << fixture.error().message << "\n";
      return 2;
    }
  }
  sandbox::Settings settings;
  settings.token_lifetime = std::chrono::seconds(token_lifetime);
  settings.callback.attempts = callback_attempts;
  settings.callback.timeout = std::chrono::milliseconds(callback_timeout_ms);
  settings.callback.retry_delay = std::chrono::milliseconds(retry_delay_ms);
  settings.callback_url_override = callback_url;
  settings.max_records = max_records;

  SystemClock clock;
  sandbox::Sandbox sb(std::move(*fixture), clock, settings);
  if (!saved.is_null()) {
    try {
      sb.restore_state(saved);
    } catch (const nlohmann::json::exception& e) {  // a hand-edited file with wrong types
      std::cerr << "wecom-sandbox: " << state_path << ": cannot restore: " << e.what() << "\n";
      return 2;
    }
  }
  auto save = [&] {
    if (state_path.empty()) return;
    if (auto w = sandbox::write_state_file(state_path, sb.save_state()); !w)
      std::cerr << "wecom-sandbox: " << w.error().message << "\n";  // keep running; the next save retries
  };
  if (clock_rate != 1.0) sb.clock().set_rate(clock_rate);
  boost::asio::io_context ioc;
  metrics::Registry registry;
  sandbox::SandboxServer server(ioc, sb, listen, registry);
  auto ep = server.start();
  if (!ep) {
    std::cerr << "wecom-sandbox: " << ep.error().message << "\n";
    return 1;
  }
  std::cout << "wecom-sandbox listening on http://" << ep->address().to_string() << ":" << ep->port() << std::endl;

  boost::asio::steady_timer save_timer(ioc);
  std::function<void()> schedule_save = [&] {
    save_timer.expires_after(std::chrono::seconds(state_interval_s));
    save_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      save();
      schedule_save();
    });
  };
  if (!state_path.empty()) schedule_save();

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    save_timer.cancel();
    save();
    boost::asio::co_spawn(ioc, server.stop(std::chrono::milliseconds(2000)),
                          [&ioc](std::exception_ptr) { ioc.stop(); });
  });
  ioc.run();
  return 0;
}
