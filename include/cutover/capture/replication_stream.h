// The streaming replication protocol over libpq (replication=database).
//
// ReplicationConnection runs replication commands (CREATE_REPLICATION_SLOT, ...) and then
// START_REPLICATION with pgoutput; after that it yields XLogData and keepalive frames and
// sends standby status updates. Capture reads frames through the ReplicationStream
// interface so that its position logic can be tested without a server.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"

namespace cutover {

struct StreamFrame {
  enum class Kind { kData, kKeepalive };
  Kind kind = Kind::kData;
  Lsn start_lsn;       // XLogData: the WAL position of this message
  Lsn wal_end;         // the server's position when it sent the frame
  bool reply_requested = false;  // keepalive: the server wants a status update now
  std::string_view payload;      // XLogData: the pgoutput message; valid until next()
};

// Which server, timeline and database a stream reads, as IDENTIFY_SYSTEM said when it opened.
// LSNs order changes only within one system's timeline: a position from another is no guide.
struct StreamSource {
  std::string system_identifier;
  std::uint32_t timeline = 0;
  std::string database;
  Lsn wal_end;  // the server's WAL position then: nothing of this source lies beyond it yet

  // "<system identifier>/<timeline>/<database>", as positions record it.
  std::string id() const;
};

class ReplicationStream {
 public:
  virtual ~ReplicationStream() = default;
  // The next frame, or nullopt when none arrived within `timeout`. A lost connection is a
  // retryable error.
  virtual Result<std::optional<StreamFrame>> next(std::chrono::milliseconds timeout) = 0;
  // Reports how far the client has received and how far the slot may be confirmed.
  virtual Status send_status(Lsn received, Lsn confirmed) = 0;
  // The source database's name, which change events carry.
  virtual std::string database_name() const = 0;
  virtual StreamSource source() const = 0;
};

class ReplicationConnection final : public ReplicationStream {
 public:
  // Opens a replication connection to `dsn`; the password never appears in errors.
  static Result<std::unique_ptr<ReplicationConnection>> open(const std::string& dsn);
  ~ReplicationConnection() override;
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  // Runs a replication command that returns rows (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT).
  Result<std::vector<std::vector<std::string>>> run_command(const std::string& command);

  // START_REPLICATION with pgoutput proto_version 1, and messages on where the server has them.
  // From Lsn(0) the server resumes at the slot's confirmed_flush_lsn.
  Status start(const std::string& slot, const std::string& publication, Lsn from);

  Result<std::optional<StreamFrame>> next(std::chrono::milliseconds timeout) override;
  Status send_status(Lsn received, Lsn confirmed) override;

  std::string database_name() const override;
  StreamSource source() const override { return source_; }
  // Whether pgoutput sends logical messages (PostgreSQL 14 and later).
  bool carries_messages() const;
  static constexpr int kFirstVersionWithMessages = 140000;

 private:
  explicit ReplicationConnection(PGconn* connection) : connection_(connection) {}
  Status connection_error(const std::string& what) const;
  void release_buffer();

  PGconn* connection_;
  StreamSource source_;
  char* buffer_ = nullptr;  // libpq's copy buffer for the frame last returned
};

}  // namespace cutover
