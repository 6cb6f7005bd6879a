#include "tests/sandbox/state_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace yuer::sandbox {

Result<nlohmann::json> read_state_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("state.unreadable", "cannot read state file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return fail("state.bad_json", path + ": not valid JSON");
  if (!j.is_object() || j.value("format", "") != "wecom-sandbox state" || j.value("version", 0) != 1 ||
      !j.contains("fixture") || !j["fixture"].is_object())
    return fail("state.not_state", path + ": not a wecom-sandbox state file (version 1)");
  return Result<nlohmann::json>(boost::system::in_place_value, std::move(j));
}

Result<void> write_state_file(const std::string& path, const nlohmann::json& state) {
  const std::string tmp = path + ".tmp";
  const std::string text = state.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto failed = [&](const char* what) {
    std::string msg = std::string(what) + " " + tmp + ": " + std::strerror(errno);
    return fail("state.write_failed", msg);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failed("cannot create");
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return failed("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return failed("cannot sync");
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return failed("cannot rename");
  return {};
}

}  // namespace yuer::sandbox
