// Helpers for tests of the store and of its users (inbox, config): a temporary folder removed at
// scope end, and a compact InboundEvent builder. Test code only; nothing in a library includes this.
#pragma once

#include "daemon/model/inbound_event.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

namespace yuer::store::testing {

// CPU time of the whole process (all threads), to read the benchmarks on a busy machine.
inline double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A fresh folder under the system temp folder; removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "yuer-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `content` to `name` (sub-folders are created) with permissions `mode` (the secret-file
  // checks look at them); returns the full path.
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    {
      std::ofstream out(p, std::ios::binary);
      out << content;
      if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
    }
    if (::chmod(p.c_str(), mode) != 0) throw std::runtime_error("chmod failed on " + p.string());
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

// A SQLite store file and its WAL (when there is one), as raw bytes: what is at rest on disk.
inline std::string store_file_bytes(const std::string& db) {
  std::string out;
  for (const auto& p : {db, db + "-wal"}) {
    std::ifstream in(p, std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

// A feeding-survey round over `unit` for March 2026 (the dates the store tests use).
inline SurveyRound march_round(std::string unit = "440103000000") {
  SurveyRound r;
  r.survey_id = "feeding";
  r.survey_version = 1;
  r.unit_code = std::move(unit);
  r.opens_on = "2026-03-01";
  r.closes_on = "2026-03-31";
  return r;
}

inline model::InboundEvent make_event(std::string receiver, std::string dedupe_key, std::string kind = "text",
                                      std::string payload = "<xml><Content>hi</Content></xml>") {
  model::InboundEvent e;
  e.receiver = std::move(receiver);
  e.channel = e.receiver.rfind("bot/", 0) == 0 ? "aibot" : "app";
  e.kind = std::move(kind);
  e.dedupe_key = std::move(dedupe_key);
  e.from_user = "user-1";
  e.created_at = 1700000000;
  e.received_at = 1700000001;
  e.payload = std::move(payload);
  return e;
}

// One part of the store (`open` is its open_sqlite_*_store) on a fresh file in a temp folder.
// Throws when the part cannot be opened, which fails the test that made it.
template <class Part, auto open>
struct StoreEnv {
  TempDir dir;
  Settings settings;
  std::unique_ptr<Part> store;
  StoreEnv() {
    settings.path = (dir.path() / "yuer.db").string();
    reopen();
  }
  void reopen() {
    store.reset();
    auto opened = open(settings);
    if (!opened) throw std::runtime_error("cannot open the store: " + opened.error().message);
    store = std::move(*opened);
  }
};

}  // namespace yuer::store::testing
