#include "cutover/capture/change_encoder.h"

#include <charconv>
#include <chrono>

#include "cutover/common/json_writer.h"

namespace cutover {

namespace {

std::int64_t now_milliseconds() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

// Integers and booleans become JSON numbers and booleans; every other type keeps
// PostgreSQL's text form, so numeric, time, array, range and json values lose nothing.
void write_value(JsonWriter& out, std::uint32_t type_oid, std::string_view text) {
  switch (type_oid) {
    case 16:  // bool
      out.boolean(text == "t");
      return;
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
    case 26: {  // oid
      std::int64_t number = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error == std::errc() && end == text.data() + text.size()) {
        out.number(number);
        return;
      }
      out.string(text);
      return;
    }
    default:
      out.string(text);
  }
}

// Writes the row image; unchanged TOAST columns are left out and listed in `unchanged`.
// With `key_only` (an old tuple of kind 'K'), only the replica identity columns are real
// values: pgoutput sends the others as NULL, so they are left out rather than shown as NULL.
Status write_tuple(JsonWriter& out, const pgoutput::Relation& relation,
                   const pgoutput::Tuple& tuple, std::vector<std::string>* unchanged,
                   bool key_only = false) {
  if (tuple.size() != relation.columns.size()) {
    return Status::error("pgoutput: tuple of " + std::to_string(tuple.size()) +
                         " columns for " + relation.schema + "." + relation.name + " with " +
                         std::to_string(relation.columns.size()));
  }
  out.begin_object();
  for (std::size_t index = 0; index < tuple.size(); ++index) {
    const auto& column = relation.columns[index];
    const auto& value = tuple[index];
    if (key_only && !column.is_key) continue;
    switch (value.kind) {
      case pgoutput::ValueKind::kNull:
        out.key(column.name).null();
        break;
      case pgoutput::ValueKind::kUnchangedToast:
        if (unchanged) unchanged->push_back(column.name);
        break;
      case pgoutput::ValueKind::kText:
        out.key(column.name);
        write_value(out, column.type_oid, value.data);
        break;
      case pgoutput::ValueKind::kBinary:
        return Status::error("pgoutput: binary column values are not requested, yet " +
                             column.name + " arrived in binary");
    }
  }
  out.end_object();
  return Status::ok();
}

// {"schema", "table", "key": {replica identity columns}} from the tuple that has them.
void write_key(JsonWriter& out, const pgoutput::Relation& relation, const pgoutput::Tuple* tuple) {
  out.begin_object().key("schema").string(relation.schema).key("table").string(relation.name);
  out.key("key").begin_object();
  for (std::size_t index = 0; index < relation.columns.size(); ++index) {
    const auto& column = relation.columns[index];
    if (!column.is_key) continue;
    out.key(column.name);
    if (tuple && index < tuple->size() && (*tuple)[index].kind == pgoutput::ValueKind::kText) {
      write_value(out, column.type_oid, (*tuple)[index].data);
    } else {
      out.null();
    }
  }
  out.end_object().end_object();
}

}  // namespace

class ChangeEncoder::Visitor {
 public:
  Visitor(ChangeEncoder& encoder, Lsn message_lsn, std::vector<ChangeRecord>& records)
      : encoder_(encoder), message_lsn_(message_lsn), records_(records) {}

  // BEGIN waits for the next message: an Origin may follow.
  Status operator()(const pgoutput::Begin& begin) {
    encoder_.transaction_ = Transaction{};
    encoder_.transaction_->begin = begin;
    encoder_.transaction_->begin_lsn = message_lsn_;
    return Status::ok();
  }

  Status operator()(const pgoutput::Commit& commit) {
    if (!encoder_.transaction_) return Status::error("pgoutput: Commit without Begin");
    if (leaves_out_rows() && !encoder_.transaction_->begin_written) {
      encoder_.echoes_left_out_++;
    } else {
      write_begin();
      records_.push_back({transaction_key(), transaction_event("END", &commit)});
      encoder_.last_end_written_ = commit.end_lsn;
    }
    encoder_.transaction_.reset();
    return Status::ok();
  }

  Status operator()(const pgoutput::Origin& origin) {
    if (!encoder_.transaction_) return Status::ok();
    encoder_.transaction_->origin = origin.name;
    encoder_.transaction_->echo = !encoder_.echo_origin_.empty() && origin.name == encoder_.echo_origin_;
    return Status::ok();
  }

  Status operator()(const pgoutput::Relation& relation) {
    write_begin();
    std::string value;
    JsonWriter out(value);
    out.begin_object().key("op").string("schema").key("schema").begin_object().key("columns").begin_array();
    for (const auto& column : relation.columns) {
      out.begin_object()
          .key("name").string(column.name)
          .key("type").string(encoder_.relations_.type_name(column.type_oid))
          .key("type_oid").unsigned_number(column.type_oid)
          .key("type_modifier").number(column.type_modifier)
          .key("key").boolean(column.is_key)
          .end_object();
    }
    out.end_array().key("replica_identity").string(std::string(1, relation.replica_identity));
    // The table's identity across renames: a consumer that knows a table by its OID sees a
    // RENAME as the same OID under a new name, and a table dropped and created again as a new OID.
    out.key("relation_oid").unsigned_number(relation.oid).end_object();
    out.key("source");
    write_source(out, &relation, message_lsn_, false);
    out.key("ts_ms").number(now_milliseconds()).end_object();
    std::string key;
    JsonWriter(key).begin_object().key("schema").string(relation.schema).key("table").string(relation.name)
        .key("key").null().end_object();
    records_.push_back({std::move(key), std::move(value)});
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
    return row_event(*relation, "c", nullptr, 0, &insert.new_tuple);
  }

  Status operator()(const pgoutput::Update& update) {
    const auto* relation = relation_for(update.relation);
    if (!relation) return unknown_relation(update.relation);
    return row_event(*relation, "u", update.old_kind != 0 ? &update.old_tuple : nullptr,
                     update.old_kind, &update.new_tuple);
  }

  Status operator()(const pgoutput::Delete& deletion) {
    const auto* relation = relation_for(deletion.relation);
    if (!relation) return unknown_relation(deletion.relation);
    return row_event(*relation, "d", &deletion.old_tuple, deletion.old_kind, nullptr);
  }

  Status operator()(const pgoutput::Truncate& truncate) {
    for (auto oid : truncate.relations) {
      if (!relation_for(oid)) return unknown_relation(oid);
    }
    if (leaves_out_rows()) return Status::ok();
    write_begin();
    for (auto oid : truncate.relations) {
      const auto& relation = *relation_for(oid);
      std::string value;
      JsonWriter out(value);
      out.begin_object().key("before").null().key("after").null().key("source");
      write_source(out, &relation, message_lsn_, true);
      out.key("op").string("t").key("ts_ms").number(now_milliseconds());
      out.key("truncate").begin_object()
          .key("cascade").boolean(truncate.cascade)
          .key("restart_identity").boolean(truncate.restart_identity)
          .key("relations").begin_array();
      for (auto other : truncate.relations) {
        const auto& named = *relation_for(other);
        out.string(named.schema + "." + named.name);
      }
      out.end_array().end_object().end_object();
      std::string key;
      JsonWriter key_out(key);
      write_key(key_out, relation, nullptr);
      records_.push_back({std::move(key), std::move(value)});
    }
    return Status::ok();
  }

  Status operator()(const pgoutput::LogicalMessage& message) {
    if (message.transactional) {
      if (leaves_out_rows()) return Status::ok();
      write_begin();
    }
    std::string value;
    JsonWriter out(value);
    out.begin_object().key("op").string("m");
    out.key("message").begin_object()
        .key("prefix").string(message.prefix)
        .key("content").string(hex_bytea(message.content))
        .key("transactional").boolean(message.transactional)
        .end_object();
    out.key("source");
    write_source(out, nullptr, message.lsn, false);
    out.key("ts_ms").number(now_milliseconds()).end_object();
    std::string key;
    JsonWriter(key).begin_object().key("message_prefix").string(message.prefix).end_object();
    records_.push_back({std::move(key), std::move(value)});
    return Status::ok();
  }

 private:
  // Inside a transaction of cutover's own applier of the other direction.
  bool leaves_out_rows() const { return encoder_.transaction_ && encoder_.transaction_->echo; }

  // The transaction's BEGIN, once, before its first record.
  void write_begin() {
    auto& transaction = encoder_.transaction_;
    if (!transaction || transaction->begin_written) return;
    transaction->begin_written = true;
    records_.push_back({transaction_key(), transaction_event("BEGIN", nullptr)});
  }

  const pgoutput::Relation* relation_for(std::uint32_t oid) const {
    return encoder_.relations_.find(oid);
  }

  static Status unknown_relation(std::uint32_t oid) {
    return Status::error("pgoutput: change for relation " + std::to_string(oid) +
                         " before its Relation message");
  }

  // A Debezium envelope, written directly: this is capture's hot path.
  Status row_event(const pgoutput::Relation& relation, const char* op,
                   const pgoutput::Tuple* before, char old_kind, const pgoutput::Tuple* after) {
    if (leaves_out_rows()) return Status::ok();
    write_begin();
    std::string value;
    value.reserve(256);
    JsonWriter out(value);
    std::vector<std::string> unchanged;
    out.begin_object().key("before");
    if (before) {
      if (auto status = write_tuple(out, relation, *before, nullptr, old_kind == 'K'); !status) {
        return status;
      }
    } else {
      out.null();
    }
    out.key("after");
    if (after) {
      if (auto status = write_tuple(out, relation, *after, &unchanged); !status) return status;
    } else {
      out.null();
    }
    out.key("source");
    write_source(out, &relation, message_lsn_, true);
    out.key("op").string(op).key("ts_ms").number(now_milliseconds());
    if (!unchanged.empty()) {
      out.key("unchanged_toast").begin_array();
      for (const auto& name : unchanged) out.string(name);
      out.end_array();
    }
    if (old_kind != 0) out.key("before_kind").string(old_kind == 'O' ? "full" : "key");
    out.end_object();
    std::string key;
    JsonWriter key_out(key);
    write_key(key_out, relation, after ? after : before);
    records_.push_back({std::move(key), std::move(value)});
    return Status::ok();
  }

  // The envelope's "source": where the change came from. Row changes and truncates are
  // `counted`: they carry their sequence number in the transaction. A logical message has no
  // relation.
  void write_source(JsonWriter& out, const pgoutput::Relation* relation, Lsn lsn, bool counted) const {
    out.begin_object().key("connector").string("postgresql").key("db").string(encoder_.database_name_);
    if (relation) out.key("schema").string(relation->schema).key("table").string(relation->name);
    out.key("lsn").unsigned_number(lsn.value()).key("snapshot").string("false");
    if (encoder_.transaction_) {
      write_transaction_fields(out);
      if (counted) out.key("sequence").unsigned_number(encoder_.transaction_->events++);
    }
    out.end_object();
  }

  void write_transaction_fields(JsonWriter& out) const {
    const auto& transaction = *encoder_.transaction_;
    out.key("txId").unsigned_number(transaction.begin.xid)
        .key("commit_lsn").unsigned_number(transaction.begin.final_lsn.value())
        .key("ts_ms").number(pgoutput::to_unix_milliseconds(transaction.begin.commit_time));
    if (!transaction.origin.empty()) out.key("origin").string(transaction.origin);
  }

  // BEGIN, or END with the commit's end position and the transaction's row-event count.
  std::string transaction_event(const char* status, const pgoutput::Commit* commit) const {
    const auto& begin = encoder_.transaction_->begin;
    std::string value;
    JsonWriter out(value);
    out.begin_object().key("status").string(status).key("id").string(transaction_id());
    if (commit) out.key("event_count").unsigned_number(encoder_.transaction_->events);
    out.key("source").begin_object()
        .key("connector").string("postgresql")
        .key("db").string(encoder_.database_name_)
        .key("txId").unsigned_number(begin.xid)
        .key("commit_lsn").unsigned_number(begin.final_lsn.value())
        .key("lsn").unsigned_number(commit ? message_lsn_.value() : encoder_.transaction_->begin_lsn.value())
        .key("ts_ms").number(pgoutput::to_unix_milliseconds(begin.commit_time));
    if (commit) out.key("end_lsn").unsigned_number(commit->end_lsn.value());
    if (!commit && encoder_.last_end_written_) {
      out.key("previous_end_lsn").unsigned_number(encoder_.last_end_written_->value());
    }
    out.end_object().key("ts_ms").number(now_milliseconds()).end_object();
    return value;
  }

  std::string transaction_id() const {
    const auto& begin = encoder_.transaction_->begin;
    return std::to_string(begin.xid) + ":" + begin.final_lsn.to_string();
  }

  std::string transaction_key() const {
    std::string key;
    JsonWriter(key).begin_object().key("transaction").string(transaction_id()).end_object();
    return key;
  }

  ChangeEncoder& encoder_;
  Lsn message_lsn_;
  std::vector<ChangeRecord>& records_;
};

Status ChangeEncoder::encode(const pgoutput::Message& message, Lsn message_lsn,
                             std::vector<ChangeRecord>& records) {
  return std::visit(Visitor(*this, message_lsn, records), message);
}

}  // namespace cutover
