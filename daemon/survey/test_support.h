// Test helpers for the survey folder: the shipped feeding survey, a date literal and a small
// roster. Test code only.
#pragma once

#include "daemon/survey/definition.h"
#include "daemon/survey/text.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace yuer::survey::testing {

inline std::chrono::year_month_day date(const char* iso) {
  auto d = parse_iso_date(iso);
  if (!d) throw std::runtime_error(std::string("bad test date ") + iso);
  return *d;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The shipped templates/surveys/feeding.toml, loaded once. Throws if it does not load.
inline const Survey& feeding() {
  static const Survey s = [] {
    auto path = std::filesystem::path(YUER_SOURCE_DIR) / "templates" / "surveys" / "feeding.toml";
    auto r = load_survey(read_text(path), "feeding.toml");
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }();
  return s;
}

}  // namespace yuer::survey::testing
