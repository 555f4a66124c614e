#include "cutover/capture/drain_markers.h"

namespace cutover {

void DrainMarkers::request(DrainMarker marker) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(marker));
}

std::vector<DrainMarker> DrainMarkers::take_for(std::uint32_t xid) {
  std::lock_guard lock(mutex_);
  std::vector<DrainMarker> taken;
  std::vector<DrainMarker> waiting;
  for (auto& marker : pending_) (marker.xid == xid ? taken : waiting).push_back(std::move(marker));
  pending_ = std::move(waiting);
  return taken;
}

}  // namespace cutover
