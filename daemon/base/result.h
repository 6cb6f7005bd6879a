// Result<T>: the value-or-error type for expected failures (bad input from outside).
// Error carries a stable machine code ("callback.bad_signature") and a message a person can act on.
#pragma once

#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace yuer {

struct Error {
  std::string code;     // stable, dotted, ASCII: "config.missing_key"
  std::string message;  // for people: Chinese when a coordinator or parent reads it
};

// Thrown by Result<T>::value() on an error; carries the Error unchanged.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.code + ": " + e.message), error_(std::move(e)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// Found by ADL so boost::system::result<T, Error>::value() compiles (STYLE C3).
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

template <class T>
using Result = boost::system::result<T, Error>;

// Shorthand for an error value: `return fail("store.full", "磁盘已满");`
inline Error fail(std::string code, std::string message) { return Error{std::move(code), std::move(message)}; }

}  // namespace yuer
