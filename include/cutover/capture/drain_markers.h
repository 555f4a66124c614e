// Drain markers for a source whose pgoutput cannot carry logical messages (PostgreSQL 13 has
// no `messages` option). The drain writes its marker with pg_logical_emit_message all the same,
// and before its transaction commits, asks for it here by that transaction's id. pgoutput
// before PostgreSQL 15 sends every transaction, empty ones too: when the marker's transaction
// comes, the capture puts the marker into it, just before its COMMIT, which is where
// PostgreSQL 14 and later would have sent it. Every change committed before it is then ahead
// of the marker in Kafka, as on the other majors.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace cutover {

struct DrainMarker {
  std::string prefix;
  std::string content;
  std::uint32_t xid = 0;  // the transaction that wrote it on the source
};

class DrainMarkers {
 public:
  void request(DrainMarker marker);
  // The markers of transaction `xid`, taken out; in the order asked.
  std::vector<DrainMarker> take_for(std::uint32_t xid);

 private:
  std::mutex mutex_;
  std::vector<DrainMarker> pending_;
};

}  // namespace cutover
