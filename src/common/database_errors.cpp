#include "cutover/common/database_errors.h"

#include <pqxx/pqxx>

namespace cutover {

ErrorKind kind_of_sqlstate(std::string_view sqlstate) {
  const std::string_view error_class = sqlstate.substr(0, 2);
  // Connection exceptions; the server shutting down, crashed, or not yet accepting.
  if (error_class == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return ErrorKind::kConnectionLost;
  }
  // Serialization failures and deadlocks (class 40), insufficient resources (53), a lock not
  // available (55P03) or an object in use (55006: a slot or origin a session that just died
  // still holds until the server notices).
  if (error_class == "40" || error_class == "53" || sqlstate == "55P03" || sqlstate == "55006") {
    return ErrorKind::kBusy;
  }
  if (sqlstate == "57014") return ErrorKind::kTimeout;  // a statement cancelled or timed out
  // Everything else, internal errors (XX) included, would come back the same: stop and say it.
  return ErrorKind::kRefused;
}

Status status_of(const std::exception& error, const std::string& context) {
  std::string reason = error.what();
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  const std::string message = context.empty() ? reason : context + ": " + reason;
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return Status::of(ErrorKind::kConnectionLost, message);
  }
  if (const auto* server = dynamic_cast<const pqxx::sql_error*>(&error)) {
    return Status::of(kind_of_sqlstate(server->sqlstate()), message);
  }
  // libpqxx used against its rules: a mistake in cutover.
  if (dynamic_cast<const pqxx::usage_error*>(&error) != nullptr) return Status::of(ErrorKind::kBug, message);
  return Status::of(ErrorKind::kRefused, message);
}

}  // namespace cutover
