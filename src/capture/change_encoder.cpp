#include "cutover/capture/change_encoder.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>

namespace cutover {

namespace {

using nlohmann::json;

std::int64_t now_milliseconds() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Integers and booleans become JSON numbers and booleans; every other type keeps
// PostgreSQL's text form, so numeric, time, array, range and json values lose nothing.
json column_json(std::uint32_t type_oid, std::string_view text) {
  switch (type_oid) {
    case 16:  // bool
      return text == "t";
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
    case 26: {  // oid
      std::int64_t number = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error == std::errc() && end == text.data() + text.size()) return number;
      return std::string(text);
    }
    default:
      return std::string(text);
  }
}

std::string hex_bytea(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string text = "\\x";
  for (unsigned char byte : bytes) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

// Builds the row image; unchanged TOAST columns are left out and listed in `unchanged`.
// With `key_only` (an old tuple of kind 'K'), only the replica identity columns are real
// values: pgoutput sends the others as NULL, so they are left out rather than shown as NULL.
Status tuple_json(const pgoutput::Relation& relation, const pgoutput::Tuple& tuple, json& row,
                  json* unchanged, bool key_only = false) {
  if (tuple.size() != relation.columns.size()) {
    return Status::error("pgoutput: tuple of " + std::to_string(tuple.size()) +
                         " columns for " + relation.schema + "." + relation.name + " with " +
                         std::to_string(relation.columns.size()));
  }
  row = json::object();
  for (std::size_t index = 0; index < tuple.size(); ++index) {
    const auto& column = relation.columns[index];
    const auto& value = tuple[index];
    if (key_only && !column.is_key) continue;
    switch (value.kind) {
      case pgoutput::ValueKind::kNull:
        row[column.name] = nullptr;
        break;
      case pgoutput::ValueKind::kUnchangedToast:
        if (unchanged) unchanged->push_back(column.name);
        break;
      case pgoutput::ValueKind::kText:
        row[column.name] = column_json(column.type_oid, value.data);
        break;
      case pgoutput::ValueKind::kBinary:
        return Status::error("pgoutput: binary column values are not requested, yet " +
                             column.name + " arrived in binary");
    }
  }
  return Status::ok();
}

json key_json(const pgoutput::Relation& relation, const json& row) {
  json key = json::object();
  for (const auto& column : relation.columns) {
    if (!column.is_key) continue;
    const auto found = row.find(column.name);
    key[column.name] = found == row.end() ? json(nullptr) : *found;
  }
  return {{"schema", relation.schema}, {"table", relation.name}, {"key", std::move(key)}};
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::strict);
}

}  // namespace

class ChangeEncoder::Visitor {
 public:
  Visitor(ChangeEncoder& encoder, Lsn message_lsn, std::vector<ChangeRecord>& records)
      : encoder_(encoder), message_lsn_(message_lsn), records_(records) {}

  Status operator()(const pgoutput::Begin& begin) {
    encoder_.transaction_ = Transaction{begin, 0, ""};
    json value = transaction_event("BEGIN");
    records_.push_back({transaction_key(), dump(value)});
    return Status::ok();
  }

  Status operator()(const pgoutput::Commit& commit) {
    if (!encoder_.transaction_) return Status::error("pgoutput: Commit without Begin");
    json value = transaction_event("END");
    value["event_count"] = encoder_.transaction_->events;
    value["source"]["end_lsn"] = commit.end_lsn.value();
    records_.push_back({transaction_key(), dump(value)});
    encoder_.transaction_.reset();
    return Status::ok();
  }

  Status operator()(const pgoutput::Origin& origin) {
    if (encoder_.transaction_) encoder_.transaction_->origin = origin.name;
    return Status::ok();
  }

  Status operator()(const pgoutput::Relation& relation) {
    json columns = json::array();
    for (const auto& column : relation.columns) {
      columns.push_back({{"name", column.name},
                         {"type", encoder_.relations_.type_name(column.type_oid)},
                         {"type_oid", column.type_oid},
                         {"type_modifier", column.type_modifier},
                         {"key", column.is_key}});
    }
    json value = {{"op", "schema"},
                  {"schema", {{"columns", std::move(columns)},
                              {"replica_identity", std::string(1, relation.replica_identity)}}},
                  {"source", source(relation)},
                  {"ts_ms", now_milliseconds()}};
    json key = {{"schema", relation.schema}, {"table", relation.name}, {"key", nullptr}};
    records_.push_back({dump(key), dump(value)});
    encoder_.relations_.remember(relation);
    return Status::ok();
  }

  Status operator()(const pgoutput::Type& type) {
    encoder_.relations_.remember(type);
    return Status::ok();
  }

  Status operator()(const pgoutput::Insert& insert) {
    const auto* relation = relation_for(insert.relation);
    if (!relation) return unknown_relation(insert.relation);
    json after;
    json unchanged = json::array();
    if (auto status = tuple_json(*relation, insert.new_tuple, after, &unchanged); !status) {
      return status;
    }
    return row_event(*relation, "c", nullptr, std::move(after), std::move(unchanged));
  }

  Status operator()(const pgoutput::Update& update) {
    const auto* relation = relation_for(update.relation);
    if (!relation) return unknown_relation(update.relation);
    json before = nullptr;
    if (update.old_kind != 0) {
      if (auto status = tuple_json(*relation, update.old_tuple, before, nullptr,
                                   update.old_kind == 'K');
          !status) {
        return status;
      }
    }
    json after;
    json unchanged = json::array();
    if (auto status = tuple_json(*relation, update.new_tuple, after, &unchanged); !status) {
      return status;
    }
    return row_event(*relation, "u", std::move(before), std::move(after), std::move(unchanged),
                     update.old_kind);
  }

  Status operator()(const pgoutput::Delete& deletion) {
    const auto* relation = relation_for(deletion.relation);
    if (!relation) return unknown_relation(deletion.relation);
    json before;
    if (auto status = tuple_json(*relation, deletion.old_tuple, before, nullptr,
                                 deletion.old_kind == 'K');
        !status) {
      return status;
    }
    return row_event(*relation, "d", std::move(before), nullptr, json::array(),
                     deletion.old_kind);
  }

  Status operator()(const pgoutput::Truncate& truncate) {
    json names = json::array();
    for (auto oid : truncate.relations) {
      const auto* relation = relation_for(oid);
      if (!relation) return unknown_relation(oid);
      names.push_back(relation->schema + "." + relation->name);
    }
    for (auto oid : truncate.relations) {
      const auto& relation = *relation_for(oid);
      json value = envelope(relation, "t", nullptr, nullptr);
      value["truncate"] = {{"cascade", truncate.cascade},
                           {"restart_identity", truncate.restart_identity},
                           {"relations", names}};
      records_.push_back({dump(key_json(relation, json::object())), dump(value)});
    }
    return Status::ok();
  }

  Status operator()(const pgoutput::LogicalMessage& message) {
    json source_part = {{"connector", "postgresql"}, {"db", encoder_.database_name_},
                        {"lsn", message.lsn.value()}, {"snapshot", "false"}};
    if (encoder_.transaction_) add_transaction(source_part);
    json value = {{"op", "m"},
                  {"message", {{"prefix", message.prefix},
                               {"content", hex_bytea(message.content)},
                               {"transactional", message.transactional}}},
                  {"source", std::move(source_part)},
                  {"ts_ms", now_milliseconds()}};
    json key = {{"message_prefix", message.prefix}};
    records_.push_back({dump(key), dump(value)});
    return Status::ok();
  }

 private:
  const pgoutput::Relation* relation_for(std::uint32_t oid) const {
    return encoder_.relations_.find(oid);
  }

  static Status unknown_relation(std::uint32_t oid) {
    return Status::error("pgoutput: change for relation " + std::to_string(oid) +
                         " before its Relation message");
  }

  void add_transaction(json& source_part) const {
    const auto& transaction = *encoder_.transaction_;
    source_part["txId"] = transaction.begin.xid;
    source_part["commit_lsn"] = transaction.begin.final_lsn.value();
    source_part["ts_ms"] = pgoutput::to_unix_milliseconds(transaction.begin.commit_time);
    if (!transaction.origin.empty()) source_part["origin"] = transaction.origin;
  }

  json source(const pgoutput::Relation& relation) const {
    json part = {{"connector", "postgresql"},
                 {"db", encoder_.database_name_},
                 {"schema", relation.schema},
                 {"table", relation.name},
                 {"lsn", message_lsn_.value()},
                 {"snapshot", "false"}};
    if (encoder_.transaction_) add_transaction(part);
    return part;
  }

  json envelope(const pgoutput::Relation& relation, const char* op, json before, json after) {
    json part = source(relation);
    if (encoder_.transaction_) part["sequence"] = encoder_.transaction_->events++;
    return {{"before", std::move(before)},
            {"after", std::move(after)},
            {"source", std::move(part)},
            {"op", op},
            {"ts_ms", now_milliseconds()}};
  }

  Status row_event(const pgoutput::Relation& relation, const char* op, json before, json after,
                   json unchanged, char old_kind = 0) {
    const json& key_source = after.is_object() ? after : before;
    json key = key_json(relation, key_source.is_object() ? key_source : json::object());
    json value = envelope(relation, op, std::move(before), std::move(after));
    if (!unchanged.empty()) value["unchanged_toast"] = std::move(unchanged);
    if (old_kind != 0) value["before_kind"] = old_kind == 'O' ? "full" : "key";
    records_.push_back({dump(key), dump(value)});
    return Status::ok();
  }

  json transaction_event(const char* status) const {
    const auto& begin = encoder_.transaction_->begin;
    json source_part = {{"connector", "postgresql"},
                        {"db", encoder_.database_name_},
                        {"txId", begin.xid},
                        {"commit_lsn", begin.final_lsn.value()},
                        {"lsn", message_lsn_.value()},
                        {"ts_ms", pgoutput::to_unix_milliseconds(begin.commit_time)}};
    return {{"status", status},
            {"id", transaction_id()},
            {"source", std::move(source_part)},
            {"ts_ms", now_milliseconds()}};
  }

  std::string transaction_id() const {
    const auto& begin = encoder_.transaction_->begin;
    return std::to_string(begin.xid) + ":" + begin.final_lsn.to_string();
  }

  std::string transaction_key() const { return dump(json{{"transaction", transaction_id()}}); }

  ChangeEncoder& encoder_;
  Lsn message_lsn_;
  std::vector<ChangeRecord>& records_;
};

Status ChangeEncoder::encode(const pgoutput::Message& message, Lsn message_lsn,
                             std::vector<ChangeRecord>& records) {
  try {
    return std::visit(Visitor(*this, message_lsn, records), message);
  } catch (const nlohmann::json::exception& error) {
    return Status::error(std::string("cannot encode change event: ") + error.what());
  }
}

}  // namespace cutover
