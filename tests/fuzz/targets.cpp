#include "tests/fuzz/fuzz_targets.h"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace yuer::fuzz {

std::span<const Target> targets() {
  static constexpr std::array<Target, 8> kTargets{{
      {"callback_envelope", callback_envelope},
      {"event_payload", event_payload},
      {"roster_csv", roster_csv},
      {"config", config},
      {"survey_definition", survey_definition},
      {"survey_answer", survey_answer},
      {"kf_sync_msg", kf_sync_msg},
      {"chat_change", chat_change},
  }};
  return kTargets;
}

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace yuer::fuzz
