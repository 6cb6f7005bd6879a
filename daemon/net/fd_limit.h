// The open-file budget of the HTTP listener: every connection is a file descriptor, and so are the
// store's files, the outbound connections to WeCom and the log. Under systemd the soft
// RLIMIT_NOFILE of a service is 1024 by default while `max_connections` defaults to 4096, so
// without this the daemon runs out of descriptors (accept and every other open fail with EMFILE)
// long before its connection cap. https://www.freedesktop.org/software/systemd/man/systemd.exec.html
// (LimitNOFILE=: "the soft limit ... 1024 ... hard limit 524288").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace yuer::net {

// Descriptors kept free for everything that is not an HTTP connection.
inline constexpr std::size_t kFdReserve = 128;

struct FdPlan {
  std::uint64_t soft = 0;              // the soft limit to set (unchanged when no raise is needed)
  std::size_t max_connections = 0;     // what fits: min(wanted, soft - reserve), at least 1
};

// Pure: the soft limit to ask for (raised towards `hard` to fit `wanted` connections plus
// `reserve`, never lowered) and the connection cap that then fits. `soft`/`hard` as getrlimit
// reports them (RLIM_INFINITY as UINT64_MAX).
FdPlan plan_fd_budget(std::size_t wanted, std::size_t reserve, std::uint64_t soft, std::uint64_t hard);

// Applies plan_fd_budget to this process: raises RLIMIT_NOFILE's soft limit when needed and
// returns the connection cap that fits (logs a warning when it is below `wanted`). Returns
// `wanted` unchanged when the limits cannot be read.
std::size_t fit_connections_to_fd_limit(std::size_t wanted, std::size_t reserve = kFdReserve);

}  // namespace yuer::net
