// Where the tests find the source tree and the binaries they start. Force-included into the test
// binaries (tests/CMakeLists.txt), so every test file may use the macros below. The paths live in
// one generated file (build/tests/test_paths.cpp) instead of -D flags on every test file: a
// compile line without absolute paths lets ccache share objects between checkouts (CCACHE_BASEDIR).
#pragma once

namespace yuer::test::paths {
const char* source_dir();        // the repository root
const char* binary_dir();        // the CMake build folder
const char* yuerd_bin();         // daemon/yuerd/yuerd
const char* yuerctl_bin();       // daemon/yuerctl/yuerctl
const char* wecom_sandbox_bin(); // tests/sandbox/wecom-sandbox
const char* sandbox_default_fixture();  // tests/sandbox/fixtures/demo_county.json
}  // namespace yuer::test::paths

#define YUER_SOURCE_DIR (::yuer::test::paths::source_dir())
#define YUER_BINARY_DIR (::yuer::test::paths::binary_dir())
#define YUERD_BIN (::yuer::test::paths::yuerd_bin())
#define YUERCTL_BIN (::yuer::test::paths::yuerctl_bin())
#define WECOM_SANDBOX_BIN (::yuer::test::paths::wecom_sandbox_bin())
#ifndef YUER_SANDBOX_DEFAULT_FIXTURE
#define YUER_SANDBOX_DEFAULT_FIXTURE (::yuer::test::paths::sandbox_default_fixture())
#endif
