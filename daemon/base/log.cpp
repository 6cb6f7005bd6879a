#include "daemon/base/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace yuer::log {
namespace {

// "%*" → "<N>", the sd-daemon(3) priority prefix journald understands.
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr const char* kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = kPrefix[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

}  // namespace

void setup(spdlog::level::level_enum level, Format format) {
  if (format == Format::kAuto) format = std::getenv("JOURNAL_STREAM") ? Format::kJournal : Format::kText;
  auto logger = spdlog::get("yuer");
  if (!logger) {
    logger = std::make_shared<spdlog::logger>("yuer", std::make_shared<spdlog::sinks::stdout_sink_mt>());
    spdlog::register_logger(logger);
  }
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == Format::kJournal) {
    formatter->add_flag<PriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

bool parse_level(std::string_view text, spdlog::level::level_enum& out) {
  for (int i = 0; i < spdlog::level::n_levels; ++i) {
    auto l = static_cast<spdlog::level::level_enum>(i);
    auto name = spdlog::level::to_string_view(l);
    if (std::string_view(name.data(), name.size()) == text) {
      out = l;
      return true;
    }
  }
  if (text == "warn") {
    out = spdlog::level::warn;
    return true;
  }
  return false;
}

}  // namespace yuer::log
