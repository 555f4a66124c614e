// Status and Result<T>: expected failures as values.
//
// Every module returns these instead of throwing across its edge. The `retryable` bit is
// what callers decide on: a lost connection or a broker that is down is retried with
// backoff; a missing table or a refused privilege stops the command with its message.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cutover {

class Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message), false); }
  static Status retryable(std::string message) { return Status(std::move(message), true); }
  // The plan does not fit the databases: the operator must change the plan or the databases.
  // Never retried; commands exit with the bad-input code.
  static Status invalid(std::string message) {
    Status status(std::move(message), false);
    status.invalid_ = true;
    return status;
  }

  bool is_ok() const { return !message_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  bool is_retryable() const { return retryable_; }
  bool is_invalid() const { return invalid_; }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // Adds what the caller was doing in front of the message: "creating slot: <message>".
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    Status status(context + ": " + *message_, retryable_);
    status.invalid_ = invalid_;
    return status;
  }

 private:
  Status() = default;
  Status(std::string message, bool retryable)
      : message_(std::move(message)), retryable_(retryable) {}

  std::optional<std::string> message_;
  bool retryable_ = false;
  bool invalid_ = false;
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
