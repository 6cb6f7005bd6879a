#include "daemon/net/fd_limit.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <sys/resource.h>

namespace yuer::net {

FdPlan plan_fd_budget(std::size_t wanted, std::size_t reserve, std::uint64_t soft, std::uint64_t hard) {
  const std::uint64_t need = static_cast<std::uint64_t>(wanted) + reserve;
  FdPlan p;
  p.soft = std::max(soft, std::min(need, hard));
  const std::uint64_t room = p.soft > reserve ? p.soft - reserve : 0;
  p.max_connections = static_cast<std::size_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(wanted, room)));
  return p;
}

std::size_t fit_connections_to_fd_limit(std::size_t wanted, std::size_t reserve) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  auto as_u64 = [](rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(v); };
  const FdPlan p = plan_fd_budget(wanted, reserve, as_u64(lim.rlim_cur), as_u64(lim.rlim_max));
  if (p.soft != as_u64(lim.rlim_cur)) {
    rlimit raised = lim;
    raised.rlim_cur = p.soft == UINT64_MAX ? RLIM_INFINITY : static_cast<rlim_t>(p.soft);
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      const FdPlan kept = plan_fd_budget(wanted, reserve, as_u64(lim.rlim_cur), as_u64(lim.rlim_cur));
      spdlog::warn("http: cannot raise the open-file limit from {}; max_connections {} lowered to {}",
                   as_u64(lim.rlim_cur), wanted, kept.max_connections);
      return kept.max_connections;
    }
    spdlog::info("http: open-file limit raised from {} to {} for max_connections {}", as_u64(lim.rlim_cur), p.soft,
                 wanted);
  }
  if (p.max_connections < wanted)
    spdlog::warn("http: the open-file limit ({}, hard {}) leaves room for {} connections, not max_connections {}; "
                 "raise LimitNOFILE",
                 p.soft, as_u64(lim.rlim_max), p.max_connections, wanted);
  return p.max_connections;
}

}  // namespace yuer::net
