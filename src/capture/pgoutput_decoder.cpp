#include "cutover/capture/pgoutput_decoder.h"

#include <cstring>
#include <stdexcept>

namespace cutover::pgoutput {

namespace {

constexpr std::int64_t kUnixToPostgresEpochMilliseconds = 946684800000LL;

// Reads big-endian fields from a message; throws DecodeError on a short read, which decode()
// turns into a Status (the throw never leaves this file).
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(big_endian(take(2))); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(big_endian(take(4))); }
  std::uint64_t u64() { return big_endian(take(8)); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  Lsn lsn() { return Lsn(u64()); }

  std::string cstring() {
    const auto end = bytes_.find('\0', position_);
    if (end == std::string_view::npos) throw DecodeError("unterminated string");
    std::string value(bytes_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }

  std::string_view take(std::size_t count) {
    if (bytes_.size() - position_ < count) throw DecodeError("message ends early");
    const std::string_view part = bytes_.substr(position_, count);
    position_ += count;
    return part;
  }

  bool at_end() const { return position_ == bytes_.size(); }

 private:
  static std::uint64_t big_endian(std::string_view part) {
    std::uint64_t value = 0;
    for (char byte : part) value = (value << 8) | static_cast<std::uint8_t>(byte);
    return value;
  }

  std::string_view bytes_;
  std::size_t position_ = 0;
};

Tuple read_tuple(ByteReader& reader) {
  const std::uint16_t count = reader.u16();
  Tuple tuple(count);
  for (auto& value : tuple) {
    const char kind = static_cast<char>(reader.u8());
    switch (kind) {
      case 'n':
        value.kind = ValueKind::kNull;
        break;
      case 'u':
        value.kind = ValueKind::kUnchangedToast;
        break;
      case 't':
      case 'b': {
        value.kind = kind == 't' ? ValueKind::kText : ValueKind::kBinary;
        const std::uint32_t length = reader.u32();
        value.data = reader.take(length);
        break;
      }
      default:
        throw DecodeError(std::string("unknown column kind '") + kind + "'");
    }
  }
  return tuple;
}

Relation read_relation(ByteReader& reader) {
  Relation relation;
  relation.oid = reader.u32();
  relation.schema = reader.cstring();
  relation.name = reader.cstring();
  relation.replica_identity = static_cast<char>(reader.u8());
  relation.columns.resize(reader.u16());
  for (auto& column : relation.columns) {
    column.is_key = (reader.u8() & 1) != 0;
    column.name = reader.cstring();
    column.type_oid = reader.u32();
    column.type_modifier = reader.i32();
  }
  return relation;
}

Update read_update(ByteReader& reader) {
  Update update;
  update.relation = reader.u32();
  char marker = static_cast<char>(reader.u8());
  if (marker == 'K' || marker == 'O') {
    update.old_kind = marker;
    update.old_tuple = read_tuple(reader);
    marker = static_cast<char>(reader.u8());
  }
  if (marker != 'N') throw DecodeError("expected new tuple marker 'N'");
  update.new_tuple = read_tuple(reader);
  return update;
}

Message read_message(ByteReader& reader) {
  const char type = static_cast<char>(reader.u8());
  switch (type) {
    case 'B': {
      Begin begin;
      begin.final_lsn = reader.lsn();
      begin.commit_time = reader.i64();
      begin.xid = reader.u32();
      return begin;
    }
    case 'C': {
      Commit commit;
      commit.flags = reader.u8();
      commit.commit_lsn = reader.lsn();
      commit.end_lsn = reader.lsn();
      commit.commit_time = reader.i64();
      return commit;
    }
    case 'O': {
      Origin origin;
      origin.origin_lsn = reader.lsn();
      origin.name = reader.cstring();
      return origin;
    }
    case 'R':
      return read_relation(reader);
    case 'Y': {
      Type type_message;
      type_message.oid = reader.u32();
      type_message.schema = reader.cstring();
      type_message.name = reader.cstring();
      return type_message;
    }
    case 'I': {
      Insert insert;
      insert.relation = reader.u32();
      if (reader.u8() != 'N') throw DecodeError("expected new tuple marker 'N'");
      insert.new_tuple = read_tuple(reader);
      return insert;
    }
    case 'U':
      return read_update(reader);
    case 'D': {
      Delete deletion;
      deletion.relation = reader.u32();
      deletion.old_kind = static_cast<char>(reader.u8());
      if (deletion.old_kind != 'K' && deletion.old_kind != 'O') {
        throw DecodeError("expected old tuple marker 'K' or 'O'");
      }
      deletion.old_tuple = read_tuple(reader);
      return deletion;
    }
    case 'T': {
      Truncate truncate;
      const std::uint32_t count = reader.u32();
      const std::uint8_t options = reader.u8();
      truncate.cascade = (options & 1) != 0;
      truncate.restart_identity = (options & 2) != 0;
      truncate.relations.reserve(count);
      for (std::uint32_t index = 0; index < count; ++index) truncate.relations.push_back(reader.u32());
      return truncate;
    }
    case 'M': {
      LogicalMessage message;
      message.transactional = (reader.u8() & 1) != 0;
      message.lsn = reader.lsn();
      message.prefix = reader.cstring();
      const std::uint32_t length = reader.u32();
      message.content = std::string(reader.take(length));
      return message;
    }
    default:
      throw DecodeError(std::string("unknown message type '") + type + "'");
  }
}

}  // namespace

std::int64_t to_unix_milliseconds(PgTimestamp timestamp) {
  return timestamp / 1000 + kUnixToPostgresEpochMilliseconds;
}

Result<Message> decode(std::string_view bytes) {
  if (bytes.empty()) return Status::error("pgoutput: empty message");
  ByteReader reader(bytes);
  try {
    Message message = read_message(reader);
    if (!reader.at_end()) {
      return Status::error(std::string("pgoutput: trailing bytes after message '") + bytes[0] +
                           "'");
    }
    return message;
  } catch (const DecodeError& error) {
    return Status::error(std::string("pgoutput: cannot decode message '") + bytes[0] +
                         "': " + error.what());
  }
}

}  // namespace cutover::pgoutput
