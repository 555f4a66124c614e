// Status and Result<T>: expected failures as values.
//
// Every module returns these instead of throwing across its edge. What went wrong is one
// ErrorKind, and the kind alone decides what happens next (is_retryable): a lost connection, a
// busy server or a bound that ran out is tried again with backoff (common/backoff.h); a
// refusal, bad input or a bug stops the command with its message. Database exceptions become
// a Status in one place, common/database_errors.h, by SQLSTATE.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cutover {

enum class ErrorKind {
  kConnectionLost,  // a database session, the broker or the control API went away
  kBusy,            // the server is busy with what ends by itself: a lock, an object another
                    // session still holds, a serialization conflict, a server starting or stopping
  kTimeout,         // a bound ran out before the work was done
  kRefused,         // the server refused what cutover asked: a privilege, a missing object, a
                    // value that does not fit; asking again gets the same answer
  kBadInput,        // the plan or the command line: the operator must change it
  kLogGap,          // the change log no longer holds records the applier has not read (retention,
                    // a deleted topic): only blue's slot can send them again, if it still has them
  kBug,             // cutover broke its own rule
};

// Whether an error of `kind` is tried again: the only place that decides it.
constexpr bool is_retried(ErrorKind kind) {
  return kind == ErrorKind::kConnectionLost || kind == ErrorKind::kBusy || kind == ErrorKind::kTimeout;
}

class Status {
 public:
  static Status ok() { return Status(); }
  static Status of(ErrorKind kind, std::string message) { return Status(std::move(message), kind); }
  static Status error(std::string message) { return of(ErrorKind::kRefused, std::move(message)); }
  static Status retryable(std::string message) { return of(ErrorKind::kConnectionLost, std::move(message)); }
  // The plan does not fit the databases: the operator must change the plan or the databases.
  // Never retried; commands exit with the bad-input code.
  static Status invalid(std::string message) { return of(ErrorKind::kBadInput, std::move(message)); }

  bool is_ok() const { return !message_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  ErrorKind kind() const { return kind_; }
  bool is_retryable() const { return !is_ok() && is_retried(kind_); }
  bool is_invalid() const { return !is_ok() && kind_ == ErrorKind::kBadInput; }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // Adds what the caller was doing in front of the message: "creating slot: <message>".
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(context + ": " + *message_, kind_);
  }

 private:
  Status() = default;
  Status(std::string message, ErrorKind kind) : message_(std::move(message)), kind_(kind) {}

  std::optional<std::string> message_;
  ErrorKind kind_ = ErrorKind::kRefused;
};

template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {}  // NOLINT: implicit by design

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return is_ok(); }
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace cutover
