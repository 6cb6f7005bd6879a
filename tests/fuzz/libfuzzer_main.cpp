// The libFuzzer entry point of one target, chosen at compile time (YUER_FUZZ_TARGET=<function name>).
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return yuer::fuzz::YUER_FUZZ_TARGET(data, size);
}
