// Namespace aliases and completion tokens shared by every file that does async I/O (STYLE D4).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yuer {
namespace net = boost::asio;
// Expected failures (EOF, timeout, cancellation) come back as values: auto [ec, n] = co_await ...(use_tuple);
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
}  // namespace yuer
