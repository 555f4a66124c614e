// What a database exception means for cutover: the one place that turns libpqxx's exceptions
// into a Status, its ErrorKind taken from the exception's type and SQLSTATE. Catch sites
// write `catch (const std::exception& error) { return status_of(error, "what was done"); }`
// instead of deciding retry or stop themselves.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "cutover/common/result.h"

namespace cutover {

// The kind of a server error by its SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html).
ErrorKind kind_of_sqlstate(std::string_view sqlstate);

// `error` as a Status whose message is "<context>: <what the server or library said>" (only
// what it said when `context` is empty).
Status status_of(const std::exception& error, const std::string& context);

}  // namespace cutover
