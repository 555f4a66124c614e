#include "cutover/capture/drain_markers.h"

namespace cutover {

void DrainMarkers::request(DrainMarker marker) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(marker));
}

std::vector<DrainMarker> DrainMarkers::take_reached(Lsn received) {
  std::lock_guard lock(mutex_);
  std::vector<DrainMarker> reached;
  std::vector<DrainMarker> waiting;
  for (auto& marker : pending_) {
    (marker.written_at <= received ? reached : waiting).push_back(std::move(marker));
  }
  pending_ = std::move(waiting);
  return reached;
}

}  // namespace cutover
