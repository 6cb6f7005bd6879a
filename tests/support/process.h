// Child processes for end-to-end tests: started with a deadline, stdout+stderr captured to a
// file, killed (SIGKILL) when the handle goes out of scope, pass or fail.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace yuer::test {

class Process {
 public:
  // Starts `argv[0]` with `argv`; output goes to `log_path`. Throws std::runtime_error on failure.
  Process(std::vector<std::string> argv, std::string log_path, std::vector<std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signo` (no-op when already reaped).
  void signal(int signo);
  // Waits up to `timeout` for exit; returns the exit code (128+signal if killed), or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Waits up to `timeout` until the log contains `needle`; returns the log text so far, or nullopt.
  std::optional<std::string> wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// Runs a command to completion (bounded by `timeout`, killed after) and returns exit code + output.
struct RunResult {
  int code = -1;
  std::string output;
};
RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout, const std::string& log_path,
              std::vector<std::string> extra_env = {});

// A fresh directory under /tmp removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name with `mode`, creating parent folders; returns the full path.
  std::string write(const std::string& name, const std::string& content, unsigned mode = 0600) const;

 private:
  std::string path_;
};

}  // namespace yuer::test
