// yuerctl surveys …: rounds (list, open, close), coverage, missing families, indicators,
// unmatched responses and exports, through yuerd's /api/v1/surveys (contracts.md "Survey API").
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace yuer::yuerctl {

class SurveysCommands {
 public:
  virtual ~SurveysCommands() = default;
  // True when the parsed command line chose one of the surveys commands.
  virtual bool selected() const = 0;
  // Runs it: 0 ok, 1 runtime failure, 2 usage.
  virtual int run() = 0;
};

// Adds `surveys` to `cli`. `url`, `token_file` and `tz` are the global options (read at run()).
std::unique_ptr<SurveysCommands> add_surveys_commands(CLI::App& cli, const std::string& url,
                                                      const std::string& token_file, const std::string& tz);

}  // namespace yuer::yuerctl
