// The fuzz targets: one function per input format, shared by the libFuzzer binaries (built with
// -DYUER_FUZZ=ON and clang, see README.md here) and by the regression replay in yuer_unit_tests
// (tests/fuzz/regress_test.cpp, every file under tests/vectors/regress/<target>/ and the seed corpus).
// Each function returns 0 and calls std::abort() when an invariant breaks, so a failure is a crash in
// both settings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace yuer::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

struct Target {
  std::string_view name;  // folder name under corpus/ and tests/vectors/regress/
  TargetFn fn;
};

int callback_envelope(const std::uint8_t* data, std::size_t size);  // envelope + crypto (adapters/wecom)
int event_payload(const std::uint8_t* data, std::size_t size);      // decrypted XML / JSON events
int roster_csv(const std::uint8_t* data, std::size_t size);         // org + roster CSV import checks
int config(const std::uint8_t* data, std::size_t size);             // yuerd.toml
int survey_definition(const std::uint8_t* data, std::size_t size);  // survey TOML + expressions
int survey_answer(const std::uint8_t* data, std::size_t size);      // answers, commands, conversation
int kf_sync_msg(const std::uint8_t* data, std::size_t size);        // 微信客服 sync_msg page + doorbell
int chat_change(const std::uint8_t* data, std::size_t size);        // change_external_chat event

std::span<const Target> targets();

// std::abort() with `what` on stderr when `ok` is false.
void require(bool ok, const char* what);

}  // namespace yuer::fuzz
