// Asio names and completion tokens shared by every file that does async I/O (STYLE D4).
// `yuer::net` is this folder's namespace (STYLE D2) and also where the rest of yuer finds Asio:
// a using-directive makes `net::co_spawn`, `net::detached`, `net::cancellation_type` resolve to
// Boost.Asio (include the Asio header you use), while yuer's own types (`net::Route`) are
// declared in it directly and always win. `awaitable` and the tokens are visible in all of `yuer`.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yuer {
namespace asio = boost::asio;
using boost::asio::awaitable;
using boost::asio::use_awaitable;

// Expected failures (EOF, timeout, cancellation) come back as values: auto [ec, n] = co_await ...(use_tuple);
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace net {
using namespace boost::asio;
}  // namespace net
}  // namespace yuer
