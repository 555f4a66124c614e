#include "cutover/debezium/event_encoder.h"

#include <algorithm>
#include <chrono>

#include "cutover/common/json_writer.h"

namespace cutover::debezium {

namespace {

// What the source block's version says: the stream is cutover's, in Debezium's form.
constexpr const char* kVersion = "cutover-0.1.0";

std::int64_t now_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Microseconds since the Unix epoch of a pgoutput timestamp (microseconds since 2000-01-01).
std::int64_t unix_microseconds(pgoutput::PgTimestamp timestamp) { return timestamp + 946684800000000LL; }

std::string sanitized(const std::string& name) {
  std::string topic = name;
  for (char& character : topic) {
    const bool allowed = (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
                         (character >= '0' && character <= '9') || character == '.' || character == '_' ||
                         character == '-';
    if (!allowed) character = '_';
  }
  return topic;
}

void simple_field(JsonWriter& out, const char* type, bool optional, const char* field) {
  out.begin_object().key("type").string(type).key("optional").boolean(optional).key("field").string(field).end_object();
}

// io.debezium.connector.postgresql.Source, field by field as Debezium 3 declares it.
std::string source_schema() {
  std::string json;
  JsonWriter out(json);
  out.begin_object().key("type").string("struct").key("fields").begin_array();
  simple_field(out, "string", false, "version");
  simple_field(out, "string", false, "connector");
  simple_field(out, "string", false, "name");
  simple_field(out, "int64", false, "ts_ms");
  out.begin_object()
      .key("type").string("string").key("optional").boolean(true)
      .key("name").string("io.debezium.data.Enum").key("version").number(1)
      .key("parameters").begin_object()
      .key("allowed").string("true,first,first_in_data_collection,last_in_data_collection,last,false,incremental")
      .end_object()
      .key("default").string("false").key("field").string("snapshot")
      .end_object();
  simple_field(out, "string", false, "db");
  simple_field(out, "string", true, "sequence");
  simple_field(out, "int64", true, "ts_us");
  simple_field(out, "int64", true, "ts_ns");
  simple_field(out, "string", false, "schema");
  simple_field(out, "string", false, "table");
  simple_field(out, "int64", true, "txId");
  simple_field(out, "int64", true, "lsn");
  simple_field(out, "int64", true, "xmin");
  simple_field(out, "string", true, "origin");
  simple_field(out, "int64", true, "origin_lsn");
  out.end_array().key("optional").boolean(false)
      .key("name").string("io.debezium.connector.postgresql.Source").key("version").number(1)
      .key("field").string("source").end_object();
  return json;
}

void transaction_block_schema(JsonWriter& out) {
  out.begin_object().key("type").string("struct").key("fields").begin_array();
  simple_field(out, "string", false, "id");
  simple_field(out, "int64", false, "total_order");
  simple_field(out, "int64", false, "data_collection_order");
  out.end_array().key("optional").boolean(true).key("name").string("event.block").key("version").number(1)
      .key("field").string("transaction").end_object();
}

const std::string& transaction_key_schema() {
  static const std::string schema = [] {
    std::string json;
    JsonWriter out(json);
    out.begin_object().key("type").string("struct").key("fields").begin_array();
    simple_field(out, "string", false, "id");
    out.end_array().key("optional").boolean(false)
        .key("name").string("io.debezium.connector.common.TransactionMetadataKey").key("version").number(1)
        .end_object();
    return json;
  }();
  return schema;
}

const std::string& transaction_value_schema() {
  static const std::string schema = [] {
    std::string json;
    JsonWriter out(json);
    out.begin_object().key("type").string("struct").key("fields").begin_array();
    simple_field(out, "string", false, "status");
    simple_field(out, "string", false, "id");
    simple_field(out, "int64", true, "event_count");
    out.begin_object().key("type").string("array").key("items").begin_object()
        .key("type").string("struct").key("fields").begin_array();
    simple_field(out, "string", false, "data_collection");
    simple_field(out, "int64", false, "event_count");
    out.end_array().key("optional").boolean(true).key("name").string("event.collection").key("version").number(1)
        .end_object().key("optional").boolean(true).key("field").string("data_collections").end_object();
    simple_field(out, "int64", false, "ts_ms");
    out.end_array().key("optional").boolean(false)
        .key("name").string("io.debezium.connector.common.TransactionMetadataValue").key("version").number(1)
        .end_object();
    return json;
  }();
  return schema;
}

// Java's String.hashCode over the UTF-16 code units of UTF-8 `text`.
std::int32_t java_string_hash(const std::string& text) {
  std::uint32_t hash = 0;
  auto add = [&hash](std::uint32_t unit) { hash = hash * 31 + unit; };
  for (std::size_t at = 0; at < text.size();) {
    const auto lead = static_cast<unsigned char>(text[at]);
    std::uint32_t code_point = lead;
    std::size_t length = 1;
    if (lead >= 0xf0) {
      code_point = lead & 0x07;
      length = 4;
    } else if (lead >= 0xe0) {
      code_point = lead & 0x0f;
      length = 3;
    } else if (lead >= 0xc0) {
      code_point = lead & 0x1f;
      length = 2;
    }
    for (std::size_t more = 1; more < length && at + more < text.size(); ++more) {
      code_point = code_point << 6 | (static_cast<unsigned char>(text[at + more]) & 0x3f);
    }
    at += length;
    if (code_point >= 0x10000) {
      code_point -= 0x10000;
      add(0xd800 + (code_point >> 10));
      add(0xdc00 + (code_point & 0x3ff));
    } else {
      add(code_point);
    }
  }
  return static_cast<std::int32_t>(hash);
}

}  // namespace

// The order in which a java.util.HashMap filled in `entries`' order iterates: Debezium keeps a
// transaction's per-table counts in one, and its END record lists them so. Buckets of the
// table's final capacity (16, doubled while more than three quarters full), each in insertion
// order, as HashMap's resizes keep it.
std::vector<std::pair<std::string, std::uint64_t>> in_java_hash_map_order(
    const std::vector<std::pair<std::string, std::uint64_t>>& entries) {
  std::size_t capacity = 16;
  while (entries.size() > capacity * 3 / 4) capacity *= 2;
  std::vector<std::pair<std::size_t, std::size_t>> order;  // bucket, insertion index
  for (std::size_t index = 0; index < entries.size(); ++index) {
    const auto hash = static_cast<std::uint32_t>(java_string_hash(entries[index].first));
    order.emplace_back((hash ^ (hash >> 16)) & (capacity - 1), index);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::pair<std::string, std::uint64_t>> sorted;
  for (const auto& [bucket, index] : order) sorted.push_back(entries[index]);
  return sorted;
}

std::string table_topic(const std::string& prefix, const std::string& schema, const std::string& table) {
  return sanitized(prefix + "." + schema + "." + table);
}

std::string transaction_topic(const std::string& prefix) { return sanitized(prefix + ".transaction"); }

EventEncoder::EventEncoder(StreamSettings settings, std::string database_name, TableCatalog& catalog,
                           std::string echo_origin)
    : settings_(std::move(settings)),
      database_name_(std::move(database_name)),
      catalog_(catalog),
      echo_origin_(std::move(echo_origin)),
      source_schema_(source_schema()) {}

Status EventEncoder::remember(const pgoutput::Relation& relation) {
  auto described = catalog_.describe(relation.oid);
  if (!described) return described.status();
  const std::string qualified = relation.schema + "." + relation.name;
  Table table;
  table.schema = relation.schema;
  table.name = relation.name;
  table.topic = table_topic(settings_.topic_prefix, relation.schema, relation.name);
  const std::string schema_name = settings_.topic_prefix + "." + qualified;
  std::vector<bool> not_null;
  for (const auto& sent : relation.columns) {
    Column column;
    column.name = sent.name;
    bool found = false;
    for (const auto& known : described->columns) {
      if (known.name != sent.name) continue;
      column.type = known.type;
      column.default_json = default_value(known.type, settings_.modes, known.default_expression);
      not_null.push_back(known.not_null);
      found = true;
      break;
    }
    if (!found) {
      // Described by the stream but not (or no longer) by the catalog: a change of the table
      // raced this read. Its type is the stream's; it is taken as nullable, without a default.
      auto type = catalog_.resolve_type(sent.type_oid, sent.type_modifier);
      if (!type) return type.status();
      column.type = std::move(type.value());
      not_null.push_back(false);
    }
    if (std::string why; !is_supported(column.type, &why)) {
      return Status::invalid("debezium stream: " + qualified + "." + column.name + ": " + why +
                             "; leave kafka.debezium out of the plan, or change the column's type");
    }
    table.columns.push_back(std::move(column));
  }
  for (const auto& key_column : described->primary_key) {
    for (std::size_t index = 0; index < table.columns.size(); ++index) {
      if (table.columns[index].name == key_column) {
        table.key.push_back(index);
        table.columns[index].in_key = true;
      }
    }
  }

  auto write_field = [&](JsonWriter& out, std::size_t index, bool optional) {
    const Column& column = table.columns[index];
    out.begin_object();
    write_schema(out, column.type, settings_.modes);
    out.key("optional").boolean(optional);
    if (!column.default_json.empty()) out.key("default").raw(column.default_json);
    out.key("field").string(column.name).end_object();
  };
  if (!table.key.empty()) {
    JsonWriter out(table.key_schema);
    out.begin_object().key("type").string("struct").key("fields").begin_array();
    for (std::size_t index : table.key) write_field(out, index, false);
    out.end_array().key("optional").boolean(false).key("name").string(schema_name + ".Key").end_object();
  }
  std::string value_fields;
  {
    JsonWriter out(value_fields);
    out.begin_array();
    for (std::size_t index = 0; index < table.columns.size(); ++index) {
      write_field(out, index, !(not_null[index] || table.columns[index].in_key));
    }
    out.end_array();
  }
  JsonWriter out(table.envelope_schema);
  out.begin_object().key("type").string("struct").key("fields").begin_array();
  for (const char* image : {"before", "after"}) {
    out.begin_object().key("type").string("struct").key("fields").raw(value_fields)
        .key("optional").boolean(true).key("name").string(schema_name + ".Value").key("field").string(image)
        .end_object();
  }
  out.raw(source_schema_);
  transaction_block_schema(out);
  simple_field(out, "string", false, "op");
  simple_field(out, "int64", true, "ts_ms");
  simple_field(out, "int64", true, "ts_us");
  simple_field(out, "int64", true, "ts_ns");
  out.end_array().key("optional").boolean(false).key("name").string(schema_name + ".Envelope")
      .key("version").number(2).end_object();
  tables_[relation.oid] = std::move(table);
  return Status::ok();
}

std::string EventEncoder::wrap(const std::string& schema, const std::string& payload) const {
  if (!settings_.schemas) return payload;
  std::string json;
  json.reserve(schema.size() + payload.size() + 24);
  JsonWriter(json).begin_object().key("schema").raw(schema).key("payload").raw(payload).end_object();
  return json;
}

Status EventEncoder::write_image(JsonWriter& out, const Table& table, const Image& image) const {
  if (!image.tuple) {
    out.null();
    return Status::ok();
  }
  const pgoutput::Tuple& tuple = *image.tuple;
  if (tuple.size() != table.columns.size()) {
    return Status::error("pgoutput: tuple of " + std::to_string(tuple.size()) + " columns for " + table.schema +
                         "." + table.name + " with " + std::to_string(table.columns.size()));
  }
  out.begin_object();
  for (std::size_t index = 0; index < tuple.size(); ++index) {
    const Column& column = table.columns[index];
    const pgoutput::ColumnValue* value = &tuple[index];
    out.key(column.name);
    if (value->kind == pgoutput::ValueKind::kUnchangedToast && image.old_full &&
        (*image.old_full)[index].kind == pgoutput::ValueKind::kText) {
      value = &(*image.old_full)[index];  // the FULL identity's old row holds the value
    }
    switch (value->kind) {
      case pgoutput::ValueKind::kNull:
        // A key-only old row knows only its key: Debezium shows the other columns as their
        // defaults, or null. A real NULL becomes the default too, as JsonConverter writes it
        // unless told otherwise.
        if (!column.default_json.empty() &&
            (settings_.replace_null_with_default || (image.key_only && !column.in_key))) {
          out.raw(column.default_json);
        } else {
          out.null();
        }
        break;
      case pgoutput::ValueKind::kUnchangedToast:
        write_unavailable(out, column.type, settings_.modes, settings_.unavailable_placeholder);
        break;
      case pgoutput::ValueKind::kText:
        if (auto written = write_value(out, column.type, settings_.modes, value->data); !written) {
          return Status::invalid(table.schema + "." + table.name + "." + column.name + ": " + written.message());
        }
        break;
      case pgoutput::ValueKind::kBinary:
        return Status::error("pgoutput: binary column values are not requested, yet " + column.name +
                             " arrived in binary");
    }
  }
  out.end_object();
  return Status::ok();
}

Status EventEncoder::write_key(std::string& key, const Table& table, const pgoutput::Tuple& tuple) const {
  std::string payload;
  JsonWriter out(payload);
  out.begin_object();
  for (std::size_t index : table.key) {
    const Column& column = table.columns[index];
    out.key(column.name);
    if (index >= tuple.size() || tuple[index].kind != pgoutput::ValueKind::kText) {
      out.null();
      continue;
    }
    if (auto written = write_value(out, column.type, settings_.modes, tuple[index].data); !written) {
      return Status::invalid(table.schema + "." + table.name + "." + column.name + ": " + written.message());
    }
  }
  out.end_object();
  key = wrap(table.key_schema, payload);
  return Status::ok();
}

void EventEncoder::write_source(JsonWriter& out, const Table& table, const SourcePoint& source) const {
  out.begin_object()
      .key("version").string(kVersion)
      .key("connector").string("postgresql")
      .key("name").string(settings_.topic_prefix)
      .key("ts_ms").number(source.unix_microseconds / 1000)
      .key("snapshot").string(source.snapshot)
      .key("db").string(database_name_)
      .key("sequence").string(source.sequence)
      .key("ts_us").number(source.unix_microseconds)
      .key("ts_ns").number(source.unix_microseconds * 1000)
      .key("schema").string(table.schema)
      .key("table").string(table.name)
      .key("txId").unsigned_number(source.xid)
      .key("lsn").unsigned_number(source.lsn.value())
      .key("xmin").null()
      .key("origin");
  if (source.origin == nullptr || source.origin->empty()) {
    out.null();
  } else {
    out.string(*source.origin);
  }
  out.key("origin_lsn");
  if (source.origin_lsn) {
    out.unsigned_number(source.origin_lsn->value());
  } else {
    out.null();
  }
  out.end_object();
}

Status EventEncoder::row_event(const Table& table, Op op, const Image& before, const Image& after, Lsn lsn,
                               std::vector<ChangeRecord>& records) {
  auto& transaction = *transaction_;
  write_transaction_begin(records);
  std::uint64_t* collection_count = nullptr;
  const std::string collection = table.schema + "." + table.name;
  for (auto& [name, count] : transaction.collections) {
    if (name == collection) collection_count = &count;
  }
  if (!collection_count) collection_count = &transaction.collections.emplace_back(collection, 0).second;
  ++transaction.total_order;
  ++*collection_count;

  SourcePoint source;
  source.unix_microseconds = unix_microseconds(transaction.begin.commit_time);
  source.sequence = "[" +
                    (last_commit_lsn_ ? "\"" + std::to_string(last_commit_lsn_->value()) + "\"" : std::string("null")) +
                    ",\"" + std::to_string(lsn.value()) + "\"]";
  source.xid = transaction.begin.xid;
  source.lsn = lsn;
  source.origin = &transaction.origin;
  source.origin_lsn = transaction.origin_lsn;
  std::string block;
  if (settings_.transactions) {
    JsonWriter(block).begin_object()
        // Debezium's block names the transaction by the event's own position, not its first.
        .key("id").string(std::to_string(transaction.begin.xid) + ":" + std::to_string(lsn.value()))
        .key("total_order").unsigned_number(transaction.total_order)
        .key("data_collection_order").unsigned_number(*collection_count)
        .end_object();
  }
  return append_event(table, op, before, after, source, block, records);
}

Status EventEncoder::encode_snapshot_row(std::uint32_t relation_oid, const pgoutput::Tuple& row, SnapshotMark mark,
                                         const SnapshotPoint& point, std::vector<ChangeRecord>& records) {
  const auto found = tables_.find(relation_oid);
  if (found == tables_.end()) {
    return Status::error("debezium snapshot: a row of relation " + std::to_string(relation_oid) +
                         " before its description");
  }
  static constexpr const char* kMarks[] = {"first", "first_in_data_collection", "true", "last_in_data_collection",
                                           "last"};
  SourcePoint source;
  source.unix_microseconds = point.unix_microseconds;
  source.snapshot = kMarks[static_cast<int>(mark)];
  source.sequence = "[null,\"" + std::to_string(point.lsn.value()) + "\"]";
  source.xid = point.xid;
  source.lsn = point.lsn;
  return append_event(found->second, Op::kRead, {}, {&row}, source, "", records);
}

Status EventEncoder::append_event(const Table& table, Op op, const Image& before, const Image& after,
                                  const SourcePoint& source, const std::string& transaction_block,
                                  std::vector<ChangeRecord>& records) const {
  ChangeRecord record;
  record.topic = table.topic;
  if (table.key.empty()) {
    record.key_null = true;
  } else if (auto key = write_key(record.key, table, *(after.tuple ? after.tuple : before.tuple)); !key) {
    return key;
  }
  std::string payload;
  payload.reserve(512);
  JsonWriter out(payload);
  out.begin_object().key("before");
  if (auto written = write_image(out, table, before); !written) return written;
  out.key("after");
  if (auto written = write_image(out, table, after); !written) return written;
  out.key("source");
  write_source(out, table, source);
  out.key("transaction");
  if (transaction_block.empty()) {
    out.null();
  } else {
    out.raw(transaction_block);
  }
  const std::int64_t now = now_nanoseconds();
  out.key("op").string(std::string(1, static_cast<char>(op)))
      .key("ts_ms").number(now / 1000000)
      .key("ts_us").number(now / 1000)
      .key("ts_ns").number(now)
      .end_object();
  record.value = wrap(table.envelope_schema, payload);
  const bool tombstone = op == Op::kDelete && settings_.tombstones && !table.key.empty();
  std::string tombstone_key = tombstone ? record.key : std::string();
  records.push_back(std::move(record));
  if (tombstone) {
    ChangeRecord follower;
    follower.topic = table.topic;
    follower.key = std::move(tombstone_key);
    follower.value_null = true;
    records.push_back(std::move(follower));
  }
  return Status::ok();
}

void EventEncoder::write_transaction_begin(std::vector<ChangeRecord>& records) {
  auto& transaction = *transaction_;
  if (transaction.begin_written) return;
  transaction.begin_written = true;
  if (!settings_.transactions) return;
  const std::string id = std::to_string(transaction.begin.xid) + ":" + std::to_string(transaction.first_lsn.value());
  std::string key;
  JsonWriter(key).begin_object().key("id").string(id).end_object();
  std::string value;
  JsonWriter(value).begin_object()
      .key("status").string("BEGIN").key("id").string(id)
      .key("event_count").null().key("data_collections").null()
      .key("ts_ms").number(unix_microseconds(transaction.begin.commit_time) / 1000)
      .end_object();
  records.push_back({wrap(transaction_key_schema(), key), wrap(transaction_value_schema(), value),
                     transaction_topic(settings_.topic_prefix)});
}

void EventEncoder::write_transaction_end(Lsn commit_lsn, std::vector<ChangeRecord>& records) {
  auto& transaction = *transaction_;
  if (!settings_.transactions || !transaction.begin_written) return;
  // Debezium names a transaction's END by the commit's position, its BEGIN by the first change's.
  const std::string id = std::to_string(transaction.begin.xid) + ":" + std::to_string(commit_lsn.value());
  std::string key;
  JsonWriter(key).begin_object().key("id").string(id).end_object();
  std::string value;
  JsonWriter out(value);
  out.begin_object()
      .key("status").string("END").key("id").string(id)
      .key("event_count").unsigned_number(transaction.total_order)
      .key("data_collections").begin_array();
  for (const auto& [name, count] : in_java_hash_map_order(transaction.collections)) {
    out.begin_object().key("data_collection").string(name).key("event_count").unsigned_number(count).end_object();
  }
  out.end_array().key("ts_ms").number(unix_microseconds(transaction.begin.commit_time) / 1000).end_object();
  records.push_back({wrap(transaction_key_schema(), key), wrap(transaction_value_schema(), value),
                     transaction_topic(settings_.topic_prefix)});
}

bool EventEncoder::same_key(const Table& table, const pgoutput::Tuple& old_tuple,
                            const pgoutput::Tuple& new_tuple) const {
  for (std::size_t index : table.key) {
    if (index >= old_tuple.size() || index >= new_tuple.size()) return false;
    const auto& before = old_tuple[index];
    const auto& after = new_tuple[index];
    if (before.kind != after.kind || before.data != after.data) return false;
  }
  return true;
}

Status EventEncoder::encode(const pgoutput::Message& message, Lsn message_lsn, std::vector<ChangeRecord>& records) {
  if (const auto* begin = std::get_if<pgoutput::Begin>(&message)) {
    transaction_ = Transaction{};
    transaction_->begin = *begin;
    transaction_->first_lsn = message_lsn;
    return Status::ok();
  }
  if (const auto* relation = std::get_if<pgoutput::Relation>(&message)) return remember(*relation);
  if (const auto* origin = std::get_if<pgoutput::Origin>(&message)) {
    if (!transaction_) return Status::ok();
    transaction_->origin = origin->name;
    transaction_->origin_lsn = origin->origin_lsn;
    transaction_->echo = !echo_origin_.empty() && origin->name == echo_origin_;
    return Status::ok();
  }
  if (std::holds_alternative<pgoutput::Commit>(message)) {
    if (!transaction_) return Status::error("pgoutput: Commit without Begin");
    if (!transaction_->echo) write_transaction_end(message_lsn, records);
    last_commit_lsn_ = message_lsn;
    transaction_.reset();
    return Status::ok();
  }
  const std::uint32_t relation_oid = std::visit(
      [](const auto& change) -> std::uint32_t {
        using Change = std::decay_t<decltype(change)>;
        if constexpr (std::is_same_v<Change, pgoutput::Insert> || std::is_same_v<Change, pgoutput::Update> ||
                      std::is_same_v<Change, pgoutput::Delete>) {
          return change.relation;
        } else {
          return 0;
        }
      },
      message);
  if (relation_oid == 0) return Status::ok();  // Type, Truncate, Message: not in Debezium's defaults
  if (!transaction_) return Status::error("pgoutput: a row change outside a transaction");
  if (transaction_->echo) return Status::ok();
  const auto found = tables_.find(relation_oid);
  if (found == tables_.end()) {
    return Status::error("pgoutput: change for relation " + std::to_string(relation_oid) +
                         " before its Relation message");
  }
  const Table& table = found->second;
  if (const auto* insert = std::get_if<pgoutput::Insert>(&message)) {
    return row_event(table, Op::kCreate, {}, {&insert->new_tuple}, message_lsn, records);
  }
  if (const auto* update = std::get_if<pgoutput::Update>(&message)) {
    const bool full_old = update->old_kind == 'O';
    const Image after{&update->new_tuple, false, full_old ? &update->old_tuple : nullptr};
    const bool key_changed =
        (update->old_kind == 'K' && !table.key.empty() && !same_key(table, update->old_tuple, update->new_tuple)) ||
        (full_old && !table.key.empty() && !same_key(table, update->old_tuple, update->new_tuple));
    if (key_changed) {
      // Debezium's key change: the old key deleted (and its tombstone), the new one created.
      const Image before{&update->old_tuple, update->old_kind == 'K', nullptr};
      if (auto deleted = row_event(table, Op::kDelete, before, {}, message_lsn, records); !deleted) return deleted;
      return row_event(table, Op::kCreate, {}, after, message_lsn, records);
    }
    const Image before = full_old ? Image{&update->old_tuple, false, nullptr} : Image{};
    return row_event(table, Op::kUpdate, before, after, message_lsn, records);
  }
  const auto& deletion = std::get<pgoutput::Delete>(message);
  return row_event(table, Op::kDelete, {&deletion.old_tuple, deletion.old_kind == 'K', nullptr}, {}, message_lsn,
                   records);
}

}  // namespace cutover::debezium
