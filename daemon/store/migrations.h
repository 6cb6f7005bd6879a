// Migrations: the numbered forward-only SQL files of migrations/, compiled into the binary by
// CMakeLists.txt (generated migrations.cpp). Invariant: versions are 1, 2, ... N without gaps.
// Internal to daemon/store.
#pragma once

#include <span>
#include <string_view>

namespace yuer::store::internal {

struct Migration {
  int version;             // 1 for 0001_inbox.sql
  std::string_view name;   // file name, for messages
  std::string_view sql;    // the whole file; may hold several statements
};

// Every migration compiled in, in version order.
std::span<const Migration> migrations();

}  // namespace yuer::store::internal
