// ChangeRecord: one record of the change log as Kafka carries it, a JSON key and a JSON
// value. Capture makes them (capture/change_encoder.h); the producer sends them.
#pragma once

#include <string>

namespace cutover {

struct ChangeRecord {
  std::string key;    // JSON
  std::string value;  // JSON
};

}  // namespace cutover
