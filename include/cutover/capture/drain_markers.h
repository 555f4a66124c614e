// Drain markers for a source whose pgoutput cannot carry logical messages (PostgreSQL 13 has
// no `messages` option). The drain writes its marker with pg_logical_emit_message all the same
// and asks for it here at the marker's WAL position; the capture then puts the marker into the
// change log itself, as a transaction of its own, once blue's stream has passed that position
// outside any transaction. Every change committed before the freeze is then ahead of the
// marker in Kafka, which is all the drain needs to know.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "cutover/common/lsn.h"

namespace cutover {

struct DrainMarker {
  std::string prefix;
  std::string content;
  Lsn written_at;  // where the source wrote it
};

class DrainMarkers {
 public:
  void request(DrainMarker marker);
  // The markers whose position `received` has reached, taken out; in the order asked.
  std::vector<DrainMarker> take_reached(Lsn received);

 private:
  std::mutex mutex_;
  std::vector<DrainMarker> pending_;
};

}  // namespace cutover
